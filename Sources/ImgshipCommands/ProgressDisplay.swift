#if canImport(Glibc)
import Glibc
#endif
import DiskImage
import Synchronization

/// A one-line progress display on standard error, redrawn at most ten times a second.
final class ProgressBar: Sendable {
    private struct State {
        var lastDraw = 0.0
        var started = 0.0
        var drewAnything = false
    }
    private let state = Mutex(State())

    init() {
        state.withLock { $0.started = Self.now() }
    }

    func update(_ progress: ExportProgress) {
        let now = Self.now()
        let line: String? = state.withLock { state in
            guard now - state.lastDraw >= 0.1 || progress.completed == progress.total else { return nil }
            state.lastDraw = now
            state.drewAnything = true
            let fraction = progress.total > 0 ? Double(progress.completed) / Double(progress.total) : 1
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let elapsed = max(now - state.started, 0.001)
            let rate = Double(progress.completed) / elapsed / 1e6
            return "\r\(progress.phase.rawValue) [\(bar)] \(Int(fraction * 100))%  "
                + "\(formatBytes(progress.completed)) / \(formatBytes(progress.total))  \(Int(rate)) MB/s \u{1B}[K"
        }
        if let line { writeToStandardError(line) }
    }

    /// Clears the line so the next message starts clean.
    func finish() {
        if state.withLock({ $0.drewAnything }) { writeToStandardError("\r\u{1B}[K") }
    }

    private static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

func formatBytes(_ bytes: UInt64) -> String {
    let gib = Double(bytes) / Double(1 << 30)
    if gib >= 1 { return String(format1: gib) + " GiB" }
    return String(format1: Double(bytes) / Double(1 << 20)) + " MiB"
}

extension String {
    /// One decimal place, without Foundation's formatters.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}

func writeToStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
