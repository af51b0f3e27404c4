// libyaml's event stream is read directly: Yams's composed tree (a class per tag, a mark and an
// enum box per node, hashed mapping keys) costs about twenty times the document, while
// building the values from the events costs what the values do (SECURITY.md).
internal import CYaml

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
/// An expanded alias shares its anchor's storage, so it costs one value, not a copy.
public enum YAMLReader {
    public static func parse(_ text: String) throws(JSONParser.SyntaxError) -> ConfigValue {
        // libyaml asserts its input is not NULL; an empty document has nothing to read.
        guard !text.isEmpty else {
            throw JSONParser.SyntaxError(line: 1, column: 1, message: "the document is empty")
        }
        var text = text
        text.makeContiguousUTF8()
        let read = { (buffer: UnsafeBufferPointer<UInt8>) -> Result<ConfigValue, JSONParser.SyntaxError> in
            do throws(JSONParser.SyntaxError) {
                try checkLimits(buffer)
                guard let composer = EventComposer(text: text) else {
                    throw JSONParser.SyntaxError(line: 1, column: 1, message: "cannot start the YAML parser (out of memory)")
                }
                return .success(try composer.document(buffer))
            } catch {
                return .failure(error)
            }
        }
        return try (text.utf8.withContiguousStorageIfAvailable(read) ?? Array(text.utf8).withUnsafeBufferPointer(read)).get()
    }

    /// Builds values from libyaml's events, in the order and with the messages and positions
    /// of Yams's composer, which the reader used before (single document, undefined alias,
    /// duplicate keys checked when a mapping ends).
    private final class EventComposer {
        /// A class member, so its address is stable: libyaml keeps a pointer to it.
        private var parser = yaml_parser_t()
        private var anchors: [String: ConfigValue] = [:]
        /// Anchored scalars' text as written, for an alias used as a mapping key.
        private var anchoredKeyText: [String: String] = [:]
        /// Mapping keys met so far: one storage for a key however many objects repeat it.
        private var keys: Set<String> = []
        private let text: String

        init?(text: String) {
            self.text = text
            guard yaml_parser_initialize(&parser) == 1 else { return nil }
        }

        deinit { yaml_parser_delete(&parser) }

        /// One event, freed with libyaml's `yaml_event_delete` when the last reference goes.
        private final class Event {
            var event = yaml_event_t()
            deinit { yaml_event_delete(&event) }
            var type: yaml_event_type_t { event.type }
            var line: Int { Int(event.start_mark.line) + 1 }
            var column: Int { Int(event.start_mark.column) + 1 }
        }

        private func next() throws(JSONParser.SyntaxError) -> Event {
            let event = Event()
            guard yaml_parser_parse(&parser, &event.event) == 1 else { throw parserError() }
            return event
        }

        func document(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParser.SyntaxError) -> ConfigValue {
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            _ = try next()  // stream start
            guard try next().type != YAML_STREAM_END_EVENT else {
                throw JSONParser.SyntaxError(line: 1, column: 1, message: "the document is empty")
            }
            let root = try value(try next())
            _ = try next()  // document end
            let after = try next()
            if after.type != YAML_STREAM_END_EVENT {
                throw JSONParser.SyntaxError(
                    line: after.line, column: after.column,
                    message: "but found another document (expected a single document in the stream at line 1, column 1)")
            }
            return root
        }

        private func value(_ event: Event) throws(JSONParser.SyntaxError) -> ConfigValue {
            let line = event.line
            let column = event.column
            let kind: ConfigValue.Kind
            let tag: String
            let anchor: String?
            switch event.type {
            case YAML_ALIAS_EVENT:
                guard let name = Self.string(event.event.data.alias.anchor), let value = anchors[name] else {
                    throw JSONParser.SyntaxError(line: line, column: column, message: "found undefined alias")
                }
                return value
            case YAML_SCALAR_EVENT:
                let scalar = event.event.data.scalar
                tag = scalar.quoted_implicit == 1 ? "tag:yaml.org,2002:str" : Self.string(scalar.tag) ?? ""
                anchor = Self.string(scalar.anchor)
                let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                kind = YAMLReader.scalarKind(text, plain: scalar.style == YAML_PLAIN_SCALAR_STYLE, tag: tag)
                if let anchor { anchoredKeyText[anchor] = text }
            case YAML_SEQUENCE_START_EVENT:
                let start = event.event.data.sequence_start
                tag = start.implicit != 0 ? "" : Self.string(start.tag) ?? ""
                anchor = Self.string(start.anchor)
                var items: [ConfigValue] = []
                while true {
                    let item = try next()
                    if item.type == YAML_SEQUENCE_END_EVENT { break }
                    items.append(try value(item))
                }
                kind = .array(items)
            case YAML_MAPPING_START_EVENT:
                let start = event.event.data.mapping_start
                tag = start.implicit != 0 ? "" : Self.string(start.tag) ?? ""
                anchor = Self.string(start.anchor)
                kind = .object(try members())
            default:
                throw JSONParser.SyntaxError(line: line, column: column, message: "unexpected YAML event \(event.type.rawValue)")
            }
            var parsed = ConfigValue(kind, line: line, column: column)
            if let function = intrinsicFunctionName(tag: tag) {
                parsed = ConfigValue(.object([(function, parsed)]), line: line, column: column)
            }
            if let anchor { anchors[anchor] = parsed }
            return parsed
        }

        /// A mapping's members up to its end event; duplicate keys are refused once it ends,
        /// named in sorted order at the second occurrence of the first.
        private func members() throws(JSONParser.SyntaxError) -> [(key: String, value: ConfigValue)] {
            var members: [(key: String, value: ConfigValue)] = []
            var seen: [String: (line: Int, column: Int)] = [:]
            var duplicates: Set<String> = []
            while true {
                let keyEvent = try next()
                if keyEvent.type == YAML_MAPPING_END_EVENT { break }
                let key: String
                switch keyEvent.type {
                case YAML_SCALAR_EVENT:
                    let scalar = keyEvent.event.data.scalar
                    key = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                    if let anchor = Self.string(scalar.anchor) {
                        anchoredKeyText[anchor] = key
                        let tag = scalar.quoted_implicit == 1 ? "tag:yaml.org,2002:str" : Self.string(scalar.tag) ?? ""
                        let kind = YAMLReader.scalarKind(key, plain: scalar.style == YAML_PLAIN_SCALAR_STYLE, tag: tag)
                        anchors[anchor] = ConfigValue(kind, line: keyEvent.line, column: keyEvent.column)
                    }
                case YAML_ALIAS_EVENT:
                    guard let name = Self.string(keyEvent.event.data.alias.anchor), anchors[name] != nil else {
                        throw JSONParser.SyntaxError(line: keyEvent.line, column: keyEvent.column, message: "found undefined alias")
                    }
                    guard let text = anchoredKeyText[name] else {
                        throw JSONParser.SyntaxError(line: keyEvent.line, column: keyEvent.column, message: "a mapping key must be a plain string")
                    }
                    key = text
                default:
                    throw JSONParser.SyntaxError(line: keyEvent.line, column: keyEvent.column, message: "a mapping key must be a plain string")
                }
                let shared = keys.insert(key).memberAfterInsert
                if seen[shared] == nil {
                    seen[shared] = (keyEvent.line, keyEvent.column)
                } else {
                    duplicates.insert(shared)
                }
                members.append((shared, try value(try next())))
            }
            if let first = duplicates.min(), let mark = seen[first] {
                let (line, column) = YAMLReader.secondOccurrence(of: first, from: mark.line, in: text) ?? mark
                throw JSONParser.SyntaxError(
                    line: line, column: column, message: "duplicate key \(duplicates.sorted().map { "\"\($0)\"" }.joined(separator: ", "))")
            }
            return members
        }

        /// libyaml's scanner or parser error, worded as Yams worded it.
        private func parserError() -> JSONParser.SyntaxError {
            let problem = Self.string(parser.problem) ?? "unknown YAML error"
            let line = Int(parser.problem_mark.line) + 1
            let column = Int(parser.problem_mark.column) + 1
            switch parser.error {
            case YAML_SCANNER_ERROR, YAML_PARSER_ERROR, YAML_COMPOSER_ERROR:
                if problem.hasPrefix("Maximum nesting level reached") {
                    // libyaml's own bound (1000 levels), met before checkLimits sees an event.
                    return JSONParser.SyntaxError(line: line, column: column, message: "nesting deeper than \(DocumentReader.maximumDepth) levels")
                }
                let context = Self.string(parser.context).map {
                    " (\($0) at line \(Int(parser.context_mark.line) + 1), column \(Int(parser.context_mark.column) + 1))"
                }
                return JSONParser.SyntaxError(line: line, column: column, message: problem + (context ?? ""))
            case YAML_MEMORY_ERROR:
                return JSONParser.SyntaxError(line: 1, column: 1, message: "out of memory")
            default:
                return JSONParser.SyntaxError(line: 1, column: 1, message: problem)
            }
        }

        private static func string<Pointer>(_ pointer: UnsafeMutablePointer<Pointer>?) -> String? {
            pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
        }
        private static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
            pointer.map { String(cString: $0) }
        }
    }

    /// `!Ref` is `Ref`, `!Condition` is `Condition`, any other `!Name` is `Fn::Name`; YAML's own
    /// `!!type` tags and the non-specific `!` are not functions.
    static func intrinsicFunctionName(tag: String) -> String? {
        guard tag.hasPrefix("!"), tag.count > 1, !tag.hasPrefix("!!") else { return nil }
        let name = String(tag.dropFirst())
        return name == "Ref" || name == "Condition" ? name : "Fn::" + name
    }

    static func scalarKind(_ text: String, plain: Bool, tag: String) -> ConfigValue.Kind {
        switch tag {
        case "tag:yaml.org,2002:str": return .string(text)
        case "tag:yaml.org,2002:int", "tag:yaml.org,2002:float": return .number(text)
        case "tag:yaml.org,2002:bool": return .bool(["true", "True", "TRUE"].contains(text))
        case "tag:yaml.org,2002:null": return .null
        default: break
        }
        guard plain, tag.isEmpty else { return .string(text) }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: return isNumber(text) ? .number(text) : .string(text)
        }
    }

    /// Where `key:` starts a block mapping entry for the second time at or after `line`.
    static func secondOccurrence(of key: String, from line: Int, in text: String) -> (Int, Int)? {
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
    /// `[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?`, matched by hand: a regex a scalar costs
    /// seconds in a large document.
    static func isNumber(_ text: String) -> Bool {
        var bytes = text.utf8[...]
        func digits() -> Int {
            let count = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
            bytes = bytes.dropFirst(count)
            return count
        }
        if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        let whole = digits()
        var fraction = 0
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            fraction = digits()
        }
        guard whole > 0 || fraction > 0 else { return false }
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
            guard digits() > 0 else { return false }
        }
        return bytes.isEmpty
    }
}
