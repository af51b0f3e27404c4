#if canImport(Glibc)
import Glibc
#endif

/// Turns a raw image or block device into one of the output formats, writing the SHA-256
/// manifest of the output in the same pass.
public enum Exporter {
    /// Where the output goes.
    public enum Destination: Sendable, Equatable {
        /// A file, written under a temporary name and renamed when complete.
        case file(String)
        /// Standard output; `name` goes into the VMDK descriptor and the manifest line.
        case standardOutput(name: String)
    }

    /// Runs one export. On any error, including cancellation, nothing is left under the final
    /// names.
    /// - Parameter manifestPath: where to write the sha256sum-format manifest; nil means
    ///   `OUTPUT.sha256` for a file and no manifest for standard output.
    @discardableResult
    public static func export(source sourcePath: String, to destination: Destination,
                              manifestPath: String? = nil,
                              options: ExportOptions) throws(DiskImageError) -> ExportSummary {
        let started = monotonicSeconds()
        let opened = try ImageReader.open(path: sourcePath, format: options.sourceFormat, allowExternalExtents: options.allowExternalExtents)
        let source = opened.disk
        let (virtualSize, warnings) = try plannedVirtualSize(source: source, options: options)

        let output: StagedFile?
        let outputName: String
        let manifest: (path: String, staged: StagedFile)?
        switch destination {
        case let .file(path):
            outputName = splitPath(path).name
            let manifestTarget = manifestPath ?? path + ".sha256"
            // Both are staged before any work, so a taken name (StagedFile refuses it) stops
            // the export at once; a staged output already made is removed by its deinit.
            output = try StagedFile(finalPath: path, overwrite: options.overwrite)
            manifest = (manifestTarget, try StagedFile(finalPath: manifestTarget, overwrite: options.overwrite))
        case let .standardOutput(name):
            outputName = name
            output = nil
            if let manifestPath {
                manifest = (manifestPath, try StagedFile(finalPath: manifestPath, overwrite: options.overwrite))
            } else {
                manifest = nil
            }
        }

        let sink = OutputSink(descriptor: output?.descriptor ?? STDOUT_FILENO, path: output?.finalPath ?? "standard output")
        let workers = options.threads > 0 ? options.threads : max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let context = ExportContext(source: source, virtualSize: virtualSize, sink: sink, options: options,
                                    workerCount: workers, outputName: outputName)
        switch options.format {
        case .raw: try RAW.writeBody(context)
        case .vhdFixed: try VHD.writeFixed(context)
        case .vhdDynamic: try VHD.writeDynamic(context)
        case .vmdk: try VMDK.writeStreamOptimized(context)
        case .ova:
            // The disk is staged beside the output (or in TMPDIR for standard output), then
            // copied into the archive after the descriptor and the manifest that name its digest.
            let stagingFolder = output.map { splitPath($0.finalPath).folder } ?? temporaryFolder()
            try OVA.writePackage(context, stagingFolder: stagingFolder)
        }
        let digest = try sink.finish()
        try output?.commit()
        if let manifest {
            let line = Array("\(digest)  \(outputName)\n".utf8)
            let manifestSink = OutputSink(descriptor: manifest.staged.descriptor, path: manifest.path)
            try manifestSink.write(line)
            _ = try manifestSink.finish()
            try manifest.staged.commit()
        }
        let outputPath: String = switch destination {
        case let .file(path): path
        case .standardOutput: "-"
        }
        return ExportSummary(format: options.format, source: sourcePath, sourceFormat: opened.info.format.rawValue, output: outputPath,
                             manifest: manifest?.path, sourceSize: source.size, virtualSize: virtualSize,
                             outputSize: sink.position, bytesWritten: sink.bytesWritten, sha256: digest,
                             seconds: monotonicSeconds() - started, warnings: warnings)
    }

    /// The virtual size to write: the source size, rounded up to a whole MiB on request and to
    /// a whole sector for the sector-based formats; then checked against the format's limit.
    static func plannedVirtualSize(source: any VirtualDisk, options: ExportOptions) throws(DiskImageError) -> (UInt64, [String]) {
        guard source.size > 0 else {
            throw DiskImageError.unsupportedSource(path: source.path, reason: "is empty (0 bytes); there is no disk to export")
        }
        var size = source.size
        var warnings: [String] = []
        if options.alignToMiB {
            let aligned = roundUp(size, toMultipleOf: 1 << 20)
            if aligned != size {
                warnings.append("virtual size rounded up from \(size) to \(aligned) bytes (a whole MiB), padded with zeros")
            }
            size = aligned
        }
        if options.format != .raw && size % 512 != 0 {
            let aligned = roundUp(size, toMultipleOf: 512)
            warnings.append("virtual size rounded up from \(size) to \(aligned) bytes: \(options.format.rawValue) stores whole 512-byte sectors")
            size = aligned
        }
        switch options.format {
        case .vhdFixed, .vhdDynamic:
            if size > VHD.maximumSize { throw DiskImageError.sizeTooLarge(format: "vhd", size: size, limit: VHD.maximumSize) }
        case .vmdk, .ova:
            if size > VMDK.maximumSize { throw DiskImageError.sizeTooLarge(format: "a stream-optimized vmdk", size: size, limit: VMDK.maximumSize) }
        case .raw:
            if size > RAW.maximumSize { throw DiskImageError.sizeTooLarge(format: "raw (off_t)", size: size, limit: RAW.maximumSize) }
        }
        return (size, warnings)
    }
}
