import ArgumentParser
import DiskImage

#if canImport(Glibc)
import Glibc
#endif

/// Writes `text` to standard output with write(2), whole, and fails the command when it
/// cannot: a closed pipe, a full disk, a descriptor that is not open. `print` would buffer
/// the text in stdio and lose such an error at exit. The message goes to standard error and
/// the command exits 1. SIGPIPE is ignored (`Imgship.main`), so a reader that went away is
/// this error (EPIPE) rather than a silent death.
func writeToStandardOutput(_ text: String) throws {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let count = bytes.withUnsafeBytes { buffer in
            SystemCalls.write(STDOUT_FILENO, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
        }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else {
            let reason = count < 0 ? String(cString: strerror(errno)) : "nothing written"
            throw fail(CommandProblem(path: "standard output", what: "write: \(reason)", exitStatus: .workFailed))
        }
        offset += count
    }
}

/// Writes `text` to standard error with write(2); a failure to write there has nowhere to be told.
func writeToStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { SystemCalls.write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

/// Whether `descriptor` is a terminal: progress is drawn only there, and binary output is
/// refused there unless --force.
func isTerminal(_ descriptor: Int32) -> Bool {
    isatty(descriptor) == 1
}
