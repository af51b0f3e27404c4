#if canImport(Glibc)
import Glibc
#endif

func currentUnixTime() -> UInt64 {
    UInt64(time(nil))
}

/// Seconds on the monotonic clock, for durations.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
