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

    /// Runs one export. On any error, including cancellation, nothing is left under the final
    /// names.
    ///
    /// The output and its manifest are committed together: the manifest is written first
    /// under its temporary name, then the output is moved into place, then the manifest. A
    /// kill between the two moves leaves the output with its manifest still under the
    /// temporary name, which `imgship verify` and job resumption recognise and complete
    /// (`PendingManifest`). When replacing, the old manifest is removed before the new output
    /// takes its name, so an old manifest never stands beside a new output.
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
        // Standard input and FIFOs are copied to a temporary file first (removed on return).
        var staged: StagedFile?
        defer { staged?.discard() }
        let file: SourceImage
        let streamed: Bool
        let given = options.sourceFormat
        if let stream = StreamStaging.streamDescriptor(for: sourcePath) {
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
                staged = copy
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
        let isStandardInput = StreamStaging.streamDescriptor(for: sourcePath)?.descriptor == STDIN_FILENO
        let format: SourceFormat
        if let given {
            format = given
        } else {
            format = try ImageReader.detect(file, stream: streamed || isStandardInput)
        }
        let opened = try ImageReader.open(
            file: file, as: format, allowExternalExtents: options.allowExternalExtents, streamed: streamed || isStandardInput)
        let source = opened.disk
        let sourceFiles = SourceWatch.files(of: opened, main: file)
        let watch = SourceWatch(sourceFiles, checksNames: !(streamed || isStandardInput))
        let protected = sourceFiles.map { ProtectedFile(path: $0.path, identity: $0.identity) }
        var (virtualSize, warnings) = try plannedVirtualSize(source: source, options: options, path: sourcePath)
        // The target's rules, before any output is staged: a refusal leaves nothing behind.
        var decision: TargetDecision?
        if let target = options.target {
            let decided = try target.decide(options, source: source, virtualSize: virtualSize)
            options.machine.apply(decided, for: target)
            warnings += decided.warnings
            decision = decided
        } else if options.format == .ova && options.machine.firmware == nil {
            // An OVA without a target declares the firmware its disk boots with too, so a
            // UEFI-only disk is not deployed with the hypervisor's default BIOS.
            let (firmware, reason) = ExportTarget.firmware(given: nil, guest: try GuestInspection.inspect(source), for: nil)
            options.machine.firmware = firmware
            if firmware == nil { warnings.append("the OVA declares no firmware: \(reason)") }
        }

        let output: StagedFile?
        let outputName: String
        var manifest: (path: String, staged: StagedFile)?
        var record: StagedFile?
        var sinkDescriptor: Int32 = STDOUT_FILENO
        var sinkPath = "standard output"
        var deviceDescriptor: Int32 = -1
        defer { if deviceDescriptor >= 0 { SystemCalls.close(deviceDescriptor) } }
        switch destination {
        case let .file(path):
            outputName = splitPath(path).name
            let manifestTarget = options.computesDigest ? manifestPath ?? path + ".sha256" : nil
            if let manifestTarget { try refuseManifestOnOutput(manifestTarget, output: path) }
            // Leftovers of killed runs go first; a live writer's files keep their lock.
            OutputSafety.removeStaleTemporaries(in: splitPath(path).folder)
            if let manifestTarget, splitPath(manifestTarget).folder != splitPath(path).folder {
                OutputSafety.removeStaleTemporaries(in: splitPath(manifestTarget).folder)
            }
            // All are staged before any work, so a taken name (StagedFile refuses it) stops
            // the export at once; a staged file already made is removed by its deinit.
            let stagedOutput = try StagedFile(finalPath: path, overwrite: options.overwrite, protecting: protected)
            output = stagedOutput
            if let manifestTarget {
                manifest = (manifestTarget, try StagedFile(finalPath: manifestTarget, overwrite: options.overwrite, protecting: protected))
            }
            if let sidecar {
                record = try StagedFile(finalPath: sidecar.path, overwrite: true, protecting: protected)
            }
            sinkDescriptor = stagedOutput.descriptor
            sinkPath = path
        case let .standardOutput(name):
            outputName = name
            output = nil
            try refuseStandardOutputOnSource(protected)
            if let manifestPath, options.computesDigest {
                manifest = (manifestPath, try StagedFile(finalPath: manifestPath, overwrite: options.overwrite, protecting: protected))
            }
        case let .device(path):
            outputName = splitPath(path).name
            output = nil
            deviceDescriptor = try openDevice(path, sourceFiles: sourceFiles, virtualSize: virtualSize, format: options.format)
            sinkDescriptor = deviceDescriptor
            sinkPath = path
            if let manifestPath, options.computesDigest {
                try refuseManifestOnOutput(manifestPath, output: path)
                manifest = (manifestPath, try StagedFile(finalPath: manifestPath, overwrite: options.overwrite, protecting: protected))
            }
        }

        let stream = output == nil
        let sink = OutputSink(descriptor: sinkDescriptor, path: sinkPath, stream: stream, hashing: options.computesDigest)
        let workers = options.threads > 0 ? options.threads : max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let context = ExportContext(
            source: source, virtualSize: virtualSize, sink: sink, options: options,
            workerCount: workers, outputName: outputName)
        // A package stages members beside the output (or in TMPDIR otherwise).
        let stagingFolder = output.map { splitPath($0.finalPath).folder } ?? temporaryFolder()
        try options.format.entry.write(context, stagingFolder)
        let digest = try sink.finish()
        // A source that changed while it was read gives an output of neither version.
        try watch.check()
        if deviceDescriptor >= 0 {
            _ = try retryingInterrupts("fsync", path: sinkPath) { SystemCalls.fsync(deviceDescriptor) }
        }

        // The commit: everything written and synced under temporary names, then moved into
        // place record, output, manifest.
        try output?.sync()
        if let manifest, let digest {
            let line = Array("\(digest)  \(outputName)\n".utf8)
            let manifestSink = OutputSink(descriptor: manifest.staged.descriptor, path: manifest.path)
            try manifestSink.write(line)
            _ = try manifestSink.finish()
            try manifest.staged.sync()
        }
        if let record, let sidecar {
            let recordSink = OutputSink(descriptor: record.descriptor, path: sidecar.path)
            try recordSink.write(sidecar.contents(digest ?? "", watch.primary))
            _ = try recordSink.finish()
            try record.sync()
        }
        if let output, let manifest {
            if options.overwrite { try removeReplacedManifest(manifest.path, protecting: protected) }
            try record?.place()
            try output.place()
            do throws(DiskImageError) {
                try manifest.staged.place()
            } catch {
                output.withdraw()
                throw error
            }
        } else if let output {
            // No manifest (`computesDigest` false): an old one must not stand beside the new
            // output, so it goes first, as above.
            if options.overwrite { try removeReplacedManifest(output.finalPath + ".sha256", protecting: protected) }
            try record?.place()
            try output.place()
        } else if let manifest {
            try manifest.staged.place()
        }
        for staged in [record, output, manifest?.staged] { staged?.close() }
        // Manifests an interrupted run left for the output this one replaced are obsolete now.
        if let manifest, output != nil { OutputSafety.removeStaleTemporaries(in: splitPath(manifest.path).folder) }
        for path in [output?.finalPath, manifest?.path, record?.finalPath].compactMap({ $0 }) {
            syncFolder(of: path)
        }

        let outputPath: String =
            switch destination {
            case let .file(path): path
            case .standardOutput: "-"
            case let .device(path): path
            }
        return ExportSummary(
            format: options.format, source: sourcePath, sourceFormat: opened.info.format.rawValue, output: outputPath,
            manifest: manifest?.path, sourceSize: source.size, virtualSize: virtualSize,
            outputSize: sink.position, bytesWritten: sink.bytesWritten, sha256: digest,
            seconds: monotonicSeconds() - started, warnings: warnings, target: decision)
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

    /// Before a new output takes the name of an old one, the old manifest goes, so a kill in
    /// between leaves an output without a manifest (unverified), never beside a wrong one.
    static func removeReplacedManifest(_ path: String, protecting protected: [ProtectedFile]) throws(DiskImageError) {
        if let reason = OutputSafety.refusal(toReplace: path, protecting: protected) {
            throw DiskImageError.refusedOutput(path: path, reason: reason)
        }
        if SystemCalls.unlink(path) != 0 && errno != ENOENT {
            throw DiskImageError.system(call: "unlink", path: path, errno: errno)
        }
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
