import DiskImage
import Foundation

/// `OUTPUT.imgship.json`, beside a job's output and its manifest: the output's digest, the
/// source's identity when the export started (path, size, modification time, inode) and the
/// settings it was made with. A rerun compares them with the source and the job as they are
/// now, and exports again when either changed. The record counts only while its digest is
/// the manifest's: a record of another export (an interrupted one, or an output replaced by
/// hand) says nothing about the output there.
struct OutputRecord: Codable, Equatable {
    var schemaVersion = 1
    var sha256: String
    var source: SourceStatus?
    var settings: [String: String]

    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        return Array((try? encoder.encode(self)) ?? Data()) + [0x0A]
    }

    static func read(_ path: String) -> OutputRecord? {
        guard let bytes = smallFileContents(path, atMost: 1 << 20) else { return nil }
        return try? JSONDecoder().decode(OutputRecord.self, from: Data(bytes))
    }

    /// How the source or settings now differ from the record, or nil. A source that cannot be
    /// looked at now is not a change: the export itself will say what is wrong with it.
    func change(source now: SourceStatus?, settings current: [String: String]) -> String? {
        if settings != current {
            let keys = Set(settings.keys).union(current.keys).sorted().filter { settings[$0] != current[$0] }
            let changes = keys.map { "\($0) \(settings[$0] ?? "none") -> \(current[$0] ?? "none")" }
            return "was made with other settings (\(changes.joined(separator: ", ")))"
        }
        guard let before = source, let now else { return nil }
        var changes: [String] = []
        if before.path != now.path { changes.append("path \(before.path) -> \(now.path)") }
        if before.size != now.size { changes.append("size \(before.size) -> \(now.size) bytes") }
        if before.isRegularFile {
            if (before.device, before.inode) != (now.device, now.inode) { changes.append("inode \(before.inode) -> \(now.inode)") }
            if (before.modificationSeconds, before.modificationNanoseconds) != (now.modificationSeconds, now.modificationNanoseconds) {
                changes.append(
                    "modification time \(before.modificationSeconds).\(before.modificationNanoseconds) -> \(now.modificationSeconds).\(now.modificationNanoseconds)"
                )
            }
        }
        return changes.isEmpty ? nil : "was made from its source as it was before (\(changes.joined(separator: ", ")))"
    }
}

/// The digest the manifest gives for `name`, or nil.
func manifestDigest(_ manifest: String, name: String) -> String? {
    guard let bytes = smallFileContents(manifest, atMost: 1 << 20) else { return nil }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
        let parts = line.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].count == 64 else { continue }
        var listed = String(parts[1])
        if listed.hasPrefix(" ") || listed.hasPrefix("*") { listed.removeFirst() }
        if listed == name { return String(parts[0]).lowercased() }
    }
    return nil
}
