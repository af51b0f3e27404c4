#if canImport(Glibc)
import Glibc
#endif

/// A local raw image opened for reading: a regular file (sparse or not) or a block device.
///
/// Reads are positional (`pread`), so any number of workers share one descriptor.
/// Holes are found with `SEEK_DATA`/`SEEK_HOLE` one window at a time, so no map of the whole
/// file is ever held in memory.
public final class SourceImage: Sendable {
    /// The path as the user gave it, for messages.
    public let path: String
    /// Size in bytes.
    public let size: UInt64
    /// True for a block device, which has no holes to ask about.
    public let isBlockDevice: Bool
    let descriptor: Int32
    let supportsHoleQueries: Bool

    public init(path: String) throws(DiskImageError) {
        self.path = path
        let fd = try retryingInterrupts("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
        var info = stat()
        if fstat(fd, &info) != 0 {
            let code = errno
            close(fd)
            throw DiskImageError.system(call: "fstat", path: path, errno: code)
        }
        let type = info.st_mode & S_IFMT
        switch type {
        case S_IFREG:
            self.size = UInt64(info.st_size)
            self.isBlockDevice = false
        case S_IFBLK:
            // lseek to the end reports a block device's size without an ioctl.
            let end = lseek(fd, 0, SEEK_END)
            if end < 0 {
                let code = errno
                close(fd)
                throw DiskImageError.system(call: "lseek(SEEK_END)", path: path, errno: code)
            }
            self.size = UInt64(end)
            self.isBlockDevice = true
        case S_IFDIR:
            close(fd)
            throw DiskImageError.unsupportedSource(path: path, reason: "is a directory, expected a raw image file or a block device")
        default:
            close(fd)
            throw DiskImageError.unsupportedSource(path: path, reason: "is not a regular file or a block device")
        }
        self.descriptor = fd
        // Some filesystems answer SEEK_DATA with EINVAL; then everything counts as data.
        // ENXIO means "no data at all", which is an answer too.
        if isBlockDevice {
            self.supportsHoleQueries = false
        } else {
            self.supportsHoleQueries = lseek(fd, 0, SEEK_DATA) >= 0 || errno == ENXIO
        }
    }

    deinit {
        close(descriptor)
    }

    /// The data ranges (absolute offsets) that intersect `window`, in order. Anything else in
    /// the window is a hole and reads as zeros. Past the end of the source counts as a hole.
    func dataRanges(in window: Range<UInt64>) throws(DiskImageError) -> [Range<UInt64>] {
        let end = min(window.upperBound, size)
        guard window.lowerBound < end else { return [] }
        guard supportsHoleQueries else { return [window.lowerBound..<end] }
        var ranges: [Range<UInt64>] = []
        var position = window.lowerBound
        while position < end {
            let dataStart = lseek(descriptor, off_t(position), SEEK_DATA)
            if dataStart < 0 {
                if errno == ENXIO { break }  // no data after position
                throw DiskImageError.system(call: "lseek(SEEK_DATA)", path: path, errno: errno)
            }
            if UInt64(dataStart) >= end { break }
            let holeStart = lseek(descriptor, dataStart, SEEK_HOLE)
            if holeStart < 0 {
                throw DiskImageError.system(call: "lseek(SEEK_HOLE)", path: path, errno: errno)
            }
            let dataEnd = min(UInt64(holeStart), end)
            ranges.append(UInt64(dataStart)..<dataEnd)
            position = dataEnd
        }
        return ranges
    }

    /// The offset of the first data byte at or after `offset`, nil when only holes follow.
    /// Without hole support everything counts as data.
    func nextDataOffset(from offset: UInt64) -> UInt64? {
        guard offset < size else { return nil }
        guard supportsHoleQueries else { return offset }
        let found = lseek(descriptor, off_t(offset), SEEK_DATA)
        if found < 0 { return errno == ENXIO ? nil : offset }  // on other errors, read and see
        return UInt64(found)
    }

    /// Reads the data ranges of `window` (which may run past the end of the source) into
    /// `buffer` and returns them, relative to the window start.
    ///
    /// Holes are zeroed only inside the units of `granularity` bytes (counted from the window
    /// start) that also hold data: the caller looks only at such units, and zeroing the rest
    /// of a mostly empty window would be wasted work.
    @discardableResult
    func read(_ window: Range<UInt64>, into buffer: UnsafeMutableRawBufferPointer,
              zeroingHolesWithin granularity: Int) throws(DiskImageError) -> [Range<Int>] {
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

    /// Reads `buffer.count` bytes at `offset`; running into the end of file is an error.
    func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskImageError) {
        var done = 0
        while done < buffer.count {
            let count = try retryingInterrupts("pread", path: path) {
                pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            if count == 0 {
                throw DiskImageError.sourceChanged(path: path, offset: offset + UInt64(done),
                                                   reason: "unexpected end of file; the source shrank while it was read")
            }
            done += count
        }
    }
}
