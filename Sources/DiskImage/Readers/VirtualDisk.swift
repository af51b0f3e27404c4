/// A disk as the writers see it: its virtual bytes and where they may be non-zero. A raw file
/// is one; so is a VHD, VMDK or qcow2 read through its tables.
///
/// Implementations are immutable after opening, so workers call them concurrently.
public protocol VirtualDisk: AnyObject, Sendable {
    /// The path as the user gave it, for messages.
    var path: String { get }
    /// The virtual size in bytes.
    var size: UInt64 { get }
    /// The ranges of `window` (virtual offsets, in order) that may hold non-zero bytes;
    /// everything else reads as zeros. Past the end counts as zeros.
    func dataRanges(in window: Range<UInt64>) throws(DiskImageError) -> [Range<UInt64>]
    /// The first offset at or after `offset` that may hold data; nil when only zeros follow.
    func nextDataOffset(from offset: UInt64) -> UInt64?
    /// Reads the virtual bytes at `offset`, which lie inside the disk.
    func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskImageError)
}

extension VirtualDisk {
    /// Reads the data ranges of `window` (which may run past the end of the source) into
    /// `buffer` and returns them, relative to the window start.
    ///
    /// Holes are zeroed only inside the units of `granularity` bytes (counted from the window
    /// start) that also hold data: the caller looks only at such units, and zeroing the rest
    /// of a mostly empty window would be wasted work.
    @discardableResult
    func read(
        _ window: Range<UInt64>, into buffer: UnsafeMutableRawBufferPointer,
        zeroingHolesWithin granularity: Int
    ) throws(DiskImageError) -> [Range<Int>] {
        precondition(UInt64(buffer.count) >= UInt64(window.count))
        let ranges = try dataRanges(in: window)
        let windowLength = Int(window.count)
        var relative: [Range<Int>] = []
        relative.reserveCapacity(ranges.count)
        var gapStart = 0
        for range in ranges {
            let start = Int(range.lowerBound - window.lowerBound)
            let length = Int(range.count)
            zeroGap(buffer, gapStart..<start, granularity: granularity, dataFollows: true)
            try readExactly(into: UnsafeMutableRawBufferPointer(rebasing: buffer[start..<(start + length)]), at: range.lowerBound)
            relative.append(start..<(start + length))
            gapStart = start + length
        }
        if !relative.isEmpty {
            zeroGap(buffer, gapStart..<windowLength, granularity: granularity, dataFollows: false)
        } else if granularity >= windowLength {
            // The caller uses the whole window whatever it holds.
            UnsafeMutableRawBufferPointer(rebasing: buffer[0..<windowLength]).initializeMemory(as: UInt8.self, repeating: 0)
        }
        return relative
    }

    /// Zeroes the parts of a hole that share a unit with the data before or after it.
    private func zeroGap(_ buffer: UnsafeMutableRawBufferPointer, _ gap: Range<Int>, granularity: Int, dataFollows: Bool) {
        guard !gap.isEmpty else { return }
        let afterData = gap.lowerBound..<min(gap.upperBound, roundUp(gap.lowerBound, toMultipleOf: granularity))
        let beforeData = dataFollows ? max(gap.lowerBound, gap.upperBound / granularity * granularity)..<gap.upperBound : gap.upperBound..<gap.upperBound
        for part in [afterData, beforeData] where !part.isEmpty {
            UnsafeMutableRawBufferPointer(rebasing: buffer[part]).initializeMemory(as: UInt8.self, repeating: 0)
        }
    }

}
