import Glibc

extension VHDX {
    /// Opens a VHDX, fixed or dynamic; a differencing disk, and a disk whose log still holds
    /// entries to replay, are refused.
    static func open(_ file: SourceImage) throws(DiskImageError) -> OpenedImage {
        let disk = try Disk(file: file)
        let metadata = disk.metadata
        let details: [(String, ImageInfo.Detail)] = [
            ("creator", "\"\(disk.creator)\""),
            ("block size", .number(UInt64(metadata.fileParameters.blockSize))),
            ("sector size", "\(metadata.logicalSectorSize) logical, \(metadata.physicalSectorSize) physical"),
            ("allocated blocks", .number(UInt64(disk.allocatedBlocks))),
        ]
        let subformat = metadata.fileParameters.leaveBlocksAllocated ? "fixed" : "dynamic"
        return OpenedImage(disk: disk, info: ImageReader.info(disk, file, .vhdx, subformat, details), findings: disk.findings)
    }

    /// A VHDX opened for reading: the current header, the region table, the metadata and the
    /// whole BAT are read and checked against the file before any data is. Every stored block
    /// must lie inside the file, after the header section, and apart from every other block
    /// and region.
    final class Disk: BlockTableDisk {
        let file: SourceImage
        let size: UInt64
        let clusterSize: Int
        let metadata: DiskMetadata
        let creator: String
        let allocatedBlocks: Int
        let findings: [(check: String, passed: Bool)]
        /// Payload blocks in the disk.
        let blockCount: Int
        /// The payload blocks stored in the file, in block order, and their file offsets: memory
        /// follows the blocks present, not the BAT's length (a BAT of zeros costs nothing).
        private let storedBlocks: [UInt32]
        private let storedOffsets: [UInt64]

        init(file: SourceImage) throws(DiskImageError) {
            self.file = file
            let path = file.path
            func malformed(_ offset: UInt64, _ reason: String) -> DiskImageError {
                .malformedImage(path: path, offset: offset, reason: reason)
            }
            creator = try FileIdentifier(
                decoding: file.bytes(FileIdentifier.size, at: VHDX.identifierOffset, reading: "the VHDX file identifier"),
                at: VHDX.identifierOffset, path: path
            ).creator

            // Section 2.2.2.1: the current header is the valid one with the larger sequence
            // number; one valid header is enough.
            var checks: [(check: String, passed: Bool)] = []
            let headers = try Disk.validCopies(
                file, at: VHDX.headerOffsets, name: "header", size: Header.size,
                checksumField: Header.Offset.checksum, checks: &checks
            ) { (bytes, offset) throws(DiskImageError) in
                let header = try Header(decoding: bytes, at: offset, path: path)
                return (header, header.checksumMatches)
            }
            guard let current = headers.valid.max(by: { $0.value.sequenceNumber < $1.value.sequenceNumber }) else {
                throw malformed(VHDX.headerOffsets[0], "neither VHDX header is valid (\(headers.problems.joined(separator: "; ")))")
            }
            let header = current.value
            guard header.version == 1 else {
                throw malformed(current.offset + UInt64(Header.Offset.version), "header version \(header.version); expected 1")
            }
            try Disk.refuseLogReplay(file, header: header, headerOffset: current.offset)

            // Section 2.2.3: either copy of the region table serves when its checksum holds.
            let tables = try Disk.validCopies(
                file, at: VHDX.regionTableOffsets, name: "region table", size: RegionTable.size,
                checksumField: RegionTable.Offset.checksum, checks: &checks
            ) { (bytes, offset) throws(DiskImageError) in
                let table = try RegionTable(decoding: bytes, at: offset, path: path)
                return (table, table.checksumMatches)
            }
            guard let table = tables.valid.first?.value else {
                throw malformed(VHDX.regionTableOffsets[0], "neither VHDX region table is valid (\(tables.problems.joined(separator: "; ")))")
            }
            if tables.valid.count == 2 { checks.append(("region tables agree", tables.valid[0].value.entries == tables.valid[1].value.entries)) }

            var claims = FileSpaceClaims(unit: Int(VHDX.alignment))
            _ = claims.claim(0, length: min(VHDX.headerSectionSize, file.fileSize))
            var batRegion: RegionTable.Entry?
            var metadataRegion: RegionTable.Entry?
            for (index, entry) in table.entries.enumerated() {
                let field = VHDX.regionTableOffsets[0] + UInt64(RegionTable.headerSize + index * RegionTable.entrySize)
                let isBAT = entry.guid == RegionID.blockAllocationTable
                let isMetadata = entry.guid == RegionID.metadata
                guard isBAT || isMetadata else {
                    if entry.isRequired { throw malformed(field, "region \(entry.guid) is marked required and imgship does not know it") }
                    continue
                }
                let name = isBAT ? "the BAT region" : "the metadata region"
                let length = UInt64(entry.length)
                guard entry.fileOffset >= VHDX.headerSectionSize, entry.fileOffset % VHDX.alignment == 0, length > 0 else {
                    throw malformed(
                        field + UInt64(RegionTable.EntryOffset.fileOffset),
                        "\(name) at \(entry.fileOffset); expected a multiple of 1 MiB after the header section")
                }
                guard entry.fileOffset <= file.fileSize, length <= file.fileSize - entry.fileOffset else {
                    throw malformed(
                        field + UInt64(RegionTable.EntryOffset.fileOffset),
                        "\(name) (\(length) bytes at \(entry.fileOffset)) runs past the end of the file (\(file.fileSize) bytes)")
                }
                guard (isBAT ? batRegion : metadataRegion) == nil, claims.claim(entry.fileOffset, length: length) else {
                    throw malformed(field, "\(name) at \(entry.fileOffset) overlaps another region or is listed twice")
                }
                if isBAT { batRegion = entry } else { metadataRegion = entry }
            }
            guard let batRegion, let metadataRegion else {
                throw malformed(VHDX.regionTableOffsets[0], "the region table has no \(batRegion == nil ? "BAT" : "metadata") region")
            }

            let metadataOffset = metadataRegion.fileOffset
            let metadataTable = try MetadataTable(
                decoding: file.bytes(MetadataTable.size, at: metadataOffset, reading: "the VHDX metadata table"),
                at: metadataOffset, path: path)
            metadata = try DiskMetadata(
                table: metadataTable, regionOffset: metadataOffset, regionLength: UInt64(metadataRegion.length),
                path: path
            ) { (offset, length) throws(DiskImageError) in
                try file.bytes(length, at: metadataOffset + offset, reading: "a VHDX metadata item")
            }
            if metadata.fileParameters.hasParent {
                throw DiskImageError.unsupportedSource(
                    path: path,
                    reason:
                        "is a differencing VHDX (its file parameters say it has a parent); imgship reads standalone images only: merge it into its parent first"
                )
            }
            size = metadata.virtualDiskSize
            let blockSize = UInt64(metadata.fileParameters.blockSize)
            clusterSize = Int(blockSize)

            // Section 2.5: payload entries in block order, a sector bitmap entry after every
            // chunk; the table is read in 1 MiB pieces and held once, as offsets.
            let layout = BATLayout(virtualSize: size, blockSize: blockSize, logicalSectorSize: UInt64(metadata.logicalSectorSize))
            let batOffset = batRegion.fileOffset
            let batBytes = layout.entryCount * UInt64(BATEntry.size)
            guard batBytes <= UInt64(batRegion.length) else {
                throw malformed(
                    batOffset,
                    "the BAT region is \(batRegion.length) bytes; \(layout.entryCount) entries for \(size) bytes in blocks of \(blockSize) need \(batBytes)")
            }
            try file.requireStored(batOffset, length: batBytes, field: batOffset, what: "the block allocation table")
            var blocks: [UInt32] = []
            var offsets: [UInt64] = []
            let piece: UInt64 = 1 << 17
            var index: UInt64 = 0
            while index < layout.entryCount {
                let count = min(piece, layout.entryCount - index)
                let bytes = try file.bytes(Int(count) * BATEntry.size, at: batOffset + index * UInt64(BATEntry.size), reading: "the block allocation table")
                // Zero entries say NOT_PRESENT, which payload and sector bitmap entries may both
                // say: a run of them is passed over at once, so a 64 TiB disk's BAT of 2^26
                // entries that names a few blocks costs a scan of its bytes, not 2^26 decodings.
                // qemu-img marks every block of a new VHDX PAYLOAD_BLOCK_ZERO instead (state 2,
                // offset 0): a run of those names no block either, when no sector bitmap entry,
                // which state 2 would make malformed, lies in it.
                for run in stride(from: 0, to: Int(count), by: Self.zeroRunEntries) {
                    let runEnd = min(run + Self.zeroRunEntries, Int(count))
                    let namesNoBlock = bytes.withUnsafeBytes { table in
                        let entries = UnsafeRawBufferPointer(rebasing: table[(run * BATEntry.size)..<(runEnd * BATEntry.size)])
                        if isAllZero(entries) { return true }
                        guard !layout.hasSectorBitmapEntry(in: (index + UInt64(run))..<(index + UInt64(runEnd))) else { return false }
                        return Self.zeroStateRun.withUnsafeBytes { pattern in
                            guard let expected = pattern.baseAddress, let found = entries.baseAddress else { return false }
                            return memcmp(expected, found, entries.count) == 0
                        }
                    }
                    if namesNoBlock { continue }
                    for slot in run..<runEnd {
                        let entryIndex = index + UInt64(slot)
                        let entryOffset = batOffset + entryIndex * UInt64(BATEntry.size)
                        let entry = BATEntry(decoding: bytes.loadLittleEndian(UInt64.self, at: slot * BATEntry.size))
                        if layout.isSectorBitmapEntry(entryIndex) {
                            // Bitmaps matter only to differencing disks; their state must still be one of the two defined.
                            guard entry.state == .notPresent || entry.state == .fullyPresent else {
                                throw malformed(entryOffset, "sector bitmap entry state \(entry.stateBits); expected 0 (not present) or 6 (present)")
                            }
                            continue
                        }
                        let block = layout.block(atEntry: entryIndex)
                        switch entry.state {
                        case .notPresent, .undefined, .zero, .unmapped:
                            break
                        case .fullyPresent:
                            let used = min(blockSize, size - block * blockSize)
                            guard entry.fileOffset >= VHDX.headerSectionSize, entry.fileOffset <= file.fileSize,
                                used <= file.fileSize - entry.fileOffset
                            else {
                                throw malformed(
                                    entryOffset,
                                    "block \(block) at \(entry.fileOffset) (\(used) bytes) lies outside the file (\(file.fileSize) bytes) or in its header section"
                                )
                            }
                            guard claims.claim(entry.fileOffset, length: used) else {
                                throw malformed(
                                    entryOffset,
                                    "block \(block) at \(entry.fileOffset) overlaps another block or region; every block has its own place in the file"
                                )
                            }
                            blocks.append(UInt32(block))
                            offsets.append(entry.fileOffset)
                        case .partiallyPresent:
                            throw malformed(entryOffset, "block \(block) is partially present, which only a differencing disk may be")
                        case nil:
                            throw malformed(entryOffset, "block \(block) has state \(entry.stateBits), which the spec does not define")
                        }
                    }
                }
                index += count
            }
            blockCount = Int(layout.payloadBlocks)
            storedBlocks = blocks
            storedOffsets = offsets
            allocatedBlocks = blocks.count
            findings = checks
        }

        /// The copies of a structure stored twice (headers, region tables) that decode and
        /// whose checksum holds, with a finding for each copy and a problem for each other.
        private static func validCopies<Structure>(
            _ file: SourceImage, at offsets: [UInt64], name: String, size: Int, checksumField: Int,
            checks: inout [(check: String, passed: Bool)],
            decode: ([UInt8], UInt64) throws(DiskImageError) -> (Structure, checksumMatches: Bool)
        ) throws(DiskImageError) -> (valid: [(value: Structure, offset: UInt64)], problems: [String]) {
            var valid: [(value: Structure, offset: UInt64)] = []
            var problems: [String] = []
            for (index, offset) in offsets.enumerated() {
                let bytes = try file.bytes(size, at: offset, reading: "the VHDX \(name)")
                var passed = false
                do throws(DiskImageError) {
                    let (value, checksumMatches) = try decode(bytes, offset)
                    passed = checksumMatches
                    if checksumMatches {
                        valid.append((value, offset))
                    } else {
                        let stored = bytes.loadLittleEndian(UInt32.self, at: checksumField)
                        let computed = VHDX.crc32c(bytes, zeroing: checksumField)
                        problems.append("at \(offset): checksum 0x\(String(stored, radix: 16)) != computed 0x\(String(computed, radix: 16))")
                    }
                } catch {
                    problems.append("\(error)")
                }
                checks.append(("\(name) \(index + 1) checksum", passed))
            }
            return (valid, problems)
        }

        /// Section 2.3: a header whose LogGuid is zero has an empty log. Otherwise a log entry
        /// (signature "loge", at a 4 KiB boundary) carrying that GUID must be replayed before
        /// the disk's bytes are current, which imgship does not do: it refuses the image.
        private static func refuseLogReplay(_ file: SourceImage, header: Header, headerOffset: UInt64) throws(DiskImageError) {
            guard !header.logGUID.isZero else { return }
            let logOffset = header.logOffset
            let logLength = UInt64(header.logLength)
            guard logOffset <= file.fileSize, logLength <= file.fileSize - logOffset else {
                throw DiskImageError.malformedImage(
                    path: file.path, offset: headerOffset + UInt64(Header.Offset.logOffset),
                    reason: "the log (\(logLength) bytes at \(logOffset)) runs past the end of the file (\(file.fileSize) bytes)")
            }
            // Only the stored parts of the log are read: a hole reads as zeros and holds no
            // entry, and a log of gigabytes that is all hole must not cost a read of its length.
            let sector: UInt64 = 4096
            let piece: UInt64 = 1 << 20
            let logEnd = logOffset + logLength / sector * sector
            for stored in try file.dataRanges(in: logOffset..<logEnd) {
                var start = logOffset + (stored.lowerBound - logOffset) / sector * sector
                let end = min(logEnd, logOffset + (stored.upperBound - logOffset + sector - 1) / sector * sector)
                while start < end {
                    let length = min(piece, end - start)
                    let bytes = try file.bytes(Int(length), at: start, reading: "the VHDX log")
                    for within in stride(from: 0, to: Int(length), by: Int(sector))
                    where Array(bytes[within..<(within + 4)]) == Array("loge".utf8) && GUID(in: bytes, at: within + 32) == header.logGUID {
                        throw DiskImageError.unsupportedSource(
                            path: file.path,
                            reason:
                                "has a non-empty log (an entry at offset \(start + UInt64(within)), log GUID \(header.logGUID)): the image was not closed cleanly and needs a log replay; open it once in Hyper-V (or `qemu-img check -r all`) and try again"
                        )
                    }
                    start += length
                }
            }
        }

        /// BAT entries looked at together for a run that names no block: 4 KiB of the table.
        private static let zeroRunEntries = 512

        /// `zeroRunEntries` entries of PAYLOAD_BLOCK_ZERO, as qemu-img writes them.
        private static let zeroStateRun: [UInt8] = {
            var run = [UInt8](repeating: 0, count: zeroRunEntries * BATEntry.size)
            for slot in 0..<zeroRunEntries { run.storeLittleEndian(BATEntry(state: .zero).encoded(), at: slot * BATEntry.size) }
            return run
        }()

        /// The position in `storedBlocks` of the first stored block at or after `block`.
        private func firstStored(from block: UInt64) -> Int {
            var low = 0
            var high = storedBlocks.count
            while low < high {
                let middle = (low + high) / 2
                if UInt64(storedBlocks[middle]) < block { low = middle + 1 } else { high = middle }
            }
            return low
        }

        func storedOffset(ofBlock index: Int) -> UInt64? {
            let position = firstStored(from: UInt64(index))
            guard position < storedBlocks.count, Int(storedBlocks[position]) == index else { return nil }
            return storedOffsets[position]
        }

        /// Jumps to the next stored block with a binary search instead of walking every block.
        func nextDataOffset(from offset: UInt64) -> UInt64? {
            guard offset < size else { return nil }
            let position = firstStored(from: offset / UInt64(clusterSize))
            guard position < storedBlocks.count else { return nil }
            return max(offset, UInt64(storedBlocks[position]) * UInt64(clusterSize))
        }
    }
}
