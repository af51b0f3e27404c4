extension RAW {

    /// Writes the virtual disk's bytes in order; the body of RAW and of fixed VHD.
    static func writeBody(_ context: ExportContext) throws(DiskImageError) {
        let virtualSize = context.virtualSize
        let batchCount = Int((virtualSize + UInt64(batchSize) - 1) / UInt64(batchSize))
        let pipeline = OrderedPipeline(batchCount: batchCount, workerCount: context.workerCount, slabCapacity: batchSize)
        let source = context.source
        let sink = context.sink
        // The body starts at the sink's current position (0 for RAW and fixed VHD).
        let origin = sink.position
        let writer = sink.positionalWriter
        try sink.reserveLength(origin + virtualSize)
        // Skipped batches are holes: the sink still hashes their zeros (or writes them to a
        // pipe), in steps that keep Ctrl-C and progress working through a terabyte of them.
        // A file without a digest only moves its position: one step, or an 8 EiB disk would
        // take 2^37 of them.
        let zerosCostNothing = !sink.isHashing && sink.isSeekable
        var hashedUpTo: UInt64 = 0
        func zeros(upTo end: UInt64) throws(DiskImageError) {
            while hashedUpTo < end {
                let step = zerosCostNothing ? end - hashedUpTo : min(end - hashedUpTo, 64 << 20)
                try sink.writeZeros(step)
                hashedUpTo += step
                try context.checkpoint(.writing, completed: hashedUpTo)
            }
        }
        try pipeline.run(
            skipTo: context.skipHoles(batchBytes: UInt64(batchSize), batchCount: batchCount),
            makeWorker: {},
            work: { (index, _, slab) throws(DiskImageError) -> [Range<Int>] in
                let start = UInt64(index) * UInt64(batchSize)
                let end = min(start + UInt64(batchSize), virtualSize)
                let dataRanges = try source.read(start..<end, into: slab, zeroingHolesWithin: pageSize)
                let runs = nonZeroRuns(UnsafeRawBufferPointer(slab), length: Int(end - start), dataRanges: dataRanges)
                if let writer {
                    for run in runs {
                        try writer.write(UnsafeRawBufferPointer(rebasing: slab[run]), at: origin + start + UInt64(run.lowerBound))
                    }
                }
                return runs
            },
            consume: { (index, runs, slab) throws(DiskImageError) in
                let start = UInt64(index) * UInt64(batchSize)
                let length = Int(min(start + UInt64(batchSize), virtualSize) - start)
                try zeros(upTo: start)
                try emit(runs, of: slab, length: length, to: sink, alreadyStored: writer != nil)
                if let first = runs.first, let last = runs.last {
                    // Written by the worker already: its writeback overlaps the export.
                    context.startWriteback((origin + start + UInt64(first.lowerBound))..<(origin + start + UInt64(last.upperBound)))
                }
                hashedUpTo = start + UInt64(length)
                try context.checkpoint(.writing, completed: hashedUpTo)
            })
        try zeros(upTo: virtualSize)
    }

    /// Hands the sink `length` bytes of which only `runs` of `slab` may be non-zero: zeros
    /// for the gaps (holes in a regular file), the runs' bytes (already stored by a worker
    /// when `alreadyStored`) in between.
    static func emit(
        _ runs: [Range<Int>], of slab: UnsafeRawBufferPointer, length: Int, to sink: OutputSink,
        alreadyStored: Bool
    ) throws(DiskImageError) {
        var cursor = 0
        for run in runs {
            try sink.writeZeros(UInt64(run.lowerBound - cursor))
            try sink.write(UnsafeRawBufferPointer(rebasing: slab[run]), alreadyStored: alreadyStored)
            cursor = run.upperBound
        }
        try sink.writeZeros(UInt64(length - cursor))
    }

    /// The runs of non-zero pages in `buffer[0..<length]`, coalesced. Only pages that meet a
    /// data range are looked at; holes are zero by definition.
    static func nonZeroRuns(_ buffer: UnsafeRawBufferPointer, length: Int, dataRanges: [Range<Int>]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var rangeIndex = 0
        var page = 0
        while page < length {
            while rangeIndex < dataRanges.count && dataRanges[rangeIndex].upperBound <= page {
                rangeIndex += 1
            }
            guard rangeIndex < dataRanges.count else { break }
            let pageEnd = min(page + pageSize, length)
            let nextData = dataRanges[rangeIndex].lowerBound
            if nextData >= pageEnd {
                page = nextData / pageSize * pageSize
                continue
            }
            if !isAllZero(UnsafeRawBufferPointer(rebasing: buffer[page..<pageEnd])) {
                if let last = runs.last, last.upperBound == page {
                    runs[runs.count - 1] = last.lowerBound..<pageEnd
                } else {
                    runs.append(page..<pageEnd)
                }
            }
            page = pageEnd
        }
        return runs
    }
}
