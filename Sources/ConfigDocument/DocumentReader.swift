/// Reads a JSON or YAML document into position-keeping values, choosing the syntax by the
/// first character: `{` or `[` is JSON, anything else YAML.
///
/// Before parsing, the text passes `DocumentText.check` (no NUL byte, no byte-order mark; a
/// `String` is valid UTF-8 already). Limits: JSON and YAML nest at most
/// `DocumentReader.maximumDepth` levels, and YAML aliases add at most
/// `YAMLReader.aliasNodeBudget` nodes to the document.
public enum DocumentReader {
    /// How deep objects and arrays (mappings and sequences) may nest, in JSON and YAML alike.
    public static let maximumDepth = 256

    /// The largest YAML document read: 16 MiB. YAML is read in one pass, so unlike JSON
    /// (`maximumModelBytes`) it cannot refuse a document of tiny nested values before making
    /// their model (about 6 times the text); 16 MiB of them stays inside the 512 MiB budget
    /// (SECURITY.md). CloudFormation itself takes a template of at most 1 MB (CloudFormation
    /// quotas, "Template body size in an Amazon S3 object").
    public static let maximumYAMLBytes = 16 << 20

    /// The most a JSON document's objects and lists may take in memory (their strings aside):
    /// 256 MiB. An object costs 40 bytes a member, a list 48 bytes and 24 an item, so a
    /// document of two-member objects nested deep (one every 15 bytes) takes 5.3 times its
    /// text, and 64 MiB of it, with the text itself, nearly all of the 512 MiB budget
    /// (SECURITY.md); such a document is refused before any of it is made.
    public static let maximumModelBytes = 256 << 20

    /// Reads a document given as bytes: `DocumentText.check`'s problems (invalid UTF-8 and the
    /// rest, with their positions), then `parse(_:)`'s.
    public static func parse(bytes: [UInt8]) throws(Problem) -> ConfigValue {
        try parse(DocumentText.decode(bytes))
    }

    public static func parse(_ text: String) throws(Problem) -> ConfigValue {
        try DocumentText.check(text.utf8)
        let isJSON = text.first { !$0.isWhitespace }.map { $0 == "{" || $0 == "[" } ?? true
        if !isJSON && text.utf8.count > maximumYAMLBytes {
            var problem = Problem(
                .error, "",
                "a YAML document is read up to \(maximumYAMLBytes >> 20) MiB and this one is \(text.utf8.count) bytes; give it as JSON (for instance `yq -o json`), which is read without that limit"
            )
            problem.line = 1
            problem.column = 1
            throw problem
        }
        do {
            return isJSON ? try JSONParser.parse(text) : try YAMLReader.parse(text)
        } catch {
            var problem = Problem(.error, "", error.isLimit ? error.message : "malformed \(isJSON ? "JSON" : "YAML"): \(error.message)")
            problem.line = error.line
            problem.column = error.column
            throw problem
        }
    }
}

/// The name of `candidates` closest to `key` when it is close enough to be a likely typo,
/// for "did you mean" hints.
public func closestName(to key: String, among candidates: [String]) -> String? {
    let length = key.count
    let allowed = max(2, length / 4)
    // The distance is at least the difference in length: a key far longer than every name
    // (a hostile one of megabytes) is compared with none of them.
    let near = candidates.filter { abs($0.count - length) <= allowed }
    guard !near.isEmpty else { return nil }
    let lowered = key.lowercased()
    let scored = near.map { ($0, editDistance(lowered, $0.lowercased())) }.min { $0.1 < $1.1 }
    guard let (candidate, distance) = scored, distance <= allowed else { return nil }
    return candidate
}

/// Levenshtein distance, for "did you mean".
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = previous
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
