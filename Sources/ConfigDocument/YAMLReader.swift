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
/// a document; nesting is bounded by `DocumentReader.maximumDepth` (see `checkLimits`).
public enum YAMLReader {
    public static func parse(_ text: String) throws(JSONParser.SyntaxError) -> ConfigValue {
        try checkLimits(text)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw syntaxError(error, in: text)
        } catch {
            throw JSONParser.SyntaxError(line: 1, column: 1, message: "\(error)")
        }
        guard let root else {
            throw JSONParser.SyntaxError(line: 1, column: 1, message: "the document is empty")
        }
        return try value(root)
    }

    private static func value(_ node: Node) throws(JSONParser.SyntaxError) -> ConfigValue {
        let line = node.mark?.line ?? 0
        let column = node.mark?.column ?? 0
        let kind: ConfigValue.Kind
        let tag: String
        switch node {
        case let .scalar(scalar):
            tag = scalar.tag.description
            kind = scalarKind(scalar, tag: tag)
        case let .sequence(sequence):
            tag = sequence.tag.description
            var items: [ConfigValue] = []
            for item in sequence { items.append(try value(item)) }
            kind = .array(items)
        case let .mapping(mapping):
            tag = mapping.tag.description
            var members: [(key: String, value: ConfigValue)] = []
            var seen: Set<String> = []
            for (keyNode, valueNode) in mapping {
                guard case let .scalar(key) = keyNode else {
                    throw JSONParser.SyntaxError(
                        line: keyNode.mark?.line ?? line, column: keyNode.mark?.column ?? column,
                        message: "a mapping key must be a plain string")
                }
                guard seen.insert(key.string).inserted else {
                    throw JSONParser.SyntaxError(
                        line: keyNode.mark?.line ?? line, column: keyNode.mark?.column ?? column,
                        message: "duplicate key \"\(key.string)\"")
                }
                members.append((key.string, try value(valueNode)))
            }
            kind = .object(members)
        case let .alias(alias):
            // Yams resolves aliases while composing; one that survives names no anchor.
            throw JSONParser.SyntaxError(line: line, column: column, message: "alias *\(alias.anchor) names no anchor")
        }
        let parsed = ConfigValue(kind, line: line, column: column)
        if let function = intrinsicFunctionName(tag: tag) {
            return ConfigValue(.object([(function, parsed)]), line: line, column: column)
        }
        return parsed
    }

    /// `!Ref` is `Ref`, `!Condition` is `Condition`, any other `!Name` is `Fn::Name`; YAML's own
    /// `!!type` tags and the non-specific `!` are not functions.
    private static func intrinsicFunctionName(tag: String) -> String? {
        guard tag.hasPrefix("!"), tag.count > 1, !tag.hasPrefix("!!") else { return nil }
        let name = String(tag.dropFirst())
        return name == "Ref" || name == "Condition" ? name : "Fn::" + name
    }

    private static func scalarKind(_ scalar: Node.Scalar, tag: String) -> ConfigValue.Kind {
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

    /// YAML 1.2 core schema decimals: `-12`, `3.5`, `1e3`, `012` (kept as written).
    private static func isNumber(_ text: String) -> Bool {
        text.wholeMatch(of: /[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?/) != nil
    }

    private static func syntaxError(_ error: YamlError, in text: String) -> JSONParser.SyntaxError {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            if problem.hasPrefix("Maximum nesting level reached") {
                // libyaml's own bound (1000 levels), met before checkLimits sees an event.
                return JSONParser.SyntaxError(line: mark.line, column: mark.column, message: "nesting deeper than \(DocumentReader.maximumDepth) levels")
            }
            let while_ = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return JSONParser.SyntaxError(line: mark.line, column: mark.column, message: problem + while_)
        case let .duplicatedKeysInMapping(duplicates, context):
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
