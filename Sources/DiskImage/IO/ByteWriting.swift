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

extension SourceImage {
    /// `count` bytes at `offset` of the file, or an error naming what was being read when the
    /// file ends first.
    func bytes(_ count: Int, at offset: UInt64, reading what: String) throws(DiskImageError) -> [UInt8] {
        guard offset <= fileSize, UInt64(count) <= fileSize - offset else {
            throw DiskImageError.malformedImage(path: path, offset: offset,
                                                reason: "\(what) (\(count) bytes) runs past the end of the file (\(fileSize) bytes)")
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
        defer { buffer.deallocate() }
        try readExactly(into: buffer, at: offset)
        return [UInt8](UnsafeRawBufferPointer(buffer))
    }

    /// Tables above 1 MiB must be stored bytes, not a hole of a sparse file: a hole reads as
    /// zeros and costs nothing on disk, so a few kilobytes could otherwise stand for a table of
    /// gigabytes in memory. A range past the end is left to `bytes` to report.
    func requireStored(_ offset: UInt64, length: UInt64, field: UInt64, what: String) throws(DiskImageError) {
        guard length > 1 << 20, offset <= fileSize, length <= fileSize - offset, !isStored(offset..<(offset + length)) else { return }
        throw DiskImageError.malformedImage(path: path, offset: field,
                                            reason: "\(what) (\(length) bytes at \(offset)) lies in a hole of the file; a table that large must be stored")
    }
}
