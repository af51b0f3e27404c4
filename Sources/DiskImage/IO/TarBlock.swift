/// The parts of a 512-byte tar header block that every tar form shares (POSIX.1-1988 ustar,
/// and GNU tar's old GNU form, GNU tar manual "Basic Tar Format"): fields put at fixed offsets,
/// numbers in octal ASCII (or GNU base-256 when too large), and the header checksum. The OVA
/// writer and reader and the GCE writer and reader all build and check headers through it.
enum TarBlock {
    static let size = 512
    /// `chksum[8]` at 148: the sum of the header's bytes, this field counted as spaces.
    static let checksumField = 148..<156

    /// Copies `bytes` into `block` at `offset`.
    static func put(_ bytes: [UInt8], at offset: Int, in block: inout [UInt8]) {
        block.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
    }

    /// A numeric field of `width` bytes: zero-padded octal digits and a NUL, or, when the
    /// value needs more than `width - 1` digits, GNU base-256 (the first byte 0x80, the value
    /// big-endian in the last 8), which GNU tar, bsdtar and Python's tarfile read in every
    /// numeric field.
    static func number(_ value: UInt64, width: Int) -> [UInt8] {
        let digits = String(value, radix: 8)
        if digits.count < width {
            return Array((String(repeating: "0", count: width - 1 - digits.count) + digits).utf8) + [0]
        }
        var field = [UInt8](repeating: 0, count: width)
        field[0] = 0x80
        for index in 0..<min(8, width - 1) {
            field[width - 1 - index] = UInt8(truncatingIfNeeded: value >> UInt64(8 * index))
        }
        return field
    }

    /// Reads a numeric field: octal (leading spaces, then digits up to a NUL or space) or
    /// base-256; nil for anything else or a value above 2^63 - 1 (off_t).
    static func decodeNumber(_ field: ArraySlice<UInt8>) -> UInt64? {
        guard let first = field.first else { return nil }
        if first == 0x80 {
            let body = field.dropFirst()
            guard body.dropLast(8).allSatisfy({ $0 == 0 }) else { return nil }
            let value = body.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            return value <= UInt64(Int64.max) ? value : nil
        }
        let text = field.drop { $0 == 0x20 }.prefix { $0 != 0 && $0 != 0x20 }
        var value: UInt64 = 0
        for digit in text {
            guard (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(digit), value < 1 << 60 else { return nil }
            value = value * 8 + UInt64(digit - UInt8(ascii: "0"))
        }
        return value
    }

    /// The header's checksum: its bytes summed with the checksum field counted as 8 spaces.
    static func checksum(_ block: [UInt8]) -> UInt64 {
        var sum: UInt64 = 0
        for (index, byte) in block.enumerated() {
            sum += checksumField.contains(index) ? 0x20 : UInt64(byte)
        }
        return sum
    }

    /// Writes the checksum into a finished header: six octal digits, a NUL and a space, as
    /// GNU tar writes it.
    static func seal(_ block: inout [UInt8]) {
        put(number(checksum(block), width: 7) + [0x20], at: checksumField.lowerBound, in: &block)
    }

    /// Whether the header's stored checksum (octal) is the sum of its bytes.
    static func checksumMatches(_ block: [UInt8]) -> Bool {
        guard block.count == size, let stored = decodeNumber(block[checksumField]) else { return false }
        return stored == checksum(block)
    }
}
