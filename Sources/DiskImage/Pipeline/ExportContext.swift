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

/// Starts writeback of a range of a regular-file output, and gives back the page cache of
/// what was written `dropLag` bytes before it. posix_fadvise(POSIX_FADV_DONTNEED) does both
/// on Linux (mm/fadvise.c starts WB_SYNC_NONE writeback of the range, then drops its pages
/// that are clean; sync_file_range(2) is not imported into Swift without _GNU_SOURCE). The
/// calling thread submits the I/O, so a writer calls it where the time costs least.
///
/// Why drop: an export writes gigabytes once and never reads them back. Left cached, every
/// new page of the output is one the kernel has not touched for long, and on a virtual
/// machine first touching such memory costs the copy into the page cache several times over
/// (measured on the 2-core bench machine, uncompressed qcow2 of the bench image after
/// another 1.6 GB write: 3.3 s of system time, 1.1 s with the drop). Pages dropped behind
/// the writer are reused by its next writes, so the output costs about `dropLag` of cache,
/// whatever its size, and the user's other cached files stay. Pages still under writeback
/// when their turn comes stay cached: the drop only ever takes clean pages.
///
/// Advisory: a failure here is found again, and reported, by the fsync before the rename.
struct OutputWriteback: Sendable {
    let descriptor: Int32
    /// False for a writer whose output is read back (compressed qcow2, hashed after it is
    /// written): its pages are dropped behind that reading instead.
    var dropsBehind = true
    /// How far behind a written range its pages are dropped: far enough that its writeback
    /// has finished on a disk writing a few hundred MB/s while the pipeline's window (a few
    /// batches of 2 MiB) is still being filled. 16 to 256 MiB measured alike; 64 the best.
    static let dropLag: UInt64 = 64 << 20

    func start(_ range: Range<UInt64>) {
        guard range.lowerBound < range.upperBound, range.upperBound <= UInt64(Int64.max) else { return }
        let length = off_t(range.upperBound - range.lowerBound)
        _ = SystemCalls.fadvise(descriptor, off_t(range.lowerBound), length, POSIX_FADV_DONTNEED)
        if dropsBehind, range.lowerBound >= Self.dropLag {
            _ = SystemCalls.fadvise(descriptor, off_t(range.lowerBound - Self.dropLag), length, POSIX_FADV_DONTNEED)
        }
    }
}
