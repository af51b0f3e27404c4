#if canImport(Glibc)
import Glibc
#endif

/// Standard input or a FIFO as a source. A source is read more than once (its tables, then
/// its data; a dynamic VHD in two passes), and a VMDK needs the size before the data, so a
/// stream is first copied, in order, into a temporary file (mode 0600, in TMPDIR, sparse where
/// the stream holds zeros), which is then read like any file and removed afterwards: on
/// success, error and Ctrl-C alike (the `StagedFile` is discarded), and after a kill by the
/// next staging (its lock is free).
enum StreamStaging {
    /// Whether `path` names a stream to stage: `-` (when no file has that name) for standard
    /// input that is not a regular file or block device, or a FIFO.
    static func streamDescriptor(for path: String) -> (descriptor: Int32, label: String)? {
        if path == "-" && SystemCalls.access(path, F_OK) != 0 {
            return (STDIN_FILENO, "standard input")
        }
        var info = stat()
        if SystemCalls.stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO {
            return (-1, path)
        }
        return nil
    }

    /// Copies everything `descriptor` (or, when it is -1, the FIFO at `label`) holds until its
    /// end into a staged file. Waits in steps of 100 ms, so `isCancelled` (Ctrl-C) stops it
    /// even while no writer has opened the FIFO yet. `inspectHead` sees the stream's first
    /// 512 bytes (all of it when shorter) as soon as they arrive, before anything is written:
    /// what it throws stops the copy there.
    static func stage(
        descriptor given: Int32, label: String, in folder: String = temporaryFolder(),
        inspectHead: (_ head: [UInt8]) throws(DiskImageError) -> Void = { _ throws(DiskImageError) in },
        isCancelled: () -> Bool
    ) throws(DiskImageError) -> StagedFile {
        OutputSafety.removeStaleTemporaries(in: folder)
        let staged = try StagedFile(finalPath: folder + "/imgship-stream", overwrite: true, mode: 0o600, scratch: true)
        // O_NONBLOCK: opening a FIFO without a writer returns at once; poll waits for one.
        let fd = given >= 0 ? given : try retryingInterrupts("open", path: label) { SystemCalls.open(label, O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
        defer { if given < 0 { SystemCalls.close(fd) } }
        let flags = SystemCalls.fcntl(fd, F_GETFL)
        if flags >= 0 && flags & O_NONBLOCK == 0 { _ = SystemCalls.fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
        defer { if flags >= 0 && flags & O_NONBLOCK == 0 { _ = SystemCalls.fcntl(fd, F_SETFL, flags) } }

        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        var total: UInt64 = 0
        var filled = 0
        var inspected = false
        func inspect() throws(DiskImageError) {
            guard !inspected else { return }
            inspected = true
            try inspectHead([UInt8](UnsafeRawBufferPointer(rebasing: buffer[0..<min(filled, 512)])))
        }
        func flush() throws(DiskImageError) {
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<filled])
            // Zero chunks stay holes; the final ftruncate gives the file its length.
            if !isAllZero(bytes) {
                try PositionalWriter(descriptor: staged.descriptor, path: staged.temporaryPath).write(bytes, at: total)
            }
            total += UInt64(filled)
            filled = 0
        }
        while true {
            if isCancelled() { throw DiskImageError.cancelled }
            var waiting = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = SystemCalls.poll(&waiting, timeoutMilliseconds: 100)
            if ready < 0 {
                if errno == EINTR { continue }
                throw DiskImageError.system(call: "poll", path: label, errno: errno)
            }
            if ready == 0 { continue }
            // swift-format-ignore: NeverForceUnwrap
            let count = SystemCalls.read(fd, buffer.baseAddress! + filled, chunk - filled)
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw DiskImageError.system(call: "read", path: label, errno: errno)
            }
            if count == 0 { break }
            filled += count
            // The first chunk is still whole in the buffer: nothing was written yet.
            if total == 0 && filled >= 512 { try inspect() }
            if filled == chunk { try flush() }
        }
        try inspect()
        try flush()
        _ = try retryingInterrupts("ftruncate", path: staged.temporaryPath) { SystemCalls.ftruncate(staged.descriptor, off_t(total)) }
        return staged
    }
}

/// Where temporary files go when there is no output folder: TMPDIR, or /tmp.
func temporaryFolder() -> String {
    if let value = getenv("TMPDIR"), value.pointee != 0 { return String(cString: value) }
    return "/tmp"
}
