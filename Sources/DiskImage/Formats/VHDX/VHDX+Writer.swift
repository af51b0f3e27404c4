extension VHDX {
    /// Where the structures of the files we write lie: the header section, a 1 MiB log
    /// (empty: its GUID in the headers is zero), the BAT, the metadata region, then the
    /// stored blocks, all on 1 MiB boundaries (section 2.2.3.1).
    struct WrittenLayout {
        let bat: BATLayout
        /// Payload block size in bytes.
        let blockSize: Int
        let logOffset = VHDX.headerSectionSize
        let logLength = VHDX.alignment
        var batOffset: UInt64 { logOffset + logLength }
        /// At least 1 MiB; a whole number of MiB.
        let batLength: UInt64
        var metadataOffset: UInt64 { batOffset + batLength }
        let metadataLength = VHDX.alignment
        var firstBlockOffset: UInt64 { metadataOffset + metadataLength }

        init(virtualSize: UInt64, blockSize: Int) {
            self.blockSize = blockSize
            bat = BATLayout(
                virtualSize: virtualSize, blockSize: UInt64(blockSize),
                logicalSectorSize: UInt64(VHDX.logicalSectorSize))
            batLength = roundUp(max(bat.entryCount * UInt64(BATEntry.size), 1), toMultipleOf: VHDX.alignment)
        }
    }

    /// The GUIDs of a file we write, from the export's disk identifier so that outputs are
    /// reproducible: page 83 data is the identifier itself, the write GUIDs variations of it
    /// (section 2.2.2 asks only that they change when the file or its data does).
    static func guids(_ identifier: [UInt8]) -> (page83: GUID, fileWrite: GUID, dataWrite: GUID) {
        let base = (identifier + [UInt8](repeating: 0, count: 16)).prefix(16)
        return (GUID(bytes: Array(base)), GUID(bytes: base.map { $0 ^ 0x5A }), GUID(bytes: base.map { $0 ^ 0xA5 }))
    }

    /// Dynamic VHDX with `--block-size` blocks (`defaultBlockSize` without it). The BAT precedes the blocks, so a first pass finds
    /// which blocks hold a non-zero byte (those become FULLY_PRESENT, the others
    /// NOT_PRESENT); the second writes the file strictly in order, hashing as it goes, so the
    /// output may be a pipe. Blocks are written in 2 MiB pieces, and all-zero pieces inside
    /// a stored block are holes of a regular file: memory stays that of the 2 MiB pipeline
    /// and a mostly empty block costs few writes. Without a digest, to a regular file, one
    /// pass does (`writeDynamicInOnePass`).
    static func writeDynamic(_ context: ExportContext) throws(DiskImageError) {
        let blockSize = context.options.vhdxBlockSize ?? defaultBlockSize(virtualSize: context.virtualSize)
        let layout = WrittenLayout(virtualSize: context.virtualSize, blockSize: blockSize)
        if !context.sink.isHashing, let writer = context.sink.positionalWriter {
            return try writeDynamicInOnePass(context, layout: layout, tableWriter: writer)
        }
        let blockCount = Int(layout.bat.payloadBlocks)
        let allocated = try context.findNonZeroBlocks(blockSize: blockSize, blockCount: blockCount)
        let storedBlocks = allocated.indices.filter { allocated[$0] }

        try writeHead(context, layout: layout)
        var table = AllocationTable(layout: layout)
        for (position, block) in storedBlocks.enumerated() { table.store(block: block, position: position) }
        try context.sink.write(table.bytes)  // BAT
        try writeMetadata(context, layout: layout)
        try writeBlocks(context, storedBlocks: storedBlocks, layout: layout)
        try context.checkpoint(.writing, completed: context.virtualSize)
    }

    /// Dynamic VHDX in one pass, when no digest is wanted and the output is a regular file
    /// (`export --no-manifest`): the disk is read once in 2 MiB pieces, and a block is given
    /// the next place in the file when its first non-zero piece comes; the BAT is left as a
    /// hole and written in place at the end. Blocks are placed in block order either way, so
    /// the bytes are the two-pass writer's.
    static func writeDynamicInOnePass(_ context: ExportContext, layout: WrittenLayout, tableWriter: PositionalWriter) throws(DiskImageError) {
        let blockSize = UInt64(layout.blockSize)
        let piece = min(RAW.batchSize, layout.blockSize)
        let piecesPerBlock = layout.blockSize / piece
        let source = context.source
        let sink = context.sink
        let virtualSize = context.virtualSize
        let pieceCount = Int((virtualSize + UInt64(piece) - 1) / UInt64(piece))

        try writeHead(context, layout: layout)
        try sink.writeZeros(layout.batLength)  // BAT, written at the end
        try writeMetadata(context, layout: layout)

        var table = AllocationTable(layout: layout)
        var storedCount = 0
        var lastBlock = -1
        let pipeline = OrderedPipeline(batchCount: pieceCount, workerCount: context.workerCount, slabCapacity: piece)
        try pipeline.run(
            skipTo: context.skipHoles(batchBytes: UInt64(piece), batchCount: pieceCount),
            makeWorker: {},
            work: { (index, _, slab) throws(DiskImageError) -> Int in
                let start = UInt64(index) * UInt64(piece)
                let end = min(start + UInt64(piece), virtualSize)
                let length = Int(end - start)
                try source.read(start..<end, into: slab, zeroingHolesWithin: piece)
                return isAllZero(UnsafeRawBufferPointer(rebasing: slab[0..<length])) ? 0 : length
            },
            consume: { (index, length, slab) throws(DiskImageError) in
                let completed = min(UInt64(index + 1) * UInt64(piece), virtualSize)
                guard length > 0 else { return try context.checkpoint(.writing, completed: completed) }
                let block = index / piecesPerBlock
                if block != lastBlock {
                    // Pieces come in order, so blocks are placed in block order.
                    table.store(block: block, position: storedCount)
                    storedCount += 1
                    lastBlock = block
                }
                let offset = layout.firstBlockOffset + UInt64(storedCount - 1) * blockSize + UInt64(index % piecesPerBlock * piece)
                try sink.writeZeros(offset - sink.position)  // a hole
                try writeInParts(UnsafeRawBufferPointer(rebasing: slab[0..<length]), to: sink)
                context.startWriteback(offset..<(offset + UInt64(length)))
                try context.checkpoint(.writing, completed: completed)
            })
        // The last block's tail: each block is whole in the file.
        try sink.writeZeros(layout.firstBlockOffset + UInt64(storedCount) * blockSize - sink.position)
        try context.checkpoint(.writing, completed: virtualSize)
        // withUnsafeBytes rethrows untyped errors, so carry ours out by hand.
        var failure: DiskImageError?
        table.bytes.withUnsafeBytes { bytes in
            do throws(DiskImageError) { try tableWriter.write(bytes, at: layout.batOffset) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// The BAT's bytes (section 2.5): the entries of stored blocks FULLY_PRESENT; those of
    /// the other blocks and the sector bitmap entries stay 0, NOT_PRESENT.
    struct AllocationTable {
        let layout: WrittenLayout
        private(set) var bytes: [UInt8]

        init(layout: WrittenLayout) {
            self.layout = layout
            bytes = [UInt8](repeating: 0, count: Int(layout.bat.entryCount) * BATEntry.size)
        }

        /// Payload block `block` stored as the `position`-th block of the file.
        mutating func store(block: Int, position: Int) {
            let entry = BATEntry(state: .fullyPresent, fileOffset: layout.firstBlockOffset + UInt64(position) * UInt64(layout.blockSize))
            bytes.storeLittleEndian(entry.encoded(), at: Int(layout.bat.entryIndex(ofBlock: UInt64(block))) * BATEntry.size)
        }
    }

    /// The header section (section 2.2) and the empty log, up to the BAT.
    private static func writeHead(_ context: ExportContext, layout: WrittenLayout) throws(DiskImageError) {
        let sink = context.sink
        func pad(to offset: UInt64) throws(DiskImageError) { try sink.writeZeros(offset - sink.position) }
        let ids = guids(context.options.diskIdentifier)

        try sink.write(FileIdentifier(creator: "imgship").encoded())  // 0 file identifier
        for (index, offset) in VHDX.headerOffsets.enumerated() {  // 64 KiB, 128 KiB headers
            try pad(to: offset)
            // The second header is the current one: the larger sequence number.
            try sink.write(
                Header(
                    sequenceNumber: UInt64(index + 1), fileWriteGUID: ids.fileWrite, dataWriteGUID: ids.dataWrite,
                    logOffset: layout.logOffset, logLength: UInt32(layout.logLength)
                ).encoded())
        }
        let regions = RegionTable(entries: [
            .init(guid: RegionID.blockAllocationTable, fileOffset: layout.batOffset, length: UInt32(layout.batLength)),
            .init(guid: RegionID.metadata, fileOffset: layout.metadataOffset, length: UInt32(layout.metadataLength)),
        ]).encoded()
        for offset in VHDX.regionTableOffsets {  // 192 KiB, 256 KiB region tables
            try pad(to: offset)
            try sink.write(regions)
        }
        try pad(to: layout.batOffset)  // 1 MiB log: empty
    }

    /// The metadata region (section 2.6), after the BAT, up to the first block.
    private static func writeMetadata(_ context: ExportContext, layout: WrittenLayout) throws(DiskImageError) {
        let sink = context.sink
        try sink.writeZeros(layout.metadataOffset - sink.position)
        let metadata = DiskMetadata(
            fileParameters: FileParameters(blockSize: UInt32(layout.blockSize)), virtualDiskSize: context.virtualSize,
            page83Data: guids(context.options.diskIdentifier).page83, logicalSectorSize: logicalSectorSize,
            physicalSectorSize: physicalSectorSize)
        try sink.write(metadata.encoded())  // metadata region
        try sink.writeZeros(layout.firstBlockOffset - sink.position)
    }

    /// A 256 KiB write at a time: a 2 MiB write at a 2 MiB boundary has Linux (6.x ext4)
    /// allocate a 2 MiB page cache folio, which on a machine with fragmented memory waits for
    /// compaction; VHD's blocks, 512 bytes off the boundary, never meet it.
    static let partSize = 256 * 1024

    private static func writeInParts(_ bytes: UnsafeRawBufferPointer, to sink: OutputSink) throws(DiskImageError) {
        for part in stride(from: 0, to: bytes.count, by: partSize) {
            try sink.write(UnsafeRawBufferPointer(rebasing: bytes[part..<min(part + partSize, bytes.count)]))
        }
    }

    /// The stored blocks, in order, each a whole block in the file (a reader checks that a
    /// block lies inside the file), written in pieces of at most 2 MiB.
    private static func writeBlocks(_ context: ExportContext, storedBlocks: [Int], layout: WrittenLayout) throws(DiskImageError) {
        let firstBlockOffset = layout.firstBlockOffset
        let blockSize = UInt64(layout.blockSize)
        let piece = min(RAW.batchSize, layout.blockSize)
        let piecesPerBlock = layout.blockSize / piece
        let batchCount = storedBlocks.count * piecesPerBlock
        let source = context.source
        let sink = context.sink
        let virtualSize = context.virtualSize
        let writer = sink.positionalWriter
        let writeback = context.writeback
        @Sendable func virtualStart(_ index: Int) -> UInt64 {
            UInt64(storedBlocks[index / piecesPerBlock]) * blockSize + UInt64(index % piecesPerBlock * piece)
        }
        @Sendable func fileOffset(_ index: Int) -> UInt64 {
            firstBlockOffset + UInt64(index / piecesPerBlock) * blockSize + UInt64(index % piecesPerBlock * piece)
        }
        // From a candidate piece to the first piece of a stored block that may hold data.
        let skipTo: @Sendable (Int) -> Int = { candidate in
            guard candidate < batchCount, let next = source.nextDataOffset(from: virtualStart(candidate)) else { return batchCount }
            let block = Int(next / blockSize)
            var low = candidate / piecesPerBlock
            var high = storedBlocks.count
            while low < high {
                let middle = (low + high) / 2
                if storedBlocks[middle] < block { low = middle + 1 } else { high = middle }
            }
            guard low < storedBlocks.count else { return batchCount }
            let index = storedBlocks[low] == block ? low * piecesPerBlock + Int(next % blockSize) / piece : low * piecesPerBlock
            return max(candidate, index)
        }
        // Skipped pieces are holes: the sink still hashes their zeros.
        func zeros(upTo end: UInt64) throws(DiskImageError) {
            while sink.position < end {
                try sink.writeZeros(min(end - sink.position, 64 << 20))
                if context.options.isCancelled() { throw DiskImageError.cancelled }
            }
        }
        let pipeline = OrderedPipeline(batchCount: batchCount, workerCount: context.workerCount, slabCapacity: piece)
        try pipeline.run(
            skipTo: skipTo,
            makeWorker: {},
            work: { (index, _, slab) throws(DiskImageError) -> [Range<Int>] in
                let start = virtualStart(index)
                let end = min(start + UInt64(piece), virtualSize)
                guard start < end else { return [] }
                let length = Int(end - start)
                try source.read(start..<end, into: slab, zeroingHolesWithin: piece)
                guard !isAllZero(UnsafeRawBufferPointer(rebasing: slab[0..<length])) else { return [] }
                // Whole pieces, zeros and all: splitting them at zero pages costs more in system
                // calls than the zeros cost to write. Written `partSize` at a time.
                if let writer {
                    for part in stride(from: 0, to: length, by: partSize) {
                        let bytes = UnsafeRawBufferPointer(rebasing: slab[part..<min(part + partSize, length)])
                        try writer.write(bytes, at: fileOffset(index) + UInt64(part))
                    }
                    // Its writeback starts here, not in `consume`: submitting the I/O takes
                    // CPU time, and the thread that hashes in file order sets the pace.
                    writeback?.start(fileOffset(index)..<(fileOffset(index) + UInt64(length)))
                }
                return [0..<length]
            },
            consume: { (index, runs, slab) throws(DiskImageError) in
                try zeros(upTo: fileOffset(index))
                try RAW.emit(runs, of: slab, length: piece, to: sink, alreadyStored: writer != nil)
                try context.checkpoint(.writing, completed: virtualStart(index) + UInt64(piece))
            })
        try zeros(upTo: firstBlockOffset + UInt64(storedBlocks.count) * blockSize)
    }
}
