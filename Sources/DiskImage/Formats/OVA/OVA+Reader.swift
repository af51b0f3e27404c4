extension OVA {
    /// The members of an OVA: where each one's bytes lie in the archive.
    struct Archive {
        struct Member {
            var name: String
            var offset: UInt64
            var size: UInt64
        }

        let members: [Member]

        /// Reads every header of the tar archive `file`, checking each against the file.
        init(_ file: SourceImage) throws(DiskImageError) {
            var members: [Member] = []
            var offset: UInt64 = 0
            let block = UInt64(USTAR.blockSize)
            while offset + block <= file.fileSize {
                let header = try file.bytes(USTAR.blockSize, at: offset, reading: "a tar header")
                guard let parsed = try TarHeader(decoding: header, at: offset, path: file.path) else { break }
                let dataOffset = offset + block
                guard parsed.size <= file.fileSize - dataOffset else {
                    throw DiskImageError.malformedImage(
                        path: file.path, offset: offset + 124,
                        reason: "member \"\(parsed.name)\" of \(parsed.size) bytes runs past the end of the file (\(file.fileSize) bytes)")
                }
                switch parsed.type {
                case UInt8(ascii: "0"), 0:
                    members.append(Member(name: parsed.name, offset: dataOffset, size: parsed.size))
                case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"):
                    throw DiskImageError.unsupportedSource(
                        path: file.path, reason: "uses pax or GNU extended tar headers (before \"\(parsed.name)\"); imgship reads OVAs of plain USTAR members")
                default:
                    break  // directories and links carry no data an OVA needs
                }
                guard members.count <= 4096 else {
                    throw DiskImageError.malformedImage(path: file.path, offset: offset, reason: "more than 4096 members; not an OVA")
                }
                offset = dataOffset + (parsed.size + block - 1) / block * block
            }
            guard !members.isEmpty else {
                throw DiskImageError.malformedImage(
                    path: file.path, offset: 0, reason: "a tar archive with no files; an OVA holds an .ovf, an .mf and its disks")
            }
            self.members = members
        }

        func member(endingWith suffix: String) -> [Member] {
            members.filter { $0.name.lowercased().hasSuffix(suffix) }
        }
    }

    /// An OVA: its one disk is opened as the image, named `archive.ova:disk.vmdk` in messages.
    /// The package's layout is checked here; the manifest's digests are `verify`'s work.
    static func open(_ file: SourceImage) throws(DiskImageError) -> OpenedImage {
        let archive = try Archive(file)
        let descriptors = archive.member(endingWith: ".ovf")
        guard let descriptorMember = descriptors.first else {
            throw DiskImageError.malformedImage(path: file.path, offset: 0, reason: "the archive has no .ovf descriptor, so it is not an OVA")
        }
        let extensions = SourceFormatEntry.memberExtensions
        let disks = archive.members.filter { extensions.contains(where: $0.name.lowercased().hasSuffix) }
        guard disks.count == 1, let diskMember = disks.first else {
            throw DiskImageError.unsupportedSource(
                path: file.path,
                reason: disks.isEmpty
                    ? "holds no disk (\(extensions.dropLast().joined(separator: ", ")) or \(extensions.last ?? "") member)"
                    : "holds \(disks.count) disks (\(disks.map(\.name).joined(separator: ", "))); imgship reads OVAs of one disk")
        }
        let disk = try SourceImage(member: diskMember.offset..<(diskMember.offset + diskMember.size), of: file, name: diskMember.name)
        // The member is opened as its bytes say, through the source table.
        let inner = try SourceFormatEntry.entry(ImageReader.detect(disk)).open(
            disk, SourceFormatEntry.OpenOptions(allowExternalExtents: false, streamed: false, package: (file, archive.members)))

        guard descriptorMember.size <= 16 << 20 else {
            throw DiskImageError.malformedImage(
                path: file.path, offset: descriptorMember.offset, reason: "an OVF descriptor of \(descriptorMember.size) bytes is absurd")
        }
        let descriptorText = String(
            decoding: try file.bytes(Int(descriptorMember.size), at: descriptorMember.offset, reading: "the OVF descriptor"), as: UTF8.self)
        let capacity = ovfDiskCapacity(descriptorText)
        let manifests = archive.member(endingWith: ".mf")
        var findings: [(check: String, passed: Bool)] = [
            ("the .ovf is the first member", archive.members.first?.name == descriptorMember.name),
            ("the .mf follows the .ovf", manifests.count == 1 && archive.members.count > 1 && archive.members[1].name == manifests[0].name),
            ("the OVF declares the disk's capacity (\(inner.info.virtualSize) bytes)", capacity == inner.info.virtualSize),
        ]
        findings += inner.findings
        var details: [(key: String, value: ImageInfo.Detail)] = [
            ("descriptor", .text(descriptorMember.name)),
            ("manifest", .text(manifests.map(\.name).joined(separator: ", "))),
            ("disk", "\(diskMember.name) (\(inner.info.format.rawValue) \(inner.info.subformat), \(diskMember.size) bytes)"),
            ("ovf capacity", capacity.map { "\($0) bytes" } ?? "not found"),
        ]
        // A signed package's certificate file (DSP0243 section 5.2); `verify` checks it.
        let certificates = archive.member(endingWith: ".cert")
        if !certificates.isEmpty {
            details.insert(("certificate", .text(certificates.map(\.name).joined(separator: ", ") + " (signed; imgship verify checks it)")), at: 2)
        }
        details += inner.info.details
        let info = ImageInfo(
            path: file.path, format: .ova, subformat: "\(inner.info.format.rawValue) \(inner.info.subformat)",
            virtualSize: inner.info.virtualSize, fileSize: file.fileSize, allocatedBytes: file.allocatedBytes, details: details)
        return OpenedImage(disk: inner.disk, info: info, findings: findings)
    }
}
