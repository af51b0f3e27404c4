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

    /// Asks the kernel to start writing `range` of a regular-file output back to disk now,
    /// without waiting, so the fsync before the rename finds most of the output already
    /// written instead of all of it. posix_fadvise(POSIX_FADV_DONTNEED) does that on Linux
    /// (mm/fadvise.c starts WB_SYNC_NONE writeback of the range; sync_file_range(2) is not
    /// imported into Swift without _GNU_SOURCE). Advisory: a failure here is found again, and
    /// reported, by that fsync.
    func startWriteback(_ range: Range<UInt64>) {
        guard sink.isSeekable, range.lowerBound < range.upperBound, range.upperBound <= UInt64(Int64.max) else { return }
        _ = posix_fadvise(sink.descriptor, off_t(range.lowerBound), off_t(range.upperBound - range.lowerBound), POSIX_FADV_DONTNEED)
    }
}
