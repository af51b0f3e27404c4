/// Explicit-endian integer stores and loads in byte buffers, for on-disk structures: VHD and
/// qcow2 are big-endian, VMDK little-endian. Never a Swift struct's memory (its layout is not
/// guaranteed), never `load(as:)` of a structure: integers only, each in its stated byte order.
extension Array where Element == UInt8 {
    mutating func storeBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        let size = MemoryLayout<T>.size
        for index in 0..<size {
            self[offset + index] = UInt8(truncatingIfNeeded: value >> ((size - 1 - index) * 8))
        }
    }

    mutating func storeLittleEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for index in 0..<MemoryLayout<T>.size {
            self[offset + index] = UInt8(truncatingIfNeeded: value >> (index * 8))
        }
    }

    mutating func storeASCII(_ text: String, at offset: Int) {
        for (index, byte) in text.utf8.enumerated() {
            self[offset + index] = byte
        }
    }
}

extension UnsafeMutableRawBufferPointer {
    func storeBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        let size = MemoryLayout<T>.size
        for index in 0..<size {
            self[offset + index] = UInt8(truncatingIfNeeded: value >> ((size - 1 - index) * 8))
        }
    }

    func storeLittleEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for index in 0..<MemoryLayout<T>.size {
            self[offset + index] = UInt8(truncatingIfNeeded: value >> (index * 8))
        }
    }
}

extension Array where Element == UInt8 {
    // Loads read the integer's bytes as they lie and then put them in the stated byte order:
    // a table of millions of entries (a 64 TiB disk's) is read at memory speed even unoptimised,
    // where a byte-at-a-time loop took seconds a million entries in a debug build.

    /// The integer stored big-endian at `offset`; the caller has checked the bounds.
    func loadBigEndian<T: FixedWidthInteger>(_: T.Type = T.self, at offset: Int) -> T {
        precondition(offset >= 0 && offset <= count - MemoryLayout<T>.size, "a load past the end of the bytes")
        return withUnsafeBytes { T(bigEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    /// The integer stored little-endian at `offset`; the caller has checked the bounds.
    func loadLittleEndian<T: FixedWidthInteger>(_: T.Type = T.self, at offset: Int) -> T {
        precondition(offset >= 0 && offset <= count - MemoryLayout<T>.size, "a load past the end of the bytes")
        return withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
