import DiskImage
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What became of one output.
public struct UnitResult: Sendable, Equatable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        /// Written in this run.
        case exported
        /// Already there, and it verified against its manifest.
        case skipped
        case failed
        /// Not started, or stopped, because the job was interrupted.
        case cancelled
    }

    public var unit: ExportUnit
    public var status: Status
    /// Output bytes; nil when there is no output.
    public var bytes: UInt64?
    public var sha256: String?
    public var seconds: Double
    /// Why it failed, typed until printed.
    public var failure: UnitFailure?
    /// Why it failed, as printed and reported.
    public var error: String? { failure?.description }
    /// Why an existing output was replaced (with `replaceInvalid`).
    public var replaced: String?
    /// What the export warned of: a size rounded up, a target's rule (`ExportSummary.warnings`).
    public var warnings: [String] = []
    /// What the export's target decided (also for an output skipped as current).
    public var target: TargetDecision?

    /// For an output with a target, written or verified: the commands that import it, as
    /// `imgship export --target T` prints them (never run); nil for a target without any.
    public var importCommands: PrintedImportCommands? {
        guard status == .exported || status == .skipped, let target else { return nil }
        return unit.importCommands(for: target)
    }
}

/// How many exports run at once.
public enum JobConcurrency: Sendable, Equatable {
    /// Compressing exports (vmdk, ova) one at a time with every core; the others, bound by
    /// their SHA-256 stream, up to one a core.
    case automatic
    /// `n` exports at a time, each with its share of the cores.
    case fixed(Int)
}

/// Runs a job's exports: skips outputs that exist and verify, writes the rest, and lists
/// every good output in a SHA256SUMS per folder.
public struct JobRunner: Sendable {
    public var concurrency: JobConcurrency
    /// Export again over an output that exists but does not verify (or lacks its manifest,
    /// or is older than its source) instead of failing it.
    public var replaceInvalid: Bool
    /// Unix time for VHD footers (SOURCE_DATE_EPOCH); nil means now.
    public var timestamp: UInt64?
    public var isCancelled: @Sendable () -> Bool
    /// Called once an output, in the order outputs finish: the result, how many are done, and
    /// how many there are.
    public var onFinish: @Sendable (UnitResult, Int, Int) -> Void
    public var cores: Int
    /// Called from an export's writing thread after each batch, with the output it is of;
    /// nil draws nothing (and costs nothing).
    public var onProgress: (@Sendable (ExportUnit, ExportProgress) -> Void)?
    /// Wait for an output another run is writing (`JobLock.path(output:)`) instead of
    /// failing it (`--wait`).
    public var waitForOutputs = false
    /// Called once when an output's lock is held by another run and `waitForOutputs` waits.
    public var onWaitingForOutput: (@Sendable (ExportUnit, JobLockError) -> Void)?
    /// Called as an output starts, while no other output can start or finish.
    var onStart: @Sendable (ExportUnit) -> Void = { _ in }

    public init(
        concurrency: JobConcurrency = .automatic, replaceInvalid: Bool = false, timestamp: UInt64? = nil,
        isCancelled: @escaping @Sendable () -> Bool = { false },
        onFinish: @escaping @Sendable (UnitResult, Int, Int) -> Void = { _, _, _ in },
        cores: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    ) {
        self.concurrency = concurrency
        self.replaceInvalid = replaceInvalid
        self.timestamp = timestamp
        self.isCancelled = isCancelled
        self.onFinish = onFinish
        self.cores = cores
    }

    /// What a run would do with each output, without reading or writing any image. The
    /// `fail:` intents are the failures a run would meet (`job --dry-run` exits 1 on them).
    public enum Intent: String, Sendable {
        case export = "export"
        case verify = "verify, then skip if it passes"
        /// Its record says the source or the settings changed since: made again.
        case remake = "export again: the source or settings changed since it was made"
        /// Older than its source, replaced because of --force.
        case replaceStale = "export again: the output is older than its source"
        case missingSource = "fail: the source does not exist"
        case noManifest = "fail: the output exists without its manifest (export again with --force)"
        /// Older than its source and not known to be made from it (no current record).
        case stale = "fail: the output is older than its source (export again with --force)"
        case unwritableDestination = "fail: the destination folder cannot be created or written"
        /// An OVA to sign whose key or certificate cannot be read, or do not match: found by
        /// the dry run as the run finds it, before the output's work.
        case unusableSigningKey = "fail: the signing key or certificate cannot be used"

        /// Whether a run would fail this output.
        public var predictsFailure: Bool {
            switch self {
            case .export, .verify, .remake, .replaceStale: false
            case .missingSource, .noManifest, .stale, .unwritableDestination, .unusableSigningKey: true
            }
        }

        /// Whether a run would write this output.
        var writes: Bool {
            switch self {
            case .export, .remake, .replaceStale: true
            case .verify, .missingSource, .noManifest, .stale, .unwritableDestination, .unusableSigningKey: false
            }
        }
    }

    /// The intent of each unit, judged as `execute` and `check(existing:)` judge an output
    /// without verifying it: a current record, else the modification times, tell whether the
    /// output is stale.
    public func intents(_ units: [ExportUnit]) -> [Intent] {
        units.map { unit in
            let intent = intent(unit)
            guard intent.writes else { return intent }
            if !Self.canCreateFiles(in: unit.folder) { return .unwritableDestination }
            if unit.signs && (try? Self.signer(for: unit)) == nil { return .unusableSigningKey }
            return intent
        }
    }

    private func intent(_ unit: ExportUnit) -> Intent {
        var sourceStatus = stat()
        guard SystemCalls.stat(unit.source, &sourceStatus) == 0 else { return .missingSource }
        var outputStatus = stat()
        guard SystemCalls.stat(unit.output, &outputStatus) == 0 else { return .export }
        guard fileExists(unit.manifest) || !PendingManifest.find(for: unit.manifest).isEmpty else {
            return replaceInvalid ? .export : .noManifest
        }
        if let record = OutputRecord.read(unit.record), record.sha256 == manifestDigest(unit.manifest, name: unit.fileName) {
            let change = record.change(source: SourceStatus(path: unit.source, sourceStatus), settings: unit.settings)
            return change == nil ? .verify : .remake
        }
        if (sourceStatus.st_mode & S_IFMT) == S_IFREG,
            (sourceStatus.st_mtim.tv_sec, sourceStatus.st_mtim.tv_nsec) > (outputStatus.st_mtim.tv_sec, outputStatus.st_mtim.tv_nsec)
        {
            return replaceInvalid ? .replaceStale : .stale
        }
        return .verify
    }

    /// The signer of an OVA output the job signs (nil for any other): its key read and matched
    /// to its certificate, or the error naming the file that is wrong.
    package static func signer(for unit: ExportUnit) throws(DiskImageError) -> OVA.PackageSigner? {
        guard unit.signs, let key = unit.options.signKey, let certificate = unit.options.signCertificate else { return nil }
        return try OVA.PackageSigner(keyPath: key, certificatePath: certificate)
    }

    /// Whether an export could make `folder` (as `createFolders` would) and write in it: its
    /// nearest existing ancestor is a folder this process may write and enter.
    static func canCreateFiles(in folder: String) -> Bool {
        var path = folder.isEmpty ? "." : folder
        while true {
            var info = stat()
            if SystemCalls.stat(path, &info) == 0 {
                return (info.st_mode & S_IFMT) == S_IFDIR && SystemCalls.access(path, W_OK | X_OK) == 0
            }
            guard errno == ENOENT else { return false }
            let parent = splitPath(path).folder
            guard parent != path else { return false }
            path = parent
        }
    }

    /// Runs every unit (a failure does not stop the others), then writes the SHA256SUMS lists.
    public func run(_ units: [ExportUnit]) -> JobReport {
        let started = Date()
        let clockStart = DispatchTime.now().uptimeNanoseconds
        let slots: Int
        let weight: @Sendable (ExportUnit) -> Int
        let threads: @Sendable (ExportUnit) -> Int
        switch concurrency {
        case .automatic:
            let cores = cores
            slots = cores
            // An output already there is verified (one thread, reading) before anything is
            // written: it shares the cores even when its format compresses.
            weight = { unit in
                unit.isCompressing && !(fileExists(unit.output) && fileExists(unit.manifest)) ? cores : 1
            }
            threads = { _ in cores }
        case let .fixed(count):
            let share = max(1, cores / count)
            slots = count
            weight = { _ in 1 }
            threads = { _ in share }
        }
        // Temporary files of killed runs go first, even where every output is then skipped
        // (a live writer's keep their lock, and a pending manifest its output's pair).
        for folder in Set(units.map(\.folder)).sorted() { OutputSafety.removeStaleTemporaries(in: folder) }
        let queue = UnitQueue(units: units, slots: slots)
        let group = DispatchGroup()
        for _ in 0..<min(slots, max(1, units.count)) {
            group.enter()
            let worker = Thread {
                while let (index, claimed) = queue.claim(weight: weight, onStart: onStart) {
                    let unit = units[index]
                    let unitStart = DispatchTime.now().uptimeNanoseconds
                    var result = execute(unit, threads: threads(unit))
                    result.seconds = Double(DispatchTime.now().uptimeNanoseconds - unitStart) / 1e9
                    queue.finish(index, result: result, weight: claimed, onFinish: onFinish)
                }
                group.leave()
            }
            worker.stackSize = 4 << 20
            worker.start()
        }
        group.wait()
        let results = queue.collected()
        var report = JobReport(started: started, results: results)
        report.writeChecksumLists()
        report.seconds = Double(DispatchTime.now().uptimeNanoseconds - clockStart) / 1e9
        return report
    }

    // MARK: One output

    func execute(_ unit: ExportUnit, threads: Int) -> UnitResult {
        var result = UnitResult(unit: unit, status: .failed, seconds: 0)
        guard !isCancelled() else {
            result.status = .cancelled
            return result
        }
        // Made before the output's lock, which lives in it; a folder that does not exist
        // holds no output yet, so nothing is judged before it is made.
        if let failure = createFolders(unit.folder) {
            result.failure = .folder(failure)
            return result
        }
        // One writer per output whatever job file names it: held from the judgement of what
        // is there to the commit of the output and its record.
        let outputLock: JobLock
        do throws(JobLockError) {
            outputLock = try JobLock.acquire(
                JobLock.path(output: unit.output), mode: .exclusive, wait: waitForOutputs, removesFile: true,
                isCancelled: isCancelled, onWaiting: { held in onWaitingForOutput?(unit, held) })
        } catch {
            if case .cancelled = error { result.status = .cancelled }
            result.failure = .outputLocked(error)
            return result
        }
        defer { outputLock.release() }
        var overwrite = false
        var outputStatus = stat()
        var sourceStatus = stat()
        let outputExists = SystemCalls.stat(unit.output, &outputStatus) == 0
        let sourceExists = SystemCalls.stat(unit.source, &sourceStatus) == 0
        if outputExists, sourceExists, outputStatus.st_dev == sourceStatus.st_dev, outputStatus.st_ino == sourceStatus.st_ino {
            // Through a link the job file cannot see: replacing it would destroy what it reads.
            result.failure = .outputIsSource(output: unit.output, source: unit.source)
            return result
        }
        if outputExists {
            switch check(existing: unit, output: outputStatus, source: sourceExists ? sourceStatus : nil) {
            case let .verified(sha256, bytes):
                result.status = .skipped
                result.sha256 = sha256
                result.bytes = bytes
                result.warnings = unit.optionWarnings
                result.target = unit.targetDecision()
                return result
            case let .invalid(reason):
                guard replaceInvalid else {
                    result.failure = .outputNotReplaced(output: unit.output, reason: reason)
                    return result
                }
                overwrite = true
                result.replaced = reason
            case let .outdated(reason):
                // This job's own output (its record says so), made from another source or
                // with other settings, or left by an interrupted run: made again.
                overwrite = true
                result.replaced = reason
            }
        } else {
            // A manifest or record whose image is gone (deleted to redo it, or an interrupted
            // run) describes nothing.
            for path in [unit.manifest, unit.record] where fileExists(path) { SystemCalls.unlink(path) }
        }
        // The signing key is read (and matched to its certificate) before any work; its bytes
        // stay in memory, and errors name its path only.
        let signer: OVA.PackageSigner?
        do throws(DiskImageError) {
            signer = try Self.signer(for: unit)
        } catch {
            result.failure = .export(error)
            return result
        }
        var options = ExportOptions(
            format: unit.format, sourceFormat: unit.sourceFormat, threads: threads,
            level: unit.options.level, adapter: unit.options.adapter,
            alignToMiB: unit.options.alignToMiB, overwrite: overwrite, timestamp: timestamp,
            diskIdentifier: timestamp.map { Self.reproducibleIdentifier(epoch: $0, output: unit.shardKey) },
            isCancelled: isCancelled,
            progress: onProgress.map { report in { @Sendable progress in report(unit, progress) } },
            machine: unit.options.machine, target: unit.options.target, firmware: unit.options.firmware, signer: signer,
            qcow2: unit.options.qcow2)
        options.vhdxBlockSize = unit.options.vhdxBlockSize
        // Taken above, before the check of what is there.
        options.outputLock = .heldByCaller
        do throws(DiskImageError) {
            let settings = unit.settings
            let sidecar = Exporter.Sidecar(path: unit.record) { sha256, source in
                OutputRecord(sha256: sha256, source: source, settings: settings).encoded()
            }
            let summary = try Exporter.export(
                source: unit.source, to: .file(unit.output), manifestPath: unit.manifest,
                sidecar: sidecar, options: options)
            result.status = .exported
            result.sha256 = summary.sha256
            result.bytes = summary.outputSize
            result.warnings = unit.optionWarnings + summary.warnings
            result.target = summary.target
        } catch {
            result.status = error == .cancelled ? .cancelled : .failed
            result.failure = .export(error)
        }
        return result
    }

    /// The disk identifier (VHD unique id, VMDK CID) of an output when the job runs with a
    /// fixed time (`SOURCE_DATE_EPOCH`): the first 16 bytes of SHA-256 of the time and the
    /// output's path as the job file names it, so a rerun, or the same job split into shards
    /// on other machines, writes the same bytes (reproducible-builds.org, SOURCE_DATE_EPOCH),
    /// while two outputs of one job still differ. Without a fixed time it is random.
    static func reproducibleIdentifier(epoch: UInt64, output: String) -> [UInt8] {
        let hasher = SHA256Hasher()
        hasher.update(Array("imgship disk identifier\u{0}\(epoch)\u{0}\(output)".utf8))
        let hex = Array(hasher.finalizeHex().utf8.prefix(32))
        return stride(from: 0, to: hex.count, by: 2).map { index in
            UInt8(String(decoding: hex[index..<index + 2], as: UTF8.self), radix: 16) ?? 0
        }
    }

    /// Whether an output is current, the rule of a rerun and of `--merge`.
    enum Currency {
        case current
        /// Its record (whose digest is the manifest's) says the source or settings changed.
        case changed(String)
        /// No current record, and its source (a regular file) is newer than it.
        case older(String)
    }

    /// The currency rule: an output with a record whose digest is its manifest's is current
    /// while the source's identity (path, size, modification time, inode) and the settings are
    /// as the record says; one without is current while it is newer than its source.
    /// `output` and `source` are their `stat`s (nil for a source that is not there).
    static func currency(_ unit: ExportUnit, output outputStatus: stat, source sourceStatus: stat?) -> Currency {
        if let record = OutputRecord.read(unit.record), record.sha256 == manifestDigest(unit.manifest, name: unit.fileName) {
            let now = sourceStatus.map { SourceStatus(path: unit.source, $0) }
            return record.change(source: now, settings: unit.settings).map(Currency.changed) ?? .current
        }
        if let sourceStatus, (sourceStatus.st_mode & S_IFMT) == S_IFREG,
            (sourceStatus.st_mtim.tv_sec, sourceStatus.st_mtim.tv_nsec) > (outputStatus.st_mtim.tv_sec, outputStatus.st_mtim.tv_nsec)
        {
            return .older("is older than its source \(unit.source), which changed after it was written")
        }
        return .current
    }

    /// Why the output of `unit` is out of date, or nil (`currency`, with the files as they are
    /// now). An output that is not there is not stale: verifying it fails on its own.
    static func staleness(_ unit: ExportUnit) -> String? {
        var outputStatus = stat()
        var sourceStatus = stat()
        guard SystemCalls.stat(unit.output, &outputStatus) == 0 else { return nil }
        let source = SystemCalls.stat(unit.source, &sourceStatus) == 0 ? sourceStatus : nil
        switch currency(unit, output: outputStatus, source: source) {
        case .current: return nil
        case let .changed(reason), let .older(reason): return reason
        }
    }

    enum ExistingOutput {
        case verified(sha256: String, bytes: UInt64)
        /// Not known to be good: failed without `replaceInvalid` (`--force`).
        case invalid(String)
        /// Known to be this job's and out of date, or left half committed: made again.
        case outdated(String)
    }

    /// Whether an output already there can stand: its manifest exists, it was made from the
    /// source and settings as they are now (its record says so; without one, it is newer than
    /// its source), and its structure and digest verify. `output` and `source` are their
    /// `stat`s (nil for a source that is not there).
    func check(existing unit: ExportUnit, output outputStatus: stat, source sourceStatus: stat?) -> ExistingOutput {
        var verification: VerificationReport?
        if !fileExists(unit.manifest) {
            guard !PendingManifest.find(for: unit.manifest).isEmpty else {
                return .invalid("exists without its manifest \(unit.manifest)")
            }
            // A run killed between moving the output and its manifest into place: verifying
            // completes the pair when the manifest it left matches the output.
            let report = try? ImageVerifier.verify(path: unit.output, format: unit.format.entry.verifiedAs, manifestPath: unit.manifest)
            guard let report, report.passed, fileExists(unit.manifest) else {
                return .outdated("was left without its manifest by an interrupted run")
            }
            verification = report
        }
        switch Self.currency(unit, output: outputStatus, source: sourceStatus) {
        case .current: break
        case let .changed(reason): return .outdated(reason)
        case let .older(reason): return .invalid(reason)
        }
        if verification == nil {
            do throws(DiskImageError) {
                verification = try ImageVerifier.verify(path: unit.output, format: unit.format.entry.verifiedAs, manifestPath: unit.manifest)
            } catch {
                return .invalid("cannot be verified: \(error)")
            }
        }
        guard let verification, verification.passed, let sha256 = verification.sha256 else {
            let failures = (verification?.checks ?? []).filter { !$0.passed }.map { "\($0.name): \($0.detail)" }
            return .invalid("does not verify (\(failures.joined(separator: "; ")))")
        }
        return .verified(sha256: sha256, bytes: UInt64(max(0, outputStatus.st_size)))
    }
}

func fileExists(_ path: String) -> Bool {
    SystemCalls.access(path, F_OK) == 0
}

/// `mkdir -p`: nil when `path` is a folder at the end, else what failed, with the folder and
/// the system's reason.
func createFolders(_ path: String) -> String? {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/") {
        prefix += component
        if SystemCalls.mkdir(prefix, 0o777) != 0 {
            let code = errno
            var status = stat()
            guard code == EEXIST, SystemCalls.stat(prefix, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else {
                let reason = code == EEXIST ? "exists and is not a folder" : String(cString: strerror(code))
                return "\(prefix): cannot create the folder: mkdir: \(reason)"
            }
        }
        prefix += "/"
    }
    return nil
}

/// The units not yet started and the cores free, shared by the job's worker threads.
private final class UnitQueue: @unchecked Sendable {
    // Guarded by `condition`.
    private let condition = NSCondition()
    private let units: [ExportUnit]
    private var pending: [Int]
    private var freeSlots: Int
    private var results: [UnitResult?]
    private var done = 0

    init(units: [ExportUnit], slots: Int) {
        self.units = units
        pending = Array(units.indices)
        freeSlots = slots
        results = Array(repeating: nil, count: units.count)
    }

    /// The first pending unit that fits in the free slots, and the slots it took, waiting
    /// until one fits; nil when none is left.
    func claim(weight: (ExportUnit) -> Int, onStart: (ExportUnit) -> Void) -> (Int, Int)? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if pending.isEmpty { return nil }
            for (position, index) in pending.enumerated() where freeSlots > 0 {
                let slots = weight(units[index])
                guard slots <= freeSlots else { continue }
                pending.remove(at: position)
                freeSlots -= slots
                onStart(units[index])
                return (index, slots)
            }
            condition.wait()
        }
    }

    /// Records the result and frees the unit's slots; `onFinish` runs first, under the lock, so
    /// progress lines come out whole and in order.
    func finish(_ index: Int, result: UnitResult, weight: Int, onFinish: (UnitResult, Int, Int) -> Void) {
        condition.lock()
        defer { condition.unlock() }
        results[index] = result
        done += 1
        onFinish(result, done, units.count)
        freeSlots += weight
        condition.broadcast()
    }

    func collected() -> [UnitResult] {
        condition.lock()
        defer { condition.unlock() }
        return results.compactMap { $0 }
    }
}
