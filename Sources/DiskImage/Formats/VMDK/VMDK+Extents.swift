#if canImport(Glibc)
import Glibc
#endif

/// Where the extents a VMDK text descriptor names may come from, and how they are opened.
///
/// A descriptor is a few lines of text that anyone can write, and imgship often runs as root:
/// left alone, `RW 2 FLAT "/etc/shadow" 0` would export that file (the class of OpenStack's
/// CVE-2024-32498). So an extent must be a regular file in the descriptor's own folder (after
/// symbolic links), or a member of the same archive for a descriptor inside an OVA.
enum ExtentSource {
    /// Files beside the descriptor at `descriptorPath`. `allowExternal` lets a name leave the
    /// folder (an absolute path, `..`, a link pointing out), for the user's own files; the
    /// file must still be a regular file.
    case folder(descriptorPath: String, allowExternal: Bool)
    /// Members of the archive `archive` (an OVA) that holds the descriptor, and nothing else.
    case archive(SourceImage, members: [OVA.Archive.Member])
    /// None: the descriptor was read from a stream (standard input, a FIFO), which has no
    /// folder its names could be relative to.
    case none

    /// Opens the extent file `name` named on `line` of `descriptor`.
    func open(_ name: String, line: Int, descriptor: String) throws(DiskImageError) -> SourceImage {
        func refused(_ reason: String) -> DiskImageError {
            .refusedExtent(descriptor: descriptor, line: line, extent: name, reason: reason)
        }
        guard !name.isEmpty, !name.utf8.contains(0) else { throw refused("is not a file name") }
        switch self {
        case let .archive(archive, members):
            guard let member = members.first(where: { $0.name == name }) else {
                throw refused("is not a member of \(archive.path); expected a file of the same archive, as a descriptor inside an OVA may name nothing else")
            }
            return try SourceImage(member: member.offset..<(member.offset + member.size), of: archive, name: member.name)
        case .none:
            throw refused("cannot be read: the descriptor came from a stream, which has no folder; export the descriptor file beside its extents instead")
        case let .folder(descriptorPath, allowExternal):
            return try openInFolder(name, descriptorPath: descriptorPath, allowExternal: allowExternal, refused: refused)
        }
    }

    private func openInFolder(
        _ name: String, descriptorPath: String, allowExternal: Bool,
        refused: (String) -> DiskImageError
    ) throws(DiskImageError) -> SourceImage {
        let optIn = "pass --allow-external-extents to read a file of your own outside it"
        // "disk.vmdk" -> "", "images/disk.vmdk" -> "images/", as names were always joined.
        let folder = descriptorPath.lastIndex(of: "/").map { String(descriptorPath[...$0]) } ?? ""
        let folderPath = folder.isEmpty ? "." : folder
        guard let realFolder = SystemCalls.realPath(folderPath) else {
            throw DiskImageError.system(call: "realpath", path: folderPath, errno: errno)
        }
        if name.hasPrefix("/") && !allowExternal {
            throw refused("is an absolute path; expected a file in the descriptor's folder \(realFolder) (\(optIn))")
        }
        let candidate = name.hasPrefix("/") ? name : folder + name
        guard let resolved = SystemCalls.realPath(candidate) else {
            let code = errno
            throw refused("cannot be opened: \(String(cString: strerror(code))) (errno \(code))")
        }
        func inside(_ path: String) -> Bool {
            realFolder == "/" || path.hasPrefix(realFolder + "/")
        }
        if !allowExternal && !inside(resolved) {
            throw refused("resolves to \(resolved), outside the descriptor's folder \(realFolder); expected a file in that folder (\(optIn))")
        }
        // The resolved path has no link left in it: O_NOFOLLOW fails if its last part became
        // one since. O_NONBLOCK: opening a FIFO must not wait for a writer.
        let fd = SystemCalls.open(resolved, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        if fd < 0 {
            let code = errno
            throw refused(
                code == ELOOP
                    ? "became a symbolic link while it was opened"
                    : "cannot be opened: \(String(cString: strerror(code))) (errno \(code))")
        }
        // What was opened, not what the path said a moment before, decides.
        var info = stat()
        guard SystemCalls.fstat(fd, &info) == 0 else {
            let code = errno
            SystemCalls.close(fd)
            throw DiskImageError.system(call: "fstat", path: resolved, errno: code)
        }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else {
            SystemCalls.close(fd)
            throw refused("is \(fileTypeName(type)); expected a regular file")
        }
        if !allowExternal, let opened = SystemCalls.realPath("/proc/self/fd/\(fd)"), !inside(opened) {
            SystemCalls.close(fd)
            throw refused("resolves to \(opened), outside the descriptor's folder \(realFolder); expected a file in that folder (\(optIn))")
        }
        let flags = SystemCalls.fcntl(fd, F_GETFL)
        if flags >= 0 { _ = SystemCalls.fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        return try SourceImage(descriptor: fd, path: candidate)
    }
}

/// The parts of the files a descriptor's extents read, each of which may be read once.
///
/// One file named on many lines (or overlapping ranges of one file) would let a descriptor
/// of a few hundred bytes stand for the same stored data many times over. Each claim is
/// checked as it is made, before the extent's tables are loaded, so naming one sparse file a
/// thousand times never loads it twice.
struct ExtentClaims {
    private struct Claim {
        var range: Range<UInt64>
        var line: Int
    }

    let descriptor: String
    /// One file's claims in offset order (binary search: a split disk has thousands); a
    /// class, so inserting never copies the list out of the dictionary and back.
    private final class Claims {
        var list: [Claim] = []
    }

    private var files: [FileIdentity: Claims] = [:]

    init(descriptor: String) {
        self.descriptor = descriptor
    }

    /// Records that the extent `name` on `line` reads `range` of `file` (offsets in its
    /// image; nil: all of it, as a SPARSE extent does), or throws when an earlier line reads
    /// any of those bytes.
    mutating func add(_ file: SourceImage, _ range: Range<UInt64>?, extent name: String, line: Int) throws(DiskImageError) {
        let local = range ?? 0..<max(file.fileSize, 1)
        guard !local.isEmpty else { return }
        let absolute = (file.base + local.lowerBound)..<(file.base + local.upperBound)
        let claims = files[file.identity] ?? Claims()
        files[file.identity] = claims
        var low = 0
        var high = claims.list.count
        while low < high {
            let middle = (low + high) / 2
            if claims.list[middle].range.lowerBound < absolute.lowerBound { low = middle + 1 } else { high = middle }
        }
        for neighbour in [low - 1, low] where claims.list.indices.contains(neighbour) && claims.list[neighbour].range.overlaps(absolute) {
            throw DiskImageError.refusedExtent(
                descriptor: descriptor, line: line, extent: name,
                reason:
                    "reads bytes of \(file.path) that the extent on line \(claims.list[neighbour].line) already reads; a descriptor names each part of a file once"
            )
        }
        claims.list.insert(Claim(range: absolute, line: line), at: low)
    }
}
