import ConfigDocument
import DiskImage
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `imgship job FILE --merge`: the reports of a sharded job's shards made into the report one
/// unsharded run would have written (timings aside), with every output checked.
///
/// Each shard wrote `JOB.report.I-of-N.json` beside the job file. The merge needs all N of
/// them, one N; each output of the job must be in exactly one of them (matched by its entry
/// and format, which do not depend on the folder a shard ran from). Outputs a shard exported
/// or skipped are verified again against their manifests here, and judged current by the rule
/// a rerun applies (`OUTPUT.imgship.json` against the source's identity and the settings), so
/// a shard that lied, a file changed since, or a source changed after its output was made is
/// caught; then every folder's `SHA256SUMS` is written from the merged results, and the
/// merged report is what `JOB.report.json` holds. Nothing a report says is trusted beyond its
/// statuses and texts: numbers are range-checked where they are read.
public enum JobMerge {
    /// One output's line in a shard's report.
    public struct ReportedResult: Sendable, Equatable {
        public var status: UnitResult.Status
        public var seconds: Double
        public var replaced: String?
        public var error: String?
        /// What the shard's export warned of.
        public var warnings: [String] = []
    }

    /// One shard's report, read back.
    public struct ShardReport: Sendable {
        public var shard: JobShard
        public var path: String
        public var started: Date?
        public var seconds: Double
        /// By `entry` and format, as `ExportUnit` names them.
        public var results: [String: ReportedResult]

        static func key(entry: String, format: String) -> String { entry + " " + format }
    }

    /// Why the merge could not be made: every reason, each naming its file.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var reasons: [String]
        public var description: String { reasons.joined(separator: "\n") }
    }

    /// Larger than any report of a job imgship would run (about 400 bytes an output).
    static let maximumReportBytes = 64 << 20

    /// The most a report of a job of `outputs` outputs may hold: 8 KiB an output (a real one
    /// takes under 1.5 KiB, import commands and warnings included) and 64 KiB for the rest,
    /// at most `maximumReportBytes`. A report is parsed whole, at some 50 bytes of memory and
    /// 2 microseconds a JSON value: a report of tiny values padded to 64 MiB would take
    /// 1.6 GB and a minute; bounded by the job, a 1,000-output job's takes at most 8 MiB.
    public static func maximumReportBytes(outputs: Int?) -> Int {
        guard let outputs else { return maximumReportBytes }
        return min(maximumReportBytes, (64 << 10) + (8 << 10) * max(0, min(outputs, maximumReportBytes >> 13)))
    }

    /// The most warnings an output's line may carry: an export gives a handful.
    public static let maximumWarnings = 64

    /// The shard reports of the job file named `job` in `folder` (`JOB.report.I-of-N.json`),
    /// sorted by index.
    public static func reportPaths(in folder: String, job: String) -> [String] {
        let names = SystemCalls.names(inFolder: folder) ?? []
        return names.compactMap { name -> (JobShard, String)? in
            JobShard(reportName: name, job: job).map { ($0, (folder == "." ? "" : folder + "/") + name) }
        }
        .sorted { ($0.0.count, $0.0.index) < ($1.0.count, $1.0.index) }
        .map(\.1)
    }

    /// Reads one shard's report of the job file named `job`, of `outputs` outputs (nil: not
    /// known); the shard comes from its name.
    public static func read(_ path: String, job: String, outputs: Int? = nil) throws(Failure) -> ShardReport {
        guard let shard = JobShard(reportName: splitPath(path).name, job: job) else {
            throw Failure(reasons: ["\(path): not a shard report name (\(job).report.I-of-N.json)"])
        }
        // A report is a regular file of a few kilobytes a thousand outputs: anything else (a
        // FIFO that would block, a file of gigabytes) is refused before it is read.
        var status = stat()
        guard SystemCalls.stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw Failure(reasons: ["\(path): not a regular file; a shard report is one"])
        }
        let limit = maximumReportBytes(outputs: outputs)
        guard status.st_size <= limit else {
            let of = outputs.map { " of a job of \($0) output(s)" } ?? ""
            throw Failure(reasons: ["\(path): \(status.st_size) bytes, more than a shard report\(of) holds (at most \(limit) bytes)"])
        }
        let document: ConfigValue
        do {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            document = try DocumentReader.parse(text)
        } catch let problem as Problem {
            throw Failure(reasons: ["\(path):\(problem.line ?? 1):\(problem.column ?? 1): \(problem)"])
        } catch {
            throw Failure(reasons: ["\(path): cannot read: \((error as NSError).localizedDescription)"])
        }
        guard let exports = document["exports"]?.array else {
            throw Failure(reasons: ["\(path): expected a job report with an exports list"])
        }
        var results: [String: ReportedResult] = [:]
        var reasons: [String] = []
        for (index, item) in exports.enumerated() {
            guard let entry = item["entry"]?.string, let format = item["format"]?.string,
                let status = item["status"]?.string.flatMap(UnitResult.Status.init(rawValue:))
            else {
                reasons.append(
                    "\(path): exports[\(index)]: expected entry, format and status (\(UnitResult.Status.allCases.map(\.rawValue).joined(separator: ", ")))")
                continue
            }
            let warnings = item["warnings"]?.array ?? []
            guard warnings.count <= maximumWarnings else {
                reasons.append("\(path): exports[\(index)].warnings: \(warnings.count) warnings, more than the \(maximumWarnings) an output's line holds")
                continue
            }
            let seconds: Double
            do throws(Failure) {
                seconds = try duration(item["seconds"], path: path, at: "exports[\(index)].seconds")
            } catch {
                reasons += error.reasons
                continue
            }
            results[ShardReport.key(entry: entry, format: format)] =
                ReportedResult(
                    status: status, seconds: seconds, replaced: item["replaced"]?.string, error: item["error"]?.string,
                    warnings: warnings.compactMap(\.string))
        }
        guard reasons.isEmpty else { throw Failure(reasons: reasons) }
        let started = document["started"]?.string.flatMap { ISO8601DateFormatter().date(from: $0) }
        let seconds = try duration(document["seconds"], path: path, at: "seconds")
        return ShardReport(shard: shard, path: path, started: started, seconds: seconds, results: results)
    }

    /// A report's `seconds` at JSON path `at`: absent or null is 0; anything else must be a
    /// number from 0 to `JobReport.maximumSeconds`, checked here, where it is read, before any
    /// arithmetic or printing meets it.
    static func duration(_ value: ConfigValue?, path: String, at member: String) throws(Failure) -> Double {
        guard let value, value.kind != .null else { return 0 }
        guard case let .number(digits) = value.kind, let seconds = Double(digits), seconds.isFinite,
            (0...JobReport.maximumSeconds).contains(seconds)
        else {
            throw Failure(reasons: [
                "\(path):\(value.line):\(value.column): \(member): expected a number of seconds from 0 to \(Int(JobReport.maximumSeconds)), found \(value.scalarText.map { "\"\($0.prefix(40))\"" } ?? value.typeName)"
            ])
        }
        return seconds
    }

    /// The merged report of `units` (the whole job, in job order) from the shards' reports.
    /// Fails, naming every reason, when a shard's report is missing, the reports disagree on
    /// N, or an output is in none of them or in two.
    public static func merge(_ units: [ExportUnit], reports: [ShardReport], job: String) throws(Failure) -> JobReport {
        var reasons: [String] = []
        let counts = Set(reports.map(\.shard.count))
        guard let count = counts.first, counts.count == 1 else {
            let found =
                reports.isEmpty
                ? "no shard report (\(job).report.I-of-N.json)" : "reports of \(counts.sorted().map(String.init).joined(separator: " and ")) shards"
            throw Failure(reasons: ["found \(found); expected the reports of one sharded run"])
        }
        let present = Set(reports.map(\.shard.index))
        let missing = (0..<count).filter { !present.contains($0) }
        if !missing.isEmpty {
            reasons.append(
                "no report from shard \(missing.map { "\($0)/\(count)" }.joined(separator: ", ")) (\(JobShard(index: missing[0], count: count)?.reportName(job: job) ?? "")): run it, then merge again"
            )
        }
        var found: [(unit: ExportUnit, reported: ReportedResult)] = []
        for unit in units {
            let key = ShardReport.key(entry: unit.entry, format: unit.format.rawValue)
            let holders = reports.filter { $0.results[key] != nil }
            guard let holder = holders.first, let reported = holder.results[key] else {
                if missing.isEmpty { reasons.append("\(unit.output) (\(unit.entry), \(unit.format.rawValue)) is in no shard's report") }
                continue
            }
            if holders.count > 1 {
                reasons.append(
                    "\(unit.output) (\(unit.entry), \(unit.format.rawValue)) is in the reports of shards \(holders.map(\.shard.description).joined(separator: " and ")): were they run with different --shard-by?"
                )
                continue
            }
            found.append((unit, reported))
        }
        guard reasons.isEmpty else { throw Failure(reasons: reasons) }
        // Verifying reads every output whole: one a core at a time, results in job order.
        let verified = Mutex<[UnitResult?]>(Array(repeating: nil, count: found.count))
        let pending = found
        DispatchQueue.concurrentPerform(iterations: pending.count) { index in
            let result = checked(pending[index].unit, pending[index].reported)
            verified.withLock { $0[index] = result }
        }
        let results = verified.withLock { $0 }.compactMap { $0 }
        var report = JobReport(started: reports.compactMap(\.started).min() ?? Date(), results: results)
        report.seconds = reports.map(\.seconds).max() ?? 0
        report.writeChecksumLists()
        return report
    }

    /// What the merged report says of one output: a shard's exported or skipped output only
    /// when it is current by the rule a rerun applies (`JobRunner.staleness`: its record
    /// against the source and settings as they are now) and verifies against its manifest now.
    static func checked(_ unit: ExportUnit, _ reported: ReportedResult) -> UnitResult {
        var result = UnitResult(unit: unit, status: reported.status, seconds: reported.seconds, replaced: reported.replaced)
        result.warnings = reported.warnings
        switch reported.status {
        case .exported, .skipped:
            if let stale = JobRunner.staleness(unit) {
                result.status = .failed
                result.failure = .merge("its shard reported it \(reported.status.rawValue), but it \(stale); run its shard again")
                return result
            }
            do throws(DiskImageError) {
                let verification = try ImageVerifier.verify(path: unit.output, format: unit.format.entry.verifiedAs, manifestPath: unit.manifest)
                guard verification.passed, let sha256 = verification.sha256 else {
                    let failures = verification.checks.filter { !$0.passed }.map { "\($0.name): \($0.detail)" }
                    result.status = .failed
                    result.failure = .merge(
                        "its shard reported it \(reported.status.rawValue), but it does not verify now (\(failures.joined(separator: "; ")))")
                    return result
                }
                result.sha256 = sha256
                var status = stat()
                result.bytes = SystemCalls.stat(unit.output, &status) == 0 ? UInt64(max(0, status.st_size)) : nil
                // What the import commands are made from, as a rerun that skips it decides it.
                result.target = unit.targetDecision()
            } catch {
                result.status = .failed
                result.failure = .merge("its shard reported it \(reported.status.rawValue), but it cannot be verified now: \(error)")
            }
        case .failed, .cancelled:
            result.failure = reported.error.map { .merge($0) }
        }
        return result
    }
}
