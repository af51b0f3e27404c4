/// The checks every configuration and job file passes before it is parsed: strict UTF-8
/// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF, no truncated
/// sequence), no NUL byte, and no byte-order mark. Each refusal names the byte offset and its
/// line and column (1-based; the column counts bytes, as the JSON parser's do).
public enum DocumentText {
    /// The text of `bytes`, or the first thing wrong with them.
    public static func decode(_ bytes: [UInt8]) throws(Problem) -> String {
        try check(bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Refuses invalid UTF-8, NUL bytes and byte-order marks; see `DocumentText`.
    public static func check<Bytes: Collection>(_ bytes: Bytes) throws(Problem) where Bytes.Element == UInt8 {
        var iterator = bytes.makeIterator()
        var offset = 0
        var line = 1
        var lineStart = 0
        func refuse(_ message: String, at position: Int) -> Problem {
            var problem = Problem(.error, "", message)
            problem.line = line
            problem.column = position - lineStart + 1
            return problem
        }
        // A BOM is refused rather than skipped: a reader that keeps it would see it as text.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            throw refuse("the file starts with a UTF-8 byte-order mark (ef bb bf); save it as UTF-8 without a BOM", at: 0)
        }
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            throw refuse("the file starts with a UTF-16 byte-order mark (\(hex(Array(bytes.prefix(2))))); save it as UTF-8", at: 0)
        }
        while let byte = iterator.next() {
            let start = offset
            offset += 1
            if byte < 0x80 {
                if byte == 0x0A {
                    line += 1
                    lineStart = offset
                } else if byte == 0 {
                    throw refuse("NUL byte at offset \(start); a configuration file is text", at: start)
                }
                continue
            }
            // The length of the sequence and the range its second byte must lie in (RFC 3629, section 4).
            let length: Int
            var secondRange: ClosedRange<UInt8> = 0x80...0xBF
            switch byte {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; secondRange = 0xA0...0xBF
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; secondRange = 0x80...0x9F
            case 0xF0: length = 4; secondRange = 0x90...0xBF
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; secondRange = 0x80...0x8F
            default:
                throw refuse("invalid UTF-8: byte 0x\(hex([byte])) at offset \(start) cannot start a character", at: start)
            }
            var sequence = [byte]
            for position in 1..<length {
                guard let next = iterator.next() else {
                    throw refuse("invalid UTF-8: the file ends inside the character started by \(hex(sequence)) at offset \(start)", at: start)
                }
                offset += 1
                sequence.append(next)
                guard (position == 1 ? secondRange : 0x80...0xBF).contains(next) else {
                    throw refuse("invalid UTF-8: bytes \(hex(sequence)) at offset \(start) are not a character", at: start)
                }
            }
        }
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: " ")
    }
}
