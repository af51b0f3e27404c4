import ConfigDocument

/// Walks a document against a `Shape` and collects every problem, each with its path, in the
/// document's own field spelling.
struct SchemaValidator {
    /// At most `ProblemList.defaultLimit` problems a document: past them, a problem is only
    /// counted, and its message (a "did you mean" search for an unknown key) never made.
    private var found = ProblemList()
    var problems: [Problem] { found.problems }
    let naming: FieldNaming
    /// Responses (get-distribution-configuration, get-image) are what the service wrote, not
    /// requests: the request's size minimums do not apply (the AWS CLI prints `"tags": {}`).
    let isResponse: Bool

    mutating func appendProblem(_ problem: Problem) { found.append(problem) }
    private var patterns: [String: Regex<AnyRegexOutput>] = [:]
    /// Every member name of every structure, and where it belongs, for "did you mean".
    private let owners: [String: [String]]

    init(naming: FieldNaming = .api, isResponse: Bool = false) {
        self.naming = naming
        self.isResponse = isResponse
        var owners: [String: [String]] = [:]
        func collect(_ shape: Shape) {
            switch shape {
            case let .structure(name, members, _):
                let home = Self.display(name, naming)
                for member in members {
                    let key = naming.name(member.name)
                    if !(owners[key]?.contains(home) ?? false) { owners[key, default: []].append(home) }
                    collect(member.shape)
                }
            case let .list(item, _, _): collect(item)
            case let .map(value, _, _, _, _): collect(value)
            default: break
            }
        }
        collect(Schema.configuration(for: naming))
        self.owners = owners
    }

    /// A structure's name as messages show it: "distribution configuration" stays prose.
    private static func display(_ structureName: String, _ naming: FieldNaming) -> String {
        structureName.contains(" ") ? structureName : naming.path(structureName)
    }

    mutating func check(_ value: ConfigValue, _ shape: Shape, _ path: Path) {
        // Copies for the messages, which `report` makes only while under the problem limit.
        let (naming, owners) = (naming, owners)
        if naming == .cloudFormation, let function = value.intrinsicFunction {
            let what = function == "Condition" ? "a CloudFormation condition" : "\(function) (an intrinsic function)"
            return report(
                .error, path,
                "\(what) is resolved by CloudFormation at deploy time and imgship does not guess its value; write the literal value to plan this configuration",
                value)
        }
        let value = naming == .cloudFormation ? Self.coerced(value, to: shape) : value
        switch shape {
        case let .structure(name, members, required):
            guard let fields = value.members else { return mismatch(value, "an object", path) }
            for (key, field) in fields {
                if let member = members.first(where: { naming.name($0.name) == key }) {
                    check(field, member.shape, path.member(key))
                } else {
                    // A key of megabytes is shown by its start, in the path as in the message.
                    let shown = key.utf8.count > 200 ? String(key.prefix(200)) + "…" : key
                    report(
                        .error, path.member(shown),
                        Self.unknownKeyMessage(shown, in: Self.display(name, naming), members: members, naming: naming, owners: owners), field)
                }
            }
            for member in members where required.contains(member.name) && value[naming.name(member.name)] == nil {
                report(.error, path, "missing required field '\(naming.name(member.name))'", value)
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
            if fields.count < min && !isResponse { report(.error, path, "has \(fields.count) entries; at least \(min) required", value) }
            if fields.count > max { report(.error, path, "has \(fields.count) entries; at most \(max) allowed", value) }
            for (key, field) in fields {
                if let control = Self.firstControlCharacter(in: key, freeText: false) {
                    report(
                        .error, path.member(key), "key contains the control character \(control.name) at character \(control.offset + 1); keys allow none",
                        field)
                } else if key.isEmpty || key.count > keyMax {
                    report(.error, path.member(key), "key must be 1 to \(keyMax) characters", field)
                } else if let keyPattern, !matches(key, keyPattern) {
                    let reason = key.hasPrefix("aws:") ? "keys starting with 'aws:' are reserved" : "key does not match \(keyPattern)"
                    report(.error, path.member(key), reason, field)
                }
                check(field, valueShape, path.member(key))
            }
        case let .string(min, max, pattern, values, freeText):
            guard let text = value.string else { return mismatch(value, "a string", path) }
            let length = text.count
            if let control = Self.firstControlCharacter(in: text, freeText: freeText) {
                report(
                    .error, path,
                    "contains the control character \(control.name) at character \(control.offset + 1); \(freeText ? "only tabs and line breaks are allowed in text" : "this field allows none")",
                    value)
            } else if length < min || length > max {
                let range = max == .max ? "at least \(min)" : min == max ? "exactly \(min)" : "\(min) to \(max)"
                report(.error, path, "\(Problem.quoted(text)) has \(length) characters; \(range) allowed", value)
            } else if let values, !values.contains(text) {
                let hint = values.first { $0.lowercased() == text.lowercased() }.map { "; did you mean \"\($0)\"?" } ?? ""
                report(.error, path, "\(Problem.quoted(text)) is not one of \(values.map { "\"\($0)\"" }.joined(separator: ", "))\(hint)", value)
            } else if let pattern, !matches(text, pattern) {
                report(.error, path, "\(Problem.quoted(text)) does not match \(pattern)", value)
            }
        case let .integer(min, max):
            guard let number = value.int else { return mismatch(value, "an integer", path) }
            if number < min { report(.error, path, "\(number) is below the minimum \(min)", value) }
            if number > max { report(.error, path, "\(number) is above the maximum \(max)", value) }
        case .boolean:
            if value.bool == nil { mismatch(value, "true or false", path) }
        }
    }

    /// The first control character (C0, DEL or C1) in `text`, shown as `U+000A`, with its
    /// position in characters; tabs and line breaks are allowed in free text.
    static func firstControlCharacter(in text: String, freeText: Bool) -> (name: String, offset: Int)? {
        for (offset, scalar) in text.unicodeScalars.enumerated() {
            let value = scalar.value
            if scalar.isControlOrLineSeparator && !(freeText && (value == 0x09 || value == 0x0A || value == 0x0D)) {
                let hex = String(value, radix: 16, uppercase: true)
                return ("U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex, offset)
            }
        }
        return nil
    }

    /// CloudFormation converts scalars to the type a property declares (`AccountId: 123456789012`
    /// in YAML is a number, `Enabled: "true"` a string); the API does not.
    static func coerced(_ value: ConfigValue, to shape: Shape) -> ConfigValue {
        var converted = value
        switch (shape, value.kind) {
        case (.string, .number), (.string, .bool):
            converted.kind = .string(value.scalarText ?? "")
        case let (.integer, .string(text)) where Int(text) != nil:
            converted.kind = .number(text)
        case (.boolean, .string("true")):
            converted.kind = .bool(true)
        case (.boolean, .string("false")):
            converted.kind = .bool(false)
        default:
            break
        }
        return converted
    }

    private mutating func mismatch(_ value: ConfigValue, _ expected: String, _ path: Path) {
        report(.error, path, "expected \(expected), found \(value.typeName)", value)
    }

    private mutating func report(
        _ severity: Problem.Severity, _ path: @autoclosure () -> Path, _ message: @autoclosure () -> String, _ value: ConfigValue
    ) {
        found.append(severity, path().text, message(), at: value)
    }

    /// "unknown key", with the closest known key of this structure, the key's spelling in
    /// this document's naming when it is written in the other one, or the structure the key
    /// belongs to when it is valid elsewhere.
    private static func unknownKeyMessage(
        _ key: String, in structure: String, members: [Shape.Member], naming: FieldNaming, owners: [String: [String]]
    ) -> String {
        let lowered = key.lowercased()
        let known = members.map { naming.name($0.name) }
        if naming == .cloudFormation && lowered == "s3exportconfiguration" {
            return
                "CloudFormation's \(CloudFormationTemplate.resourceType) has no S3ExportConfiguration; give S3 exports in the API form (create-distribution-configuration)"
        }
        let otherSpelling = members.first { member in
            [member.name, FieldNaming.cloudFormation.name(member.name)].contains { $0.lowercased() == lowered }
        }
        if let otherSpelling {
            return "unknown key '\(key)'; did you mean '\(naming.name(otherSpelling.name))'?"
        }
        if let candidate = closestName(to: key, among: known) {
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
            // The service's patterns mean ASCII classes: `\d` is 0-9, `\w` [A-Za-z0-9_], not
            // every Unicode digit or letter Swift's Regex matches by default.
            patterns[pattern] = (try? Regex(pattern))?.asciiOnlyCharacterClasses()
        }
        // A pattern that does not compile refuses everything rather than nothing.
        guard let regex = patterns[pattern] else { return false }
        return (try? regex.firstMatch(in: text)) != nil
    }
}
