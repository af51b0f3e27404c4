#if canImport(Glibc)
import Glibc
#endif

/// A file's device and inode numbers, which tell whether two open files are one.
struct FileIdentity: Hashable, Comparable {
    var device: UInt64
    var inode: UInt64

    static func < (a: FileIdentity, b: FileIdentity) -> Bool {
        (a.device, a.inode) < (b.device, b.inode)
    }
}

/// A local file opened for reading: a raw image (a regular file, sparse or not, or a block
/// device), or the container file a format reader reads its structures from.
///
/// Reads are positional (`pread`), so any number of workers share one descriptor.
/// Holes are found with `SEEK_DATA`/`SEEK_HOLE` one window at a time, so no map of the whole
/// file is ever held in memory.
final class SourceImage: VirtualDisk {
    /// The path as the user gave it, for messages.
    let path: String
    /// Size in bytes: the file's, or less when a format keeps its disk in a prefix of the file
    /// (a fixed VHD's footer follows the disk).
    let size: UInt64
    /// The file's own size.
    let fileSize: UInt64
    /// Bytes the file occupies on disk (its allocated blocks).
    let allocatedBytes: UInt64
    /// True for a block device, which has no holes to ask about.
    let isBlockDevice: Bool
    let descriptor: Int32
    let supportsHoleQueries: Bool
    /// Where the image starts in the file: 0, or a member's offset inside an archive (OVA).
    let base: UInt64
    /// The file's device and inode: two paths (or two archive members) of one file share it.
    let identity: FileIdentity
    /// The path that was opened (an archive's for its members), to look the name up again:
    /// a source renamed over while it is read no longer has this file under it.
    let openedPath: String

    convenience init(path: String) throws(DiskImageError) {
        try self.init(path: path, diskSize: nil)
    }

    /// Opens `path`; `diskSize`, when given, limits the disk to the file's first bytes.
    convenience init(path: String, diskSize: UInt64?) throws(DiskImageError) {
        try self.init(path: path, diskSize: diskSize, member: nil)
    }

    private convenience init(path: String, diskSize: UInt64?, member: (range: Range<UInt64>, name: String)?) throws(DiskImageError) {
        // A source is read more than once (tables, then data; a dynamic VHD in two passes), so
        // a stream cannot be one. Say so instead of failing to open "-", or waiting forever
        // on a FIFO without a writer (O_NONBLOCK: the open returns at once; fstat refuses it).
        if path == "-" && SystemCalls.access(path, F_OK) != 0 {
            throw DiskImageError.unsupportedSource(path: "standard input", reason: Self.streamRefusal)
        }
        var info = stat()
        if SystemCalls.stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK {
            throw DiskImageError.unsupportedSource(path: path, reason: "is a socket; expected a raw image file or a block device")
        }
        let fd = try retryingInterrupts("open", path: path) { SystemCalls.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        try self.init(descriptor: fd, path: path, diskSize: diskSize, member: member)
    }

    /// Takes over `fd`, an open descriptor of `path` (closed here on error, by deinit after).
    convenience init(descriptor fd: Int32, path: String) throws(DiskImageError) {
        try self.init(descriptor: fd, path: path, diskSize: nil, member: nil)
    }

    /// Opens the `member` bytes of the open archive `archive` as an image of their own (a disk
    /// inside an OVA), through the archive's own descriptor, so the path is never looked up
    /// again; messages name it `appliance.ova:appliance.vmdk`.
    convenience init(member: Range<UInt64>, of archive: SourceImage, name: String) throws(DiskImageError) {
        let fd = try retryingInterrupts("fcntl(F_DUPFD_CLOEXEC)", path: archive.path) { SystemCalls.fcntl(archive.descriptor, F_DUPFD_CLOEXEC, 0) }
        let range = (archive.base + member.lowerBound)..<(archive.base + member.upperBound)
        try self.init(descriptor: fd, path: archive.openedPath, diskSize: nil, member: (range, archive.path + ":" + name))
    }

    /// The first `diskSize` bytes of `file`, through a duplicate of its descriptor (a fixed
    /// VHD's disk precedes its footer), so the path is never opened again.
    convenience init(prefixOf file: SourceImage, diskSize: UInt64) throws(DiskImageError) {
        let fd = try retryingInterrupts("fcntl(F_DUPFD_CLOEXEC)", path: file.path) { SystemCalls.fcntl(file.descriptor, F_DUPFD_CLOEXEC, 0) }
        if file.base == 0 && file.path == file.openedPath {
            try self.init(descriptor: fd, path: file.openedPath, diskSize: diskSize, member: nil)
        } else {
            try self.init(
                descriptor: fd, path: file.openedPath, diskSize: diskSize,
                member: (file.base..<(file.base + file.fileSize), file.path))
        }
    }

    private init(descriptor fd: Int32, path: String, diskSize: UInt64?, member: (range: Range<UInt64>, name: String)?) throws(DiskImageError) {
        self.path = member?.name ?? path
        self.openedPath = path
        var info = stat()
        if SystemCalls.fstat(fd, &info) != 0 {
            let code = errno
            SystemCalls.close(fd)
            throw DiskImageError.system(call: "fstat", path: path, errno: code)
        }
        let type = info.st_mode & S_IFMT
        let wholeSize: UInt64
        switch type {
        case S_IFREG:
            wholeSize = UInt64(info.st_size)
            self.isBlockDevice = false
        case S_IFBLK:
            // lseek to the end reports a block device's size without an ioctl.
            let end = SystemCalls.lseek(fd, 0, SEEK_END)
            if end < 0 {
                let code = errno
                SystemCalls.close(fd)
                throw DiskImageError.system(call: "lseek(SEEK_END)", path: path, errno: code)
            }
            wholeSize = UInt64(end)
            self.isBlockDevice = true
        case S_IFDIR:
            SystemCalls.close(fd)
            throw DiskImageError.unsupportedSource(path: path, reason: "is a directory, expected a raw image file or a block device")
        case S_IFIFO:
            SystemCalls.close(fd)
            throw DiskImageError.unsupportedSource(path: path, reason: "is a FIFO; " + Self.streamRefusal)
        default:
            SystemCalls.close(fd)
            throw DiskImageError.unsupportedSource(path: path, reason: "is \(fileTypeName(type)); expected a raw image file or a block device")
        }
        let flags = SystemCalls.fcntl(fd, F_GETFL)
        if flags >= 0 && flags & O_NONBLOCK != 0 { _ = SystemCalls.fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        if let member {
            guard member.range.upperBound <= wholeSize else {
                SystemCalls.close(fd)
                throw DiskImageError.malformedImage(
                    path: path, offset: member.range.lowerBound,
                    reason: "\(member.name) runs past the end of the file (\(wholeSize) bytes)")
            }
            self.fileSize = UInt64(member.range.count)
        } else {
            self.fileSize = wholeSize
        }
        self.base = member?.range.lowerBound ?? 0
        self.size = min(diskSize ?? fileSize, fileSize)
        self.allocatedBytes = UInt64(info.st_blocks) * 512
        self.identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        self.descriptor = fd
        // Some filesystems answer SEEK_DATA with EINVAL; then everything counts as data.
        // ENXIO means "no data at all", which is an answer too.
        if isBlockDevice {
            self.supportsHoleQueries = false
        } else {
            self.supportsHoleQueries = SystemCalls.lseek(fd, 0, SEEK_DATA) >= 0 || errno == ENXIO
        }
    }

    deinit {
        SystemCalls.close(descriptor)
    }

    static let streamRefusal =
        "imgship reads a source more than once (its tables, then its data), so it reads regular files and block devices only: save the stream to a file first"

    /// True when the bytes `range` (offsets in this image) are stored in the file, with no
    /// hole: a table a reader is about to load must be. Unknown (no hole queries, a block
    /// device) counts as stored.
    func isStored(_ range: Range<UInt64>) -> Bool {
        guard supportsHoleQueries, !range.isEmpty else { return true }
        var position = range.lowerBound
        while position < range.upperBound {
            let data = SystemCalls.lseek(descriptor, off_t(base + position), SEEK_DATA)
            if data < 0 { return errno != ENXIO }
            guard UInt64(data) - base <= position else { return false }
            let hole = SystemCalls.lseek(descriptor, data, SEEK_HOLE)
            if hole < 0 { return true }
            position = UInt64(hole) - base
        }
        return true
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
            let found = SystemCalls.lseek(descriptor, off_t(base + position), SEEK_DATA)
            let dataStart = found < 0 ? found : found - off_t(base)
            if dataStart < 0 {
                if errno == ENXIO { break }  // no data after position
                throw DiskImageError.system(call: "lseek(SEEK_DATA)", path: path, errno: errno)
            }
            if UInt64(dataStart) >= end { break }
            let foundHole = SystemCalls.lseek(descriptor, dataStart + off_t(base), SEEK_HOLE)
            if foundHole < 0 {
                throw DiskImageError.system(call: "lseek(SEEK_HOLE)", path: path, errno: errno)
            }
            let holeStart = foundHole - off_t(base)
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
        let found = SystemCalls.lseek(descriptor, off_t(base + offset), SEEK_DATA)
        if found < 0 { return errno == ENXIO ? nil : offset }  // on other errors, read and see
        let next = UInt64(found) - base
        return next < size ? next : nil
    }

    /// Reads `buffer.count` bytes at `offset`; running into the end of file is an error.
    func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskImageError) {
        // A member's end is not the file's: what follows it belongs to the archive.
        if base != 0, offset > fileSize || UInt64(buffer.count) > fileSize - offset {
            throw DiskImageError.sourceChanged(path: path, offset: min(offset, fileSize), reason: "unexpected end of the archive member")
        }
        var done = 0
        while done < buffer.count {
            let count = try retryingInterrupts("pread", path: path) {
                // swift-format-ignore: NeverForceUnwrap
                SystemCalls.pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(base + offset) + off_t(done))
            }
            if count == 0 {
                throw DiskImageError.sourceChanged(
                    path: path, offset: offset + UInt64(done),
                    reason: "unexpected end of file; the file is shorter than its structures say, or shrank while it was read")
            }
            done += count
        }
    }
}
