extension VMDK {
    /// Grains per pipeline batch: 1 MiB of disk. It divides a grain table's 512 entries, so a
    /// batch never straddles two grain tables.
    static let grainsPerBatch = 16

    /// One worker's private state: its compressor and a buffer for the batch's source bytes.
    final class WorkerState {
        let compressor: GrainCompressor
        let input: UnsafeMutableRawBufferPointer

        init(level: DeflateLevel) {
            compressor = GrainCompressor(level: level)
            input = UnsafeMutableRawBufferPointer.allocate(byteCount: VMDK.grainsPerBatch * VMDK.grainBytes, alignment: 4096)
        }

        deinit { input.deallocate() }
    }

    /// A grain compressed into a batch's slab: its index and where its sector-padded bytes are.
    struct StoredGrain {
        var index: UInt64
        var slabOffset: Int
    }

    /// Writes a stream-optimized VMDK strictly in file order: header, descriptor, grains in
    /// ascending LBA with each 32 MiB span's grain table after its grains, then the grain
    /// directory, footer marker, footer and end-of-stream marker.
    static func writeStreamOptimized(_ context: ExportContext) throws(DiskImageError) {
        let sink = context.sink
        let capacity = context.virtualSize / UInt64(sectorSize)
        let grainCount = (capacity + grainSectors - 1) / grainSectors
        let tableCount = Int((grainCount + UInt64(grainTableEntries) - 1) / UInt64(grainTableEntries))
        let identifier = context.options.diskIdentifier
        let contentID = UInt32(identifier[0]) << 24 | UInt32(identifier[1]) << 16 | UInt32(identifier[2]) << 8 | UInt32(identifier[3])
        let descriptor = Descriptor(
            contentID: contentID, capacitySectors: capacity,
            extentFileName: context.outputName, adapter: context.options.adapter)
        guard let descriptorBytes = descriptor.encoded() else {
            throw DiskImageError.unsupportedSource(
                path: context.outputName,
                reason: "name too long for the vmdk descriptor's \(descriptorSectors) sectors")
        }
        try sink.write(SparseExtentHeader(capacity: capacity, gdOffset: SparseExtentHeader.gdAtEnd).encoded())
        try sink.write(descriptorBytes)
        try sink.writeZeros(overheadSectors * UInt64(sectorSize) - sink.position)

        let level = context.options.level
        let encoding = GrainEncoding(level: level)
        let slotBytes = encoding.slotBytes
        let batchCount = Int((grainCount + UInt64(grainsPerBatch) - 1) / UInt64(grainsPerBatch))
        let pipeline = OrderedPipeline(
            batchCount: batchCount, workerCount: context.workerCount,
            slabCapacity: grainsPerBatch * slotBytes)
        let source = context.source

        var directory = [UInt32](repeating: 0, count: tableCount)
        var table = [UInt32](repeating: 0, count: grainTableEntries)
        var tableIndex = 0
        var tableHasGrains = false

        func sectorOffset(_ position: UInt64) throws(DiskImageError) -> UInt32 {
            let sector = position / UInt64(sectorSize)
            guard sector <= UInt64(UInt32.max) else {
                throw DiskImageError.sizeTooLarge(
                    path: nil, format: "a stream-optimized vmdk (32-bit sector offsets)",
                    size: position, limit: UInt64(UInt32.max) * UInt64(sectorSize))
            }
            return UInt32(sector)
        }

        func flushTable() throws(DiskImageError) {
            guard tableHasGrains else { return }
            try sink.write(metadataMarker(.grainTable, sectors: UInt64(grainTableEntries * 4 / sectorSize)))
            directory[tableIndex] = try sectorOffset(sink.position)
            var bytes = [UInt8](repeating: 0, count: grainTableEntries * 4)
            for (entry, sector) in table.enumerated() {
                bytes.storeLittleEndian(sector, at: entry * 4)
            }
            try sink.write(bytes)
            for entry in table.indices { table[entry] = 0 }
            tableHasGrains = false
        }

        try pipeline.run(
            skipTo: context.skipHoles(batchBytes: UInt64(grainsPerBatch * grainBytes), batchCount: batchCount),
            makeWorker: { WorkerState(level: level) },
            work: { (index, state, slab) throws(DiskImageError) -> (grains: [StoredGrain], bytes: Int) in
                let firstGrain = UInt64(index * grainsPerBatch)
                let grainsHere = Int(min(UInt64(grainsPerBatch), grainCount - firstGrain))
                let start = firstGrain * UInt64(grainBytes)
                // Whole grains, zero-filled past the end of the disk: readers expect every
                // grain to inflate to the full grain size.
                let window = start..<(start + UInt64(grainsHere * grainBytes))
                let dataRanges = try source.read(window, into: state.input, zeroingHolesWithin: grainBytes)
                var grains: [StoredGrain] = []
                var used = 0
                for grain in 0..<grainsHere {
                    let grainRange = (grain * grainBytes)..<((grain + 1) * grainBytes)
                    guard dataRanges.contains(where: { $0.overlaps(grainRange) }) else { continue }
                    let input = UnsafeRawBufferPointer(rebasing: state.input[grainRange])
                    if isAllZero(input) { continue }
                    let grainIndex = firstGrain + UInt64(grain)
                    let slot = UnsafeMutableRawBufferPointer(rebasing: slab[used..<(used + slotBytes)])
                    guard let encoded = encoding.encode(input, lba: grainIndex * grainSectors, with: state.compressor, into: slot) else {
                        throw DiskImageError.compression(
                            offset: start + UInt64(grainRange.lowerBound),
                            reason: "deflate output did not fit its bound")
                    }
                    grains.append(StoredGrain(index: grainIndex, slabOffset: used))
                    used += encoded
                }
                return (grains, used)
            },
            consume: { (index, batch, slab) throws(DiskImageError) in
                let firstGrain = index * grainsPerBatch
                let batchTable = firstGrain / grainTableEntries
                if batchTable != tableIndex {
                    try flushTable()
                    tableIndex = batchTable
                }
                let base = sink.position
                for grain in batch.grains {
                    table[Int(grain.index) % grainTableEntries] = try sectorOffset(base + UInt64(grain.slabOffset))
                    tableHasGrains = true
                }
                try sink.write(UnsafeRawBufferPointer(rebasing: slab[0..<batch.bytes]))
                try context.checkpoint(.writing, completed: UInt64(firstGrain + grainsPerBatch) * UInt64(grainBytes))
            })
        try flushTable()

        let directoryBytes = roundUp(tableCount * 4, toMultipleOf: sectorSize)
        try sink.write(metadataMarker(.grainDirectory, sectors: UInt64(directoryBytes / sectorSize)))
        let directoryOffset = UInt64(try sectorOffset(sink.position))
        var encodedDirectory = [UInt8](repeating: 0, count: directoryBytes)
        for (entry, sector) in directory.enumerated() {
            encodedDirectory.storeLittleEndian(sector, at: entry * 4)
        }
        try sink.write(encodedDirectory)
        try sink.write(metadataMarker(.footer, sectors: 1))
        try sink.write(SparseExtentHeader(capacity: capacity, gdOffset: directoryOffset).encoded())
        try sink.write(metadataMarker(.endOfStream, sectors: 0))
    }
}
