import Foundation
import TestSupport
import Testing

/// One child process's run, measured: its exit status, standard error, peak resident bytes
/// (wait4(2)'s rusage, in kilobytes on Linux: getrusage(2)), wall seconds and processor
/// seconds (user and system, from the same rusage: wall time measures the machine's load as
/// much as the command).
struct MeasuredRun {
    var status: Int32
    var standardError: String
    var peakBytes: Int
    var seconds: Double
    var processorSeconds: Double

    /// Makes this process the reaper of its orphaned descendants (prctl(2),
    /// PR_SET_CHILD_SUBREAPER), so that `run` waits for a command whose shell has exited.
    /// prctl is variadic, which Swift does not import: it is called through dlsym(3).
    static let reapsOrphans: Bool = {
        typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
        guard let symbol = dlsym(nil, "prctl") else { return false }
        let setChildSubreaper: Int32 = 36
        return unsafeBitCast(symbol, to: Prctl.self)(setChildSubreaper, 1, 0, 0, 0) == 0
    }()

    /// Runs `arguments` (the program first) through /bin/sh, standard output discarded and
    /// standard error kept in `errorPath`, under an address-space limit of `addressSpaceKiB`
    /// when given.
    ///
    /// The command is started in the background by a shell that then exits, and is waited for
    /// here as an orphan. A process posix_spawn(3) starts shares this one's memory until it
    /// calls exec, and Linux carries that memory's peak into the child's ru_maxrss (exec keeps
    /// the old mm's high-water mark): the test runner's own peak, whatever the tests beside
    /// it hold. The shell's child is forked from the small shell, so its peak is its own.
    static func run(_ arguments: [String], errorPath: String, addressSpaceKiB: Int? = nil) throws -> MeasuredRun {
        try #require(reapsOrphans, "prctl(PR_SET_CHILD_SUBREAPER): \(errno)")
        let pidPath = errorPath + ".pid"
        let limit = addressSpaceKiB.map { "ulimit -v \($0) || exit 1; " } ?? ""
        let script = limit + #"error="$1"; pidfile="$2"; shift 2; "$@" >/dev/null 2>"$error" & echo $! >"$pidfile""#
        var shell: pid_t = 0
        let all = ["/bin/sh", "-c", script, "sh", errorPath, pidPath] + arguments
        var argv = all.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let start = Date()
        let spawned = posix_spawn(&shell, "/bin/sh", nil, nil, &argv, environ)
        try #require(spawned == 0, "posix_spawn: \(spawned)")
        var status: Int32 = 0
        while waitpid(shell, &status, 0) < 0 {
            try #require(errno == EINTR, "waitpid: \(errno)")
        }
        try #require(status == 0, "sh: status \(status)")
        let pidText = try String(contentsOfFile: pidPath, encoding: .utf8)
        let command = try #require(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)), "\(pidText)")
        var usage = rusage()
        while wait4(command, &status, 0, &usage) < 0 {
            try #require(errno == EINTR, "wait4: \(errno)")
        }
        let wallSeconds = Date().timeIntervalSince(start)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let standardError = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        return MeasuredRun(
            status: exitStatus, standardError: standardError, peakBytes: Int(usage.ru_maxrss) * 1024, seconds: wallSeconds,
            processorSeconds: seconds(usage.ru_utime) + seconds(usage.ru_stime))
    }
}

/// Sparse raw disks for the memory tests: virtual sizes up to petabytes on tmpfs (/dev/shm),
/// which holds files larger than ext4's 16 TiB, with a MiB stored at three places.
enum SparseDisk {
    /// A folder on tmpfs that holds a sparse file of `size` bytes, or nil.
    static func folder(for size: UInt64) -> TemporaryFolder? {
        guard let folder = try? TemporaryFolder(in: "/dev/shm") else { return nil }
        let probe = open(folder.file("probe"), O_WRONLY | O_CREAT, 0o600)
        guard probe >= 0 else { return nil }
        defer { close(probe) }
        return ftruncate(probe, off_t(size)) == 0 ? folder : nil
    }

    /// A sparse raw disk of `size` bytes with a MiB at the start, the middle and the end
    /// (three stored blocks far apart, in any block size): half noise, half text, so that
    /// compressing outputs have work of both kinds.
    static func make(_ path: String, size: UInt64) throws {
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: size)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let noise = (0..<(512 * 1024)).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        let text = Array(String(repeating: "a compressible line of text, again and again\n", count: 12_000).utf8.prefix(512 * 1024))
        for offset in [0, size / 2, size - (1 << 20)] {
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: Data(noise + text))
        }
    }
}
