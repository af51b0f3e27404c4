import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The rules that keep an export from destroying what it should not touch: what a path may be
/// before a regular file is moved onto it, and which leftovers of killed runs may be removed.
package enum OutputSafety {
    /// Why a regular file must not be moved onto `path`, or nil when it may (it does not
    /// exist, or it is a regular file, or a link to one, that is none of `protected`).
    static func refusal(toReplace path: String, protecting protected: [ProtectedFile]) -> String? {
        var link = stat()
        guard SystemCalls.lstat(path, &link) == 0 else { return nil }
        var target = link
        let isLink = link.st_mode & S_IFMT == S_IFLNK
        if isLink && SystemCalls.stat(path, &target) != 0 {
            return nil  // a dangling link: replacing it loses nothing but the link
        }
        let through = isLink ? " (through a symbolic link)" : ""
        let identity = FileIdentity(device: UInt64(target.st_dev), inode: UInt64(target.st_ino))
        if let source = protected.first(where: { $0.identity == identity }) {
            let how = isLink ? through : (source.path == path ? "" : " (a hard link to it)")
            guard source.isSource else { return "is the input \(source.path)\(how); no command replaces what it reads" }
            return "is the source \(source.path)\(how); an export never replaces what it reads"
        }
        switch target.st_mode & S_IFMT {
        case S_IFREG:
            return nil
        case S_IFDIR:
            return "is a directory\(through); expected the path of a file"
        case S_IFBLK:
            return "is a block device\(through); pass --to-device to write the image onto it (what it holds is lost)"
        case let type:
            return
                "is \(fileTypeName(type))\(through); imgship writes an output as a regular file and never replaces a device node, FIFO or socket (use -o - to write to a stream)"
        }
    }

    /// A path as the folder's real path plus the last component, so two spellings of one
    /// location compare equal even before the file exists.
    static func location(_ path: String) -> String {
        let (folder, name) = splitPath(path)
        return (SystemCalls.realPath(folder) ?? folder) + "/" + name
    }

    /// Takes `descriptor`'s advisory lock without waiting: true when it was free.
    static func tryLock(_ descriptor: Int32) -> Bool {
        while true {
            if SystemCalls.flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return true }
            if errno != EINTR { return false }
        }
    }

    /// True for `.NAME.imgship-XXXX`, the name `StagedFile` gives its temporary files.
    static func isTemporaryName(_ name: String) -> Bool {
        guard name.hasPrefix("."), let marker = name.range(of: ".imgship-", options: .backwards),
            marker.lowerBound > name.index(after: name.startIndex)
        else { return false }
        let suffix = name[marker.upperBound...]
        return !suffix.isEmpty && suffix.allSatisfy(\.isHexDigit)
    }

    /// The final name a temporary name stands for: `.disk.vmdk.imgship-3fa2` -> `disk.vmdk`.
    static func finalName(ofTemporary name: String) -> String? {
        guard isTemporaryName(name), let marker = name.range(of: ".imgship-", options: .backwards) else { return nil }
        return String(name[name.index(after: name.startIndex)..<marker.lowerBound])
    }

    /// Removes the temporary files of killed runs in `folder`: `.NAME.imgship-XXXX` regular
    /// files of this user whose lock is free (a live writer holds its file's lock for the whole
    /// time it has that name). A manifest still under its temporary name while its output
    /// stands alone is kept: it completes that pair (see `PendingManifest`). Returns the
    /// names removed.
    @discardableResult
    package static func removeStaleTemporaries(in folder: String) -> [String] {
        var removed: [String] = []
        for name in SystemCalls.names(inFolder: folder) ?? [] {
            guard let final = finalName(ofTemporary: name) else { continue }
            if final.hasSuffix(".sha256") {
                let output = folder + "/" + String(final.dropLast(7))
                if SystemCalls.access(output, F_OK) == 0 && SystemCalls.access(folder + "/" + final, F_OK) != 0 { continue }
            }
            let path = folder + "/" + name
            guard let held = lockIfStale(path) else { continue }
            if SystemCalls.unlink(path) == 0 { removed.append(name) }
            SystemCalls.close(held)
        }
        return removed
    }

    /// Opens `path` and takes its lock when it is a stale temporary file: a regular file of
    /// this user, not a link, lock free, and still the file at that name once locked. The
    /// caller closes the returned descriptor (which releases the lock).
    static func lockIfStale(_ path: String) -> Int32? {
        let fd = SystemCalls.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var opened = stat()
        var named = stat()
        guard SystemCalls.fstat(fd, &opened) == 0, opened.st_mode & S_IFMT == S_IFREG, opened.st_uid == SystemCalls.effectiveUser(),
            tryLock(fd), SystemCalls.lstat(path, &named) == 0, named.st_dev == opened.st_dev, named.st_ino == opened.st_ino
        else {
            SystemCalls.close(fd)
            return nil
        }
        return fd
    }
}

/// A file an export reads, which no output or manifest may replace.
struct ProtectedFile: Sendable {
    var path: String
    var identity: FileIdentity
    /// An export's source; false for another input of a command (a configuration, a job file).
    var isSource = true

    /// The file at `path` as it is now (links followed), as an input other than a source;
    /// nil when nothing is there (standard input `-` included).
    init?(input path: String) {
        var info = stat()
        guard path != "-", SystemCalls.stat(path, &info) == 0 else { return nil }
        self.init(path: path, identity: FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)), isSource: false)
    }

    init(path: String, identity: FileIdentity, isSource: Bool = true) {
        self.path = path
        self.identity = identity
        self.isSource = isSource
    }
}

/// A manifest left under its temporary name by an export killed between moving its output
/// into place and moving the manifest after it: the one state in which an output stands
/// without its manifest. Readers of a pair finish the move when the manifest matches.
package enum PendingManifest {
    /// The temporary files of `manifest` whose writer is gone, oldest first.
    package static func find(for manifest: String) -> [String] {
        let (folder, name) = splitPath(manifest)
        var found: [(String, Int)] = []
        for entryName in SystemCalls.names(inFolder: folder) ?? [] {
            guard OutputSafety.finalName(ofTemporary: entryName) == name else { continue }
            let path = folder + "/" + entryName
            guard let fd = OutputSafety.lockIfStale(path) else { continue }
            var info = stat()
            _ = SystemCalls.fstat(fd, &info)
            SystemCalls.close(fd)
            found.append((path, info.st_mtim.tv_sec))
        }
        return found.sorted { $0.1 < $1.1 }.map(\.0)
    }

    /// Moves the pending manifest of `manifest` that gives `digest` for `name` into place
    /// (never over a manifest that appeared meanwhile). Returns the temporary path used, nil
    /// when none matches; `mismatched` gets the digests the others give.
    static func complete(_ manifest: String, digest: String, name: String, mismatched: inout [String]) -> String? {
        for path in find(for: manifest) {
            guard let fd = OutputSafety.lockIfStale(path) else { continue }
            defer { SystemCalls.close(fd) }
            var info = stat()
            guard SystemCalls.fstat(fd, &info) == 0, info.st_size <= 1 << 16 else { continue }
            var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
            let count = bytes.withUnsafeMutableBytes { SystemCalls.pread(fd, $0.baseAddress, $0.count, 0) }
            guard count == bytes.count else { continue }
            let lines = ManifestLine.parse(String(decoding: bytes, as: UTF8.self))
            let entry = lines.first { $0.name == name || $0.name.hasSuffix("/" + name) } ?? (lines.count == 1 ? lines[0] : nil)
            guard let entry, entry.digest == digest else {
                mismatched.append(entry?.digest ?? "nothing for \(name)")
                continue
            }
            do throws(DiskImageError) {
                guard try moveWithoutReplacing(path, to: manifest) else { return nil }
            } catch {
                continue
            }
            syncFolder(of: manifest)
            return path
        }
        return nil
    }
}

/// One `DIGEST  NAME` line of a sha256sum file.
struct ManifestLine {
    var digest: String
    var name: String

    static func parse(_ text: String) -> [ManifestLine] {
        text.split(separator: "\n").compactMap { line -> ManifestLine? in
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 64 else { return nil }
            var listed = String(parts[1])
            if listed.hasPrefix(" ") || listed.hasPrefix("*") { listed.removeFirst() }
            return ManifestLine(digest: String(parts[0]).lowercased(), name: listed)
        }
    }
}
