#if canImport(Glibc)
import Glibc
#endif

/// What a format writer gets: the source, the size to present, the ordered sink and options.
struct ExportContext {
    let source: any VirtualDisk
    /// The virtual size of the output; past the source's end it reads as zeros.
    let virtualSize: UInt64
    let sink: OutputSink
    let options: ExportOptions
    let workerCount: Int
    /// The extent file name written into a VMDK descriptor.
    let outputName: String

    /// For `OrderedPipeline.run(skipTo:)`: jumps from a candidate batch to the batch holding
    /// the next data byte, so holes cost neither reads nor pipeline round trips.
    func skipHoles(batchBytes: UInt64, batchCount: Int) -> @Sendable (Int) -> Int {
        let source = self.source
        return { candidate in
            guard let offset = source.nextDataOffset(from: UInt64(candidate) * batchBytes) else { return batchCount }
            return Int(min(offset / batchBytes, UInt64(batchCount)))
        }
    }

    /// Called by writers after each batch: honours cancellation, reports progress.
    func checkpoint(_ phase: ExportProgress.Phase, completed: UInt64) throws(DiskImageError) {
        if options.isCancelled() { throw DiskImageError.cancelled }
        options.progress?(ExportProgress(phase: phase, completed: min(completed, virtualSize), total: virtualSize))
    }

    /// One bit per block of `blockSize` bytes: does it hold a non-zero byte? Blocks entirely
    /// in source holes are decided without reading; the others are read in pieces of at most
    /// 2 MiB and stop at the first non-zero piece, so a large block with data near its start
    /// costs little. The first pass of the dynamic VHD and VHDX writers, whose tables precede
    /// the blocks; its ranks are indexed, for the second pass to place blocks by them.
    func findNonZeroBlocks(blockSize: Int, blockCount: Int) throws(DiskImageError) -> BlockBitmap {
        let unit = UInt64(blockSize)
        let piece = min(blockSize, 2 * 1024 * 1024)
        let source = self.source
        var allocated = BlockBitmap(count: blockCount)
        let pipeline = OrderedPipeline(batchCount: blockCount, workerCount: workerCount, slabCapacity: piece)
        try pipeline.run(
            skipTo: skipHoles(batchBytes: unit, batchCount: blockCount),
            makeWorker: {},
            work: { (index, _, slab) throws(DiskImageError) -> Bool in
                let start = UInt64(index) * unit
                for range in try source.dataRanges(in: start..<(start + unit)) {
                    var offset = range.lowerBound
                    while offset < range.upperBound {
                        let length = Int(min(UInt64(piece), range.upperBound - offset))
                        let part = UnsafeMutableRawBufferPointer(rebasing: slab[0..<length])
                        try source.readExactly(into: part, at: offset)
                        if !isAllZero(UnsafeRawBufferPointer(part)) { return true }
                        offset += UInt64(length)
                    }
                }
                return false
            },
            consume: { (index, hasData, _) throws(DiskImageError) in
                if hasData { allocated.insert(index) }
                try checkpoint(.scanning, completed: UInt64(index + 1) * unit)
            })
        allocated.indexRanks()
        return allocated
    }

    /// Asks the kernel to start writing `range` of a regular-file output back to disk now,
    /// without waiting, so the fsync before the rename finds most of the output already
    /// written instead of all of it (`OutputWriteback`).
    func startWriteback(_ range: Range<UInt64>) {
        writeback?.start(range)
    }

    /// `startWriteback` for worker threads, which store their bytes themselves; nil unless
    /// the output is a regular file.
    var writeback: OutputWriteback? {
        sink.isSeekable ? OutputWriteback(descriptor: sink.descriptor) : nil
    }
}

/// Starts writeback of a range of a regular-file output. posix_fadvise(POSIX_FADV_DONTNEED)
/// does that on Linux (mm/fadvise.c starts WB_SYNC_NONE writeback of the range;
/// sync_file_range(2) is not imported into Swift without _GNU_SOURCE). The calling thread
/// submits the I/O, so a writer calls it where the time costs least. Advisory: a failure here
/// is found again, and reported, by the fsync before the rename.
struct OutputWriteback: Sendable {
    let descriptor: Int32

    func start(_ range: Range<UInt64>) {
        guard range.lowerBound < range.upperBound, range.upperBound <= UInt64(Int64.max) else { return }
        _ = SystemCalls.fadvise(descriptor, off_t(range.lowerBound), off_t(range.upperBound - range.lowerBound), POSIX_FADV_DONTNEED)
    }
}
