/// A JSON document to print, with its object keys in the order given: machine output
/// (`--json`) is built as values and written once, never concatenated by hand, and never
/// depends on a dictionary's order.
public indirect enum JSONOutput: Sendable {
    case string(String)
    case integer(Int)
    case unsigned(UInt64)
    /// The shortest text that reads back as the same `Double` (Swift's `description`);
    /// `null` when not finite, which JSON cannot write.
    case number(Double)
    /// A number with exactly `places` decimals (`1.500`), for durations in reports.
    case decimal(Double, places: Int)
    case bool(Bool)
    case null
    case array([JSONOutput])
    /// Members in this order; a key should appear once.
    case object([(key: String, value: JSONOutput)])

    /// The document in compact form (no spaces, no newline), strings escaped as
    /// `appendJSONString` does.
    public func encoded() -> String {
        var bytes: [UInt8] = []
        append(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the compact form to `bytes`.
    public func append(to bytes: inout [UInt8]) {
        switch self {
        case let .string(text): appendJSONString(text, to: &bytes)
        case let .integer(number): bytes.append(contentsOf: String(number).utf8)
        case let .unsigned(number): bytes.append(contentsOf: String(number).utf8)
        case let .number(value):
            bytes.append(contentsOf: (value.isFinite ? value.description : "null").utf8)
        case let .decimal(value, places):
            bytes.append(contentsOf: (value.isFinite ? Self.fixed(value, places: places) : "null").utf8)
        case let .bool(value): bytes.append(contentsOf: (value ? "true" : "false").utf8)
        case .null: bytes.append(contentsOf: "null".utf8)
        case let .array(elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                element.append(to: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case let .object(members):
            bytes.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                appendJSONString(member.key, to: &bytes)
                bytes.append(UInt8(ascii: ":"))
                member.value.append(to: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// The document laid out for people: a list or object holding only scalars stays on one
    /// line (`["a", "b"]`, `{"level": "fast"}`), any other is broken over lines indented by
    /// two spaces a level; `": "` and `", "` separate. Ends with a newline. Job files and job
    /// reports are written this way, so one export is one line of a report.
    public func prettyEncoded() -> String {
        var bytes: [UInt8] = []
        appendPretty(to: &bytes, indent: 0)
        bytes.append(UInt8(ascii: "\n"))
        return String(decoding: bytes, as: UTF8.self)
    }

    private var isContainer: Bool {
        switch self {
        case .array, .object: true
        default: false
        }
    }

    private func appendPretty(to bytes: inout [UInt8], indent: Int) {
        let children: [(key: String?, value: JSONOutput)]
        let (open, close): (UInt8, UInt8)
        switch self {
        case let .array(elements):
            children = elements.map { (nil, $0) }
            (open, close) = (UInt8(ascii: "["), UInt8(ascii: "]"))
        case let .object(members):
            children = members.map { ($0.key, $0.value) }
            (open, close) = (UInt8(ascii: "{"), UInt8(ascii: "}"))
        default:
            return append(to: &bytes)
        }
        let breaks = children.contains { $0.value.isContainer }
        bytes.append(open)
        for (index, child) in children.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            if breaks {
                bytes.append(UInt8(ascii: "\n"))
                bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent + 2))
            } else if index > 0 {
                bytes.append(UInt8(ascii: " "))
            }
            if let key = child.key {
                appendJSONString(key, to: &bytes)
                bytes.append(contentsOf: ": ".utf8)
            }
            child.value.appendPretty(to: &bytes, indent: indent + 2)
        }
        if breaks {
            bytes.append(UInt8(ascii: "\n"))
            bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent))
        }
        bytes.append(close)
    }

    /// `value` rounded to `places` decimals, as C's `%.Nf` writes it, without Foundation.
    static func fixed(_ value: Double, places: Int) -> String {
        var scale = 1.0
        for _ in 0..<max(0, places) { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e18 else { return value.description }
        let units = UInt64(scaled)
        let whole = units / UInt64(scale)
        let fraction = String(units % UInt64(scale))
        let sign = value < 0 && units > 0 ? "-" : ""
        guard places > 0 else { return "\(sign)\(whole)" }
        return "\(sign)\(whole)." + String(repeating: "0", count: places - fraction.count) + fraction
    }
}
