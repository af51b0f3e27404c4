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
        let stored = try context.findNonZeroBlocks(blockSize: blockSize, blockCount: Int(layout.bat.payloadBlocks))

        try writeHead(context, layout: layout)
        let sink = context.sink
        try forEachTablePiece(layout: layout, stored: stored) { (_, bytes) throws(DiskImageError) in try sink.write(bytes) }  // BAT
        try writeMetadata(context, layout: layout)
        try writeBlocks(context, stored: stored, layout: layout)
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

        var stored = BlockBitmap(count: Int(layout.bat.payloadBlocks))
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
                    stored.insert(block)
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
        try forEachTablePiece(layout: layout, stored: stored) { (offset, bytes) throws(DiskImageError) in
            try tableWriter.write(bytes, at: layout.batOffset + offset)
        }
    }

    /// The BAT (section 2.5) of a file that stores the blocks in `stored`, in block order from
    /// `layout.firstBlockOffset`: their entries FULLY_PRESENT, the other blocks' entries and
    /// every sector bitmap entry 0, NOT_PRESENT. It is made a piece of at most 1 MiB at a time
    /// and given to `body` in order with the piece's offset in the table, so no writer holds
    /// the whole table (512 MiB at 64 TiB in 1 MiB blocks). Every piece is written, zeros
    /// included: a reader refuses a large table that lies in a hole of the file
    /// (`SourceImage.requireStored`).
    static func forEachTablePiece(
        layout: WrittenLayout, stored: BlockBitmap, _ body: (_ offset: UInt64, _ bytes: [UInt8]) throws(DiskImageError) -> Void
    ) throws(DiskImageError) {
        let tableBytes = layout.bat.entryCount * UInt64(BATEntry.size)
        let pieceBytes = min(UInt64(tablePieceSize), tableBytes)
        let zeros = [UInt8](repeating: 0, count: Int(pieceBytes))
        var buffer = zeros
        var position: UInt64 = 0
        var next = stored.nextSet(from: 0)
        var pieceStart: UInt64 = 0
        while pieceStart < tableBytes {
            let length = min(pieceBytes, tableBytes - pieceStart)
            let pieceEnd = pieceStart + length
            var named = false
            while let block = next, layout.bat.entryIndex(ofBlock: UInt64(block)) * UInt64(BATEntry.size) < pieceEnd {
                if !named { buffer = zeros }
                named = true
                let entry = BATEntry(state: .fullyPresent, fileOffset: layout.firstBlockOffset + position * UInt64(layout.blockSize))
                let at = layout.bat.entryIndex(ofBlock: UInt64(block)) * UInt64(BATEntry.size) - pieceStart
                buffer.storeLittleEndian(entry.encoded(), at: Int(at))
                position += 1
                next = stored.nextSet(from: block + 1)
            }
            let bytes = named ? buffer : zeros
            try body(pieceStart, length == pieceBytes ? bytes : Array(bytes[0..<Int(length)]))
            pieceStart = pieceEnd
        }
    }

    /// The BAT is made and written this many bytes at a time.
    static let tablePieceSize = 1 << 20

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
    /// block lies inside the file), written in pieces of at most 2 MiB. Pieces are numbered
    /// on the virtual disk; a stored block's place in the file is its rank among the stored
    /// blocks, so nothing here grows with the number of blocks.
    private static func writeBlocks(_ context: ExportContext, stored: BlockBitmap, layout: WrittenLayout) throws(DiskImageError) {
        let firstBlockOffset = layout.firstBlockOffset
        let blockSize = UInt64(layout.blockSize)
        let piece = min(RAW.batchSize, layout.blockSize)
        let piecesPerBlock = layout.blockSize / piece
        // Every piece of the disk, whole blocks; skipTo passes over those of blocks not stored.
        let batchCount = Int(layout.bat.payloadBlocks) * piecesPerBlock
        let source = context.source
        let sink = context.sink
        let virtualSize = context.virtualSize
        let writer = sink.positionalWriter
        let writeback = context.writeback
        @Sendable func virtualStart(_ index: Int) -> UInt64 {
            UInt64(index) * UInt64(piece)
        }
        @Sendable func fileOffset(_ index: Int) -> UInt64 {
            firstBlockOffset + UInt64(stored.rank(of: index / piecesPerBlock)) * blockSize + UInt64(index % piecesPerBlock * piece)
        }
        // From a candidate piece to the next piece of a stored block that may hold data.
        let skipTo: @Sendable (Int) -> Int = { first in
            var candidate = first
            while candidate < batchCount {
                guard let next = source.nextDataOffset(from: virtualStart(candidate)) else { return batchCount }
                let dataPiece = max(candidate, Int(min(next / UInt64(piece), UInt64(batchCount))))
                guard let block = stored.nextSet(from: dataPiece / piecesPerBlock) else { return batchCount }
                if block == dataPiece / piecesPerBlock { return dataPiece }
                candidate = block * piecesPerBlock
            }
            return batchCount
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
        try zeros(upTo: firstBlockOffset + UInt64(stored.setCount) * blockSize)
    }
}
