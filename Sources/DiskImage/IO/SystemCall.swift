#if canImport(Glibc)
import Glibc
#endif

/// Runs a system call, retrying on EINTR, and turns -1 into `DiskImageError.system`.
@inline(__always)
func retryingInterrupts<T: BinaryInteger>(_ call: String, path: String, _ body: () -> T) throws(DiskImageError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw DiskImageError.system(call: call, path: path, errno: code)
    }
}

/// lseek whence values from <unistd.h> that Glibc exports only under _GNU_SOURCE (Linux 3.1+).
let SEEK_DATA: Int32 = 3
let SEEK_HOLE: Int32 = 4
