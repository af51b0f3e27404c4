import ArgumentParser
import ConfigDocument
import DiskImage
import ExportJob
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct JobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Run the exports a job file lists, skipping outputs that are already there and verify.",
        discussion: """
            JOBFILE (JSON or YAML, schema in docs/job.md) lists source images, formats and destinations; outputs land at \
            DESTINATION/S3BUCKET/S3PREFIX+NAME.EXT, as EC2 ExportImage names its S3 objects. Relative paths are relative \
            to the job file's folder. Each folder gets a SHA256SUMS; JOBFILE.report.json (job.yaml.report.json) records \
            every output. One run of a job (of a shard) at a time: a run holds JOBFILE.lock (and JOBFILE.I-of-N.lock) \
            beside the job file, and another run exits 1 naming the holder, or waits with --wait. A failed export does \
            not stop the others. Exits 0 when every output is good, 1 when any failed (with --dry-run: when any would \
            fail) or another run holds the lock, 2 for a bad job file, 130 when interrupted.
            """)

    @Argument(help: "The job file, or - for standard input.")
    var jobFile: String

    @Flag(
        help:
            "Check the job and show what each output would do (exit 1 when any would fail, such as a missing source or an output older than its source); read and write no image."
    )
    var dryRun = false

    @Option(help: "Exports at a time: auto (compressing formats one at a time on all cores, the others one a core) or a number from 1 to 64 (default: auto).")
    var concurrency: ConcurrencyChoice?

    @Flag(help: "Export again over outputs that exist but do not verify, lack their manifest or are older than their source.")
    var force = false

    @Option(help: "Where to write the report (default: JOBFILE.report.json beside the job file).")
    var report: String?

    @Flag(help: "Print the report (or, with --dry-run, the intents) as JSON on standard output instead of a table.")
    var json = false

    @Option(
        help: ArgumentHelp(
            "Run one shard of the job: I/N (0 <= I < N), or auto to read the batch engine's variables (AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_SIZE; JOB_COMPLETION_INDEX or IMGSHIP_SHARD_INDEX with IMGSHIP_SHARD_COUNT). Its report is JOBFILE.report.I-of-N.json.",
            valueName: "I/N|auto"))
    var shard: String?

    @Option(
        help:
            "How outputs are dealt to shards: path (a fixed hash of each output's path) or size (source bytes, balanced; every shard must see the same sources)."
    )
    var shardBy: JobShard.Balance = .path

    @Flag(
        help:
            "Merge the reports of every shard (JOBFILE.report.I-of-N.json), check every output is current and verifies, write each folder's SHA256SUMS and JOBFILE.report.json."
    )
    var merge = false

    @Flag(
        help:
            "When another run of this job (or shard) holds its lock, or another job or an export writes one of its outputs, wait for it to end instead of failing (Ctrl-C stops the wait)."
    )
    var wait = false

    func validate() throws {
        if let shard, shard != "auto", JobShard(parsing: shard) == nil {
            throw ValidationError("--shard must be I/N with 0 <= I < N (or auto), got '\(shard)'")
        }
        if merge && shard != nil {
            throw ValidationError("--merge reads every shard's report; it takes no --shard")
        }
        if merge && dryRun {
            throw ValidationError("--merge and --dry-run: a merge reads and writes no image, but it verifies every output; give one")
        }
        // A merge exports nothing: it only checks the shards' outputs, so --force would be ignored.
        if merge && force {
            throw ValidationError("--force applies to runs that export; --merge exports nothing (it checks what the shards wrote)")
        }
        // Neither a merge nor a dry run exports, so neither has exports to run at once.
        if concurrency != nil && (merge || dryRun) {
            throw ValidationError("--concurrency sets how many exports run at once; \(merge ? "--merge" : "--dry-run") exports nothing")
        }
        if shardBy != .path && shard == nil {
            throw ValidationError("--shard-by applies only with --shard")
        }
        if wait && dryRun {
            throw ValidationError("--wait applies to runs that write; a dry run takes no lock")
        }
    }

    /// The shard this run is, from `--shard` or, for `auto`, the environment.
    func resolvedShard() throws -> JobShard? {
        guard let shard else { return nil }
        if let fixed = JobShard(parsing: shard) { return fixed }
        do throws(JobShard.EnvironmentError) {
            return try JobShard.fromEnvironment(ProcessInfo.processInfo.environment)
        } catch {
            throw fail(CommandProblem(path: nil, what: error.description, exitStatus: .usage))
        }
    }

    func run() throws {
        let text = try readDocument(jobFile)
        let shownName = displayName(jobFile)
        let baseFolder = jobFile == "-" ? "." : URL(fileURLWithPath: jobFile).deletingLastPathComponent().path
        var units: [ExportUnit]
        do throws(InvalidJobFile) {
            units = try JobFile.decode(text).units(baseFolder: jobFile.contains("/") ? baseFolder : ".")
        } catch {
            printDocumentProblems(error.problems, in: shownName)
            writeToStandardError("imgship: \(error.problems.count) error(s) in the job file; nothing exported\n")
            throw ExitStatus.inputRefused.exitCode
        }
        let reportFolder = jobFile == "-" ? "." : baseFolder
        // Reports and locks are named after the job file, so job files in one folder keep theirs.
        let jobName = jobFile == "-" ? "stdin" : splitPath(jobFile).name
        // The lock goes with the job file itself, not the name it was given by: a run through a
        // symbolic link to it takes the same lock as a run through its own name.
        let realJob = jobFile == "-" ? nil : URL(fileURLWithPath: jobFile).resolvingSymlinksInPath()
        let lockPlace = (folder: realJob?.deletingLastPathComponent().path ?? reportFolder, job: realJob?.lastPathComponent ?? jobName)
        // What the job reads and writes: `--report` may be none of them, checked before any work.
        let protected = [jobFile] + allFiles(of: units)
        if let report, let refusal = TextOutputFile.refusal(toReplace: report, inputs: protected) {
            throw fail(refusal)
        }
        if merge {
            installInterruptHandlers()
            let locks = try takeLocks(shard: nil, folder: lockPlace.folder, job: lockPlace.job, shownName: shownName)
            defer { locks.forEach { $0.release() } }
            return try mergeShards(units, reportFolder: reportFolder, job: jobName, shownName: shownName, protected: protected)
        }
        let shard = try resolvedShard()
        let allUnits = units
        if let shard {
            units = shard.select(allUnits, by: shardBy)
            writeToStandardError("imgship: shard \(shard): \(units.count) of the job's \(allUnits.count) output(s)\n")
        }

        installInterruptHandlers()
        let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap { UInt64($0) }
        let width = String(units.count).count
        var runner = JobRunner(
            concurrency: (concurrency ?? .automatic).value, replaceInvalid: force, timestamp: epoch,
            isCancelled: { interruptRequested.load(ordering: .relaxed) })
        // Another job file naming one of these outputs may be writing it (`JobLock`).
        runner.waitForOutputs = wait
        runner.onWaitingForOutput = { unit, held in
            if case let .held(path, holder) = held {
                writeToStandardError(
                    DisplayText.escaped("imgship: \(unit.output): waiting for the lock \(path), which another run holds (\(holder ?? "unknown"))") + "\n")
            }
        }
        if dryRun {
            let intents = runner.intents(units)
            try printIntents(units, intents)
            // The options an output's format ignores are told now, as the run would tell them.
            for unit in units {
                for warning in unit.optionWarnings { printProblem(.warning, "\(unit.output): \(warning)") }
            }
            // Why a key is unusable, as the run would tell it (the table says only that it is).
            for (unit, intent) in zip(units, intents) where intent == .unusableSigningKey {
                do throws(DiskImageError) {
                    _ = try JobRunner.signer(for: unit)
                } catch {
                    printProblem(.error, "\(unit.output): \(error)")
                }
            }
            let failing = intents.filter(\.predictsFailure).count
            if failing > 0 {
                throw fail(CommandProblem(path: shownName, what: "\(failing) output(s) would fail (dry run)", exitStatus: .workFailed))
            }
            return
        }
        // Progress on a terminal: outputs done, the overall share with its ETA, and the output
        // being written with its own share; cleared before each result line.
        let progress = isTerminal(STDERR_FILENO) ? JobProgressLine(outputs: units.count) : nil
        if let progress {
            runner.onProgress = { unit, state in progress.update(output: unit.output, state) }
        }
        runner.onFinish = { result, done, total in
            progress?.finished(output: result.unit.output)
            let counter = "[" + String(repeating: " ", count: width - String(done).count) + "\(done)/\(total)]"
            var line = "\(counter) \(result.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(result.unit.output)"
            switch result.status {
            case .exported:
                line += "  \(result.bytes.map(formatBytes) ?? "")  \(String(format1: result.seconds)) s"
                if let replaced = result.replaced { line += "  (replaced: it \(replaced))" }
            case .skipped: line += "  (verified against its manifest)"
            case .failed, .cancelled:
                // The line already shows the output's path.
                if let failure = result.failure { line += ": " + failure.detail(besides: result.unit.output) }
            }
            writeToStandardError(DisplayText.escaped(line) + "\n")
        }
        // One writer per job (per shard) for the whole run, bookkeeping included (`JobLock`).
        let locks = try takeLocks(shard: shard, folder: lockPlace.folder, job: lockPlace.job, shownName: shownName)
        defer { locks.forEach { $0.release() } }
        let outcome = runner.run(units)
        let reportPath = report ?? reportFolder + "/" + (shard?.reportName(job: jobName) ?? JobReport.fileName(job: jobName))
        try finish(outcome, reportPath: reportPath, shownName: shownName, protected: protected)
    }

    /// Every file of the job's outputs and sources, and its folders' `SHA256SUMS`, which the
    /// report may not replace (each is looked at when the report is written, so a list the run
    /// made counts too).
    private func allFiles(of units: [ExportUnit]) -> [String] {
        units.flatMap { [$0.source, $0.output, $0.manifest, $0.record, $0.folder + "/SHA256SUMS"] }
    }

    /// The job's lock (exclusive for a whole run or a merge, shared by shards) and a shard's
    /// own; refused (exit 1) naming the holder, or waited for with `--wait`.
    private func takeLocks(shard: JobShard?, folder: String, job: String, shownName: String) throws -> [JobLock] {
        var wanted: [(name: String, mode: JobLock.Mode)] = [(JobLock.fileName(job: job), shard == nil ? .exclusive : .shared)]
        if let shard { wanted.append((shard.lockName(job: job), .exclusive)) }
        var locks: [JobLock] = []
        for (name, mode) in wanted {
            do throws(JobLockError) {
                let lock = try JobLock.acquire(
                    folder + "/" + name, mode: mode, wait: wait, isCancelled: { interruptRequested.load(ordering: .relaxed) },
                    onWaiting: { held in
                        if case let .held(path, holder) = held {
                            writeToStandardError(
                                DisplayText.escaped(
                                    "imgship: \(shownName): waiting for the lock \(path), which another run holds (\(holder ?? "shards of the job"))")
                                    + "\n")
                        }
                    })
                locks.append(lock)
            } catch {
                locks.forEach { $0.release() }
                let status: ExitStatus = if case .cancelled = error { .interrupted } else { .workFailed }
                throw fail(CommandProblem(path: shownName, what: error.description, exitStatus: status))
            }
        }
        return locks
    }

    /// `--merge`: the shards' reports made into the job's (`JobMerge`); a shard missing or an
    /// output in none is a failed job (exit 1), each reason printed.
    private func mergeShards(_ units: [ExportUnit], reportFolder: String, job: String, shownName: String, protected: [String]) throws {
        let folder = report.map { splitPath($0).folder } ?? reportFolder
        let merged: JobReport
        let paths = JobMerge.reportPaths(in: folder, job: job)
        do throws(JobMerge.Failure) {
            let reports = try paths.map { path throws(JobMerge.Failure) in try JobMerge.read(path, job: job, outputs: units.count) }
            merged = try JobMerge.merge(units, reports: reports, job: job)
        } catch {
            for reason in error.reasons { printProblem(.error, reason) }
            throw ExitStatus.workFailed.exitCode
        }
        try finish(merged, reportPath: report ?? folder + "/" + JobReport.fileName(job: job), shownName: shownName, protected: protected + paths)
    }

    /// Writes the report, prints the table or JSON, and exits as the outcome says.
    private func finish(_ outcome: JobReport, reportPath: String, shownName: String, protected: [String]) throws {
        var outcome = outcome
        let reportText = outcome.json(jobFile: shownName)
        do throws(DiskImageError) {
            try TextOutputFile.write(reportText, to: reportPath, overwrite: true, inputs: protected)
        } catch {
            outcome.errors.append("cannot write the report: \(error)")
        }
        // The job's own errors are told even when standard output fails, after what it could print.
        // Paths, warnings and errors may quote a job file or a shard report: through the one
        // display escaper (JSON escapes its own controls).
        let printed = Result {
            try writeToStandardOutput(json ? outcome.json(jobFile: shownName) : DisplayText.escapedLines(table(outcome, reportPath: reportPath)))
        }
        for result in outcome.results {
            for warning in result.warnings { printProblem(.warning, "\(result.unit.output): \(warning)") }
        }
        for error in outcome.errors {
            printProblem(.error, error)
        }
        try printed.get()
        if interruptRequested.load(ordering: .relaxed) { throw ExitStatus.interrupted.exitCode }
        if !outcome.succeeded { throw ExitStatus.workFailed.exitCode }
    }

    private func table(_ outcome: JobReport, reportPath: String) -> String {
        let rows = outcome.results.map { result in
            [
                result.status.rawValue, result.unit.format.rawValue, result.bytes.map(formatBytes) ?? "-",
                String(format1: result.seconds), result.unit.output,
            ]
        }
        var text = columns(["STATUS", "FORMAT", "SIZE", "SECONDS", "OUTPUT"], rows)
        let counts = UnitResult.Status.allCases.compactMap { status in
            outcome.count(status) > 0 ? "\(outcome.count(status)) \(status.rawValue)" : nil
        }
        text += "\(outcome.results.count) output(s): \(counts.joined(separator: ", ")) in \(String(format1: outcome.seconds)) s\n"
        for list in outcome.checksumLists { text += "checksums: \(list)\n" }
        let imports = outcome.results.compactMap(\.importCommands)
        if !imports.isEmpty {
            text += "to import the target outputs (imgship prints these commands and never runs them):\n"
            text += imports.flatMap(\.lines).map { "  " + $0 + "\n" }.joined()
            var notes: [String] = []
            for note in imports.flatMap(\.notes) where !notes.contains(note) { notes.append(note) }
            text += notes.map { "  (\($0))\n" }.joined()
        }
        return text + "report: \(reportPath)\n"
    }

    private func printIntents(_ units: [ExportUnit], _ intents: [JobRunner.Intent]) throws {
        if json {
            try writeToStandardOutput(Self.json(units, intents).prettyEncoded())
            return
        }
        try writeToStandardOutput(
            columns(
                ["ENTRY", "FORMAT", "OUTPUT", "ACTION"],
                zip(units, intents).map { unit, intent in
                    [unit.entry, unit.format.rawValue, unit.output, intent.rawValue]
                }) + "\(units.count) output(s); dry run: nothing read or written\n")
    }

    /// `--dry-run --json`: one object an output, in job file order; `fails` is true for the
    /// intents a run would fail on.
    static func json(_ units: [ExportUnit], _ intents: [JobRunner.Intent]) -> JSONOutput {
        .array(
            zip(units, intents).map { unit, intent in
                .object([
                    ("entry", .string(unit.entry)), ("source", .string(unit.source)),
                    ("format", .string(unit.format.rawValue)), ("path", .string(unit.output)),
                    ("action", .string(intent.rawValue)), ("fails", .bool(intent.predictsFailure)),
                ])
            })
    }

    /// The rows under the header, each column as wide as its widest cell, one line each.
    private func columns(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in
            ([header] + rows).map { DisplayText.escaped($0[column]).count }.max() ?? 0
        }
        var text = ""
        for row in [header] + rows {
            let cells = row.map(DisplayText.escaped).enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }
            text += cells.joined(separator: "  ") + "\n"
        }
        return text
    }
}

/// `--concurrency auto` or a number.
enum ConcurrencyChoice: ExpressibleByArgument {
    case automatic
    case fixed(Int)

    init?(argument: String) {
        if argument == "auto" {
            self = .automatic
        } else if let count = Int(argument), (1...64).contains(count) {
            self = .fixed(count)
        } else {
            return nil
        }
    }

    var defaultValueDescription: String { "auto" }

    var value: JobConcurrency {
        switch self {
        case .automatic: .automatic
        case let .fixed(count): .fixed(count)
        }
    }
}

extension JobShard.Balance: ExpressibleByArgument {}
