/// A strict JSON parser (RFC 8259) that records each value's line and column and reports a
/// syntax error with the position it was found at.
public struct JSONParser {
    public struct SyntaxError: Error, Equatable {
        public var line: Int
        public var column: Int
        public var message: String
        /// The text is well formed as far as read, but larger than a document may be.
        public var isLimit = false

        public init(line: Int, column: Int, message: String, isLimit: Bool = false) {
            self.line = line
            self.column = column
            self.message = message
            self.isLimit = isLimit
        }
    }

    /// The text's own UTF-8 storage, read in place: a copy would cost the document's size
    /// again.
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var line = 1
    private var lineStart = 0
    private var depth = 0
    /// Each array's and object's element count, in the order they open (`containerSizes`), so
    /// each is allocated once at its size: grown by doubling, the values of a large array
    /// would cost up to three times themselves while it is read.
    private let sizes: [UInt32]
    /// What the model's objects and arrays will take (`containerSizes`).
    private let modelBytes: Int
    private var nextContainer = 0
    private var sharedKeys = SharedKeys()
    /// Where each object's members go when it closes.
    private var arena = ObjectMembers.Arena()
    /// The height of the value read last (`ObjectMembers.Arena`): 0 for a scalar, one more
    /// than its highest element for an object or an array.
    private var lastHeight = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        (sizes, modelBytes) = Self.containerSizes(bytes)
    }

    /// The number of elements of each array and object, in the order their brackets open,
    /// from one pass that skips strings and counts commas at each level. The counts only size
    /// allocations: on malformed text they may be wrong, and the parser reports the error.
    /// Counting stops past `DocumentReader.maximumDepth`, where the parser stops too. Also the
    /// bytes the model's objects and arrays will take: an object its 40-byte members (stored
    /// with other objects', `ObjectMembers.Arena`), an array one allocation (a 32-byte header,
    /// malloc's own 16 bytes) of 24-byte values (`ConfigValue`).
    private static func containerSizes(_ bytes: UnsafeBufferPointer<UInt8>) -> (sizes: [UInt32], modelBytes: Int) {
        var sizes: [UInt32] = []
        var modelBytes = 0
        // Per open container: its index in `sizes`, commas at its level, whether it holds
        // anything, whether it is an object.
        var open: [(index: Int, commas: UInt32, filled: Bool, isObject: Bool)] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D:
                continue
            case UInt8(ascii: "\""):
                while index < bytes.count && bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                index += 1
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                if !open.isEmpty { open[open.count - 1].filled = true }
                guard open.count < DocumentReader.maximumDepth else { return (sizes, modelBytes) }
                open.append((sizes.count, 0, false, byte == UInt8(ascii: "{")))
                sizes.append(0)
                continue
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                guard let closed = open.popLast() else { return (sizes, modelBytes) }
                let count = closed.filled ? closed.commas &+ 1 : 0
                sizes[closed.index] = count
                modelBytes &+= closed.isObject ? 40 &* Int(count) : 48 &+ 24 &* Int(count)
                continue
            case UInt8(ascii: ","):
                if !open.isEmpty { open[open.count - 1].commas &+= 1 }
                continue
            default:
                break
            }
            if !open.isEmpty { open[open.count - 1].filled = true }
        }
        return (sizes, modelBytes)
    }

    /// The element count `containerSizes` found for the container opening now.
    private mutating func takeSize() -> Int {
        defer { nextContainer += 1 }
        return nextContainer < sizes.count ? Int(sizes[nextContainer]) : 0
    }

    public static func parse(_ text: String) throws(SyntaxError) -> ConfigValue {
        var text = text
        text.makeContiguousUTF8()
        let parsed = text.utf8.withContiguousStorageIfAvailable { parse(bytes: $0) }
        return try (parsed ?? Array(text.utf8).withUnsafeBufferPointer { parse(bytes: $0) }).get()
    }

    private static func parse(bytes: UnsafeBufferPointer<UInt8>) -> Result<ConfigValue, SyntaxError> {
        var parser = JSONParser(bytes)
        do throws(SyntaxError) {
            if parser.modelBytes > DocumentReader.maximumModelBytes {
                throw SyntaxError(
                    line: 1, column: 1,
                    message:
                        "the document's \(parser.sizes.count) objects and lists would take \(parser.modelBytes >> 20) MiB of memory, more than the \(DocumentReader.maximumModelBytes >> 20) MiB a document may take",
                    isLimit: true)
            }
            parser.skipWhitespace()
            let value = try parser.parseValue()
            parser.skipWhitespace()
            if parser.index < parser.bytes.count {
                throw parser.error("unexpected \(parser.describeCurrent()) after the document's end")
            }
            return .success(value)
        } catch {
            return .failure(error)
        }
    }

    private var column: Int { index - lineStart + 1 }

    private func error(_ message: String) -> SyntaxError {
        SyntaxError(line: line, column: column, message: message)
    }

    private func describeCurrent() -> String {
        guard index < bytes.count else { return "end of input" }
        let byte = bytes[index]
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(UnicodeScalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16))"
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0D: index += 1
            case 0x0A:
                index += 1
                line += 1
                lineStart = index
            default: return
            }
        }
    }

    private mutating func parseValue() throws(SyntaxError) -> ConfigValue {
        guard index < bytes.count else { throw error("unexpected end of input, expected a value") }
        let startLine = line
        let startColumn = column
        let kind: ConfigValue.Kind
        // A scalar's; an object or an array sets its own.
        lastHeight = 0
        switch bytes[index] {
        case UInt8(ascii: "{"): kind = try parseObject()
        case UInt8(ascii: "["): kind = try parseArray()
        case UInt8(ascii: "\""): kind = .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); kind = .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); kind = .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); kind = .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): kind = .number(try parseNumber())
        default: throw error("unexpected \(describeCurrent()), expected a value")
        }
        return ConfigValue(kind, line: startLine, column: startColumn)
    }

    private mutating func expectWord(_ word: String) throws(SyntaxError) {
        for expected in word.utf8 {
            guard index < bytes.count, bytes[index] == expected else {
                throw error("unexpected \(describeCurrent()), expected '\(word)'")
            }
            index += 1
        }
    }

    private mutating func enter() throws(SyntaxError) {
        depth += 1
        if depth > DocumentReader.maximumDepth { throw error("nesting deeper than \(DocumentReader.maximumDepth) levels") }
    }

    private mutating func parseObject() throws(SyntaxError) -> ConfigValue.Kind {
        try enter()
        defer { depth -= 1 }
        index += 1
        var members: ContiguousArray<ObjectMembers.Element> = []
        members.reserveCapacity(takeSize())
        // The keys so far, so a duplicate is found in constant time whatever the object's size.
        var keys: Set<String> = []
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
            index += 1
            lastHeight = 1
            return .object(.empty)
        }
        var height = 0
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw error("unexpected \(describeCurrent()), expected a key in double quotes")
            }
            let keyLine = line
            let keyColumn = column
            let key = sharedKeys.shared(try parseString())
            guard keys.insert(key).inserted else {
                throw SyntaxError(line: keyLine, column: keyColumn, message: "duplicate key \"\(key)\"")
            }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw error("unexpected \(describeCurrent()), expected ':' after key \"\(key)\"")
            }
            index += 1
            skipWhitespace()
            members.append((key, try parseValue()))
            height = max(height, lastHeight)
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input, expected ',' or '}'") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                lastHeight = height + 1
                return .object(arena.store(members, height: height + 1))
            }
            throw error("unexpected \(describeCurrent()), expected ',' or '}'")
        }
    }

    private mutating func parseArray() throws(SyntaxError) -> ConfigValue.Kind {
        try enter()
        defer { depth -= 1 }
        index += 1
        var items: [ConfigValue] = []
        items.reserveCapacity(takeSize())
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
            index += 1
            lastHeight = 1
            return .array(items)
        }
        var height = 0
        while true {
            skipWhitespace()
            items.append(try parseValue())
            height = max(height, lastHeight)
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input, expected ',' or ']'") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                lastHeight = height + 1
                return .array(items)
            }
            throw error("unexpected \(describeCurrent()), expected ',' or ']'")
        }
    }

    private mutating func parseString() throws(SyntaxError) -> String {
        index += 1
        let start = index
        // Most strings hold no escape: made from the text's bytes at once.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<(index - 1)]), as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error("control character in a string; escape it") }
            index += 1
        }
        guard index < bytes.count else { throw error("unterminated string") }
        // The decoded string is no longer than its text up to the closing quote: reserved once,
        // as growing by doubling would cost up to twice a long string.
        var end = index
        while end < bytes.count && bytes[end] != UInt8(ascii: "\"") { end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1 }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(min(end, bytes.count) - start)
        decoded.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while true {
            guard index < bytes.count else { throw error("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: decoded, as: UTF8.self)
            }
            if byte < 0x20 { throw error("control character in a string; escape it") }
            index += 1
            if byte != UInt8(ascii: "\\") {
                decoded.append(byte)
                continue
            }
            guard index < bytes.count else { throw error("unterminated string") }
            let escape = bytes[index]
            index += 1
            let scalar: Unicode.Scalar
            switch escape {
            case UInt8(ascii: "\""): scalar = "\""
            case UInt8(ascii: "\\"): scalar = "\\"
            case UInt8(ascii: "/"): scalar = "/"
            case UInt8(ascii: "b"): scalar = "\u{08}"
            case UInt8(ascii: "f"): scalar = "\u{0C}"
            case UInt8(ascii: "n"): scalar = "\n"
            case UInt8(ascii: "r"): scalar = "\r"
            case UInt8(ascii: "t"): scalar = "\t"
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if (0xD800..<0xDC00).contains(code), index + 1 < bytes.count,
                    bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                {
                    index += 2
                    let low = try parseHex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let decodedScalar = UnicodeScalar(code) else { throw error("invalid \\u escape") }
                scalar = decodedScalar
            default:
                index -= 1
                throw error("invalid escape '\\\(Character(UnicodeScalar(escape)))'")
            }
            UTF8.encode(scalar) { decoded.append($0) }
        }
    }

    private mutating func parseHex4() throws(SyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard index < bytes.count, let digit = hexValue(bytes[index]) else { throw error("invalid \\u escape") }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    private mutating func parseNumber() throws(SyntaxError) -> String {
        let start = index
        func digits(_ parser: inout JSONParser) -> Int {
            let from = parser.index
            while parser.index < parser.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(parser.bytes[parser.index]) {
                parser.index += 1
            }
            return parser.index - from
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard digits(&self) > 0 else { throw error("invalid number") }
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { throw error("invalid number: digits expected after '.'") }
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
            guard digits(&self) > 0 else { throw error("invalid number: digits expected in the exponent") }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }
}
