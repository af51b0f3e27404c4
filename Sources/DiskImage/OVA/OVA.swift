#if canImport(Glibc)
import Glibc
#endif

/// The virtual machine an OVA declares around its one disk: what VMware, VirtualBox and VM
/// Import create when they import it.
public struct VirtualMachineSettings: Sendable, Equatable {
    /// Guest operating systems by their CIM `OperatingSystemSection` id and VMware guest id.
    public enum OperatingSystem: String, Sendable, CaseIterable, Codable {
        case linux64, windows64, other64

        var cimIdentifier: Int {
            switch self {
            case .linux64: 101  // CIM_OperatingSystem "Linux 64-Bit"
            case .other64: 102  // "Other 64-Bit"
            case .windows64: 103  // "Microsoft Windows Server 2008 R2" and later 64-bit Windows
            }
        }

        var vmwareGuest: String {
            switch self {
            case .linux64: "otherLinux64Guest"
            case .other64: "otherGuest64"
            case .windows64: "windows9Server64Guest"
            }
        }

        var description: String {
            switch self {
            case .linux64: "Linux 64-bit"
            case .other64: "Other 64-bit"
            case .windows64: "Microsoft Windows Server 64-bit"
            }
        }
    }

    public var cpus: Int
    public var memoryMiB: Int
    public var operatingSystem: OperatingSystem

    public init(cpus: Int = 2, memoryMiB: Int = 2048, operatingSystem: OperatingSystem = .linux64) {
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.operatingSystem = operatingSystem
    }
}

/// OVA packages: a USTAR archive of an OVF descriptor, its manifest and one stream-optimized
/// VMDK, in that order (the order OVF 1.x requires of an OVA).
public enum OVA {
    /// The names of the three members for a package named `name` (`appliance.ova` gives
    /// `appliance.ovf`, `appliance.mf`, `appliance.vmdk`).
    static func memberNames(forPackage name: String) -> (ovf: String, manifest: String, disk: String) {
        let base = name.lowercased().hasSuffix(".ova") ? String(name.dropLast(4)) : name
        return (base + ".ovf", base + ".mf", base + ".vmdk")
    }

    /// An OVF 1.0 descriptor for one disk of `capacity` bytes held in `diskFile` (`diskFileSize`
    /// bytes), attached to the controller the VMDK's adapter names.
    static func descriptor(machineName: String, diskFile: String, diskFileSize: UInt64, capacity: UInt64,
                           adapter: VMDK.Adapter, settings: VirtualMachineSettings) -> String {
        let name = escapeXML(machineName)
        let file = escapeXML(diskFile)
        let os = settings.operatingSystem
        let controller: String = switch adapter {
        case .ide:
            """
                  <Item>
                    <rasd:Address>0</rasd:Address>
                    <rasd:Description>IDE Controller</rasd:Description>
                    <rasd:ElementName>ideController0</rasd:ElementName>
                    <rasd:InstanceID>3</rasd:InstanceID>
                    <rasd:ResourceType>5</rasd:ResourceType>
                  </Item>
            """
        case .lsilogic, .buslogic:
            """
                  <Item>
                    <rasd:Address>0</rasd:Address>
                    <rasd:Description>SCSI Controller</rasd:Description>
                    <rasd:ElementName>scsiController0</rasd:ElementName>
                    <rasd:InstanceID>3</rasd:InstanceID>
                    <rasd:ResourceSubType>\(adapter.rawValue)</rasd:ResourceSubType>
                    <rasd:ResourceType>6</rasd:ResourceType>
                  </Item>
            """
        }
        return """
        <?xml version="1.0" encoding="UTF-8"?>
        <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
          <References>
            <File ovf:href="\(file)" ovf:id="file1" ovf:size="\(diskFileSize)"/>
          </References>
          <DiskSection>
            <Info>Virtual disk information</Info>
            <Disk ovf:capacity="\(capacity)" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
          </DiskSection>
          <VirtualSystem ovf:id="\(name)">
            <Info>A virtual machine</Info>
            <Name>\(name)</Name>
            <OperatingSystemSection ovf:id="\(os.cimIdentifier)" vmw:osType="\(os.vmwareGuest)">
              <Info>The kind of installed guest operating system</Info>
              <Description>\(os.description)</Description>
            </OperatingSystemSection>
            <VirtualHardwareSection>
              <Info>Virtual hardware requirements</Info>
              <System>
                <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
                <vssd:InstanceID>0</vssd:InstanceID>
                <vssd:VirtualSystemIdentifier>\(name)</vssd:VirtualSystemIdentifier>
                <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>
              </System>
              <Item>
                <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
                <rasd:Description>Number of virtual CPUs</rasd:Description>
                <rasd:ElementName>\(settings.cpus) virtual CPU(s)</rasd:ElementName>
                <rasd:InstanceID>1</rasd:InstanceID>
                <rasd:ResourceType>3</rasd:ResourceType>
                <rasd:VirtualQuantity>\(settings.cpus)</rasd:VirtualQuantity>
              </Item>
              <Item>
                <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
                <rasd:Description>Memory size</rasd:Description>
                <rasd:ElementName>\(settings.memoryMiB) MB of memory</rasd:ElementName>
                <rasd:InstanceID>2</rasd:InstanceID>
                <rasd:ResourceType>4</rasd:ResourceType>
                <rasd:VirtualQuantity>\(settings.memoryMiB)</rasd:VirtualQuantity>
              </Item>
        \(controller)
              <Item>
                <rasd:AddressOnParent>0</rasd:AddressOnParent>
                <rasd:ElementName>disk0</rasd:ElementName>
                <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
                <rasd:InstanceID>4</rasd:InstanceID>
                <rasd:Parent>3</rasd:Parent>
                <rasd:ResourceType>17</rasd:ResourceType>
              </Item>
            </VirtualHardwareSection>
          </VirtualSystem>
        </Envelope>

        """
    }

    static func escapeXML(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// An OVF manifest line: `SHA256(name)= hex`.
    static func manifestLine(name: String, digest: String) -> String {
        "SHA256(\(name))= \(digest)\n"
    }
}

/// USTAR archive headers, the tar format every OVA reader accepts.
enum USTAR {
    static let blockSize = 512
    /// Sizes up to 8 GiB - 1 fit the 11 octal digits of the size field; larger ones use the
    /// GNU base-256 form (high bit set, big-endian binary), which GNU tar, bsdtar, Python's
    /// tarfile and VMware's OVF Tool read.
    static let largestOctalSize: UInt64 = (1 << 33) - 1

    /// A regular file's header; nil when `name` does not fit the 100-byte name field.
    static func header(name: String, size: UInt64, modificationTime: UInt64) -> [UInt8]? {
        let nameBytes = Array(name.utf8)
        guard !nameBytes.isEmpty, nameBytes.count <= 100 else { return nil }
        var header = [UInt8](repeating: 0, count: blockSize)
        func put(_ bytes: [UInt8], at offset: Int) { header.replaceSubrange(offset..<(offset + bytes.count), with: bytes) }
        func octal(_ value: UInt64, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(nameBytes, at: 0)
        put(octal(0o644, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)  // uid
        put(octal(0, width: 8), at: 116)  // gid
        if size <= largestOctalSize {
            put(octal(size, width: 12), at: 124)
        } else {
            var field = [UInt8](repeating: 0, count: 12)
            field[0] = 0x80
            for index in 0..<8 { field[4 + index] = UInt8(truncatingIfNeeded: size >> UInt64(56 - 8 * index)) }
            put(field, at: 124)
        }
        put(octal(min(modificationTime, (1 << 33) - 1), width: 12), at: 136)
        put(Array(repeating: 0x20, count: 8), at: 148)  // checksum counted as spaces
        header[156] = UInt8(ascii: "0")  // regular file
        put(Array("ustar".utf8) + [0], at: 257)
        put(Array("00".utf8), at: 263)
        put(Array("root".utf8), at: 265)  // uname
        put(Array("root".utf8), at: 297)  // gname
        let checksum = header.reduce(0) { $0 + UInt64($1) }
        put(octal(checksum, width: 7) + [0x20], at: 148)
        return header
    }

    /// Zero bytes that pad `size` bytes of content to a whole block.
    static func padding(after size: UInt64) -> Int {
        Int((UInt64(blockSize) - size % UInt64(blockSize)) % UInt64(blockSize))
    }

    /// Parses a header block: the member's name and size; nil for an all-zero block (the end of
    /// the archive). Throws when the block is not a USTAR header or its checksum is wrong.
    static func parse(_ block: [UInt8], at offset: UInt64, path: String) throws(DiskImageError) -> (name: String, size: UInt64, type: UInt8)? {
        if block.allSatisfy({ $0 == 0 }) { return nil }
        guard block.count == blockSize, Array(block[257..<262]) == Array("ustar".utf8) else {
            throw DiskImageError.malformedImage(path: path, offset: offset + 257, reason: "not a USTAR header (an OVA is a tar archive)")
        }
        func octal(_ range: Range<Int>) -> UInt64? {
            let text = block[range].prefix { $0 != 0 && $0 != 0x20 }.drop { $0 == 0x20 }
            guard !text.isEmpty else { return 0 }
            var value: UInt64 = 0
            for digit in text {
                guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7"), value < 1 << 60 else { return nil }
                value = value * 8 + UInt64(digit - UInt8(ascii: "0"))
            }
            return value
        }
        var stored = block
        stored.replaceSubrange(148..<156, with: Array(repeating: 0x20, count: 8))
        guard let checksum = octal(148..<156), checksum == stored.reduce(0, { $0 + UInt64($1) }) else {
            throw DiskImageError.malformedImage(path: path, offset: offset + 148, reason: "the tar header checksum does not match the header")
        }
        let size: UInt64
        if block[124] & 0x80 != 0 {
            guard block[124] == 0x80, block[125..<128].allSatisfy({ $0 == 0 }) else {
                throw DiskImageError.malformedImage(path: path, offset: offset + 124, reason: "a base-256 member size above 2^64")
            }
            size = block[128..<136].reduce(0) { $0 << 8 | UInt64($1) }
        } else {
            guard let value = octal(124..<136) else {
                throw DiskImageError.malformedImage(path: path, offset: offset + 124, reason: "the member size is not an octal number")
            }
            size = value
        }
        var nameBytes = Array(block[0..<100].prefix { $0 != 0 })
        let prefix = Array(block[345..<500].prefix { $0 != 0 })
        if !prefix.isEmpty { nameBytes = prefix + [UInt8(ascii: "/")] + nameBytes }
        return (String(decoding: nameBytes, as: UTF8.self), size, block[156])
    }
}

extension OVA {
    /// Writes the whole package to `context.sink`: the stream-optimized VMDK is exported into
    /// a staged file in `stagingFolder` first (the manifest before it in the archive needs its
    /// digest), then the descriptor, manifest and disk follow one another in the archive.
    static func writePackage(_ context: ExportContext, stagingFolder: String) throws(DiskImageError) {
        let names = memberNames(forPackage: context.outputName)
        let modificationTime = context.options.timestamp
        for name in [names.ovf, names.manifest, names.disk] where USTAR.header(name: name, size: 0, modificationTime: 0) == nil {
            throw DiskImageError.unsupportedSource(path: context.outputName,
                                                   reason: "makes the OVA member name \"\(name)\", longer than the 100 bytes a tar header holds; choose a shorter output name or --name")
        }

        // Mode 0600: a copy of the disk that nobody else needs to read, wherever it is staged.
        OutputSafety.removeStaleTemporaries(in: stagingFolder)
        let staged = try StagedFile(finalPath: stagingFolder + "/" + names.disk, overwrite: true, mode: 0o600, scratch: true)
        defer { staged.discard() }
        let diskSink = OutputSink(descriptor: staged.descriptor, path: staged.temporaryPath)
        let diskContext = ExportContext(source: context.source, virtualSize: context.virtualSize, sink: diskSink,
                                        options: context.options, workerCount: context.workerCount, outputName: names.disk)
        try VMDK.writeStreamOptimized(diskContext)
        let diskDigest = try diskSink.finish()
        let diskSize = diskSink.position

        let machineName = String(names.disk.dropLast(5))
        let descriptor = Array(OVA.descriptor(machineName: machineName, diskFile: names.disk, diskFileSize: diskSize,
                                              capacity: context.virtualSize, adapter: context.options.adapter,
                                              settings: context.options.machine).utf8)
        let descriptorDigest = sha256Hex(descriptor)
        let manifest = Array((manifestLine(name: names.ovf, digest: descriptorDigest) + manifestLine(name: names.disk, digest: diskDigest)).utf8)

        let sink = context.sink
        for (name, content) in [(names.ovf, descriptor), (names.manifest, manifest)] {
            try sink.write(USTAR.header(name: name, size: UInt64(content.count), modificationTime: modificationTime)!)
            try sink.write(content)
            try sink.write([UInt8](repeating: 0, count: USTAR.padding(after: UInt64(content.count))))
        }
        try sink.write(USTAR.header(name: names.disk, size: diskSize, modificationTime: modificationTime)!)
        let chunk = 4 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        let disk = try SourceImage(path: staged.temporaryPath)
        var offset: UInt64 = 0
        while offset < diskSize {
            let length = Int(min(UInt64(chunk), diskSize - offset))
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])
            try disk.readExactly(into: part, at: offset)
            try sink.write(UnsafeRawBufferPointer(part))
            offset += UInt64(length)
            if context.options.isCancelled() { throw DiskImageError.cancelled }
        }
        // The member's padding, then two zero blocks that end the archive.
        try sink.write([UInt8](repeating: 0, count: USTAR.padding(after: diskSize) + 2 * USTAR.blockSize))
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        let hasher = SHA256Hasher()
        hasher.update(bytes)
        return hasher.finalizeHex()
    }
}

/// Where temporary files go when there is no output folder: TMPDIR, or /tmp.
func temporaryFolder() -> String {
    if let value = getenv("TMPDIR"), value.pointee != 0 { return String(cString: value) }
    return "/tmp"
}
