/// Explicit-endian integer stores into a byte array, for on-disk structures.
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
    func storeLittleEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for index in 0..<MemoryLayout<T>.size {
            self[offset + index] = UInt8(truncatingIfNeeded: value >> (index * 8))
        }
    }
}

/// Rounds `value` up to a multiple of `unit` (a power of two or not).
@inline(__always)
func roundUp<T: FixedWidthInteger>(_ value: T, toMultipleOf unit: T) -> T {
    (value + unit - 1) / unit * unit
}
