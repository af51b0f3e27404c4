extension GCE {
    /// One worker's private state: a gzip compressor and a buffer for a member's input.
    final class WorkerState {
        let compressor: GrainCompressor
        let input: UnsafeMutableRawBufferPointer

        init(level: DeflateLevel) {
            compressor = GrainCompressor(level: level, framing: .gzip)
            input = UnsafeMutableRawBufferPointer.allocate(byteCount: GCE.batchSize, alignment: 4096)
        }

        deinit { input.deallocate() }
    }

    /// Writes the whole `.tar.gz` in one pass, in file order: the sparse map comes from the
    /// source's allocation (no byte read), so the header that holds it is written first;
    /// then the stored bytes, cut into 2 MiB pieces that workers compress into independent
    /// gzip members; then the end of the archive.
    static func writeImage(_ context: ExportContext) throws(DiskImageError) {
        let sink = context.sink
        let map = try sparseMap(of: context.source, virtualSize: context.virtualSize, isCancelled: context.options.isCancelled)
        let header = SparseHeader(name: memberName, map: map, realSize: context.virtualSize, modificationTime: context.options.timestamp)
        guard let headerBytes = header.encoded() else {
            throw DiskImageError.unsupportedSource(path: context.outputName, reason: "makes a tar member name longer than a tar header holds")
        }
        let level = context.options.level
        let compressor = GrainCompressor(level: level, framing: .gzip)
        func writeMember(_ bytes: [UInt8]) throws(DiskImageError) {
            let output = UnsafeMutableRawBufferPointer.allocate(byteCount: compressor.bound(forInputSize: bytes.count), alignment: 64)
            defer { output.deallocate() }
            let size = bytes.withUnsafeBytes { compressor.compress($0, into: output) }
            guard let size else { throw DiskImageError.compression(offset: sink.position, reason: "gzip output did not fit its bound") }
            try sink.write(UnsafeRawBufferPointer(rebasing: output[0..<size]))
        }
        try writeMember(headerBytes)

        // Where each range starts in the stored stream, to find a batch's pieces.
        var starts: [UInt64] = []
        starts.reserveCapacity(map.count)
        var stored: UInt64 = 0
        for range in map {
            starts.append(stored)
            stored += range.upperBound - range.lowerBound
        }
        let storedStarts = starts
        let storedSize = stored
        let batch = UInt64(batchSize)
        let batchCount = Int((storedSize + batch - 1) / batch)
        let source = context.source
        let slabBytes = compressor.bound(forInputSize: batchSize)
        let pipeline = OrderedPipeline(batchCount: batchCount, workerCount: context.workerCount, slabCapacity: slabBytes)
        try pipeline.run(
            makeWorker: { WorkerState(level: level) },
            work: { (index, state, slab) throws(DiskImageError) -> (bytes: Int, diskEnd: UInt64) in
                let start = UInt64(index) * batch
                let end = min(start + batch, storedSize)
                // The first range holding stored byte `start`.
                var rangeIndex = lastIndex(in: storedStarts, atMost: start)
                var filled = 0
                var diskEnd: UInt64 = 0
                var position = start
                while position < end {
                    let range = map[rangeIndex]
                    let within = position - storedStarts[rangeIndex]
                    let length = min(range.upperBound - range.lowerBound - within, end - position)
                    let piece = (range.lowerBound + within)..<(range.lowerBound + within + length)
                    let target = UnsafeMutableRawBufferPointer(rebasing: state.input[filled..<(filled + Int(length))])
                    try source.read(piece, into: target, zeroingHolesWithin: Int(length))
                    filled += Int(length)
                    position += length
                    diskEnd = piece.upperBound
                    rangeIndex += 1
                }
                guard let size = state.compressor.compress(UnsafeRawBufferPointer(rebasing: state.input[0..<filled]), into: slab) else {
                    throw DiskImageError.compression(offset: start, reason: "gzip output did not fit its bound")
                }
                return (size, diskEnd)
            },
            consume: { (_, member, slab) throws(DiskImageError) in
                try sink.write(UnsafeRawBufferPointer(rebasing: slab[0..<member.bytes]))
                try context.checkpoint(.writing, completed: member.diskEnd)
            })
        // The member's padding to a block, the two zero blocks that end an archive, and
        // zeros to the end of the record, as GNU tar ends one.
        let archived = UInt64(headerBytes.count) + storedSize
        let endBlocks = UInt64(USTAR.padding(after: storedSize) + 2 * USTAR.blockSize)
        let record = UInt64(recordSize)
        let total = roundUp(archived + endBlocks, toMultipleOf: record)
        try writeMember([UInt8](repeating: 0, count: Int(total - archived)))
        try context.checkpoint(.writing, completed: context.virtualSize)
    }

    /// The disk's ranges to store, from the source's allocation: each widened to whole 4 KiB
    /// pages, and holes under `minimumHole` (or more, for a map that would be too long)
    /// stored as zeros. The disk past the source's end is a hole.
    static func sparseMap(of source: any VirtualDisk, virtualSize: UInt64, isCancelled: () -> Bool) throws(DiskImageError) -> [Range<UInt64>] {
        let page = UInt64(RAW.pageSize)
        let scanEnd = min(source.size, virtualSize)
        var hole = minimumHole
        var map: [Range<UInt64>] = []
        func add(_ range: Range<UInt64>, into map: inout [Range<UInt64>]) {
            if let last = map.last, range.lowerBound <= last.upperBound + hole {
                map[map.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                map.append(range)
            }
        }
        let window: UInt64 = 1 << 30
        var offset: UInt64 = 0
        while offset < scanEnd {
            if isCancelled() { throw DiskImageError.cancelled }
            // A hole is passed over at once: an 8 EiB disk is 2^33 windows.
            guard let data = source.nextDataOffset(from: offset), data < scanEnd else { break }
            offset = max(offset, data)
            let end = min(offset + window, scanEnd)
            for range in try source.dataRanges(in: offset..<end) where !range.isEmpty {
                let widened = (range.lowerBound / page * page)..<min(virtualSize, roundUp(range.upperBound, toMultipleOf: page))
                add(widened, into: &map)
                if map.count > maximumMapEntries {
                    hole *= 2
                    let ranges = map
                    map = []
                    for range in ranges { add(range, into: &map) }
                }
            }
            offset = end
        }
        return map
    }

    /// The index of the last element of the ascending `starts` (whose first is 0) that is
    /// at most `value`.
    static func lastIndex(in starts: [UInt64], atMost value: UInt64) -> Int {
        var low = 0
        var high = starts.count
        while high - low > 1 {
            let middle = (low + high) / 2
            if starts[middle] <= value { low = middle } else { high = middle }
        }
        return low
    }
}
