#if canImport(Glibc)
import Glibc
#endif

/// The one place the DiskImage and ExportJob libraries call the kernel about files, as
/// swift-system's `FileDescriptor` is for its users: thin wrappers that keep the C names,
/// arguments and results (-1 with `errno` set on failure, see each call's man page), so a
/// caller reads as the C it replaces.
///
/// Each wrapper first asks whether a test planted a failure for it
/// (`SystemCalls+PlantedFailures.swift`): with none planted that is one relaxed atomic load,
/// nothing against the system call itself, and no dispatch through a table or existential.
package enum SystemCalls {
    /// The calls by name, to plant a failure for one of them.
    enum Call: String, Sendable, CaseIterable {
        case open, close, pread, pwrite, read, write, fsync, ftruncate, lseek, fstat, stat, lstat
        case fcntl, flock, poll, link, rename, unlink, access, mkdir, opendir, realpath, readlink
    }

    // MARK: Descriptors

    /// open(2); `mode` counts only with O_CREAT.
    package static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 {
        planted(.open, path: path) { Glibc.open(path, flags, mode) }
    }

    /// close(2).
    @discardableResult
    package static func close(_ descriptor: Int32) -> Int32 {
        planted(.close, descriptor: descriptor) { Glibc.close(descriptor) }
    }

    /// pread(2): reads at an absolute offset without moving the file position, so any number
    /// of threads share one descriptor.
    @inline(__always)
    package static func pread(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int, _ offset: off_t) -> Int {
        planted(.pread, descriptor: descriptor) { Glibc.pread(descriptor, buffer, count, offset) }
    }

    /// pwrite(2): writes at an absolute offset; safe from many threads on one descriptor.
    @inline(__always)
    package static func pwrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer?, _ count: Int, _ offset: off_t) -> Int {
        planted(.pwrite, descriptor: descriptor) { Glibc.pwrite(descriptor, buffer, count, offset) }
    }

    /// read(2), at and past the file position (streams).
    package static func read(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
        planted(.read, descriptor: descriptor) { Glibc.read(descriptor, buffer, count) }
    }

    /// write(2), at and past the file position (streams).
    @inline(__always)
    package static func write(_ descriptor: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
        planted(.write, descriptor: descriptor) { Glibc.write(descriptor, buffer, count) }
    }

    /// fsync(2): data and metadata on stable storage (of a folder: the names in it).
    static func fsync(_ descriptor: Int32) -> Int32 {
        planted(.fsync, descriptor: descriptor) { Glibc.fsync(descriptor) }
    }

    /// posix_fadvise(2): advice about a range of a file; `POSIX_FADV_DONTNEED` starts its
    /// writeback on Linux. Returns an error number (0 on success), not -1.
    static func fadvise(_ descriptor: Int32, _ offset: off_t, _ length: off_t, _ advice: Int32) -> Int32 {
        Glibc.posix_fadvise(descriptor, offset, length, advice)
    }

    /// ftruncate(2): sets the length; growing leaves a hole.
    package static func ftruncate(_ descriptor: Int32, _ length: off_t) -> Int32 {
        planted(.ftruncate, descriptor: descriptor) { Glibc.ftruncate(descriptor, length) }
    }

    /// lseek(2), including `SEEK_DATA` and `SEEK_HOLE` (Linux 3.1+).
    static func lseek(_ descriptor: Int32, _ offset: off_t, _ whence: Int32) -> off_t {
        planted(.lseek, descriptor: descriptor) { Glibc.lseek(descriptor, offset, whence) }
    }

    /// fstat(2).
    package static func fstat(_ descriptor: Int32, _ info: inout Glibc.stat) -> Int32 {
        planted(.fstat, descriptor: descriptor) { Glibc.fstat(descriptor, &info) }
    }

    /// fcntl(2) with no argument (F_GETFL).
    static func fcntl(_ descriptor: Int32, _ command: Int32) -> Int32 {
        planted(.fcntl, descriptor: descriptor) { Glibc.fcntl(descriptor, command) }
    }

    /// fcntl(2) with an integer argument (F_SETFL, F_DUPFD_CLOEXEC).
    static func fcntl(_ descriptor: Int32, _ command: Int32, _ argument: Int32) -> Int32 {
        planted(.fcntl, descriptor: descriptor) { Glibc.fcntl(descriptor, command, argument) }
    }

    /// flock(2): advisory whole-file locks, released when the last descriptor closes.
    package static func flock(_ descriptor: Int32, _ operation: Int32) -> Int32 {
        planted(.flock, descriptor: descriptor) { flockCall(descriptor, operation) }
    }

    /// poll(2) on one descriptor.
    static func poll(_ request: inout pollfd, timeoutMilliseconds: Int32) -> Int32 {
        planted(.poll, descriptor: request.fd) { Glibc.poll(&request, 1, timeoutMilliseconds) }
    }

    // MARK: Names

    /// stat(2), following links.
    package static func stat(_ path: String, _ info: inout Glibc.stat) -> Int32 {
        planted(.stat, path: path) { statCall(path, &info) }
    }

    /// lstat(2): a link itself, not its target.
    package static func lstat(_ path: String, _ info: inout Glibc.stat) -> Int32 {
        planted(.lstat, path: path) { Glibc.lstat(path, &info) }
    }

    /// link(2): gives `existing`'s file the name `new` too; never replaces (EEXIST).
    static func link(_ existing: String, _ new: String) -> Int32 {
        if failsAsPlanted(.link, path: existing) || failsAsPlanted(.link, path: new) { return -1 }
        return Glibc.link(existing, new)
    }

    /// rename(2): atomically replaces what `new` names.
    static func rename(_ old: String, _ new: String) -> Int32 {
        if failsAsPlanted(.rename, path: old) || failsAsPlanted(.rename, path: new) { return -1 }
        return Glibc.rename(old, new)
    }

    /// unlink(2).
    @discardableResult
    package static func unlink(_ path: String) -> Int32 {
        planted(.unlink, path: path) { Glibc.unlink(path) }
    }

    /// access(2), with the real user's rights; F_OK asks whether the name exists.
    package static func access(_ path: String, _ mode: Int32) -> Int32 {
        planted(.access, path: path) { Glibc.access(path, mode) }
    }

    /// mkdir(2).
    package static func mkdir(_ path: String, _ mode: mode_t) -> Int32 {
        planted(.mkdir, path: path) { Glibc.mkdir(path, mode) }
    }

    /// The names in `folder`, `.` and `..` included, as opendir(3) and readdir(3) list them;
    /// nil (errno set) when it cannot be opened.
    package static func names(inFolder folder: String) -> [String]? {
        if failsAsPlanted(.opendir, path: folder) { return nil }
        guard let directory = Glibc.opendir(folder) else { return nil }
        defer { Glibc.closedir(directory) }
        var names: [String] = []
        while let entry = Glibc.readdir(directory) {
            names.append(withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        }
        return names
    }

    /// realpath(3): the absolute path with every link and `.`/`..` resolved; nil (errno set)
    /// when it cannot be resolved.
    static func realPath(_ path: String) -> String? {
        if failsAsPlanted(.realpath, path: path) { return nil }
        guard let resolved = Glibc.realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// readlink(2): what the symbolic link at `path` points at; nil (errno set) when it is
    /// not a link or cannot be read.
    package static func readLink(_ path: String) -> String? {
        if failsAsPlanted(.readlink, path: path) { return nil }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = Glibc.readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// gethostname(2): this machine's name, as a lock's holder is told by (`JobLock`).
    package static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard Glibc.gethostname(&buffer, buffer.count - 1) == 0 else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// getpid(2).
    package static func processID() -> pid_t {
        Glibc.getpid()
    }

    /// geteuid(2): the effective user, who owns the files this process creates.
    static func effectiveUser() -> uid_t {
        Glibc.geteuid()
    }
}

// Glibc.stat and Glibc.flock name the structs; outside the enum, the unqualified names also
// find the functions.
private func statCall(_ path: String, _ info: inout stat) -> Int32 { stat(path, &info) }
private func flockCall(_ descriptor: Int32, _ operation: Int32) -> Int32 { flock(descriptor, operation) }

/// Runs a system call, retrying on EINTR, and turns -1 into `DiskImageError.system`.
@inline(__always)
func retryingInterrupts<T: BinaryInteger>(_ call: String, path: String, _ body: () -> T) throws(DiskImageError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw DiskImageError.system(call: call, path: path, errno: code)
    }
}

/// lseek whence values from <unistd.h> that Glibc exports only under _GNU_SOURCE (Linux 3.1+).
let SEEK_DATA: Int32 = 3
let SEEK_HOLE: Int32 = 4
