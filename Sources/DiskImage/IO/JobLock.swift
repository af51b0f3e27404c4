import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One writer per job: a run of a job, of one of its shards, or a merge holds an advisory
/// `flock` (flock(2)) on a lock file beside the job file for the whole run, bookkeeping
/// included (records, `SHA256SUMS`, the report). Without it two runs of one job at once
/// drop each other's outputs from `SHA256SUMS`, the loser's record replaces the winner's,
/// and the loser's shard report fails good outputs at the merge.
///
/// - `JOBFILE.lock`: an unsharded run and `--merge` hold it exclusively; a shard holds it
///   shared, so shards run side by side but never beside a whole run or a merge.
/// - `JOBFILE.I-of-N.lock`: shard I of N holds it exclusively: one run of a shard at a time.
///
/// - `.OUTPUT.imgship.lock`, beside each output: a job run holds it exclusively while it
///   checks, writes and commits that output and its record, and `Exporter.export` into a
///   file (`imgship export -o FILE`) while it stages, writes and commits the output and its
///   manifest, so two job files, a job and an export, or two exports naming one output never
///   write it at once. It is removed as it is let go, so output folders keep no lock files.
///
/// An exclusive holder writes who it is into the file (`pid 123 on HOST, since TIME`) and
/// empties it before it lets go, so a refusal names the holder. The kernel releases the lock
/// when the holder dies, however it dies; a lock file left behind is never in the way.
public final class JobLock: @unchecked Sendable {
    public enum Mode: Sendable {
        case exclusive
        case shared
    }

    public let path: String
    public let mode: Mode
    /// Whether the file is removed as the lock is let go (output locks).
    public let removesFile: Bool
    // Owned by this value; -1 once released.
    private var descriptor: Int32

    private init(path: String, mode: Mode, removesFile: Bool, descriptor: Int32) {
        self.path = path
        self.mode = mode
        self.removesFile = removesFile
        self.descriptor = descriptor
    }

    deinit { release() }

    /// The lock file of a whole job, beside the job file named `jobName`.
    public static func fileName(job jobName: String) -> String { jobName + ".lock" }

    /// The lock file of the output at `output`: `.NAME.imgship.lock` in its folder.
    public static func path(output: String) -> String {
        let (folder, name) = splitPath(output)
        return folder + "/." + name + ".imgship.lock"
    }

    /// Takes the lock at `path`, creating the file. Without `wait`, a lock another run holds
    /// is `.held`, naming the holder; with it, waits (polling every 0.1 s, so `isCancelled`,
    /// set by Ctrl-C, ends the wait with `.cancelled`), after calling `onWaiting` once.
    ///
    /// With `removesFile`, the holder unlinks the file as it lets go; a run waiting on the
    /// removed file then finds the name gone or another file's, and opens it again.
    public static func acquire(
        _ path: String, mode: Mode, wait: Bool, removesFile: Bool = false, isCancelled: () -> Bool = { false },
        onWaiting: (JobLockError) -> Void = { _ in }
    ) throws(JobLockError) -> JobLock {
        let operation = mode == .exclusive ? LOCK_EX : LOCK_SH
        var toldWaiting = false
        while true {
            // O_NOFOLLOW: a symbolic link planted at the name cannot make the holder's line
            // land in another file; O_NONBLOCK: a FIFO there cannot hang the open.
            let fd = SystemCalls.open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                // ELOOP is O_NOFOLLOW's answer to a symbolic link: say what was found.
                let reason =
                    errno == ELOOP
                    ? "is a symbolic link; expected a regular file (a lock is never taken through one)" : "open: \(String(cString: strerror(errno)))"
                throw .cannotLock(path: path, reason: reason)
            }
            var opened = stat()
            guard SystemCalls.fstat(fd, &opened) == 0, opened.st_mode & S_IFMT == S_IFREG else {
                SystemCalls.close(fd)
                throw .cannotLock(path: path, reason: "is not a regular file; expected a regular file as a lock")
            }
            if SystemCalls.flock(fd, operation | LOCK_NB) != 0 {
                let code = errno
                guard code == EWOULDBLOCK || code == EINTR else {
                    SystemCalls.close(fd)
                    throw .cannotLock(path: path, reason: "flock: \(String(cString: strerror(code)))")
                }
                let held = JobLockError.held(path: path, holder: holder(fd))
                SystemCalls.close(fd)
                guard wait else { throw held }
                if isCancelled() { throw .cancelled(path: path) }
                if !toldWaiting {
                    onWaiting(held)
                    toldWaiting = true
                }
                usleep(100_000)
                continue
            }
            // The name may have been removed (or replaced) between the open and the lock: a
            // lock on a file without that name excludes no one.
            var named = stat()
            guard SystemCalls.lstat(path, &named) == 0, named.st_dev == opened.st_dev, named.st_ino == opened.st_ino else {
                SystemCalls.close(fd)
                continue
            }
            // Empty: a shared holder has no single name, and a killed holder's line is stale.
            _ = SystemCalls.ftruncate(fd, 0)
            if mode == .exclusive {
                let since = ISO8601DateFormatter().string(from: Date())
                let line = Array("pid \(SystemCalls.processID()) on \(SystemCalls.hostName()), since \(since)\n".utf8)
                _ = line.withUnsafeBytes { SystemCalls.pwrite(fd, $0.baseAddress, $0.count, 0) }
            }
            return JobLock(path: path, mode: mode, removesFile: removesFile, descriptor: fd)
        }
    }

    /// Lets go: the holder's line is removed first, so the file never names a run that ended.
    public func release() {
        guard descriptor >= 0 else { return }
        if mode == .exclusive { _ = SystemCalls.ftruncate(descriptor, 0) }
        // Unlinked while still held: no one can have taken this file's lock in between.
        if removesFile { SystemCalls.unlink(path) }
        SystemCalls.close(descriptor)
        descriptor = -1
    }

    /// The holder's line in the lock file, nil when there is none (shards hold it shared).
    /// At most 256 bytes of it, on one line: it is a file anyone may have written.
    private static func holder(_ fd: Int32) -> String? {
        var bytes = [UInt8](repeating: 0, count: 256)
        let count = bytes.withUnsafeMutableBytes { SystemCalls.pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let line = String(decoding: bytes[..<count], as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        return line.isEmpty ? nil : line
    }
}

/// Why a job's lock was not taken.
public enum JobLockError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Another run holds it; `holder` is its line (`pid 123 on HOST, since TIME`), nil for shards.
    case held(path: String, holder: String?)
    /// Ctrl-C (or SIGTERM, SIGHUP) while waiting for it.
    case cancelled(path: String)
    case cannotLock(path: String, reason: String)

    public var description: String {
        switch self {
        case let .held(path, holder):
            "another run holds the lock \(path) (\(holder ?? "shards of the job")); pass --wait to wait for it"
        case let .cancelled(path): "interrupted while waiting for the lock \(path)"
        case let .cannotLock(path, reason): "cannot take the lock \(path): \(reason)"
        }
    }
}
