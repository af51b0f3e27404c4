#if canImport(Glibc)
import Glibc
#endif
import ConfigDocument
import Foundation

/// What a job run did: every output's result, the SHA256SUMS lists written, and problems of
/// the job itself. Saved as `job-report.json` (schema in README).
public struct JobReport: Sendable {
    public static let schemaVersion = 1

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
    /// output of this job in that folder, sorted by file name, so `sha256sum -c SHA256SUMS`
    /// checks them all. Failed outputs are left out, and a folder whose outputs all failed
    /// keeps no list. An interrupted job changes no list: the outputs it did not reach are
    /// still unchecked.
    mutating func writeChecksumLists() {
        guard !results.contains(where: { $0.status == .cancelled }) else { return }
        // Every folder of the job, with its good outputs (possibly none).
        var byFolder: [String: [(name: String, sha256: String)]] = [:]
        for result in results {
            var entries = byFolder[result.unit.folder] ?? []
            if result.status == .exported || result.status == .skipped, let sha256 = result.sha256 {
                entries.append((result.unit.fileName, sha256))
            }
            byFolder[result.unit.folder] = entries
        }
        for (folder, entries) in byFolder where entries.isEmpty {
            let path = folder + "/SHA256SUMS"
            if unlink(path) != 0 && errno != ENOENT {
                errors.append("\(path): cannot remove the list, whose outputs all failed: \(String(cString: strerror(errno)))")
            }
        }
        for folder in byFolder.keys.sorted() where !(byFolder[folder] ?? []).isEmpty {
            let lines = (byFolder[folder] ?? []).sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
                .map { "\($0.sha256)  \($0.name)\n" }.joined()
            let path = folder + "/SHA256SUMS"
            do {
                try Data(lines.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                checksumLists.append(path)
            } catch {
                errors.append("\(path): cannot write: \((error as NSError).localizedDescription)")
            }
        }
    }

    /// The report as JSON, keys sorted; absent values are `null` so every record has every key.
    public func json(jobFile: String) -> String {
        func quoted(_ text: String?) -> String {
            text.map(jsonString) ?? "null"
        }
        func number(_ value: Double) -> String {
            String(format: "%.3f", value)
        }
        var lines = ["{"]
        lines.append("  \"checksumLists\": [\(checksumLists.map { quoted($0) }.joined(separator: ", "))],")
        lines.append("  \"errors\": [\(errors.map { quoted($0) }.joined(separator: ", "))],")
        lines.append("  \"exports\": [")
        for (index, result) in results.enumerated() {
            let fields = [
                "\"bytes\": \(result.bytes.map(String.init) ?? "null")",
                "\"entry\": \(quoted(result.unit.entry))",
                "\"error\": \(quoted(result.error))",
                "\"format\": \(quoted(result.unit.format.rawValue))",
                "\"manifest\": \(quoted(result.unit.manifest))",
                "\"path\": \(quoted(result.unit.output))",
                "\"replaced\": \(quoted(result.replaced))",
                "\"seconds\": \(number(result.seconds))",
                "\"sha256\": \(quoted(result.sha256))",
                "\"source\": \(quoted(result.unit.source))",
                "\"status\": \(quoted(result.status.rawValue))",
            ]
            lines.append("    {" + fields.joined(separator: ", ") + "}" + (index + 1 < results.count ? "," : ""))
        }
        lines.append("  ],")
        lines.append("  \"job\": \(quoted(jobFile)),")
        lines.append("  \"schemaVersion\": \(Self.schemaVersion),")
        lines.append("  \"seconds\": \(number(seconds)),")
        lines.append("  \"started\": \(quoted(ISO8601DateFormatter().string(from: started))),")
        let totals = UnitResult.Status.allCases.map { "\"\($0.rawValue)\": \(count($0))" }.joined(separator: ", ")
        lines.append("  \"totals\": {\(totals)}")
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }
}
