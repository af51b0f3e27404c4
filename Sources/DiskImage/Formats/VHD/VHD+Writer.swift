extension VHD {
    /// Fixed VHD: the disk's bytes (sparse where the source is zero), then the footer.
    static func writeFixed(_ context: ExportContext) throws(DiskImageError) {
        try RAW.writeBody(context)
        try context.sink.write(footer(.fixed, context).encoded())
    }

    static func footer(_ type: DiskType, _ context: ExportContext) -> Footer {
        let seconds = context.options.timestamp > VHD.epochOffset ? context.options.timestamp - VHD.epochOffset : 0
        return Footer(
            diskType: type, diskSize: context.virtualSize,
            timestamp: UInt32(truncatingIfNeeded: seconds),
            uniqueID: context.options.diskIdentifier)
    }

    /// Dynamic VHD. The BAT sits before the blocks, so a first pass finds which 2 MiB blocks
    /// hold any non-zero byte; the second pass then writes the file strictly in order, which
    /// lets the hash run in the same pass and the output go to a pipe.
    static func writeDynamic(_ context: ExportContext) throws(DiskImageError) {
        if !context.sink.isHashing, let writer = context.sink.positionalWriter {
            return try writeDynamicInOnePass(context, tableWriter: writer)
        }
        let blockSize = UInt64(VHD.blockSize)
        let blockCount = Int((context.virtualSize + blockSize - 1) / blockSize)
        let stored = try context.findNonZeroBlocks(blockSize: VHD.blockSize, blockCount: blockCount)

        let sink = context.sink
        let (footer, tableOffset, tableBytes) = try writeDynamicHead(context, blockCount: blockCount)

        // Each stored block: a 512-byte sector bitmap, then the block's data, in block order,
        // so a block's place in the file is its rank among the stored blocks.
        let storedBlockBytes = 512 + VHD.blockSize
        let firstBlockOffset = tableOffset + UInt64(tableBytes)
        @Sendable func fileOffset(ofBlock block: Int) -> UInt64 {
            firstBlockOffset + UInt64(stored.rank(of: block)) * UInt64(storedBlockBytes)
        }
        var table = [UInt8](repeating: 0xFF, count: tableBytes)
        for block in stored.members {
            table.storeBigEndian(UInt32(fileOffset(ofBlock: block) / 512), at: block * 4)
        }
        try sink.write(table)  // 1536 BAT
        table = []

        let source = context.source
        let virtualSize = context.virtualSize
        let writer = sink.positionalWriter
        // Batches are the disk's blocks; those not stored are skipped, never read.
        let pipeline = OrderedPipeline(batchCount: blockCount, workerCount: context.workerCount, slabCapacity: storedBlockBytes)
        try pipeline.run(
            skipTo: { stored.nextSet(from: $0) ?? blockCount },
            makeWorker: {},
            work: { (block, _, slab) throws(DiskImageError) in
                // All sectors present: the bitmap is all ones.
                UnsafeMutableRawBufferPointer(rebasing: slab[0..<512]).initializeMemory(as: UInt8.self, repeating: 0xFF)
                let start = UInt64(block) * blockSize
                let data = UnsafeMutableRawBufferPointer(rebasing: slab[512..<storedBlockBytes])
                try source.read(start..<(start + blockSize), into: data, zeroingHolesWithin: VHD.blockSize)
                let bytes = UnsafeRawBufferPointer(rebasing: slab[0..<storedBlockBytes])
                try writer?.write(bytes, at: fileOffset(ofBlock: block))
            },
            consume: { (block, _, slab) throws(DiskImageError) in
                let bytes = UnsafeRawBufferPointer(rebasing: slab[0..<storedBlockBytes])
                try sink.write(bytes, alreadyStored: writer != nil)
                // Written by the worker already: its writeback overlaps the export.
                let blockStart = fileOffset(ofBlock: block)
                context.startWriteback(blockStart..<(blockStart + UInt64(storedBlockBytes)))
                try context.checkpoint(.writing, completed: UInt64(block + 1) * blockSize)
            })
        try context.checkpoint(.writing, completed: virtualSize)
        try sink.write(footer)
    }

    /// The footer copy and the dynamic header, written; the footer's bytes (written again at
    /// the end) and where the BAT goes and how long it is.
    static func writeDynamicHead(_ context: ExportContext, blockCount: Int) throws(DiskImageError)
        -> (footer: [UInt8], tableOffset: UInt64, tableBytes: Int)
    {
        let footer = footer(.dynamic, context).encoded()
        let tableOffset = UInt64(Footer.size + DynamicHeader.size)
        try context.sink.write(footer)  // 0 footer copy
        try context.sink.write(
            DynamicHeader(
                tableOffset: tableOffset, maxTableEntries: UInt32(blockCount),
                blockSize: UInt32(VHD.blockSize)
            ).encoded())  // 512 dynamic header
        return (footer, tableOffset, roundUp(blockCount * 4, toMultipleOf: 512))
    }

    /// Dynamic VHD in one pass, when no digest is wanted and the output is a regular file
    /// (`export --no-manifest`): each block is read once and, when it holds data, stored after
    /// the last one stored; the BAT is left as a hole and written in place at the end. The
    /// bytes are the two-pass writer's. With a digest they must pass the hash in file order,
    /// BAT first, which takes the first pass (`writeDynamic`).
    static func writeDynamicInOnePass(_ context: ExportContext, tableWriter: PositionalWriter) throws(DiskImageError) {
        let blockSize = UInt64(VHD.blockSize)
        let blockCount = Int((context.virtualSize + blockSize - 1) / blockSize)
        let sink = context.sink
        let (footer, tableOffset, tableBytes) = try writeDynamicHead(context, blockCount: blockCount)
        try sink.writeZeros(UInt64(tableBytes))  // 1536 BAT, written at the end

        let storedBlockBytes = 512 + VHD.blockSize
        var table = [UInt8](repeating: 0xFF, count: tableBytes)
        var nextBlockOffset = tableOffset + UInt64(tableBytes)
        let source = context.source
        let virtualSize = context.virtualSize
        let pipeline = OrderedPipeline(batchCount: blockCount, workerCount: context.workerCount, slabCapacity: storedBlockBytes)
        try pipeline.run(
            skipTo: context.skipHoles(batchBytes: blockSize, batchCount: blockCount),
            makeWorker: {},
            work: { (index, _, slab) throws(DiskImageError) -> Bool in
                // All sectors present: the bitmap is all ones.
                UnsafeMutableRawBufferPointer(rebasing: slab[0..<512]).initializeMemory(as: UInt8.self, repeating: 0xFF)
                let start = UInt64(index) * blockSize
                let data = UnsafeMutableRawBufferPointer(rebasing: slab[512..<storedBlockBytes])
                try source.read(start..<(start + blockSize), into: data, zeroingHolesWithin: VHD.blockSize)
                return !isAllZero(UnsafeRawBufferPointer(data))
            },
            consume: { (index, hasData, slab) throws(DiskImageError) in
                if hasData {
                    table.storeBigEndian(UInt32(nextBlockOffset / 512), at: index * 4)
                    try sink.write(UnsafeRawBufferPointer(rebasing: slab[0..<storedBlockBytes]))
                    context.startWriteback(nextBlockOffset..<(nextBlockOffset + UInt64(storedBlockBytes)))
                    nextBlockOffset += UInt64(storedBlockBytes)
                }
                try context.checkpoint(.writing, completed: min(UInt64(index + 1) * blockSize, virtualSize))
            })
        try context.checkpoint(.writing, completed: virtualSize)
        try sink.write(footer)
        try tableWriter.write(table, at: tableOffset)
    }
}
