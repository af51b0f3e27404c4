import ConfigDocument
import DiskImage
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a job run did: every output's result, the SHA256SUMS lists written, and problems of
/// the job itself. Saved as `JOB.report.json` beside the job file (schema in docs/job.md).
public struct JobReport: Sendable {
    public static let schemaVersion = 1

    /// The report of the job file named `job` (`job.yaml`), written beside it:
    /// `JOB.report.json`, so two job files in one folder keep their own reports.
    public static func fileName(job: String) -> String { job + ".report.json" }

    /// The largest duration a report read back may give (`--merge`), in seconds: about 31
    /// years, more than any run; past it a number is refused where it is read.
    public static let maximumSeconds: Double = 1_000_000_000

    public var started: Date
    public var seconds: Double = 0
    /// In job file order.
    public var results: [UnitResult]
    /// The SHA256SUMS files written, one per output folder.
    public var checksumLists: [String] = []
    /// Problems of the job rather than of one output, such as a SHA256SUMS that could not be written.
    public var errors: [String] = []

    public init(started: Date, results: [UnitResult]) {
        self.started = started
        self.results = results
    }

    public func count(_ status: UnitResult.Status) -> Int {
        results.filter { $0.status == status }.count
    }

    /// True when every output is there and good.
    public var succeeded: Bool {
        errors.isEmpty && results.allSatisfy { $0.status == .exported || $0.status == .skipped }
    }

    /// Writes `SHA256SUMS` in each folder the job writes to: one sha256sum line per good
    /// output in that folder, sorted by file name, so `sha256sum -c SHA256SUMS` checks them
    /// all. The list is updated, not replaced: lines for other files (another job's outputs in
    /// the same folder) stay while their file is there, this job's outputs get their digest,
    /// and its failed outputs lose their line; a list left with no line is removed. Each update
    /// holds an exclusive `flock` on the folder, so two jobs finishing together both end up in
    /// the list. An interrupted job changes no list: the outputs it did not reach are still
    /// unchecked.
    mutating func writeChecksumLists() {
        guard !results.contains(where: { $0.status == .cancelled }) else { return }
        // Every folder of the job by its resolved path (two spellings are one list): the
        // spelling shown, the names this job writes there, and the good ones' digests.
        var byFolder: [String: (folder: String, names: Set<String>, good: [String: String])] = [:]
        for result in results {
            let key = splitPath(result.unit.resolvedOutput).folder
            var list = byFolder[key] ?? (result.unit.folder, [], [:])
            list.names.insert(result.unit.fileName)
            if result.status == .exported || result.status == .skipped, let sha256 = result.sha256 {
                list.good[result.unit.fileName] = sha256
            }
            byFolder[key] = list
        }
        for list in byFolder.values.sorted(by: { $0.folder < $1.folder }) {
            updateChecksumList(in: list.folder, names: list.names, good: list.good)
        }
    }

    /// One folder's `SHA256SUMS`, updated under the folder's lock; see `writeChecksumLists`.
    private mutating func updateChecksumList(in folder: String, names: Set<String>, good: [String: String]) {
        let path = folder + "/SHA256SUMS"
        let descriptor = SystemCalls.open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            // A folder that could not be made holds no list; its outputs failed saying so.
            if !good.isEmpty {
                errors.append("\(folder): cannot open the folder to update its SHA256SUMS: \(String(cString: strerror(errno)))")
            }
            return
        }
        defer { SystemCalls.close(descriptor) }
        while SystemCalls.flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                errors.append("\(path): cannot lock the folder: flock: \(String(cString: strerror(errno)))")
                return
            }
        }
        var lines = good.mapValues { "\($0)  " }
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in existing.split(separator: "\n") {
                // `DIGEST  NAME` or `DIGEST *NAME`, as sha256sum writes them.
                let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0].count == 64, parts[0].allSatisfy(\.isHexDigit),
                    parts[1].hasPrefix(" ") || parts[1].hasPrefix("*")
                else { continue }
                let name = String(parts[1].dropFirst())
                guard !names.contains(name), lines[name] == nil, !name.contains("/"), fileExists(folder + "/" + name) else { continue }
                lines[name] = String(parts[0]) + " " + String(parts[1].prefix(1))
            }
        }
        guard !lines.isEmpty else {
            if SystemCalls.unlink(path) != 0 && errno != ENOENT {
                errors.append("\(path): cannot remove the list, whose outputs all failed: \(String(cString: strerror(errno)))")
            }
            return
        }
        let text = lines.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            .map { (lines[$0] ?? "") + $0 + "\n" }.joined()
        // Under a temporary name, moved into place, as every output (StagedFile+RenameIntoPlace).
        do throws(DiskImageError) {
            try TextOutputFile.write(text, to: path, overwrite: true)
            checksumLists.append(path)
        } catch {
            errors.append("cannot write the list: \(error)")
        }
    }

    /// The report as JSON, keys sorted; absent values are `null` so every record has every
    /// key. One export a line (`JSONOutput.prettyEncoded`).
    public func json(jobFile: String) -> String {
        jsonDocument(jobFile: jobFile).prettyEncoded()
    }

    /// The report as a JSON value, for `json(jobFile:)` and `job --json`.
    public func jsonDocument(jobFile: String) -> JSONOutput {
        func text(_ value: String?) -> JSONOutput { value.map(JSONOutput.string) ?? .null }
        let exports: [JSONOutput] = results.map { result in
            .object([
                ("bytes", result.bytes.map(JSONOutput.unsigned) ?? .null),
                ("entry", .string(result.unit.entry)),
                ("error", text(result.error)),
                ("format", .string(result.unit.format.rawValue)),
                ("importCommands", .array((result.importCommands?.lines ?? []).map(JSONOutput.string))),
                ("manifest", .string(result.unit.manifest)),
                ("path", .string(result.unit.output)),
                ("replaced", text(result.replaced)),
                ("seconds", .decimal(result.seconds, places: 3)),
                ("sha256", text(result.sha256)),
                ("source", .string(result.unit.source)),
                ("status", .string(result.status.rawValue)),
                ("warnings", .array(result.warnings.map(JSONOutput.string))),
            ])
        }
        return .object([
            ("checksumLists", .array(checksumLists.map(JSONOutput.string))),
            ("errors", .array(errors.map(JSONOutput.string))),
            ("exports", .array(exports)),
            ("job", .string(jobFile)),
            ("schemaVersion", .integer(Self.schemaVersion)),
            ("seconds", .decimal(seconds, places: 3)),
            ("started", .string(ISO8601DateFormatter().string(from: started))),
            ("totals", .object(UnitResult.Status.allCases.map { ($0.rawValue, .integer(count($0))) })),
        ])
    }
}
