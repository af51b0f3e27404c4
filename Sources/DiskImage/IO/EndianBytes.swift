/// Explicit-endian integer stores and loads in byte buffers, for on-disk structures: VHD and
/// qcow2 are big-endian, VMDK little-endian. Never a Swift struct's memory (its layout is not
/// guaranteed), never `load(as:)`.
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
    /// The integer stored big-endian at `offset`; the caller has checked the bounds.
    func loadBigEndian<T: FixedWidthInteger>(_: T.Type = T.self, at offset: Int) -> T {
        var value: T = 0
        for index in offset..<(offset + MemoryLayout<T>.size) { value = value << 8 | T(self[index]) }
        return value
    }

    /// The integer stored little-endian at `offset`; the caller has checked the bounds.
    func loadLittleEndian<T: FixedWidthInteger>(_: T.Type = T.self, at offset: Int) -> T {
        var value: T = 0
        for index in (offset..<(offset + MemoryLayout<T>.size)).reversed() { value = value << 8 | T(self[index]) }
        return value
    }
}
