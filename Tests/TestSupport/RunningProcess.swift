import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A process started and left running, its standard error in a file; a stopped one is
/// continued when the value goes, so a failed test leaves no stopped process behind.
public final class RunningProcess {
    public let process = Process()
    public let errorPath: String
    private var stopped = false

    public init(_ executable: String, _ arguments: [String], errorPath: String) throws {
        self.errorPath = errorPath
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    deinit { resume() }

    public var identifier: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    public var standardError: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    /// Stops it (SIGSTOP) where it is.
    public func stop() {
        kill(process.processIdentifier, SIGSTOP)
        stopped = true
    }

    /// Lets a stopped process go on (SIGCONT).
    public func resume() {
        guard stopped else { return }
        kill(process.processIdentifier, SIGCONT)
        stopped = false
    }

    /// Waits for it to end; its exit status.
    public func finish() -> Int32 {
        resume()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Waits (5 ms steps, 20 s at most) until the lock file at `path` holds the line naming
    /// this process (`pid N on HOST, since TIME`, as imgship's locks do). False when it ended
    /// first.
    public func waitUntilHolding(_ path: String) -> Bool {
        for _ in 0..<4000 {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasPrefix("pid \(process.processIdentifier) on ") {
                return true
            }
            if !process.isRunning { return false }
            usleep(5000)
        }
        return false
    }
}

/// Starts `executable` with `arguments`, waits until it holds the lock at `lock`, and stops it
/// there (SIGSTOP): a run another one finds holding that lock for as long as the test needs.
/// Throws when the process ended before it was seen holding the lock, with its standard
/// error.
public func startStoppedHolder(_ executable: String, _ arguments: [String], lock: String, errorPath: String) throws -> RunningProcess {
    let running = try RunningProcess(executable, arguments, errorPath: errorPath)
    guard running.waitUntilHolding(lock) else {
        throw StoppedHolderError(lock: lock, standardError: running.standardError)
    }
    running.stop()
    return running
}

/// The would-be holder ended (or took 20 s) before it was seen holding its lock.
public struct StoppedHolderError: Error, CustomStringConvertible {
    public let lock: String
    public let standardError: String
    public var description: String { "the process was not seen holding \(lock): \(standardError)" }
}
