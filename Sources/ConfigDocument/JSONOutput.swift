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
    /// An array whose elements are made one at a time as they are written: a plan's 50,000
    /// tasks are never held as one tree only to be thrown away.
    case generated(count: Int, element: @Sendable (Int) -> JSONOutput)

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
        case let .generated(count, element):
            bytes.append(UInt8(ascii: "["))
            for index in 0..<count {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                element(index).append(to: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
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
        case .array, .object, .generated: true
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
        case let .generated(count, element):
            children = (0..<count).map { (nil, element($0)) }
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

extension JSONOutput {
    /// The document with every non-empty list and object broken over lines, two spaces a
    /// level, ending with a newline: the layout of plans, plan diffs and cost estimates, where
    /// each parameter gets a line a reviewer can point at.
    public func expandedEncoded() -> String {
        var writer = JSONWriter()
        writer.write(self, level: 0)
        writer.bytes.append(UInt8(ascii: "\n"))
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

/// Appends JSON in the expanded layout (`JSONOutput.expandedEncoded`) to one byte buffer. A
/// caller may also lay out the outer levels itself with `pad` and write the values under
/// them one at a time, so a document of 50,000 tasks is never built as one tree.
public struct JSONWriter {
    public var bytes: [UInt8] = []
    /// The indentation of each level, made once.
    private var pads: [[UInt8]] = [[]]

    public init() {}

    /// Two spaces for each of `level` levels.
    public mutating func pad(_ level: Int) {
        while pads.count <= level { pads.append(pads[pads.count - 1] + [0x20, 0x20]) }
        bytes.append(contentsOf: pads[level])
    }

    /// `value`, its first line at the current position and the rest indented for `level`.
    public mutating func write(_ value: JSONOutput, level: Int) {
        switch value {
        case let .array(elements) where !elements.isEmpty:
            bytes.append(contentsOf: "[\n".utf8)
            for (index, element) in elements.enumerated() {
                pad(level + 1)
                write(element, level: level + 1)
                bytes.append(contentsOf: (index + 1 == elements.count ? "\n" : ",\n").utf8)
            }
            pad(level)
            bytes.append(UInt8(ascii: "]"))
        case let .generated(count, element) where count > 0:
            bytes.append(contentsOf: "[\n".utf8)
            for index in 0..<count {
                pad(level + 1)
                write(element(index), level: level + 1)
                bytes.append(contentsOf: (index + 1 == count ? "\n" : ",\n").utf8)
            }
            pad(level)
            bytes.append(UInt8(ascii: "]"))
        case let .object(members) where !members.isEmpty:
            bytes.append(contentsOf: "{\n".utf8)
            for (index, member) in members.enumerated() {
                pad(level + 1)
                appendJSONString(member.key, to: &bytes)
                bytes.append(contentsOf: ": ".utf8)
                write(member.value, level: level + 1)
                bytes.append(contentsOf: (index + 1 == members.count ? "\n" : ",\n").utf8)
            }
            pad(level)
            bytes.append(UInt8(ascii: "}"))
        default:
            // Scalars, `[]` and `{}` as the compact form writes them.
            value.append(to: &bytes)
        }
    }
}
