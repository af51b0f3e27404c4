internal import CISAL

/// True when every byte of `bytes` is zero. Uses ISA-L's vectorised scan.
@inline(__always)
func isAllZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
    return isal_zero_detect(UnsafeMutableRawPointer(mutating: base), bytes.count) == 0
}
