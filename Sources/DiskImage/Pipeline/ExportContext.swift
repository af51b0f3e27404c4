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
}
