/// A JSON document to print, with its object keys in the order given: machine output
/// (`--json`) is built as values and written once, never concatenated by hand, and never
/// depends on a dictionary's order.
public indirect enum JSONOutput: Sendable {
    case string(String)
    case integer(Int)
    case unsigned(UInt64)
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
}
