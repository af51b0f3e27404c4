import ArgumentParser
import DiskImage

/// The exit statuses of every `imgship` command, one table (README, "Exit status"; `man imgship`):
/// sysexits(3) gives 64 to usage errors, and shells report death by SIGINT as 128 + 2, which
/// `imgship` also uses for SIGTERM and SIGHUP because it stops cleanly on all three.
enum ExitStatus: Int32 {
    /// The work is done; warnings may have been printed.
    case success = 0
    /// The work failed: an image is damaged, an output could not be written, a check failed.
    case workFailed = 1
    /// The input was refused before any work: a bad configuration or job file, an image whose
    /// structure imgship will not read, an output path it will not write.
    case inputRefused = 2
    /// The command line is wrong (ArgumentParser's `ValidationError` exits with it too).
    case usage = 64
    /// SIGINT, SIGTERM or SIGHUP stopped the command; nothing half-written was left.
    case interrupted = 130

    var exitCode: ExitCode { ExitCode(rawValue) }

    /// What each status means, for `imgship --help` and `man imgship`.
    var meaning: String {
        switch self {
        case .success: "success (warnings may have been printed)"
        case .workFailed: "the work failed: an image is damaged, an output could not be written, a check failed"
        case .inputRefused:
            "the input was refused before any work: a bad configuration or job file, an image structure imgship will not read, an output path it will not write"
        case .usage: "usage: the command line is wrong"
        case .interrupted: "interrupted by SIGINT, SIGTERM or SIGHUP; nothing half-written was left"
        }
    }

    static let all: [ExitStatus] = [.success, .workFailed, .inputRefused, .usage, .interrupted]

    /// The table as the root command's help shows it, one status a line.
    static var helpTable: String {
        all.map { "\($0.rawValue)  \($0.meaning)" }.joined(separator: "\n")
    }
}

/// A problem that ends a command: its text for `printProblem` and its exit status.
protocol CommandFailure: CustomStringConvertible {
    var exitStatus: ExitStatus { get }
}

extension DiskImageError: CommandFailure {
    /// Refusals made before any work are 2; failures of the work itself are 1.
    var exitStatus: ExitStatus {
        switch self {
        case .cancelled, .outputLocked(_, .cancelled): .interrupted
        case .unsupportedSource, .sizeTooLarge, .malformedImage, .refusedExtent, .outputExists, .refusedOutput, .refusedByTarget, .signing:
            .inputRefused
        // Another run writing the output fails this one, as it fails a job's output.
        case .system, .sourceChanged, .sourceModified, .compression, .outputLocked:
            .workFailed
        }
    }
}

/// A problem the command itself finds, named by the user's path (not a temporary name).
struct CommandProblem: CommandFailure, Error {
    /// The path as the user wrote it; nil for a problem of no one file.
    var path: String?
    var what: String
    var exitStatus: ExitStatus

    var description: String { path.map { "\($0): \(what)" } ?? what }
}
