// libyaml's event stream is walked once for the limits before any value is built, so an
// expanding alias is stopped before it costs anything.
internal import CYaml

extension YAMLReader {
    /// How many nodes aliases may add to a document, counted as the aliases expand: a
    /// configuration reuses a few blocks, while nine levels of nine aliases ("billion laughs",
    /// a few hundred bytes) would make 10^9.
    public static let aliasNodeBudget = 100_000

    /// Walks libyaml's events for `text` and refuses, with the position of the alias or
    /// collection at fault, a document whose aliases would expand past `aliasNodeBudget` nodes
    /// or whose nesting, aliases expanded, is deeper than `DocumentReader.maximumDepth`.
    /// Syntax errors are left to the composer, which reports them.
    static func checkLimits(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParser.SyntaxError) {
        // libyaml asserts its input is not NULL; an empty document has nothing to count.
        guard !buffer.isEmpty else { return }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw JSONParser.SyntaxError(line: 1, column: 1, message: "cannot start the YAML parser (out of memory)")
        }
        defer { yaml_parser_delete(&parser) }
        let outcome: JSONParser.SyntaxError? = {
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var walk = LimitWalk()
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { return nil }
                if let problem = walk.take(event) { return problem }
            }
        }()
        if let outcome { throw outcome }
    }

    /// The sizes the walk keeps: the nodes and height of each anchored node, aliases inside it
    /// expanded, and of each collection still open.
    private struct LimitWalk {
        struct Size {
            var nodes = 1
            var height = 1
        }
        struct Open {
            var anchor: String?
            var contents = Size(nodes: 0, height: 0)
        }
        var anchors: [String: Size] = [:]
        var open: [Open] = []
        var expanded = 0

        mutating func take(_ event: yaml_event_t) -> JSONParser.SyntaxError? {
            let line = Int(event.start_mark.line) + 1
            let column = Int(event.start_mark.column) + 1
            switch event.type {
            case YAML_DOCUMENT_START_EVENT:
                anchors = [:]
            case YAML_SCALAR_EVENT:
                add(Size(), anchor: name(event.data.scalar.anchor))
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let anchor = event.type == YAML_SEQUENCE_START_EVENT ? event.data.sequence_start.anchor : event.data.mapping_start.anchor
                open.append(Open(anchor: name(anchor)))
                if open.count > DocumentReader.maximumDepth {
                    return JSONParser.SyntaxError(line: line, column: column, message: "nesting deeper than \(DocumentReader.maximumDepth) levels")
                }
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let closed = open.popLast() else { break }
                add(Size(nodes: closed.contents.nodes + 1, height: closed.contents.height + 1), anchor: closed.anchor)
            case YAML_ALIAS_EVENT:
                // An alias naming no anchor is the composer's to report.
                guard let anchor = name(event.data.alias.anchor), let size = anchors[anchor] else { break }
                expanded += size.nodes
                if expanded > YAMLReader.aliasNodeBudget {
                    return JSONParser.SyntaxError(
                        line: line, column: column,
                        message:
                            "alias *\(anchor) takes the nodes aliases add to the document to \(expanded), more than the \(YAMLReader.aliasNodeBudget) allowed (each alias is a copy of its anchor's \(size.nodes == 1 ? "node" : "\(size.nodes) nodes"))"
                    )
                }
                if open.count + size.height > DocumentReader.maximumDepth {
                    return JSONParser.SyntaxError(
                        line: line, column: column,
                        message: "alias *\(anchor) makes the nesting deeper than \(DocumentReader.maximumDepth) levels")
                }
                add(size, anchor: nil)
            default:
                break
            }
            return nil
        }

        /// A complete node: counted in the collection holding it, and remembered under its anchor.
        private mutating func add(_ size: Size, anchor: String?) {
            if let anchor { anchors[anchor] = size }
            guard !open.isEmpty else { return }
            open[open.count - 1].contents.nodes += size.nodes
            open[open.count - 1].contents.height = max(open[open.count - 1].contents.height, size.height)
        }

        private func name(_ anchor: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            anchor.map { String(cString: $0) }
        }
    }
}
