import Foundation
import Testing

/// One child process's run, measured: its exit status, standard error, peak resident bytes
/// (wait4(2)'s rusage, in kilobytes on Linux: getrusage(2)) and wall seconds.
struct MeasuredRun {
    var status: Int32
    var standardError: String
    var peakBytes: Int
    var seconds: Double

    /// Runs `arguments` (the program first) through /bin/sh, standard output discarded and
    /// standard error kept in `errorPath`, under an address-space limit of
    /// `addressSpaceKiB` when given.
    static func run(_ arguments: [String], errorPath: String, addressSpaceKiB: Int? = nil) throws -> MeasuredRun {
        let limit = addressSpaceKiB.map { "ulimit -v \($0) && " } ?? ""
        let script = limit + #"error="$1"; shift; exec "$@" >/dev/null 2>"$error""#
        var pid: pid_t = 0
        let all = ["/bin/sh", "-c", script, "sh", errorPath] + arguments
        var argv = all.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let start = Date()
        let spawned = posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ)
        try #require(spawned == 0, "posix_spawn: \(spawned)")
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            try #require(errno == EINTR, "wait4: \(errno)")
        }
        let seconds = Date().timeIntervalSince(start)
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let standardError = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        return MeasuredRun(status: exitStatus, standardError: standardError, peakBytes: Int(usage.ru_maxrss) * 1024, seconds: seconds)
    }
}
