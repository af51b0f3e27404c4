import Yams

/// Reads a YAML document (CloudFormation templates, `--cli-input-yaml`) into the same
/// position-keeping values the JSON parser makes.
///
/// Plain scalars keep the text as written: `AccountId: 012345678901` is a number to YAML, but
/// the schema walk may accept it as the string the user meant, leading zero included.
/// CloudFormation's short-form tags (`!Ref X`, `!Sub "..."`) become the long form
/// (`{"Ref": "X"}`, `{"Fn::Sub": "..."}`) so they are reported like the JSON form.
///
/// Aliases are expanded, as the JSON form would spell them out, up to `aliasNodeBudget` nodes
/// a document; nesting is bounded by `DocumentReader.maximumDepth` (see `composeWithinLimits`).
public enum YAMLReader {
    public static func parse(_ text: String) throws(JSONParser.SyntaxError) -> ConfigValue {
        var composed = try composeWithinLimits(text)
        guard var root = composed.roots.first else {
            throw JSONParser.SyntaxError(line: 1, column: 1, message: "the document is empty")
        }
        // The builder takes the tree apart as it converts it, so each part of Yams' tree (about
        // ten times the text it was composed from) is freed once its values are made.
        composed.roots = []
        var model = ModelBuilder(aliases: composed.aliases)
        let value = try model.value(&root)
        withExtendedLifetime(composed.parser) {}
        return value
    }

    /// Makes the model of a tree composed with its aliases unexpanded: an alias becomes a copy
    /// of its anchor's value (shared storage), counted against `aliasNodeBudget` again here.
    private struct ModelBuilder {
        /// An anchored node as far as an alias needs it: its value, the scalar when it is one
        /// (an alias may be a mapping key), where it is, and how many nodes it holds.
        struct Anchored {
            var value: ConfigValue
            var scalar: Node.Scalar?
            var mark: Mark?
            var nodes: Int
        }

        let aliases: Aliases
        /// Each anchor's node, as far as the document has been read: an alias names the last
        /// node before it with that anchor.
        var anchors: [String: Anchored] = [:]
        var expanded = 0
        /// Nodes made for the value being read.
        var nodes = 0
        /// What a converted node is replaced with in its parent: one scalar whose tag all share.
        let taken = Node.scalar(Node.Scalar(""))

        init(aliases: Aliases) {
            self.aliases = aliases
        }

        /// The anchored node an alias `node` stands for; nil when `node` is not an alias.
        mutating func resolve(_ node: Node) throws(JSONParser.SyntaxError) -> Anchored? {
            guard let (name, position) = aliases.name(of: node) else { return nil }
            guard case let .scalar(token) = node else { return nil }
            guard token.string.unicodeScalars.count == name.unicodeScalars.count + 1, token.anchor == nil else {
                // libyaml ends a name at a blank or one of `?:,]}%@` and a backquote; the
                // composed text went on.
                let after = Array(token.string.unicodeScalars.dropFirst(name.unicodeScalars.count + 1))
                if let next = after.first, !next.properties.isWhitespace {
                    throw JSONParser.SyntaxError(
                        line: position.line, column: position.column + name.unicodeScalars.count + 1,
                        message:
                            "did not find expected alphabetic or numeric character (while scanning an alias at line \(position.line), column \(position.column))"
                    )
                }
                throw JSONParser.SyntaxError(
                    line: position.line, column: position.column, message: "alias *\(name) must stand alone, not followed by more text")
            }
            guard let anchor = anchors[name] else {
                // Yams' composer words this error so.
                throw JSONParser.SyntaxError(line: position.line, column: position.column, message: "found undefined alias")
            }
            expanded += anchor.nodes
            nodes += anchor.nodes
            if expanded > YAMLReader.aliasNodeBudget {
                throw JSONParser.SyntaxError(
                    line: position.line, column: position.column,
                    message: "alias *\(name) takes the nodes aliases add to the document past the \(YAMLReader.aliasNodeBudget) allowed")
            }
            return anchor
        }

        /// The value of `node`, which is left replaced by `taken`: each child is taken out of
        /// its collection before it is converted, so the tree shrinks as the model grows.
        mutating func value(_ node: inout Node) throws(JSONParser.SyntaxError) -> ConfigValue {
            if let anchored = try resolve(node) { return anchored.value }
            let mark = node.mark
            let line = mark?.line ?? 0
            let column = mark?.column ?? 0
            let nodesBefore = nodes
            nodes += 1
            let kind: ConfigValue.Kind
            let tag: String
            let anchor: Anchor?
            var scalarNode: Node.Scalar?
            switch node {
            case let .scalar(scalar):
                tag = scalar.tag.description
                kind = YAMLReader.scalarKind(scalar, tag: tag)
                anchor = scalar.anchor
                scalarNode = scalar
            case .sequence(var sequence):
                // `sequence` is then the only holder of its items.
                node = taken
                tag = sequence.tag.description
                anchor = sequence.anchor
                var items: [ConfigValue] = []
                items.reserveCapacity(sequence.count)
                for index in sequence.startIndex..<sequence.endIndex {
                    var item = sequence[index]
                    sequence[index] = taken
                    items.append(try value(&item))
                }
                kind = .array(items)
            case .mapping(var mapping):
                node = taken
                tag = mapping.tag.description
                anchor = mapping.anchor
                var members: [(key: String, value: ConfigValue)] = []
                members.reserveCapacity(mapping.count)
                var seen: Set<String> = []
                // By index: a mapping's iterator is a copy of all its pairs (Yams'
                // `Node.Mapping.makeIterator`).
                for index in mapping.startIndex..<mapping.endIndex {
                    let keyNode = mapping[index].key
                    var valueNode = mapping[index].value
                    mapping[index] = (taken, taken)
                    let key: Node.Scalar
                    if let anchored = try resolve(keyNode) {
                        guard let scalar = anchored.scalar else {
                            throw JSONParser.SyntaxError(
                                line: anchored.mark?.line ?? line, column: anchored.mark?.column ?? column,
                                message: "a mapping key must be a plain string")
                        }
                        key = scalar
                    } else {
                        guard case let .scalar(scalar) = keyNode else {
                            throw JSONParser.SyntaxError(
                                line: keyNode.mark?.line ?? line, column: keyNode.mark?.column ?? column,
                                message: "a mapping key must be a plain string")
                        }
                        key = scalar
                    }
                    guard seen.insert(key.string).inserted else {
                        throw JSONParser.SyntaxError(
                            line: keyNode.mark?.line ?? line, column: keyNode.mark?.column ?? column,
                            message: "duplicate key \"\(key.string)\"")
                    }
                    members.append((key.string, try value(&valueNode)))
                }
                kind = .object(members)
            case let .alias(alias):
                // Yams makes alias nodes only when representing values, never when composing.
                throw JSONParser.SyntaxError(line: line, column: column, message: "alias *\(alias.anchor) names no anchor")
            }
            var result = ConfigValue(kind, line: line, column: column)
            if let function = YAMLReader.intrinsicFunctionName(tag: tag) {
                result = ConfigValue(.object([(function, result)]), line: line, column: column)
            }
            if let anchor {
                anchors[anchor.rawValue] = Anchored(value: result, scalar: scalarNode, mark: mark, nodes: nodes - nodesBefore)
            }
            return result
        }
    }

    /// `!Ref` is `Ref`, `!Condition` is `Condition`, any other `!Name` is `Fn::Name`; YAML's own
    /// `!!type` tags and the non-specific `!` are not functions.
    static func intrinsicFunctionName(tag: String) -> String? {
        guard tag.hasPrefix("!"), tag.count > 1, !tag.hasPrefix("!!") else { return nil }
        let name = String(tag.dropFirst())
        return name == "Ref" || name == "Condition" ? name : "Fn::" + name
    }

    static func scalarKind(_ scalar: Node.Scalar, tag: String) -> ConfigValue.Kind {
        let text = scalar.string
        switch tag {
        case "tag:yaml.org,2002:str": return .string(text)
        case "tag:yaml.org,2002:int", "tag:yaml.org,2002:float": return .number(text)
        case "tag:yaml.org,2002:bool": return .bool(["true", "True", "TRUE"].contains(text))
        case "tag:yaml.org,2002:null": return .null
        default: break
        }
        guard scalar.style == .plain, tag.isEmpty else { return .string(text) }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: return isNumber(text) ? .number(text) : .string(text)
        }
    }

    /// Where `key:` starts a block mapping entry for the second time at or after `line`.
    private static func secondOccurrence(of key: String, from line: Int, in text: String) -> (Int, Int)? {
        var seen = 0
        for (index, content) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where index + 1 >= line {
            var rest = content.drop { $0 == " " }
            if rest.hasPrefix("- ") { rest = rest.dropFirst(2).drop { $0 == " " } }
            for candidate in [key, "\"\(key)\"", "'\(key)'"] where rest.hasPrefix(candidate) {
                if rest.dropFirst(candidate.count).drop(while: { $0 == " " }).first == ":" {
                    seen += 1
                    if seen == 2 { return (index + 1, content.count - rest.count + 1) }
                }
            }
        }
        return nil
    }

    /// YAML 1.2 core schema decimals: `-12`, `3.5`, `1e3`, `012` (kept as written), that is
    /// `[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?`. Read byte by byte: a regex
    /// literal here was made anew for every scalar, 1.8 s a MiB of YAML in a release build.
    private static func isNumber(_ text: String) -> Bool {
        var bytes = text.utf8[...]
        func digits() -> Int {
            let count = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
            bytes = bytes.dropFirst(count)
            return count
        }
        func skip(_ accepted: UInt8...) -> Bool {
            guard let first = bytes.first, accepted.contains(first) else { return false }
            bytes = bytes.dropFirst()
            return true
        }
        _ = skip(UInt8(ascii: "-"), UInt8(ascii: "+"))
        let whole = digits()
        let fraction = skip(UInt8(ascii: ".")) ? digits() : 0
        guard whole > 0 || fraction > 0 else { return false }
        if skip(UInt8(ascii: "e"), UInt8(ascii: "E")) {
            _ = skip(UInt8(ascii: "-"), UInt8(ascii: "+"))
            guard digits() > 0 else { return false }
        }
        return bytes.isEmpty
    }

    static func syntaxError(_ error: any Error, in text: String, aliases: Aliases) -> JSONParser.SyntaxError {
        guard let error = error as? YamlError else {
            return JSONParser.SyntaxError(line: 1, column: 1, message: "\(error)")
        }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            if problem.hasPrefix("Maximum nesting level reached") {
                // libyaml's own bound (1000 levels): Yams composes nothing past it.
                return JSONParser.SyntaxError(line: mark.line, column: mark.column, message: "nesting deeper than \(DocumentReader.maximumDepth) levels")
            }
            let while_ = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return JSONParser.SyntaxError(line: mark.line, column: mark.column, message: problem + while_)
        case let .duplicatedKeysInMapping(marked, context):
            // An alias key was composed as its marked token; name it as written.
            let duplicates = marked.map(aliases.asWritten)
            // Yams marks the mapping; the user wants the key written a second time.
            let key = duplicates.sorted()[0]
            let (line, column) = secondOccurrence(of: key, from: context.mark.line, in: text) ?? (context.mark.line, context.mark.column)
            return JSONParser.SyntaxError(
                line: line, column: column,
                message: "duplicate key \(duplicates.sorted().map { "\"\($0)\"" }.joined(separator: ", "))")
        case let .reader(problem, _, _, _):
            return JSONParser.SyntaxError(line: 1, column: 1, message: problem)
        default:
            return JSONParser.SyntaxError(line: 1, column: 1, message: error.description)
        }
    }
}
