#if canImport(Glibc)
import Glibc
#endif

/// What identifies a source file's contents without reading them: the numbers `stat` gives.
/// Recorded beside a job's outputs (see `Exporter.Sidecar`) so a rerun can tell whether the
/// source is still the one an output was made from.
public struct SourceStatus: Sendable, Equatable, Codable {
    /// The path the export was given.
    public var path: String
    public var size: UInt64
    /// Modification time, seconds and nanoseconds since the epoch.
    public var modificationSeconds: Int64
    public var modificationNanoseconds: Int64
    public var changeSeconds: Int64
    public var changeNanoseconds: Int64
    public var device: UInt64
    public var inode: UInt64
    public var isRegularFile: Bool

    package init(path: String, _ info: stat, size: UInt64? = nil) {
        self.path = path
        self.size = size ?? UInt64(max(0, info.st_size))
        modificationSeconds = Int64(info.st_mtim.tv_sec)
        modificationNanoseconds = Int64(info.st_mtim.tv_nsec)
        changeSeconds = Int64(info.st_ctim.tv_sec)
        changeNanoseconds = Int64(info.st_ctim.tv_nsec)
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        isRegularFile = info.st_mode & S_IFMT == S_IFREG
    }

    /// `path`'s status as `stat` sees it now (following links); nil when it cannot be read.
    static func current(_ path: String) -> SourceStatus? {
        var info = stat()
        guard SystemCalls.stat(path, &info) == 0 else { return nil }
        return SourceStatus(path: path, info)
    }

    /// How `now` differs from `self`, in words, or nil when it does not. Only the size counts
    /// for a block device: its node's times say nothing of its contents.
    func change(to now: SourceStatus) -> String? {
        var changes: [String] = []
        if now.size != size { changes.append("size \(size) -> \(now.size) bytes") }
        guard isRegularFile else { return changes.isEmpty ? nil : changes.joined(separator: ", ") }
        if (now.device, now.inode) != (device, inode) {
            changes.append("inode \(inode) -> \(now.inode): another file now has its name")
        }
        if (now.modificationSeconds, now.modificationNanoseconds) != (modificationSeconds, modificationNanoseconds) {
            changes.append(
                "modification time \(Self.time(modificationSeconds, modificationNanoseconds)) -> \(Self.time(now.modificationSeconds, now.modificationNanoseconds))"
            )
        } else if (now.changeSeconds, now.changeNanoseconds) != (changeSeconds, changeNanoseconds) {
            changes.append("status change time \(Self.time(changeSeconds, changeNanoseconds)) -> \(Self.time(now.changeSeconds, now.changeNanoseconds))")
        }
        return changes.isEmpty ? nil : changes.joined(separator: ", ")
    }

    static func time(_ seconds: Int64, _ nanoseconds: Int64) -> String {
        let fraction = String(nanoseconds)
        return "\(seconds).\(String(repeating: "0", count: max(0, 9 - fraction.count)) + fraction)"
    }
}

/// The source files of one export, as they were when it started: compared again at the end,
/// so a source that shrank, grew, was written to or renamed over while it was read fails the
/// export instead of yielding an output that mixes old data, new data and zeros.
struct SourceWatch {
    private var watched: [(file: SourceImage, status: SourceStatus)] = []
    /// False when the files were not opened by a name (standard input, a staged stream).
    private let checksNames: Bool

    init(_ files: [SourceImage], checksNames: Bool = true) {
        self.checksNames = checksNames
        for file in files {
            if let status = Self.status(of: file) { watched.append((file, status)) }
        }
    }

    /// The status of the first file, the one the export was asked to read.
    var primary: SourceStatus? { watched.first?.status }

    static func status(of file: SourceImage) -> SourceStatus? {
        var info = stat()
        guard SystemCalls.fstat(file.descriptor, &info) == 0 else { return nil }
        let size: UInt64? = info.st_mode & S_IFMT == S_IFBLK ? UInt64(max(0, SystemCalls.lseek(file.descriptor, 0, SEEK_END))) : nil
        return SourceStatus(path: file.openedPath, info, size: size)
    }

    /// Throws `.sourceModified` naming the first file that changed and how.
    func check() throws(DiskImageError) {
        for (file, before) in watched {
            guard var now = Self.status(of: file) else { continue }
            if before.isRegularFile && checksNames {
                // The open file may be unchanged while another file took its name.
                var named = stat()
                guard SystemCalls.stat(file.openedPath, &named) == 0 else {
                    throw DiskImageError.sourceModified(path: file.path, change: "its name was removed")
                }
                now.device = UInt64(named.st_dev)
                now.inode = UInt64(named.st_ino)
            }
            if let change = before.change(to: now) {
                throw DiskImageError.sourceModified(path: file.path, change: change)
            }
        }
    }

    /// The files an opened image reads: the one opened, and a descriptor's extent files.
    static func files(of opened: OpenedImage, main: SourceImage) -> [SourceImage] {
        var files = [main]
        var seen: Set<FileIdentity> = [main.identity]
        func add(_ disk: (any VirtualDisk)?) {
            switch disk {
            case let file as SourceImage: if seen.insert(file.identity).inserted { files.append(file) }
            case let flat as FlatExtent: add(flat.file)
            case let sparse as VMDK.SparseDisk: add(sparse.file)
            case let concatenated as ConcatenatedDisk: for part in concatenated.parts { add(part.disk) }
            default: break
            }
        }
        add(opened.disk)
        return files
    }
}
