/// Reads a YAML document (CloudFormation templates, `--cli-input-yaml`, job files) into the
/// same position-keeping values the JSON parser makes, event by event from libyaml
/// (`YAMLReader+Events.swift`): the model is the only tree made, a few times the text.
///
/// Plain scalars keep the text as written: `AccountId: 012345678901` is a number to YAML, but
/// the schema walk may accept it as the string the user meant, leading zero included.
/// CloudFormation's short-form tags (`!Ref X`, `!Sub "..."`) become the long form
/// (`{"Ref": "X"}`, `{"Fn::Sub": "..."}`) so they are reported like the JSON form.
///
/// Aliases are expanded, as the JSON form would spell them out, up to `aliasNodeBudget` nodes
/// a document, counted as they are met, so a few hundred bytes of nested aliases ("billion
/// laughs") stop at the alias past the budget; nesting is bounded by
/// `DocumentReader.maximumDepth`, an alias's nesting included. A stream holds one document.
public enum YAMLReader {
    /// How many nodes aliases may add to a document, counted as the aliases expand: a
    /// configuration reuses a few blocks, while nine levels of nine aliases ("billion laughs",
    /// a few hundred bytes) would make 10^9.
    public static let aliasNodeBudget = 100_000

    public static func parse(_ text: String) throws(JSONParser.SyntaxError) -> ConfigValue {
        var text = text
        // The events are read from the text's own UTF-8 storage: no copy of it is made.
        let outcome: Result<ConfigValue, JSONParser.SyntaxError> = text.withUTF8 { bytes in
            do throws(JSONParser.SyntaxError) {
                try checkDirectives(bytes)
                var builder = ModelBuilder(events: EventStream(bytes))
                return .success(try builder.document())
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    /// The most directives (`%TAG`, `%YAML`) a document may start with. libyaml compares each
    /// `%TAG` with every one before it, and each tag of the document with all of them: 120,000
    /// directives (1.8 MB) took 32 s. A configuration needs none.
    static let directiveLimit = 64

    /// Refuses a document that starts with more than `directiveLimit` directives, at the first
    /// one past the limit. Directives are the lines starting with `%` before the document:
    /// before its `---`, or its first line that is not a comment.
    static func checkDirectives(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONParser.SyntaxError) {
        var count = 0
        var line = 1
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let content = bytes[start..<end]
            if content.first == UInt8(ascii: "%") {
                count += 1
                if count > directiveLimit {
                    throw JSONParser.SyntaxError(
                        line: line, column: 1, message: "more than \(directiveLimit) directives (%TAG, %YAML) before the document; a configuration needs none")
                }
            } else if !content.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) && content.first != UInt8(ascii: "#") {
                return
            }
            line += 1
            start = end + 1
        }
    }

    /// Makes the model from the events: each node as its events end, an alias as a copy of its
    /// anchor's value (shared storage) counted against `aliasNodeBudget`.
    private struct ModelBuilder {
        /// A node as the collection holding it needs it: its value, its text when it is a
        /// scalar (a mapping key must be one), where it is, how many nodes it holds (aliases
        /// expanded, keys included) and how many levels deep it goes.
        struct Built {
            var value: ConfigValue
            var scalarText: String?
            var position: Position
            var nodes: Int
            var height: Int
            /// The height `ObjectMembers.Arena` files it under: a function tag's object (`!Ref`
            /// made `{"Ref": ...}`) is one more than the value it holds.
            var storedHeight: Int
        }

        let events: EventStream
        /// Each anchor's node, as far as the document has been read: an alias names the last
        /// node before it with that anchor, and never one still open around it.
        var anchors: [String: Built] = [:]
        /// The most distinct anchor names a document may have: a configuration names a few,
        /// and each one kept costs about 90 bytes (2.6 million in 15 MiB took 645 MB).
        static let anchorLimit = 100_000
        /// The nodes the aliases read so far added.
        var expanded = 0
        /// Where each mapping's members go when it ends.
        var arena = ObjectMembers.Arena()
        var sharedKeys = SharedKeys()

        init(events: EventStream) {
            self.events = events
        }

        /// The stream's one document.
        mutating func document() throws(JSONParser.SyntaxError) -> ConfigValue {
            _ = try events.next()  // the stream's start
            let start = try events.next()
            guard case .documentStart = start.kind else {
                throw JSONParser.SyntaxError(line: 1, column: 1, message: "the document is empty")
            }
            let root = try node(events.next(), depth: 0)
            _ = try events.next()  // the document's end
            let after = try events.next()
            if case .documentStart = after.kind {
                throw JSONParser.SyntaxError(
                    line: after.position.line, column: after.position.column,
                    message: "a second document starts here; a configuration is one YAML document")
            }
            return root.value
        }

        /// The node `event` starts, its events read to its end; `depth` collections are open
        /// around it.
        mutating func node(_ event: Event, depth: Int) throws(JSONParser.SyntaxError) -> Built {
            let position = event.position
            var built: Built
            let tag: String
            let anchor: String?
            switch event.kind {
            case let .alias(name):
                return try alias(name, at: position, depth: depth)
            case let .scalar(scalar):
                tag = scalar.tag
                anchor = scalar.anchor
                built = Built(
                    value: ConfigValue(YAMLReader.scalarKind(scalar), line: position.line, column: position.column), scalarText: scalar.text,
                    position: position, nodes: 1, height: 1, storedHeight: 0)
            case let .sequenceStart(start):
                tag = start.tag
                anchor = start.anchor
                try checkNesting(depth, at: position)
                var items: [ConfigValue] = []
                built = Built(value: ConfigValue(.null), position: position, nodes: 1, height: 1, storedHeight: 1)
                while true {
                    let next = try events.next()
                    if case .sequenceEnd = next.kind { break }
                    let item = try node(next, depth: depth + 1)
                    items.append(item.value)
                    add(item, to: &built)
                }
                built.value = ConfigValue(.array(items), line: position.line, column: position.column)
            case let .mappingStart(start):
                tag = start.tag
                anchor = start.anchor
                try checkNesting(depth, at: position)
                var members: ContiguousArray<ObjectMembers.Element> = []
                var seen: Set<String> = []
                built = Built(value: ConfigValue(.null), position: position, nodes: 1, height: 1, storedHeight: 1)
                while true {
                    let keyEvent = try events.next()
                    if case .mappingEnd = keyEvent.kind { break }
                    let key = try node(keyEvent, depth: depth + 1)
                    guard let text = key.scalarText else {
                        throw JSONParser.SyntaxError(line: key.position.line, column: key.position.column, message: "a mapping key must be a plain string")
                    }
                    guard seen.insert(text).inserted else {
                        throw JSONParser.SyntaxError(
                            line: keyEvent.position.line, column: keyEvent.position.column, message: "duplicate key \"\(text)\"")
                    }
                    let value = try node(events.next(), depth: depth + 1)
                    members.append((sharedKeys.shared(text), value.value))
                    add(key, to: &built)
                    add(value, to: &built)
                }
                built.value = ConfigValue(.object(arena.store(members, height: built.storedHeight)), line: position.line, column: position.column)
            default:
                throw JSONParser.SyntaxError(line: position.line, column: position.column, message: "expected a node")
            }
            if let function = YAMLReader.intrinsicFunctionName(tag: tag) {
                built.storedHeight += 1
                let wrapper = arena.store([(function, built.value)], height: built.storedHeight)
                built.value = ConfigValue(.object(wrapper), line: position.line, column: position.column)
            }
            if let anchor {
                if anchors[anchor] == nil && anchors.count >= Self.anchorLimit {
                    throw JSONParser.SyntaxError(
                        line: position.line, column: position.column,
                        message: "anchor &\(anchor) is past the \(Self.anchorLimit) distinct anchors a document may name")
                }
                anchors[anchor] = built
            }
            return built
        }

        /// The anchored node alias `*name` copies, once the nodes it adds and the depth it
        /// reaches are within the limits.
        mutating func alias(_ name: String, at position: Position, depth: Int) throws(JSONParser.SyntaxError) -> Built {
            guard let anchored = anchors[name] else {
                // Yams' composer words this error so.
                throw JSONParser.SyntaxError(line: position.line, column: position.column, message: "found undefined alias")
            }
            expanded += anchored.nodes
            if expanded > YAMLReader.aliasNodeBudget {
                throw JSONParser.SyntaxError(
                    line: position.line, column: position.column,
                    message:
                        "alias *\(name) takes the nodes aliases add to the document to \(expanded), more than the \(YAMLReader.aliasNodeBudget) allowed (each alias is a copy of its anchor's \(anchored.nodes == 1 ? "node" : "\(anchored.nodes) nodes"))"
                )
            }
            if depth + anchored.height > DocumentReader.maximumDepth {
                throw JSONParser.SyntaxError(
                    line: position.line, column: position.column,
                    message: "alias *\(name) makes the nesting deeper than \(DocumentReader.maximumDepth) levels")
            }
            return anchored
        }

        /// A collection opened inside `depth` others.
        func checkNesting(_ depth: Int, at position: Position) throws(JSONParser.SyntaxError) {
            guard depth + 1 > DocumentReader.maximumDepth else { return }
            throw JSONParser.SyntaxError(line: position.line, column: position.column, message: "nesting deeper than \(DocumentReader.maximumDepth) levels")
        }

        func add(_ child: Built, to parent: inout Built) {
            parent.nodes += child.nodes
            parent.height = max(parent.height, child.height + 1)
            parent.storedHeight = max(parent.storedHeight, child.storedHeight + 1)
        }
    }

    /// `!Ref` is `Ref`, `!Condition` is `Condition`, any other `!Name` is `Fn::Name`; YAML's own
    /// `!!type` tags and the non-specific `!` are not functions.
    static func intrinsicFunctionName(tag: String) -> String? {
        guard tag.hasPrefix("!"), tag.count > 1, !tag.hasPrefix("!!") else { return nil }
        let name = String(tag.dropFirst())
        return name == "Ref" || name == "Condition" ? name : "Fn::" + name
    }

    static func scalarKind(_ scalar: Event.Scalar) -> ConfigValue.Kind {
        let text = scalar.text
        let tag = scalar.tag
        switch tag {
        case "tag:yaml.org,2002:str": return .string(text)
        case "tag:yaml.org,2002:int", "tag:yaml.org,2002:float": return .number(text)
        case "tag:yaml.org,2002:bool": return .bool(["true", "True", "TRUE"].contains(text))
        case "tag:yaml.org,2002:null": return .null
        default: break
        }
        guard scalar.isPlain, tag.isEmpty else { return .string(text) }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: return isNumber(text) ? .number(text) : .string(text)
        }
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
}
