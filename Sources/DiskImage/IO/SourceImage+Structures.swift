/// Reading a format's structures (headers, tables) from a source: whole, in bounds, and from
/// stored bytes.
extension SourceImage {
    /// `count` bytes at `offset` of the file, or an error naming what was being read when the
    /// file ends first.
    func bytes(_ count: Int, at offset: UInt64, reading what: String) throws(DiskImageError) -> [UInt8] {
        guard offset <= fileSize, UInt64(count) <= fileSize - offset else {
            throw DiskImageError.malformedImage(
                path: path, offset: offset,
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
        throw DiskImageError.malformedImage(
            path: path, offset: field,
            reason: "\(what) (\(length) bytes at \(offset)) lies in a hole of the file; a table that large must be stored")
    }
}

extension SourceImage {
    /// True when `range` of the file is a hole, known without reading it: a table there maps
    /// nothing. `known` carries the last hole found from one call to the next, so a run of
    /// tables in one hole (qemu leaves a new VMDK's grain tables so, 2^21 of them at 64 TiB)
    /// costs one query, not a read each.
    func isHole(_ range: Range<UInt64>, known: inout Range<UInt64>) -> Bool {
        guard !range.isEmpty else { return false }
        if known.lowerBound <= range.lowerBound && range.upperBound <= known.upperBound { return true }
        guard range.upperBound <= size else { return false }
        let next = nextDataOffset(from: range.lowerBound) ?? size
        known = range.lowerBound..<max(range.lowerBound, next)
        return next >= range.upperBound
    }
}

extension Array where Element == UInt8 {
    /// True when every byte of the array is zero (ISA-L's vectorised scan).
    var isAllZero: Bool {
        withUnsafeBytes { DiskImage.isAllZero($0) }
    }
}
