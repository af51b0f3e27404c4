/// Walks a document against a `Shape` and collects every problem, each with its path.
struct SchemaValidator {
    private(set) var problems: [Problem] = []

    mutating func appendProblem(_ problem: Problem) { problems.append(problem) }
    private var patterns: [String: Regex<AnyRegexOutput>] = [:]
    /// Every member name of every structure, and where it belongs, for "did you mean".
    private let owners: [String: [String]]

    init() {
        var owners: [String: [String]] = [:]
        func collect(_ shape: Shape) {
            switch shape {
            case let .structure(name, members, _):
                for member in members {
                    if !(owners[member.name]?.contains(name) ?? false) { owners[member.name, default: []].append(name) }
                    collect(member.shape)
                }
            case let .list(item, _, _): collect(item)
            case let .map(value, _, _, _, _): collect(value)
            default: break
            }
        }
        collect(Schema.configuration)
        self.owners = owners
    }

    mutating func check(_ value: ConfigValue, _ shape: Shape, _ path: Path) {
        switch shape {
        case let .structure(name, members, required):
            guard let fields = value.members else { return mismatch(value, "an object", path) }
            for (key, field) in fields {
                if let member = members.first(where: { $0.name == key }) {
                    check(field, member.shape, path.member(key))
                } else {
                    report(.error, path.member(key), unknownKeyMessage(key, in: name, known: members.map(\.name)), field)
                }
            }
            for member in members where required.contains(member.name) && value[member.name] == nil {
                report(.error, path, "missing required field '\(member.name)'", value)
            }
        case let .list(item, min, max):
            guard let items = value.array else { return mismatch(value, "a list", path) }
            if items.count < min { report(.error, path, "has \(items.count) items; at least \(min) required", value) }
            if items.count > max { report(.error, path, "has \(items.count) items; at most \(max) allowed", value) }
            for (index, element) in items.enumerated() {
                check(element, item, path.item(index))
            }
        case let .map(valueShape, min, max, keyMax, keyPattern):
            guard let fields = value.members else { return mismatch(value, "an object of string values", path) }
            if fields.count < min { report(.error, path, "has \(fields.count) entries; at least \(min) required", value) }
            if fields.count > max { report(.error, path, "has \(fields.count) entries; at most \(max) allowed", value) }
            for (key, field) in fields {
                if key.isEmpty || key.count > keyMax {
                    report(.error, path.member(key), "key must be 1 to \(keyMax) characters", field)
                } else if let keyPattern, !matches(key, keyPattern) {
                    let reason = key.hasPrefix("aws:") ? "keys starting with 'aws:' are reserved" : "key does not match \(keyPattern)"
                    report(.error, path.member(key), reason, field)
                }
                check(field, valueShape, path.member(key))
            }
        case let .string(min, max, pattern, values):
            guard let text = value.string else { return mismatch(value, "a string", path) }
            let length = text.count
            if length < min || length > max {
                let range = max == .max ? "at least \(min)" : min == max ? "exactly \(min)" : "\(min) to \(max)"
                report(.error, path, "\"\(text)\" has \(length) characters; \(range) allowed", value)
            } else if let values, !values.contains(text) {
                let hint = values.first { $0.lowercased() == text.lowercased() }.map { "; did you mean \"\($0)\"?" } ?? ""
                report(.error, path, "\"\(text)\" is not one of \(values.map { "\"\($0)\"" }.joined(separator: ", "))\(hint)", value)
            } else if let pattern, !matches(text, pattern) {
                report(.error, path, "\"\(text)\" does not match \(pattern)", value)
            }
        case let .integer(min, max):
            guard let number = value.int else { return mismatch(value, "an integer", path) }
            if number < min { report(.error, path, "\(number) is below the minimum \(min)", value) }
            if number > max { report(.error, path, "\(number) is above the maximum \(max)", value) }
        case .boolean:
            if value.bool == nil { mismatch(value, "true or false", path) }
        }
    }

    private mutating func mismatch(_ value: ConfigValue, _ expected: String, _ path: Path) {
        report(.error, path, "expected \(expected), found \(value.typeName)", value)
    }

    private mutating func report(_ severity: Problem.Severity, _ path: Path, _ message: String, _ value: ConfigValue) {
        problems.append(Problem(severity, path.text, message, at: value))
    }

    /// "unknown key", with the closest known key of this structure or the structure the key
    /// belongs to when it is valid elsewhere.
    private func unknownKeyMessage(_ key: String, in structure: String, known: [String]) -> String {
        let lowered = key.lowercased()
        let scored = known.map { ($0, editDistance(lowered, $0.lowercased())) }.min { $0.1 < $1.1 }
        if let (candidate, distance) = scored, distance <= max(2, key.count / 4) {
            return "unknown key '\(key)'; did you mean '\(candidate)'?"
        }
        if let homes = owners[key] {
            return "'\(key)' is not a field of \(structure); it belongs in \(homes.joined(separator: " or "))"
        }
        return "unknown key '\(key)'; expected one of \(known.joined(separator: ", "))"
    }

    private mutating func matches(_ text: String, _ pattern: String) -> Bool {
        // The account id pattern is checked tens of thousands of times in large plans.
        if pattern == "^[0-9]{12}$" {
            return text.utf8.count == 12 && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        }
        if patterns[pattern] == nil {
            patterns[pattern] = try? Regex(pattern)
        }
        guard let regex = patterns[pattern] else { return true }
        return (try? regex.firstMatch(in: text)) != nil
    }
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
