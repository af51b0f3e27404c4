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
        /// Standard output; `name` goes into the VMDK descriptor and the manifest line. It is
        /// written as a stream, in order from its current position, whatever it is.
        case standardOutput(name: String)
        /// A block device, written in place from its first byte (`--to-device`); nothing else
        /// is ever written onto a device.
        case device(String)
    }

    /// A record written, and moved into place, with the output and its manifest: the job
    /// keeps what it needs to tell on a rerun whether the output is still current.
    public struct Sidecar: Sendable {
        public var path: String
        /// The record's bytes, given the output's digest and the source's status at the start.
        public var contents: @Sendable (_ sha256: String, _ source: SourceStatus?) -> [UInt8]

        public init(path: String, contents: @escaping @Sendable (_ sha256: String, _ source: SourceStatus?) -> [UInt8]) {
            self.path = path
            self.contents = contents
        }
    }

    /// Runs one export, in four phases: open the source, stage the outputs, write, commit
    /// (`OutputCommit`). On any error, including cancellation, nothing is left under the
    /// final names.
    /// - Parameter manifestPath: where to write the sha256sum-format manifest; nil means
    ///   `OUTPUT.sha256` for a file and no manifest for standard output or a device. Without
    ///   `options.computesDigest` there is no manifest and `manifestPath` must be nil.
    /// - Parameter sidecar: a record to commit with the pair (moved into place first).
    @discardableResult
    public static func export(
        source sourcePath: String, to destination: Destination,
        manifestPath: String? = nil, sidecar: Sidecar? = nil,
        options: ExportOptions
    ) throws(DiskImageError) -> ExportSummary {
        let started = monotonicSeconds()
        // A format the target does not import is refused before a stream is copied.
        var options = try options.target?.adjusted(options) ?? options
        // Held to the end: from before anything is staged to after the commit.
        let outputLock = try lockOutput(destination, options: options)
        defer { outputLock?.release() }
        let source = try openSource(sourcePath, options: options)
        defer { source.streamCopy?.discard() }
        var (virtualSize, warnings) = try plannedVirtualSize(source: source.disk, options: options, path: sourcePath)
        // A source whose own checks fail (a VHD footer checksum, a VHDX copy) is read as its
        // tables say; the user learns it is damaged before another tool refuses it.
        let failedChecks = source.image.failedChecks
        if !failedChecks.isEmpty {
            warnings.append(
                "the source fails its format's own checks (\(failedChecks.joined(separator: ", "))): it is damaged or was edited without them; its data was read as its tables say"
            )
        }
        let decision = try decideMachine(&options, source: source.disk, virtualSize: virtualSize, warnings: &warnings)
        let outputs = try stageOutputs(
            destination, manifestPath: manifestPath, sidecar: sidecar, options: options, source: source, virtualSize: virtualSize)
        defer { if outputs.deviceDescriptor >= 0 { SystemCalls.close(outputs.deviceDescriptor) } }
        let sink = try write(source, into: outputs, virtualSize: virtualSize, options: options)
        try outputs.commit.commit(digest: sink.digest, outputName: outputs.outputName) {
            sidecar?.contents(sink.digest ?? "", source.watch.primary) ?? []
        }

        let outputPath: String =
            switch destination {
            case let .file(path): path
            case .standardOutput: "-"
            case let .device(path): path
            }
        return ExportSummary(
            format: options.format, source: sourcePath, sourceFormat: source.image.info.format.rawValue, output: outputPath,
            manifest: outputs.commit.manifest?.finalPath, sourceSize: source.disk.size, virtualSize: virtualSize,
            outputSize: sink.position, bytesWritten: sink.bytesWritten, sha256: sink.digest,
            seconds: monotonicSeconds() - started, warnings: warnings, target: decision)
    }

    /// The source of an export, opened: its image, the files it reads and their watch.
    struct OpenedSource {
        let image: OpenedImage
        /// The temporary copy of a piped source (standard input or a FIFO), removed when done.
        let streamCopy: StagedFile?
        let files: [SourceImage]
        let watch: SourceWatch
        /// The source's files, which no output may replace.
        let protected: [ProtectedFile]

        var disk: any VirtualDisk { image.disk }
    }

    /// Phase one: opens the source. Standard input and FIFOs are copied to a temporary file
    /// first (`streamCopy`).
    static func openSource(_ sourcePath: String, options: ExportOptions) throws(DiskImageError) -> OpenedSource {
        var streamCopy: StagedFile?
        let file: SourceImage
        let streamed: Bool
        let given = options.sourceFormat
        let stream = StreamStaging.streamDescriptor(for: sourcePath)
        if let stream {
            if stream.descriptor == STDIN_FILENO, let direct = try standardInputFile() {
                file = direct
                streamed = false
            } else {
                // A format imgship does not read is refused from its first bytes, before the
                // rest of the stream is copied (unless --source-format says what it is).
                let copy = try StreamStaging.stage(
                    descriptor: stream.descriptor, label: stream.label,
                    inspectHead: { head throws(DiskImageError) in
                        if given == nil { try ImageReader.refuseForeignStream(head: head, label: stream.label) }
                    },
                    isCancelled: options.isCancelled)
                // Removed on a failure by its deinit, after the export by `export`.
                streamCopy = copy
                let fd = try retryingInterrupts("open", path: copy.temporaryPath) { SystemCalls.open(copy.temporaryPath, O_RDONLY | O_CLOEXEC) }
                file = try SourceImage(descriptor: fd, path: stream.label)
                streamed = true
            }
        } else {
            file = try SourceImage(path: sourcePath)
            streamed = false
        }
        // A stream is detected like a file, from the whole copy: a qcow2, VHDX or VDI piped in
        // is read as one. Standard input has no folder, so a VMDK descriptor read from it may
        // name no extents.
        let isStandardInput = stream?.descriptor == STDIN_FILENO
        let format: SourceFormat
        if let given {
            format = given
        } else {
            format = try ImageReader.detect(file, stream: streamed || isStandardInput)
        }
        let image = try ImageReader.open(
            file: file, as: format, allowExternalExtents: options.allowExternalExtents, streamed: streamed || isStandardInput)
        let files = SourceWatch.files(of: image, main: file)
        return OpenedSource(
            image: image, streamCopy: streamCopy, files: files,
            watch: SourceWatch(files, checksNames: !(streamed || isStandardInput)),
            protected: files.map { ProtectedFile(path: $0.path, identity: $0.identity) })
    }

    /// The target's rules, before any output is staged: a refusal leaves nothing behind.
    /// Sets the machine settings `options` declares; nil without a target.
    static func decideMachine(
        _ options: inout ExportOptions, source: any VirtualDisk, virtualSize: UInt64, warnings: inout [String]
    ) throws(DiskImageError) -> TargetDecision? {
        if let target = options.target {
            let decided = try target.decide(options, source: source, virtualSize: virtualSize)
            options.machine.apply(decided, for: target)
            warnings += decided.warnings
            return decided
        }
        if options.format == .ova && options.machine.firmware == nil {
            // An OVA without a target declares the firmware its disk boots with too, so a
            // UEFI-only disk is not deployed with the hypervisor's default BIOS.
            let (firmware, reason) = ExportTarget.firmware(given: nil, guest: try GuestInspection.inspect(source), for: nil)
            options.machine.firmware = firmware
            if firmware == nil { warnings.append("the OVA declares no firmware: \(reason)") }
        }
        return nil
    }

    /// Phase zero: the lock of a file output (`JobLock.path(output:)`), so two runs writing
    /// one output (two exports, an export and a job) never interleave their commits. A stream
    /// has no name another run could write; a device is opened with `O_EXCL`, which Linux
    /// (open(2)) makes exclusive for block devices, so a second writer is refused there.
    static func lockOutput(_ destination: Destination, options: ExportOptions) throws(DiskImageError) -> JobLock? {
        guard case let .file(path) = destination, case let .take(wait, onWaiting) = options.outputLock else { return nil }
        // A folder that is not there gets the error the output's own open would give,
        // not one about a lock file.
        var folder = stat()
        let folderPath = splitPath(path).folder
        if SystemCalls.stat(folderPath, &folder) != 0 {
            throw DiskImageError.system(call: "open", path: path, errno: errno)
        }
        if folder.st_mode & S_IFMT != S_IFDIR {
            throw DiskImageError.system(call: "open", path: path, errno: ENOTDIR)
        }
        do throws(JobLockError) {
            return try JobLock.acquire(
                JobLock.path(output: path), mode: .exclusive, wait: wait, removesFile: true, isCancelled: options.isCancelled,
                onWaiting: onWaiting)
        } catch {
            throw .outputLocked(output: path, error)
        }
    }

    /// Where the bytes of an export go, staged before any is written.
    struct StagedOutputs {
        let commit: OutputCommit
        /// The name the VMDK descriptor and the manifest line give the output.
        let outputName: String
        let sinkDescriptor: Int32
        let sinkPath: String
        /// The `--to-device` descriptor, closed by `export`; -1 for other destinations.
        let deviceDescriptor: Int32
    }

    /// Phase two: stages the output, its manifest and the record under temporary names (or
    /// opens the device), refusing a name an export must not take before any work.
    static func stageOutputs(
        _ destination: Destination, manifestPath: String?, sidecar: Sidecar?, options: ExportOptions,
        source: OpenedSource, virtualSize: UInt64
    ) throws(DiskImageError) -> StagedOutputs {
        let protected = source.protected
        func stageManifest(_ path: String) throws(DiskImageError) -> StagedFile {
            try StagedFile(finalPath: path, overwrite: options.overwrite, protecting: protected)
        }
        switch destination {
        case let .file(path):
            let manifestTarget = options.computesDigest ? manifestPath ?? path + ".sha256" : nil
            if let manifestTarget { try refuseManifestOnOutput(manifestTarget, output: path) }
            // Leftovers of killed runs go first; a live writer's files keep their lock.
            OutputSafety.removeStaleTemporaries(in: splitPath(path).folder)
            if let manifestTarget, splitPath(manifestTarget).folder != splitPath(path).folder {
                OutputSafety.removeStaleTemporaries(in: splitPath(manifestTarget).folder)
            }
            // All are staged before any work, so a taken name (StagedFile refuses it) stops
            // the export at once; a staged file already made is removed by its deinit.
            let output = try StagedFile(finalPath: path, overwrite: options.overwrite, protecting: protected)
            var manifest: StagedFile?
            if let manifestTarget { manifest = try stageManifest(manifestTarget) }
            var record: StagedFile?
            if let sidecar { record = try StagedFile(finalPath: sidecar.path, overwrite: true, protecting: protected) }
            return StagedOutputs(
                commit: OutputCommit(output: output, manifest: manifest, record: record, replacing: options.overwrite, protecting: protected),
                outputName: splitPath(path).name, sinkDescriptor: output.descriptor, sinkPath: path, deviceDescriptor: -1)
        case let .standardOutput(name):
            try refuseStandardOutputOnSource(protected)
            var manifest: StagedFile?
            if let manifestPath, options.computesDigest { manifest = try stageManifest(manifestPath) }
            return StagedOutputs(
                commit: OutputCommit(output: nil, manifest: manifest, record: nil, replacing: options.overwrite, protecting: protected),
                outputName: name, sinkDescriptor: STDOUT_FILENO, sinkPath: "standard output", deviceDescriptor: -1)
        case let .device(path):
            let device = try openDevice(path, sourceFiles: source.files, virtualSize: virtualSize, format: options.format)
            var manifest: StagedFile?
            do throws(DiskImageError) {
                if let manifestPath, options.computesDigest {
                    try refuseManifestOnOutput(manifestPath, output: path)
                    manifest = try stageManifest(manifestPath)
                }
            } catch {
                SystemCalls.close(device)
                throw error
            }
            return StagedOutputs(
                commit: OutputCommit(output: nil, manifest: manifest, record: nil, replacing: options.overwrite, protecting: protected),
                outputName: splitPath(path).name, sinkDescriptor: device, sinkPath: path, deviceDescriptor: device)
        }
    }

    /// Phase three: writes the output, hashing it as it goes, and checks that the source did
    /// not change meanwhile. The sink's `digest` is the output's SHA-256 (when computed).
    static func write(_ source: OpenedSource, into outputs: StagedOutputs, virtualSize: UInt64, options: ExportOptions) throws(DiskImageError)
        -> FinishedSink
    {
        let output = outputs.commit.output
        let sink = OutputSink(descriptor: outputs.sinkDescriptor, path: outputs.sinkPath, stream: output == nil, hashing: options.computesDigest)
        let workers = options.threads > 0 ? options.threads : max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let context = ExportContext(
            source: source.disk, virtualSize: virtualSize, sink: sink, options: options,
            workerCount: workers, outputName: outputs.outputName)
        // A package stages members beside the output (or in TMPDIR otherwise).
        let stagingFolder = output.map { splitPath($0.finalPath).folder } ?? temporaryFolder()
        try options.format.entry.write(context, stagingFolder)
        let digest = try sink.finish()
        // A source that changed while it was read gives an output of neither version.
        try source.watch.check()
        if outputs.deviceDescriptor >= 0 {
            _ = try retryingInterrupts("fsync", path: outputs.sinkPath) { SystemCalls.fsync(outputs.deviceDescriptor) }
        }
        return FinishedSink(digest: digest, position: sink.position, bytesWritten: sink.bytesWritten)
    }

    /// What a finished write left: the digest and the sizes the summary reports.
    struct FinishedSink {
        let digest: String?
        let position: UInt64
        let bytesWritten: UInt64
    }

    /// What `options.target` decides for the image at `sourcePath`, as `export` would decide
    /// it, reading only its first sectors and writing nothing: for an output a job skips,
    /// whose report still tells how to import it. Nil without a target.
    public static func targetDecision(source sourcePath: String, options: ExportOptions) throws(DiskImageError) -> TargetDecision? {
        guard let target = options.target else { return nil }
        let options = try target.adjusted(options)
        let file = try SourceImage(path: sourcePath)
        let format: SourceFormat
        if let given = options.sourceFormat { format = given } else { format = try ImageReader.detect(file) }
        let opened = try ImageReader.open(file: file, as: format, allowExternalExtents: options.allowExternalExtents, streamed: false)
        let (virtualSize, _) = try plannedVirtualSize(source: opened.disk, options: options, path: sourcePath)
        return try target.decide(options, source: opened.disk, virtualSize: virtualSize)
    }

    /// Refuses, before any work, an output path an export would refuse after opening its
    /// source: a directory (`-o DIR`), a device node, or an existing file without
    /// `overwrite`. The export checks again when it stages the output; this early check
    /// spares opening the source and copying a stream into a temporary file first.
    public static func refuseOutputPath(_ path: String, overwrite: Bool) throws(DiskImageError) {
        if let reason = OutputSafety.refusal(toReplace: path, protecting: []) {
            throw DiskImageError.refusedOutput(path: path, reason: reason)
        }
        if !overwrite && SystemCalls.access(path, F_OK) == 0 {
            throw DiskImageError.outputExists(path: path)
        }
    }

    /// Standard input when it is a regular file or block device (`< disk.raw`): read in place
    /// through a duplicate of descriptor 0, no copy needed. nil for anything else.
    static func standardInputFile() throws(DiskImageError) -> SourceImage? {
        var info = stat()
        guard SystemCalls.fstat(STDIN_FILENO, &info) == 0, [S_IFREG, S_IFBLK].contains(info.st_mode & S_IFMT) else { return nil }
        let fd = try retryingInterrupts("fcntl(F_DUPFD_CLOEXEC)", path: "standard input") { SystemCalls.fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0) }
        return try SourceImage(descriptor: fd, path: "standard input")
    }

    /// `--manifest` naming the output would have one replace the other.
    static func refuseManifestOnOutput(_ manifest: String, output: String) throws(DiskImageError) {
        var manifestStatus = stat()
        var outputStatus = stat()
        let sameFile =
            SystemCalls.stat(manifest, &manifestStatus) == 0 && SystemCalls.stat(output, &outputStatus) == 0
            && manifestStatus.st_dev == outputStatus.st_dev && manifestStatus.st_ino == outputStatus.st_ino
        if sameFile || OutputSafety.location(manifest) == OutputSafety.location(output) {
            throw DiskImageError.refusedOutput(path: manifest, reason: "is the output \(output) itself; give the manifest another name")
        }
    }

    /// Standard output redirected onto the source (`>> disk.raw`) would read what it writes.
    static func refuseStandardOutputOnSource(_ protected: [ProtectedFile]) throws(DiskImageError) {
        var info = stat()
        guard SystemCalls.fstat(STDOUT_FILENO, &info) == 0 else { return }
        let identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        if let source = protected.first(where: { $0.identity == identity }) {
            throw DiskImageError.refusedOutput(path: "standard output", reason: "is the source \(source.path); an export never writes onto what it reads")
        }
    }

    /// Opens the block device `path` for `--to-device`: exclusively (a mounted or otherwise
    /// claimed device is refused by the kernel with EBUSY), never the device holding a source
    /// or its filesystem, and large enough when the output's size is known now.
    static func openDevice(_ path: String, sourceFiles: [SourceImage], virtualSize: UInt64, format: OutputFormat) throws(DiskImageError) -> Int32 {
        var named = stat()
        guard SystemCalls.stat(path, &named) == 0 else { throw DiskImageError.system(call: "stat", path: path, errno: errno) }
        guard named.st_mode & S_IFMT == S_IFBLK else {
            throw DiskImageError.refusedOutput(
                path: path,
                reason:
                    "is \(fileTypeName(named.st_mode & S_IFMT)), not a block device; --to-device writes onto block devices only (give the file with -o alone)")
        }
        // By device family, not path: a loop device backed by a source, the disk of a
        // source's partition, a partition of a source disk, a device mapped onto one; and a
        // mounted device is refused here, before the kernel's EBUSY says less.
        let sources = sourceFiles.compactMap { file -> SourceNode? in
            var source = stat()
            guard SystemCalls.fstat(file.descriptor, &source) == 0 else { return nil }
            return SourceNode(
                path: file.path, identity: FileIdentity(device: UInt64(source.st_dev), inode: UInt64(source.st_ino)),
                blockDevice: source.st_mode & S_IFMT == S_IFBLK ? UInt64(source.st_rdev) : nil)
        }
        if let reason = OutputSafety.deviceRefusal(path, device: UInt64(named.st_rdev), sources: sources) {
            throw DiskImageError.refusedOutput(path: path, reason: reason)
        }
        let fd = try retryingInterrupts("open", path: path) { SystemCalls.open(path, O_WRONLY | O_EXCL | O_CLOEXEC) }
        var info = stat()
        guard SystemCalls.fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFBLK, info.st_rdev == named.st_rdev else {
            SystemCalls.close(fd)
            throw DiskImageError.refusedOutput(path: path, reason: "is no longer the block device it was")
        }
        let capacity = UInt64(max(0, SystemCalls.lseek(fd, 0, SEEK_END)))
        _ = SystemCalls.lseek(fd, 0, SEEK_SET)
        let needed = format.entry.deviceBytes(virtualSize)
        if let needed, needed > capacity {
            SystemCalls.close(fd)
            throw DiskImageError.refusedOutput(path: path, reason: "holds \(capacity) bytes; the \(format.rawValue) image needs \(needed)")
        }
        return fd
    }

    /// The virtual size to write: the source size, rounded up to a whole MiB on request and to
    /// a whole sector for the sector-based formats; then checked against the format's limit.
    static func plannedVirtualSize(source: any VirtualDisk, options: ExportOptions, path: String? = nil) throws(DiskImageError) -> (UInt64, [String]) {
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
        if options.alignToGiB {
            let aligned = roundUp(size, toMultipleOf: GCE.sizeUnit)
            if aligned != size {
                warnings.append("virtual size rounded up from \(size) to \(aligned) bytes (a whole GiB, as Google requires of disk.raw), padded with zeros")
            }
            size = aligned
        }
        if options.format == .gce && !options.alignToGiB && size % GCE.sizeUnit != 0 {
            warnings.append(
                "virtual size \(size) is not a whole GiB, which Google Compute Engine rejects in disk.raw (\(GCE.requirementsSource)); --target gcp rounds it up"
            )
        }
        // Azure documents the rule; a fixed VHD is most often made for Azure.
        if options.format == .vhdFixed && options.target == nil && size % (1 << 20) != 0 {
            warnings.append(
                "virtual size \(size) is not a whole MiB, which Azure rejects in a fixed VHD "
                    + "(https://learn.microsoft.com/azure/virtual-machines/linux/create-upload-generic); "
                    + "--target azure or --align-mib rounds it up")
        }
        let entry = options.format.entry
        if entry.sectorAligned && size % 512 != 0 {
            let aligned = roundUp(size, toMultipleOf: 512)
            warnings.append("virtual size rounded up from \(size) to \(aligned) bytes: \(options.format.rawValue) stores whole 512-byte sectors")
            size = aligned
        }
        if size > entry.sizeLimit.bytes {
            throw DiskImageError.sizeTooLarge(path: path, format: entry.sizeLimit.name, size: size, limit: entry.sizeLimit.bytes)
        }
        return (size, warnings)
    }
}
