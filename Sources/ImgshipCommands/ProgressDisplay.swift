import DiskImage
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress display on standard error, redrawn at most ten times a second: the
/// phase, a bar, done and total, the rate and the time left (ETA). Drawn only when standard
/// error is a terminal (the commands decide); `finish` clears the line.
final class ProgressBar: Sendable {
    private struct State {
        var lastDraw = 0.0
        var started = 0.0
        var drewAnything = false
    }
    private let state = Mutex(State())

    init() {
        state.withLock { $0.started = monotonicNow() }
    }

    func update(_ progress: ExportProgress) {
        draw(label: progress.phase.rawValue, completed: progress.completed, total: progress.total, isLast: progress.completed == progress.total)
    }

    /// Draws `label`, the bar and the figures of `completed` of `total` bytes.
    func draw(label: String, completed: UInt64, total: UInt64, isLast: Bool = false) {
        let now = monotonicNow()
        let line: String? = state.withLock { state in
            guard now - state.lastDraw >= 0.1 || isLast else { return nil }
            state.lastDraw = now
            state.drewAnything = true
            let fraction = total > 0 ? min(1, Double(completed) / Double(total)) : 1
            let elapsed = max(now - state.started, 0.001)
            let rate = Double(completed) / elapsed / 1e6
            return "\r\(label) \(Self.bar(fraction)) \(Int(fraction * 100))%  "
                + "\(formatBytes(completed)) / \(formatBytes(total))  \(Int(rate)) MB/s  "
                + "\(formatTimeLeft(fraction: fraction, elapsed: elapsed)) \u{1B}[K"
        }
        if let line { writeToStandardError(line) }
    }

    /// Clears the line so the next message starts clean.
    func finish() {
        if state.withLock({ $0.drewAnything }) { writeToStandardError("\r\u{1B}[K") }
    }

    static func bar(_ fraction: Double, width: Int = 30) -> String {
        let filled = max(0, min(width, Int(fraction * Double(width))))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }
}

/// The progress of a job on one line: outputs done of all, the overall share (finished outputs
/// plus the share of those being written) with its ETA, and the output last reported with its
/// own share.
final class JobProgressLine: Sendable {
    private struct State {
        var started = 0.0
        var lastDraw = 0.0
        var drewAnything = false
        var finished = 0
        /// The share done of each output being written, by its path.
        var running: [String: Double] = [:]
    }
    private let state = Mutex(State())
    private let total: Int

    init(outputs total: Int) {
        self.total = total
        state.withLock { $0.started = monotonicNow() }
    }

    func update(output: String, _ progress: ExportProgress) {
        let now = monotonicNow()
        let line: String? = state.withLock { state in
            let share = progress.total > 0 ? min(1, Double(progress.completed) / Double(progress.total)) : 1
            state.running[output] = share
            guard now - state.lastDraw >= 0.1 else { return nil }
            state.lastDraw = now
            state.drewAnything = true
            let overall = total > 0 ? (Double(state.finished) + state.running.values.reduce(0, +)) / Double(total) : 1
            let elapsed = max(now - state.started, 0.001)
            let name = output.split(separator: "/").last.map(String.init) ?? output
            return "\r[\(state.finished)/\(total)] \(ProgressBar.bar(overall, width: 20)) \(Int(overall * 100))%  "
                + "\(formatTimeLeft(fraction: overall, elapsed: elapsed))  \(name) \(progress.phase.rawValue) \(Int(share * 100))% \u{1B}[K"
        }
        if let line { writeToStandardError(line) }
    }

    /// Counts `output` as done and clears the line, so the result line printed next stands alone.
    func finished(output: String) {
        let drew = state.withLock { state in
            state.running[output] = nil
            state.finished += 1
            state.lastDraw = 0
            return state.drewAnything
        }
        if drew { writeToStandardError("\r\u{1B}[K") }
    }
}

/// `ETA m:ss` (or `h:mm:ss`) from the share done and the time it took; `ETA --:--` before
/// anything is done.
func formatTimeLeft(fraction: Double, elapsed: Double) -> String {
    guard fraction > 0.001, fraction < 1 else { return fraction >= 1 ? "ETA 0:00" : "ETA --:--" }
    let seconds = Int((elapsed * (1 - fraction) / fraction).rounded())
    func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
    if seconds >= 3600 { return "ETA \(seconds / 3600):\(two(seconds / 60 % 60)):\(two(seconds % 60))" }
    return "ETA \(seconds / 60):\(two(seconds % 60))"
}

/// Seconds on the monotonic clock.
func monotonicNow() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
