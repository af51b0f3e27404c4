// libyaml, as the C target Yams builds it. Yams' public API composes a whole node tree first
// (ten to sixteen times the text at its peak: a tag object, a mark and an optional anchor on
// every node), and its event API is internal; the model is built here from libyaml's events,
// so the only tree made is the model itself. CYaml is not a product of Yams: it is importable
// because SwiftPM hands every C module a dependency builds to the targets above it.
import CYaml

extension YAMLReader {
    /// A line and column as libyaml counts them (in Unicode scalars), 1-based.
    struct Position: Equatable {
        var line: Int
        var column: Int

        init(_ mark: yaml_mark_t) {
            line = Int(mark.line) + 1
            column = Int(mark.column) + 1
        }
    }

    /// One libyaml event, its strings copied out.
    struct Event {
        enum Kind {
            case streamStart, streamEnd, documentStart, documentEnd
            case alias(anchor: String)
            case scalar(Scalar)
            case sequenceStart(CollectionStart)
            case sequenceEnd
            case mappingStart(CollectionStart)
            case mappingEnd
        }

        struct Scalar {
            var text: String
            /// The tag as Yams gives it: a quoted scalar without one is `tag:yaml.org,2002:str`,
            /// a plain one without one has "" (to be resolved from its text).
            var tag: String
            var isPlain: Bool
            var anchor: String?
        }

        struct CollectionStart {
            /// The tag written, "" for none.
            var tag: String
            var anchor: String?
        }

        var kind: Kind
        var position: Position
    }

    /// libyaml's parser over UTF-8 bytes that outlive it, read one event at a time.
    final class EventStream {
        private let parser: UnsafeMutablePointer<yaml_parser_t>
        private let bytes: UnsafeBufferPointer<UInt8>
        /// yaml_parser_initialize fails only when malloc does; `next()` then says so.
        private let initialized: Bool

        init(_ bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
            parser = .allocate(capacity: 1)
            parser.initialize(to: yaml_parser_t())
            initialized = yaml_parser_initialize(parser) == 1
            yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(parser, bytes.baseAddress, bytes.count)
        }

        deinit {
            yaml_parser_delete(parser)
            parser.deallocate()
        }

        func next() throws(JSONParser.SyntaxError) -> Event {
            guard initialized else { throw Self.outOfMemory }
            var event = yaml_event_t()
            guard yaml_parser_parse(parser, &event) == 1 else { throw error() }
            defer { yaml_event_delete(&event) }
            let position = Position(event.start_mark)
            switch event.type {
            case YAML_STREAM_START_EVENT: return Event(kind: .streamStart, position: position)
            case YAML_DOCUMENT_START_EVENT: return Event(kind: .documentStart, position: position)
            case YAML_DOCUMENT_END_EVENT: return Event(kind: .documentEnd, position: position)
            case YAML_ALIAS_EVENT: return Event(kind: .alias(anchor: Self.string(event.data.alias.anchor) ?? ""), position: position)
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                // A scalar may hold U+0000 (`"\0"`), so its length, not a terminator, ends it.
                let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                let tag = scalar.quoted_implicit == 1 ? "tag:yaml.org,2002:str" : Self.string(scalar.tag) ?? ""
                return Event(
                    kind: .scalar(Event.Scalar(text: text, tag: tag, isPlain: scalar.style == YAML_PLAIN_SCALAR_STYLE, anchor: Self.string(scalar.anchor))),
                    position: position)
            case YAML_SEQUENCE_START_EVENT:
                let start = event.data.sequence_start
                let tag = start.implicit != 0 ? "" : Self.string(start.tag) ?? ""
                return Event(kind: .sequenceStart(Event.CollectionStart(tag: tag, anchor: Self.string(start.anchor))), position: position)
            case YAML_SEQUENCE_END_EVENT: return Event(kind: .sequenceEnd, position: position)
            case YAML_MAPPING_START_EVENT:
                let start = event.data.mapping_start
                let tag = start.implicit != 0 ? "" : Self.string(start.tag) ?? ""
                return Event(kind: .mappingStart(Event.CollectionStart(tag: tag, anchor: Self.string(start.anchor))), position: position)
            case YAML_MAPPING_END_EVENT: return Event(kind: .mappingEnd, position: position)
            case YAML_STREAM_END_EVENT: return Event(kind: .streamEnd, position: position)
            default:
                // YAML_NO_EVENT: libyaml gives it only when it could not start.
                throw JSONParser.SyntaxError(line: position.line, column: position.column, message: "libyaml gave no event")
            }
        }

        private static let outOfMemory = JSONParser.SyntaxError(line: 1, column: 1, message: "libyaml could not allocate memory")

        private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: $0) }
        }

        /// The parser's error in the words and at the position libyaml gives, its context after
        /// the problem as Yams words it: `problem (context at line L, column C)`.
        private func error() -> JSONParser.SyntaxError {
            let state = parser.pointee
            let problem = state.problem.map { String(cString: $0) } ?? "libyaml stopped without saying why"
            switch state.error {
            case YAML_SCANNER_ERROR, YAML_PARSER_ERROR:
                let at = Position(state.problem_mark)
                if problem.hasPrefix("Maximum nesting level reached") {
                    // libyaml's own bound (1000 levels), met while it looks ahead of the events.
                    return JSONParser.SyntaxError(line: at.line, column: at.column, message: "nesting deeper than \(DocumentReader.maximumDepth) levels")
                }
                let context = state.context.map { text in
                    let mark = Position(state.context_mark)
                    return " (\(String(cString: text)) at line \(mark.line), column \(mark.column))"
                }
                return JSONParser.SyntaxError(line: at.line, column: at.column, message: problem + (context ?? ""))
            case YAML_READER_ERROR:
                let at = position(ofByte: Int(state.problem_offset))
                return JSONParser.SyntaxError(line: at.line, column: at.column, message: problem)
            case YAML_MEMORY_ERROR:
                return Self.outOfMemory
            default:
                return JSONParser.SyntaxError(line: 1, column: 1, message: problem)
            }
        }

        /// Line and column of byte `offset`, counted as libyaml counts them, for the few errors
        /// (a control character) it reports by offset: a character a column; a line ends at
        /// LF, CR, CR LF (one), NEL, LS or PS (reader.c, scanner.c `SKIP_LINE`).
        private func position(ofByte offset: Int) -> (line: Int, column: Int) {
            var line = 1
            var column = 1
            let end = min(max(0, offset), bytes.count)
            var index = 0
            while index < end {
                let byte = bytes[index]
                let next = index + 1 < bytes.count ? bytes[index + 1] : 0
                let third = index + 2 < bytes.count ? bytes[index + 2] : 0
                var breakLength = 0
                if byte == 0x0A || (byte == 0x0D && next != 0x0A) {
                    breakLength = 1
                } else if byte == 0x0D {
                    breakLength = 2
                } else if byte == 0xC2 && next == 0x85 {
                    breakLength = 2
                } else if byte == 0xE2 && next == 0x80 && (third == 0xA8 || third == 0xA9) {
                    breakLength = 3
                }
                if breakLength > 0 {
                    line += 1
                    column = 1
                    index += breakLength
                    continue
                }
                if byte & 0xC0 != 0x80 { column += 1 }
                index += 1
            }
            return (line, column)
        }
    }
}
