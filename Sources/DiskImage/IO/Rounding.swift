/// Rounds `value` up to a multiple of `unit` (a power of two or not).
@inline(__always)
func roundUp<T: FixedWidthInteger>(_ value: T, toMultipleOf unit: T) -> T {
    (value + unit - 1) / unit * unit
}
