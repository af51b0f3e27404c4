/// The formats imgship reads.
public enum SourceFormat: String, CaseIterable, Sendable {
    case raw, vhd, vmdk, qcow2
    /// An OVF package (tar) holding one disk: its disk is what is read.
    case ova
}

/// What `imgship info` shows of an image.
public struct ImageInfo: Sendable {
    public var path: String
    public var format: SourceFormat
    /// fixed, dynamic, streamOptimized, monolithicSparse, monolithicFlat, ...; for raw, file or
    /// block device.
    public var subformat: String
    public var virtualSize: UInt64
    /// The size of the image's files together.
    public var fileSize: UInt64
    /// Bytes the files occupy on disk.
    public var allocatedBytes: UInt64
    /// The format's own fields worth knowing, in a fixed order.
    public var details: [(key: String, value: String)]
}

/// An image opened for reading: its disk, for export and verification, and what it is.
public struct OpenedImage: Sendable {
    public let disk: any VirtualDisk
    public let info: ImageInfo
    /// Structure checks that do not stop reading (checksums, the footer copy), as found.
    public let findings: [(check: String, passed: Bool)]
}

public enum ImageReader {
    /// The format, from the file's first and last bytes; never from its name.
    public static func detect(path: String) throws(DiskImageError) -> SourceFormat {
        let file = try SourceImage(path: path)
        return try detect(file)
    }

    static func detect(_ file: SourceImage) throws(DiskImageError) -> SourceFormat {
        let head = try file.bytes(Int(min(512, file.fileSize)), at: 0, reading: "the first sector")
        if head.starts(with: QCOW2Image.magic) { return .qcow2 }
        if head.starts(with: VMDKSparseImage.magic) || head.starts(with: Array("# Disk DescriptorFile".utf8)) { return .vmdk }
        if head.starts(with: VHDFooter.cookie) { return .vhd }
        if head.count == 512, Array(head[257..<262]) == Array("ustar".utf8) { return .ova }
        if file.fileSize >= 512, !file.isBlockDevice || file.fileSize % 512 == 0 {
            let tail = try file.bytes(8, at: file.fileSize - 512, reading: "the last sector")
            if tail == VHDFooter.cookie { return .vhd }
        }
        return .raw
    }

    /// Opens `path` as `format`, or as what its bytes say when `format` is nil. Every table
    /// is read and checked here, before any data is.
    ///
    /// A VMDK descriptor's extents must be regular files in the descriptor's folder;
    /// `allowExternalExtents` lets them be the user's own files elsewhere (still regular files).
    public static func open(path: String, format: SourceFormat? = nil, allowExternalExtents: Bool = false) throws(DiskImageError) -> OpenedImage {
        let file = try SourceImage(path: path)
        let resolved: SourceFormat
        if let format { resolved = format } else { resolved = try detect(file) }
        return try open(file: file, as: resolved, allowExternalExtents: allowExternalExtents)
    }

    /// `streamed`: the file is a copy of a stream, so a VMDK descriptor in it may name no extents.
    static func open(file: SourceImage, as format: SourceFormat, allowExternalExtents: Bool = false, streamed: Bool = false) throws(DiskImageError) -> OpenedImage {
        let path = file.path
        switch format {
        case .raw:
            let info = ImageInfo(path: path, format: .raw, subformat: file.isBlockDevice ? "block device" : "file",
                                 virtualSize: file.size, fileSize: file.fileSize, allocatedBytes: file.allocatedBytes, details: [])
            return OpenedImage(disk: file, info: info, findings: [])
        case .qcow2:
            guard try file.bytes(4, at: 0, reading: "the qcow2 magic") == QCOW2Image.magic else {
                throw DiskImageError.malformedImage(path: path, offset: 0, reason: "no qcow2 magic \"QFI\\xfb\"")
            }
            let image = try QCOW2Image(file: file)
            var details: [(String, String)] = [
                ("version", "\(image.version) (compat \(image.version == 2 ? "0.10" : "1.1"))"),
                ("cluster size", "\(image.clusterSize)"),
                ("compression", image.compressedClusterCount > 0 ? "deflate (\(image.compressedClusterCount) compressed clusters)" : "none"),
            ]
            if image.snapshotCount > 0 { details.append(("snapshots", "\(image.snapshotCount) (the active state is read)")) }
            if image.isDirty { details.append(("dirty", "yes (not closed cleanly; the data is read as it is)")) }
            return OpenedImage(disk: image, info: info(image, file, .qcow2, "v\(image.version)", details), findings: [])
        case .vhd:
            return try openVHD(file)
        case .vmdk:
            return try openVMDK(file, extents: streamed ? .none : .folder(descriptorPath: file.path, allowExternal: allowExternalExtents))
        case .ova:
            return try openOVA(file)
        }
    }

    private static func info(_ disk: any VirtualDisk, _ file: SourceImage, _ format: SourceFormat, _ subformat: String,
                             _ details: [(String, String)]) -> ImageInfo {
        ImageInfo(path: file.path, format: format, subformat: subformat, virtualSize: disk.size, fileSize: file.fileSize,
                  allocatedBytes: file.allocatedBytes, details: details.map { (key: $0.0, value: $0.1) })
    }

    static func openVHD(_ file: SourceImage) throws(DiskImageError) -> OpenedImage {
        guard file.fileSize >= 512 else {
            throw DiskImageError.malformedImage(path: file.path, offset: 0, reason: "\(file.fileSize) bytes is too short for a VHD footer")
        }
        let footerOffset = file.fileSize - 512
        let footer = try VHDFooter(file.bytes(512, at: footerOffset, reading: "the VHD footer"), path: file.path, at: footerOffset)
        var details: [(String, String)] = [
            ("disk type", "\(footer.diskType)"),
            ("creator", "\"\(footer.creatorApplication)\" on \"\(footer.creatorHostOS)\""),
            ("geometry", "\(footer.cylinders)/\(footer.heads)/\(footer.sectorsPerTrack) (C/H/S)"),
            ("current size", "\(footer.currentSize)"),
        ]
        var findings: [(String, Bool)] = [("footer checksum", footer.checksumMatches)]
        switch footer.diskType {
        case .fixed:
            guard footer.virtualSize <= footerOffset else {
                throw DiskImageError.malformedImage(path: file.path, offset: footerOffset + 48,
                                                    reason: "a fixed VHD of \(footer.virtualSize) bytes needs a file of at least \(footer.virtualSize + 512) bytes; it has \(file.fileSize)")
            }
            let disk = try SourceImage(prefixOf: file, diskSize: footer.virtualSize)
            return OpenedImage(disk: disk, info: info(disk, file, .vhd, "fixed", details), findings: findings)
        case .dynamic:
            let image = try VHDDynamicImage(file: file, footer: footer)
            details.append(("block size", "\(image.clusterSize)"))
            details.append(("allocated blocks", "\(image.allocatedBlocks)"))
            findings.append(("dynamic header checksum", image.headerChecksumMatches))
            findings.append(("footer copy at the start equals the footer", image.headerCopyMatches))
            return OpenedImage(disk: image, info: info(image, file, .vhd, "dynamic", details), findings: findings)
        case .differencing:
            let header = try? file.bytes(1024, at: footer.dataOffset, reading: "the dynamic header")
            let parent = header.map { bytes in
                let units = stride(from: 64, to: 576, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
                return String(decoding: units.prefix { $0 != 0 }, as: UTF16.self)
            } ?? "?"
            throw DiskImageError.unsupportedSource(path: file.path, reason: "is a differencing VHD on the parent \"\(parent)\"; imgship reads standalone images only: merge it into its parent first")
        }
    }

    /// Opens a VMDK: a sparse extent, or a text descriptor whose extents come from `extents`.
    static func openVMDK(_ file: SourceImage, extents: ExtentSource) throws(DiskImageError) -> OpenedImage {
        let head = try file.bytes(Int(min(512, file.fileSize)), at: 0, reading: "the first sector")
        if head.starts(with: VMDKSparseImage.magic) {
            let image = try VMDKSparseImage(file: file)
            let createType = image.descriptor?.createType ?? (image.hasMarkers ? "streamOptimized" : "monolithicSparse")
            var details: [(String, String)] = [
                ("create type", createType),
                ("version", "\(image.version)"),
                ("grain size", "\(image.clusterSize)"),
                ("compression", image.isCompressed ? "deflate" : "none"),
                ("allocated grains", "\(image.allocatedGrains)"),
            ]
            if let adapter = image.descriptor?.adapterType { details.insert(("adapter", adapter), at: 1) }
            return OpenedImage(disk: image, info: info(image, file, .vmdk, createType, details), findings: [])
        }
        // A descriptor file naming extents beside it.
        guard file.fileSize <= 1 << 20 else {
            throw DiskImageError.malformedImage(path: file.path, offset: 0, reason: "a VMDK descriptor of \(file.fileSize) bytes is absurd")
        }
        let text = String(decoding: try file.bytes(Int(file.fileSize), at: 0, reading: "the descriptor"), as: UTF8.self)
        let descriptor = try VMDKDescriptorText(text, path: file.path)
        guard !descriptor.extents.isEmpty else {
            throw DiskImageError.malformedImage(path: file.path, offset: 0, reason: "the descriptor names no extents")
        }
        var parts: [ConcatenatedDisk.Part] = []
        var fileSize = file.fileSize
        var allocated = file.allocatedBytes
        var start: UInt64 = 0
        var claims = ExtentClaims(descriptor: file.path)
        for extent in descriptor.extents {
            // Text numbers can be anything: keep every sum inside 64 bits and 64 PiB.
            let limit: UInt64 = 1 << 56
            guard extent.sectors < limit / 512, extent.offset < limit / 512, start + extent.sectors * 512 <= limit else {
                throw DiskImageError.malformedImage(path: file.path, offset: 0, reason: "extent of \(extent.sectors) sectors at sector \(extent.offset) is absurd")
            }
            let length = extent.sectors * 512
            var disk: (any VirtualDisk)?
            if let name = extent.fileName {
                let extentFile = try extents.open(name, line: extent.line, descriptor: file.path)
                let extentPath = extentFile.path
                fileSize += extentFile.fileSize
                allocated += extentFile.allocatedBytes
                switch extent.kind {
                case .flat, .vmfs:
                    guard extent.offset * 512 + length <= extentFile.fileSize else {
                        throw DiskImageError.malformedImage(path: extentPath, offset: 0, reason: "the flat extent of \(length) bytes at sector \(extent.offset) runs past the end of the file (\(extentFile.fileSize) bytes)")
                    }
                    try claims.add(extentFile, (extent.offset * 512)..<(extent.offset * 512 + length), extent: name, line: extent.line)
                    disk = FlatExtent(file: extentFile, start: extent.offset * 512, size: length)
                case .sparse:
                    try claims.add(extentFile, nil, extent: name, line: extent.line)
                    let sparse = try VMDKSparseImage(file: extentFile)
                    guard sparse.size >= length else {
                        throw DiskImageError.malformedImage(path: extentPath, offset: 12, reason: "the sparse extent holds \(sparse.size) bytes; the descriptor says \(length)")
                    }
                    disk = sparse
                case .zero:
                    disk = nil
                }
            }
            parts.append(ConcatenatedDisk.Part(start: start, size: length, disk: disk))
            start += length
        }
        let disk = ConcatenatedDisk(path: file.path, size: start, parts: parts)
        let createType = descriptor.createType ?? "unknown"
        var details: [(String, String)] = [("create type", createType), ("extents", "\(descriptor.extents.count)")]
        if let adapter = descriptor.adapterType { details.insert(("adapter", adapter), at: 1) }
        let info = ImageInfo(path: file.path, format: .vmdk, subformat: createType, virtualSize: start, fileSize: fileSize,
                             allocatedBytes: allocated, details: details.map { (key: $0.0, value: $0.1) })
        return OpenedImage(disk: disk, info: info, findings: [])
    }
}

/// A flat extent: a window of a raw file.
final class FlatExtent: VirtualDisk {
    let file: SourceImage
    let start: UInt64
    let size: UInt64
    var path: String { file.path }

    init(file: SourceImage, start: UInt64, size: UInt64) {
        self.file = file
        self.start = start
        self.size = size
    }

    func dataRanges(in window: Range<UInt64>) throws(DiskImageError) -> [Range<UInt64>] {
        let end = min(window.upperBound, size)
        guard window.lowerBound < end else { return [] }
        return try file.dataRanges(in: (start + window.lowerBound)..<(start + end)).map { ($0.lowerBound - start)..<($0.upperBound - start) }
    }

    func nextDataOffset(from offset: UInt64) -> UInt64? {
        guard offset < size, let found = file.nextDataOffset(from: start + offset), found < start + size else { return nil }
        return found - start
    }

    func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskImageError) {
        try file.readExactly(into: buffer, at: start + offset)
    }
}

/// Extents one after another (a VMDK descriptor's); a missing disk is a ZERO extent.
final class ConcatenatedDisk: VirtualDisk {
    struct Part {
        var start: UInt64
        var size: UInt64
        var disk: (any VirtualDisk)?
    }

    let path: String
    let size: UInt64
    let parts: [Part]

    init(path: String, size: UInt64, parts: [Part]) {
        self.path = path
        self.size = size
        self.parts = parts
    }

    /// The index of the first part that ends after `offset` (binary search: a split disk has
    /// thousands of parts, and every window would otherwise walk them from the first).
    private func firstPart(endingAfter offset: UInt64) -> Int {
        var low = 0
        var high = parts.count
        while low < high {
            let middle = (low + high) / 2
            if parts[middle].start + parts[middle].size > offset { high = middle } else { low = middle + 1 }
        }
        return low
    }

    func dataRanges(in window: Range<UInt64>) throws(DiskImageError) -> [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        for part in parts[firstPart(endingAfter: window.lowerBound)...] {
            if part.start >= window.upperBound { break }
            guard let disk = part.disk, part.size > 0 else { continue }
            let local = (max(window.lowerBound, part.start) - part.start)..<(min(window.upperBound, part.start + part.size) - part.start)
            for range in try disk.dataRanges(in: local) {
                let shifted = (range.lowerBound + part.start)..<(range.upperBound + part.start)
                if let last = ranges.last, last.upperBound == shifted.lowerBound {
                    ranges[ranges.count - 1] = last.lowerBound..<shifted.upperBound
                } else {
                    ranges.append(shifted)
                }
            }
        }
        return ranges
    }

    func nextDataOffset(from offset: UInt64) -> UInt64? {
        for part in parts[firstPart(endingAfter: offset)...] {
            guard let disk = part.disk, part.size > 0 else { continue }
            if let found = disk.nextDataOffset(from: offset > part.start ? offset - part.start : 0), found < part.size {
                return part.start + found
            }
        }
        return nil
    }

    func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskImageError) {
        var done = 0
        for part in parts[firstPart(endingAfter: offset)...] where done < buffer.count {
            let position = offset + UInt64(done)
            guard position < part.start + part.size, position >= part.start else { continue }
            let length = Int(min(UInt64(buffer.count - done), part.start + part.size - position))
            let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + length)])
            if let disk = part.disk {
                try disk.readExactly(into: piece, at: position - part.start)
            } else {
                piece.initializeMemory(as: UInt8.self, repeating: 0)
            }
            done += length
        }
    }
}
