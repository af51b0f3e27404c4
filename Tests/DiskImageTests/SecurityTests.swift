import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// Hostile images: descriptors naming files they must not read, sizes and tables that would
/// cost far more than the input holds, manifests that would have a disk hashed many times.
@Suite("hostile images")
struct SecurityTests {
    /// A descriptor with the given extent lines, as VMware writes one; the first extent is on
    /// line 6.
    static func descriptor(_ extents: [String]) -> String {
        """
        # Disk DescriptorFile
        version=1
        CID=fffffffe
        parentCID=ffffffff
        createType="monolithicFlat"
        \(extents.joined(separator: "\n"))

        """
    }

    /// `folder/images/disk.vmdk` with `extents`, and `folder/secret.raw` (4 KiB of 0x5a)
    /// outside the descriptor's folder.
    struct Layout {
        let folder: TemporaryFolder
        let images: String
        let descriptor: String
        let secret: String
        /// The descriptor's folder as realpath(3) gives it.
        let realImages: String

        init(_ extents: [String]) throws {
            folder = try TemporaryFolder()
            images = folder.file("images")
            try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
            descriptor = images + "/disk.vmdk"
            try Data(SecurityTests.descriptor(extents).utf8).write(to: URL(fileURLWithPath: descriptor))
            secret = folder.file("secret.raw")
            try Data(repeating: 0x5A, count: 4096).write(to: URL(fileURLWithPath: secret))
            realImages = try #require(SystemCalls.realPath(images))
        }

        func openingError(allowExternal: Bool = false) -> DiskImageError? {
            do {
                _ = try ImageReader.open(path: descriptor, allowExternalExtents: allowExternal)
                return nil
            } catch {
                return error
            }
        }
    }

    static let optIn = "pass --allow-external-extents to read a file of your own outside it"

    @Test func anAbsoluteExtentPathIsRefused() throws {
        let layout = try Layout([#"RW 2 FLAT "/etc/passwd" 0"#])
        #expect(
            layout.openingError()
                == .refusedExtent(
                    descriptor: layout.descriptor, line: 6, extent: "/etc/passwd",
                    reason: "is an absolute path; expected a file in the descriptor's folder \(layout.realImages) (\(Self.optIn))"))
        #expect(
            layout.openingError()?.description
                == "\(layout.descriptor) line 6: extent \"/etc/passwd\" is an absolute path; expected a file in the descriptor's folder \(layout.realImages) (\(Self.optIn))"
        )
    }

    @Test func anExtentClimbingOutOfTheFolderIsRefused() throws {
        let layout = try Layout([#"RW 8 FLAT "../secret.raw" 0"#])
        let secret = try #require(SystemCalls.realPath(layout.secret))
        #expect(
            layout.openingError()
                == .refusedExtent(
                    descriptor: layout.descriptor, line: 6, extent: "../secret.raw",
                    reason: "resolves to \(secret), outside the descriptor's folder \(layout.realImages); expected a file in that folder (\(Self.optIn))"))

        let shadow = try Layout([#"RW 2 FLAT "../../../../../../../../etc/shadow" 0"#])
        #expect(
            shadow.openingError()
                == .refusedExtent(
                    descriptor: shadow.descriptor, line: 6, extent: "../../../../../../../../etc/shadow",
                    reason: "resolves to /etc/shadow, outside the descriptor's folder \(shadow.realImages); expected a file in that folder (\(Self.optIn))"))
    }

    @Test func aLinkInsideTheFolderPointingOutIsRefused() throws {
        let layout = try Layout([#"RW 8 FLAT "link.raw" 0"#])
        try FileManager.default.createSymbolicLink(atPath: layout.images + "/link.raw", withDestinationPath: layout.secret)
        let secret = try #require(SystemCalls.realPath(layout.secret))
        #expect(
            layout.openingError()
                == .refusedExtent(
                    descriptor: layout.descriptor, line: 6, extent: "link.raw",
                    reason: "resolves to \(secret), outside the descriptor's folder \(layout.realImages); expected a file in that folder (\(Self.optIn))"))
    }

    @Test func aFIFOIsRefusedWithoutWaitingForAWriter() throws {
        let layout = try Layout([#"RW 8 FLAT "pipe.raw" 0"#])
        #expect(mkfifo(layout.images + "/pipe.raw", 0o600) == 0)
        #expect(
            layout.openingError()
                == .refusedExtent(
                    descriptor: layout.descriptor, line: 6, extent: "pipe.raw", reason: "is a FIFO; expected a regular file"))
        // The opt-in never lets a FIFO through either.
        #expect(
            layout.openingError(allowExternal: true)
                == .refusedExtent(
                    descriptor: layout.descriptor, line: 6, extent: "pipe.raw", reason: "is a FIFO; expected a regular file"))
    }

    @Test func aDeviceIsRefusedEvenWithTheOptIn() throws {
        let layout = try Layout([#"RW 2048 FLAT "/dev/zero" 0"#])
        #expect(
            layout.openingError()
                == .refusedExtent(
                    descriptor: layout.descriptor, line: 6, extent: "/dev/zero",
                    reason: "is an absolute path; expected a file in the descriptor's folder \(layout.realImages) (\(Self.optIn))"))
        #expect(
            layout.openingError(allowExternal: true)
                == .refusedExtent(
                    descriptor: layout.descriptor, line: 6, extent: "/dev/zero", reason: "is a character device; expected a regular file"))
        // Nor through a link in the folder.
        let linked = try Layout([#"RW 2048 FLAT "zero.raw" 0"#])
        try FileManager.default.createSymbolicLink(atPath: linked.images + "/zero.raw", withDestinationPath: "/dev/zero")
        #expect(
            linked.openingError(allowExternal: true)
                == .refusedExtent(
                    descriptor: linked.descriptor, line: 6, extent: "zero.raw", reason: "is a character device; expected a regular file"))
    }

    @Test func theOptInReadsARegularFileOutsideTheFolder() throws {
        let layout = try Layout([#"RW 8 FLAT "../secret.raw" 0"#])
        let opened = try ImageReader.open(path: layout.descriptor, allowExternalExtents: true)
        #expect(opened.info.virtualSize == 4096)
        let output = layout.folder.file("out.raw")
        var options = fixedOptions(.raw)
        options.allowExternalExtents = true
        try Exporter.export(source: layout.descriptor, to: .file(output), options: options)
        #expect(try readFile(output) == [UInt8](repeating: 0x5A, count: 4096))
        // Without it, export refuses before writing anything.
        #expect(throws: DiskImageError.self) {
            try Exporter.export(source: layout.descriptor, to: .file(layout.folder.file("refused.raw")), options: fixedOptions(.raw))
        }
        #expect(!FileManager.default.fileExists(atPath: layout.folder.file("refused.raw")))
    }

    @Test func extentsInsideTheFolderStillWork() throws {
        let layout = try Layout([#"RW 8 FLAT "data.raw" 0"#, #"RW 8 FLAT "data.raw" 8"#, #"RW 8 FLAT "sub/more.raw" 0"#])
        try Data(repeating: 1, count: 8192).write(to: URL(fileURLWithPath: layout.images + "/data.raw"))
        try FileManager.default.createDirectory(atPath: layout.images + "/sub", withIntermediateDirectories: true)
        try Data(repeating: 2, count: 4096).write(to: URL(fileURLWithPath: layout.images + "/sub/more.raw"))
        let opened = try ImageReader.open(path: layout.descriptor)
        #expect(opened.info.virtualSize == 3 * 4096)
    }

    // MARK: sources that are not files

    @Test func streamsSocketsAndCharacterDevicesAreRefusedAsSources() throws {
        let folder = try TemporaryFolder()
        let fifo = folder.file("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        // No writer: the open must not wait for one.
        #expect(throws: DiskImageError.unsupportedSource(path: fifo, reason: "is a FIFO; " + SourceImage.streamRefusal)) {
            try ImageReader.open(path: fifo)
        }
        #expect(throws: DiskImageError.unsupportedSource(path: "standard input", reason: SourceImage.streamRefusal)) {
            try ImageReader.open(path: "-")
        }
        #expect(throws: DiskImageError.unsupportedSource(path: "/dev/zero", reason: "is a character device; expected a raw image file or a block device")) {
            try ImageReader.open(path: "/dev/zero")
        }
        let socketPath = folder.file("sock")
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(socketPath.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)
        #expect(throws: DiskImageError.unsupportedSource(path: socketPath, reason: "is a socket; expected a raw image file or a block device")) {
            try ImageReader.open(path: socketPath)
        }
    }

    // MARK: one stored range standing for many

    @Test func overlappingRangesOfOneFileAreRefused() throws {
        let layout = try Layout([#"RW 8 FLAT "data.raw" 0"#, #"RW 8 FLAT "data.raw" 4"#])
        try Data(repeating: 1, count: 8192).write(to: URL(fileURLWithPath: layout.images + "/data.raw"))
        #expect(
            layout.openingError()
                == .refusedExtent(
                    descriptor: layout.descriptor, line: 7, extent: "data.raw",
                    reason: "reads bytes of \(layout.images)/data.raw that the extent on line 6 already reads; a descriptor names each part of a file once"))

        // The same file under another name is the same file.
        let aliased = try Layout([#"RW 8 FLAT "data.raw" 0"#, #"RW 8 FLAT "alias.raw" 0"#])
        try Data(repeating: 1, count: 8192).write(to: URL(fileURLWithPath: aliased.images + "/data.raw"))
        try FileManager.default.createSymbolicLink(atPath: aliased.images + "/alias.raw", withDestinationPath: "data.raw")
        #expect(
            aliased.openingError()
                == .refusedExtent(
                    descriptor: aliased.descriptor, line: 7, extent: "alias.raw",
                    reason: "reads bytes of \(aliased.images)/alias.raw that the extent on line 6 already reads; a descriptor names each part of a file once"))

        // A thousand lines naming one sector.
        let many = try Layout((0..<1000).map { _ in #"RW 1 FLAT "data.raw" 0"# })
        try Data(repeating: 1, count: 512).write(to: URL(fileURLWithPath: many.images + "/data.raw"))
        #expect(
            many.openingError()
                == .refusedExtent(
                    descriptor: many.descriptor, line: 7, extent: "data.raw",
                    reason: "reads bytes of \(many.images)/data.raw that the extent on line 6 already reads; a descriptor names each part of a file once"))
    }

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img"))
    func aSparseExtentNamedTwiceIsRefused() throws {
        let layout = try Layout([#"RW 2048 SPARSE "s.vmdk""#, #"RW 2048 SPARSE "s.vmdk""#])
        let made = try runProcess(
            try #require(which("qemu-img")),
            ["create", "-q", "-f", "vmdk", "-o", "subformat=monolithicSparse", layout.images + "/s.vmdk", "1M"])
        try #require(made.status == 0, "\(made.standardError)")
        #expect(
            layout.openingError()
                == .refusedExtent(
                    descriptor: layout.descriptor, line: 7, extent: "s.vmdk",
                    reason: "reads bytes of \(layout.images)/s.vmdk that the extent on line 6 already reads; a descriptor names each part of a file once"))
    }

    // MARK: OVA

    /// A USTAR archive of `members`, as an OVA is one.
    static func tar(_ members: [(name: String, bytes: [UInt8])]) throws -> [UInt8] {
        var archive: [UInt8] = []
        for member in members {
            archive += try #require(USTAR.header(name: member.name, size: UInt64(member.bytes.count), modificationTime: 0))
            archive += member.bytes + [UInt8](repeating: 0, count: USTAR.padding(after: UInt64(member.bytes.count)))
        }
        return archive + [UInt8](repeating: 0, count: 2 * USTAR.blockSize)
    }

    static let ovf = Array(#"<Envelope><DiskSection><Disk ovf:capacity="4096" ovf:fileRef="file1"/></DiskSection></Envelope>"#.utf8)

    @Test func aDescriptorInsideAnOVANamesOnlyMembersOfTheArchive() throws {
        let folder = try TemporaryFolder()
        for name in ["/etc/passwd", "../secret.raw", "beside.raw"] {
            let package = folder.file("appliance.ova")
            try Data(repeating: 0x5A, count: 4096).write(to: URL(fileURLWithPath: folder.file("beside.raw")))
            let descriptor = Array(Self.descriptor(["RW 8 FLAT \"\(name)\" 0"]).utf8)
            try Data(try Self.tar([("appliance.ovf", Self.ovf), ("appliance.vmdk", descriptor)])).write(to: URL(fileURLWithPath: package))
            #expect(
                throws: DiskImageError.refusedExtent(
                    descriptor: package + ":appliance.vmdk", line: 6, extent: name,
                    reason: "is not a member of \(package); expected a file of the same archive, as a descriptor inside an OVA may name nothing else")
            ) {
                try ImageReader.open(path: package, allowExternalExtents: true)
            }
        }
        // A member of the archive is read from the archive.
        let package = folder.file("good.ova")
        let descriptor = Array(Self.descriptor([#"RW 8 FLAT "data.bin" 0"#]).utf8)
        try Data(try Self.tar([("good.ovf", Self.ovf), ("good.vmdk", descriptor), ("data.bin", [UInt8](repeating: 7, count: 4096))]))
            .write(to: URL(fileURLWithPath: package))
        let opened = try ImageReader.open(path: package)
        #expect(opened.info.virtualSize == 4096)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { buffer.deallocate() }
        try opened.disk.readExactly(into: buffer, at: 0)
        #expect(Array(buffer) == [UInt8](repeating: 7, count: 4096))
    }

    @Test func anOVAManifestRepeatingALineHashesTheDiskOnceAndFails() throws {
        let folder = try TemporaryFolder()
        let package = folder.file("repeat.ova")
        let disk = [UInt8](repeating: 3, count: 64 * 1024)
        let digest = OVA.sha256Hex(disk)
        let ovfDigest = OVA.sha256Hex(Self.ovf)
        var manifest = "SHA256(repeat.ovf)= \(ovfDigest)\n"
        manifest += String(repeating: "SHA256(repeat.raw)= \(digest)\n", count: 10_000)
        try Data(try Self.tar([("repeat.ovf", Self.ovf), ("repeat.mf", Array(manifest.utf8)), ("repeat.raw", disk)]))
            .write(to: URL(fileURLWithPath: package))
        let report = try ImageVerifier.verify(path: package)
        let diskChecks = report.checks.filter { $0.name == "repeat.raw digest" }
        #expect(diskChecks.map(\.passed) == [true, false])
        #expect(diskChecks.last?.detail == "repeat.mf lists repeat.raw 10000 times; a manifest gives one digest a file")
        #expect(!report.passed)
    }

    // MARK: sizes and tables

    @Test func virtualSizesBeyondTheOutputFormatAreRefusedBeforeAnyWork() throws {
        // 116 bytes standing for almost 64 PiB.
        let layout = try Layout([#"RW 140737488355327 ZERO"#])
        let size: UInt64 = 140_737_488_355_327 * 512
        for (format, name, limit) in [
            (OutputFormat.vmdk, "a stream-optimized vmdk", VMDK.maximumSize),
            (.ova, "a stream-optimized vmdk", VMDK.maximumSize),
            (.vhdDynamic, "vhd", VHD.maximumSize),
        ] {
            let output = layout.folder.file("out.\(format.fileExtension)")
            #expect(throws: DiskImageError.sizeTooLarge(path: layout.descriptor, format: name, size: size, limit: limit)) {
                try Exporter.export(source: layout.descriptor, to: .file(output), options: fixedOptions(format))
            }
            #expect(!FileManager.default.fileExists(atPath: output))
        }
        #expect(VMDK.maximumSize == 62 << 40)
    }

    @Test func aVHDWhoseTableIsAHoleIsRefused() throws {
        // 1 GiB in 512-byte blocks: an 8 MiB BAT, left as a hole of a sparse file.
        let folder = try TemporaryFolder()
        let path = folder.file("hole.vhd")
        let size: UInt64 = 1 << 30
        let tableBytes = Int(size / 512 * 4)
        var footer = [UInt8](repeating: 0, count: 512)
        footer.replaceSubrange(0..<8, with: Array("conectix".utf8))
        CorruptionTests.storeBigEndian(UInt64(512), at: 16, in: &footer)
        footer.replaceSubrange(28..<32, with: Array("win ".utf8))
        CorruptionTests.storeBigEndian(size, at: 40, in: &footer)
        CorruptionTests.storeBigEndian(size, at: 48, in: &footer)
        CorruptionTests.storeBigEndian(UInt32(3), at: 60, in: &footer)
        var header = [UInt8](repeating: 0, count: 1024)
        header.replaceSubrange(0..<8, with: Array("cxsparse".utf8))
        CorruptionTests.storeBigEndian(UInt64(1536), at: 16, in: &header)
        CorruptionTests.storeBigEndian(UInt32(size / 512), at: 28, in: &header)
        CorruptionTests.storeBigEndian(UInt32(512), at: 32, in: &header)
        let image = try ImageBuilder(path: path, size: UInt64(1536 + tableBytes + 512))
        try image.write(footer + header, at: 0)
        try image.write(footer, at: UInt64(1536 + tableBytes))
        #expect(
            throws: DiskImageError.malformedImage(
                path: path, offset: 512 + 16,
                reason: "the block allocation table (\(tableBytes) bytes at 1536) lies in a hole of the file; a table that large must be stored")
        ) {
            try ImageReader.open(path: path)
        }
    }

    @Test func aCompressedGrainInflatingPastItsSizeIsRefused() throws {
        // A stream-optimized VMDK whose first grain is replaced by a zlib stream of 128 KiB.
        let folder = try TemporaryFolder()
        let source = folder.file("noise.raw")
        let raw = try ImageBuilder(path: source, size: 1 << 20)
        try raw.write(ImageBuilder.noise(65536, seed: 5), at: 0)
        let vmdk = folder.file("bomb.vmdk")
        try Exporter.export(source: source, to: .file(vmdk), options: fixedOptions(.vmdk))
        var bytes = try readFile(vmdk)
        let grain = Int(VMDK.overheadSectors) * 512
        let bomb = try zlibCompress([UInt8](repeating: 0x41, count: 128 * 1024))
        CorruptionTests.storeLittleEndian(UInt32(bomb.count), at: grain + 8, in: &bytes)
        bytes.replaceSubrange((grain + 12)..<(grain + 12 + bomb.count), with: bomb)
        try Data(bytes).write(to: URL(fileURLWithPath: vmdk))
        let opened = try ImageReader.open(path: vmdk)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        defer { buffer.deallocate() }
        #expect(throws: DiskImageError.malformedImage(path: vmdk, offset: UInt64(grain), reason: "grain 0 does not inflate to 65536 bytes")) {
            try opened.disk.readExactly(into: buffer, at: 0)
        }
    }
}

/// `bytes` as a zlib stream (RFC 1950), as VMDK grains are stored.
func zlibCompress(_ bytes: [UInt8]) throws -> [UInt8] {
    let compressor = GrainCompressor(level: .standard)
    var output = [UInt8](repeating: 0, count: compressor.bound(forInputSize: bytes.count))
    let size = bytes.withUnsafeBytes { input in output.withUnsafeMutableBytes { compressor.compress(input, into: $0) } }
    return Array(output[0..<(try #require(size))])
}
