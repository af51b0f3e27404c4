/// What a format writer gets: the source, the size to present, the ordered sink and options.
struct ExportContext {
    let source: SourceImage
    /// The virtual size of the output; past the source's end it reads as zeros.
    let virtualSize: UInt64
    let sink: OutputSink
    let options: ExportOptions
    let workerCount: Int
    /// The extent file name written into a VMDK descriptor.
    let outputName: String

    /// Called by writers after each batch: honours cancellation, reports progress.
    func checkpoint(_ phase: ExportProgress.Phase, completed: UInt64) throws(DiskImageError) {
        if options.isCancelled() { throw DiskImageError.cancelled }
        options.progress?(ExportProgress(phase: phase, completed: min(completed, virtualSize), total: virtualSize))
    }
}
