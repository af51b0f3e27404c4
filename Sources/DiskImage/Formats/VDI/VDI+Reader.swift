extension VDI {
    /// Opens a VDI: fixed and normal (dynamic) images; undo and differencing images, which
    /// hold only what changed since their parent, are refused.
    static func open(_ file: SourceImage) throws(DiskImageError) -> OpenedImage {
        let header = try Header(decoding: file.bytes(Header.size, at: 0, reading: "the VDI header"), path: file.path)
        let image = try Disk(file: file, header: header)
        let subformat = header.imageType == Header.ImageType.fixed.rawValue ? "fixed" : "dynamic"
        var details: [(String, ImageInfo.Detail)] = [
            ("image type", header.imageType == Header.ImageType.fixed.rawValue ? "fixed" : "normal (dynamic)"),
            ("version", "\(header.version >> 16).\(header.version & 0xFFFF)"),
            ("block size", .number(UInt64(header.blockSize))),
            ("allocated blocks", .number(UInt64(image.allocatedBlocks))),
            ("uuid", "\(Header.formatted(header.creationUUID))"),
            ("creator", "\"\(header.fileInfo.trimmingNewlines())\""),
        ]
        if !header.comment.isEmpty { details.append(("comment", "\"\(header.comment)\"")) }
        let findings: [(check: String, passed: Bool)] = [
            ("allocated block count in the header equals the block map's", UInt64(header.allocatedBlocks) == UInt64(image.allocatedBlocks))
        ]
        return OpenedImage(disk: image, info: ImageReader.info(image, file, .vdi, subformat, details), findings: findings)
    }

    /// A VDI opened for reading: the block map is loaded and every entry checked against the
    /// file (a data block inside it, no data block used twice) before any data is read.
    ///
    /// Where a stored block lies in a hole of the file (a fixed image qemu made with
    /// `ftruncate`), the hole stays a hole: `dataRanges` asks the file (`SEEK_DATA`) as a raw
    /// source does, so a mostly empty fixed image costs no more than its data.
    final class Disk: BlockTableDisk {
        let file: SourceImage
        let size: UInt64
        let clusterSize: Int
        let allocatedBlocks: Int
        /// Entries of the virtual blocks, in order (`needed` of them, not `cBlocks`).
        private let blockMap: [UInt32]
        private let dataOffset: UInt64
        /// `cbBlockExtra + cbBlock`: the stride of data blocks in the file.
        private let stride: UInt64
        private let blockExtra: UInt64

        /// Largest block size read: the default is 1 MiB, VirtualBox lets it be configured
        /// (`AllocationBlockSize`); a bound keeps one block's buffers reasonable.
        static let maximumBlockSize: UInt32 = 256 << 20

        init(file: SourceImage, header: Header) throws(DiskImageError) {
            self.file = file
            let path = file.path
            typealias Field = Header.Offset
            func malformed(_ offset: Int, _ reason: String) -> DiskImageError {
                .malformedImage(path: path, offset: UInt64(offset), reason: reason)
            }
            switch Header.ImageType(rawValue: header.imageType) {
            case .normal?, .fixed?:
                break
            case .undo?, .differencing?:
                throw DiskImageError.unsupportedSource(
                    path: path,
                    reason:
                        "is a differencing VDI (a snapshot of the image \(Header.formatted(header.linkageUUID))); imgship reads standalone images only: merge it into its parent first (VBoxManage clonemedium)"
                )
            case nil:
                throw malformed(Field.imageType, "VDI image type \(header.imageType); expected 1 (normal) or 2 (fixed)")
            }
            // qemu's vdi_open refuses these too: a standalone image has no parent.
            guard header.linkageUUID.allSatisfy({ $0 == 0 }) else {
                throw DiskImageError.unsupportedSource(
                    path: path,
                    reason:
                        "is a VDI linked to the parent image \(Header.formatted(header.linkageUUID)); imgship reads standalone images only: merge it into its parent first (VBoxManage clonemedium)"
                )
            }
            // VDIHEADER1 is 384 bytes; vdiValidateHeader refuses less.
            guard header.headerSize >= 384 else {
                throw malformed(Field.headerSize, "header size \(header.headerSize); version 1.1 needs at least 384 bytes")
            }
            let blockSize = header.blockSize
            guard blockSize >= 512, blockSize <= Self.maximumBlockSize, blockSize & (blockSize - 1) == 0 else {
                throw malformed(Field.blockSize, "block size \(blockSize); expected a power of two from 512 bytes to 256 MiB (VirtualBox and qemu write 1 MiB)")
            }
            // cbBlockExtra: "a power of 2 and sector-aligned" (VDICore.h); sectors keep every
            // block on the 512-byte grain the claims below count in.
            let extra = header.blockExtra
            guard extra == 0 || (extra >= 512 && extra <= Self.maximumBlockSize && extra & (extra - 1) == 0) else {
                throw malformed(Field.blockExtra, "extra data of \(extra) bytes before each block; expected 0 or a power of two from 512 bytes to 256 MiB")
            }
            // qemu's vdi_open: both offsets on a sector boundary.
            guard header.blocksOffset % 512 == 0, header.blocksOffset >= UInt32(Header.size) else {
                throw malformed(Field.blocksOffset, "block map offset \(header.blocksOffset); expected a multiple of 512 after the header")
            }
            guard header.dataOffset % 512 == 0 else {
                throw malformed(Field.dataOffset, "data offset \(header.dataOffset); expected a multiple of 512")
            }
            size = header.diskSize
            guard size <= 1 << 56 else { throw malformed(Field.diskSize, "disk size \(size) bytes is absurd (over 64 PiB)") }
            let blockBytes = UInt64(blockSize)
            let needed = (size + blockBytes - 1) / blockBytes
            guard needed <= UInt64(header.blockCount) else {
                throw malformed(
                    Field.blockCount, "\(header.blockCount) blocks of \(blockSize) bytes cannot hold the disk size \(size); at least \(needed) needed")
            }
            // vdiValidateHeader: the block map (cBlocks entries) ends before the data starts.
            let mapEnd = UInt64(header.blocksOffset) + UInt64(header.blockCount) * 4
            guard mapEnd <= UInt64(header.dataOffset) else {
                throw malformed(Field.dataOffset, "data offset \(header.dataOffset) lies inside the block map, which ends at \(mapEnd)")
            }
            let mapOffset = UInt64(header.blocksOffset)
            let mapLength = needed * 4
            guard mapOffset <= file.fileSize, mapLength <= file.fileSize - mapOffset else {
                throw malformed(Field.blocksOffset, "the block map (\(mapLength) bytes at \(mapOffset)) runs past the end of the file (\(file.fileSize) bytes)")
            }
            try file.requireStored(mapOffset, length: mapLength, field: UInt64(Field.blocksOffset), what: "the block map")
            let size = size
            let dataOffset = UInt64(header.dataOffset)
            let blockExtra = UInt64(extra)
            let stride = blockBytes + blockExtra
            clusterSize = Int(blockSize)
            self.dataOffset = dataOffset
            self.blockExtra = blockExtra
            self.stride = stride

            var allocated = 0
            var claims = FileSpaceClaims(unit: 512)
            blockMap = try BlockTable.load(
                from: file, count: Int(needed), at: mapOffset, bigEndian: false, reading: "the block map"
            ) { (index, entry, entryOffset) throws(DiskImageError) in
                // 0xFFFFFFFF (free) and 0xFFFFFFFE (zero): not stored, read as zeros.
                guard entry < VDI.zeroBlock else { return }
                func refused(_ reason: String) -> DiskImageError {
                    .malformedImage(path: path, offset: entryOffset, reason: "block \(index) points at data block \(entry), \(reason)")
                }
                // qemu's vdi_check: a data block index is below cBlocks.
                guard entry < header.blockCount else { throw refused("past the image's \(header.blockCount) blocks") }
                let start = dataOffset + UInt64(entry) * stride
                let used = min(blockBytes, size - UInt64(index) * blockBytes)
                guard start <= file.fileSize, blockExtra + used <= file.fileSize - start else {
                    throw refused("which runs past the end of the file (\(file.fileSize) bytes)")
                }
                guard claims.claim(start, length: blockExtra + used) else {
                    throw refused("which another block already uses; every block has its own place in the file")
                }
                allocated += 1
            }
            allocatedBlocks = allocated
        }

        var blockCount: Int { blockMap.count }

        func storedOffset(ofBlock index: Int) -> UInt64? {
            let entry = blockMap[index]
            guard entry < VDI.zeroBlock else { return nil }
            return dataOffset + UInt64(entry) * stride + blockExtra
        }

        /// The stored blocks of `window`, less the holes of the file under them.
        func dataRanges(in window: Range<UInt64>) throws(DiskImageError) -> [Range<UInt64>] {
            let end = min(window.upperBound, size)
            guard window.lowerBound < end else { return [] }
            let unit = UInt64(clusterSize)
            var ranges: [Range<UInt64>] = []
            var block = window.lowerBound / unit
            while block * unit < end {
                let blockStart = block * unit
                if let stored = storedOffset(ofBlock: Int(block)) {
                    let start = max(blockStart, window.lowerBound)
                    let stop = min(blockStart + unit, end)
                    let host = (stored + start - blockStart)..<(stored + stop - blockStart)
                    for data in try file.dataRanges(in: host) {
                        let virtual = (data.lowerBound - stored + blockStart)..<(data.upperBound - stored + blockStart)
                        if let last = ranges.last, last.upperBound == virtual.lowerBound {
                            ranges[ranges.count - 1] = last.lowerBound..<virtual.upperBound
                        } else {
                            ranges.append(virtual)
                        }
                    }
                }
                block += 1
            }
            return ranges
        }
    }
}

extension String {
    /// Without the line breaks a VDI's file info text ends with.
    fileprivate func trimmingNewlines() -> String {
        var text = Substring(self)
        while let last = text.last, last == "\n" || last == "\r" { text = text.dropLast() }
        return String(text)
    }
}
