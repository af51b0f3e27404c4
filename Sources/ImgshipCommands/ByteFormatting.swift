/// Sizes and durations as people read them, for tables and progress lines.
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
