/// Sizes and durations as people read them, for tables and progress lines.
func formatBytes(_ bytes: UInt64) -> String {
    let gib = Double(bytes) / Double(1 << 30)
    if gib >= 1 { return String(format1: gib) + " GiB" }
    return String(format1: Double(bytes) / Double(1 << 20)) + " MiB"
}

extension String {
    /// One decimal place, without Foundation's formatters.
    init(format1 value: Double) {
        // Durations are bounded where they are read (`JobReport.maximumSeconds`); a value no
        // Int holds is written as it is rather than trapping.
        guard let tenths = Int(exactly: (value * 10).rounded()) else {
            self = value.description
            return
        }
        self = "\(tenths / 10).\(tenths % 10)"
    }
}
