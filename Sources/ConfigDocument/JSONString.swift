/// Appends `text` as a JSON string (RFC 8259): quotes, backslashes and control characters
/// escaped, everything else (slashes, non-ASCII) as written, so paths read as they are. DEL,
/// the C1 controls (U+0080 to U+009F: U+009B is CSI, which some terminals obey) and the line
/// separators U+2028 and U+2029 are escaped too (`\u009b`), as RFC 8259 allows for any
/// character: JSON printed on a terminal can then no more drive it than text can.
public func appendJSONString(_ text: String, to bytes: inout [UInt8]) {
    bytes.append(UInt8(ascii: "\""))
    let utf8 = text.utf8
    // 0xC2 leads U+0080 to U+00BF, 0xE2 leads U+2000 to U+2FFF: only then can a scalar of those
    // ranges be there, and the slower walk by scalars is taken.
    if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 == 0x7F || $0 == 0xC2 || $0 == 0xE2 }) {
        bytes.append(contentsOf: utf8)
    } else {
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": bytes.append(contentsOf: "\\\"".utf8)
            case "\\": bytes.append(contentsOf: "\\\\".utf8)
            case "\n": bytes.append(contentsOf: "\\n".utf8)
            case "\r": bytes.append(contentsOf: "\\r".utf8)
            case "\t": bytes.append(contentsOf: "\\t".utf8)
            case _ where scalar.isControlOrLineSeparator:
                let hex = String(scalar.value, radix: 16)
                bytes.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
            default: UTF8.encode(scalar) { bytes.append($0) }
            }
        }
    }
    bytes.append(UInt8(ascii: "\""))
}

/// `text` as a JSON string; see `appendJSONString`.
public func jsonString(_ text: String) -> String {
    var bytes: [UInt8] = []
    appendJSONString(text, to: &bytes)
    return String(decoding: bytes, as: UTF8.self)
}
