#if canImport(Glibc)
import Glibc
#endif

/// Where a format writer's bytes go, strictly in file order. Zero runs are announced
/// separately so a regular file can leave holes while a pipe gets real zeros.
///
/// Every byte, zero runs included, passes through the digest (SHA-256 unless the sink is made
/// with another), so the digest is the digest of the output as a reader will see it; unless the
/// sink is made without hashing (`export --no-manifest`), when no byte is hashed at all.
final class OutputSink {
    let descriptor: Int32
    let path: String
    /// Regular files get holes for zero runs; pipes and terminals get written zeros.
    let isSeekable: Bool
    private(set) var position: UInt64 = 0
    /// Bytes actually written (holes excluded).
    private(set) var bytesWritten: UInt64 = 0
    /// nil when no digest is wanted: SHA-256 has no shortcut for zeros, so hashing a 2 TiB
    /// sparse disk costs about 20 minutes even when nothing reads the digest.
    private let hasher: MessageDigestHasher?
    /// False for a sink made without hashing: bytes need not pass it in file order.
    var isHashing: Bool { hasher != nil }

    /// `stream`: write every byte in order with `write(2)`, never `pwrite` or `ftruncate`,
    /// whatever the descriptor is. Standard output is always a stream: redirected to a file
    /// (`>> file`, `1<>file`) it may already hold bytes before its current position, and
    /// positional writes or a truncate would destroy them. A block device is one too: its
    /// old contents are not holes, so zero runs must be written. `digest`: the algorithm when
    /// hashing (an OVA's disk member is hashed with its manifest's).
    init(
        descriptor: Int32, path: String, stream: Bool = false, hashing: Bool = true,
        digest: MessageDigestHasher.Algorithm = .sha256
    ) {
        self.descriptor = descriptor
        self.path = path
        self.hasher = hashing ? MessageDigestHasher(digest) : nil
        var info = stat()
        self.isSeekable = !stream && SystemCalls.fstat(descriptor, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(DiskImageError) {
        guard bytes.count > 0 else { return }
        hasher?.update(bytes)
        try writeAll(bytes)
    }

    /// Takes the next bytes of the output, which a worker may already have stored at the
    /// current position through `positionalWriter`: then they are hashed and counted but not
    /// written again.
    func write(_ bytes: UnsafeRawBufferPointer, alreadyStored: Bool) throws(DiskImageError) {
        guard alreadyStored else { return try write(bytes) }
        hasher?.update(bytes)
        position += UInt64(bytes.count)
        bytesWritten += UInt64(bytes.count)
    }

    /// Takes `count` bytes a writer stored itself at the current position, without their
    /// bytes: only for a sink that does not hash (`isHashing` false), which has nothing to
    /// do with them but count.
    func advance(overStored count: UInt64) {
        assert(hasher == nil, "a hashing sink needs the bytes")
        position += count
        bytesWritten += count
    }

    /// For formats whose byte positions are known before the bytes are, workers store their
    /// data themselves in parallel and the sink only hashes; nil for pipes, which only take
    /// bytes in order.
    var positionalWriter: PositionalWriter? {
        isSeekable ? PositionalWriter(descriptor: descriptor, path: path) : nil
    }

    func write(_ bytes: [UInt8]) throws(DiskImageError) {
        // withUnsafeBytes rethrows untyped errors, so carry ours out by hand.
        var failure: DiskImageError?
        bytes.withUnsafeBytes { buffer in
            do throws(DiskImageError) { try write(buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    func writeZeros(_ count: UInt64) throws(DiskImageError) {
        guard count > 0 else { return }
        hasher?.updateZeros(count)
        if isSeekable {
            position += count
            return
        }
        var remaining = count
        while remaining > 0 {
            let step = Int(min(remaining, UInt64(ZeroBlock.bytes.count)))
            try writeAll(UnsafeRawBufferPointer(rebasing: ZeroBlock.bytes[0..<step]))
            remaining -= UInt64(step)
        }
    }

    /// Sets a regular file's length to `length` now, as a hole, so a size the filesystem
    /// cannot hold (ext4 stops at 16 TiB) fails at once with EFBIG, not after hashing
    /// terabytes of zeros. `finish` sets the same length again.
    func reserveLength(_ length: UInt64) throws(DiskImageError) {
        guard isSeekable else { return }
        guard length <= UInt64(Int64.max) else { throw DiskImageError.system(call: "ftruncate", path: path, errno: EFBIG) }
        _ = try retryingInterrupts("ftruncate", path: path) { SystemCalls.ftruncate(descriptor, off_t(length)) }
    }

    /// Sets the final length (a trailing zero run is a hole) and returns the hex digest (of the
    /// sink's algorithm), nil for a sink made without hashing.
    func finish() throws(DiskImageError) -> String? {
        if isSeekable {
            _ = try retryingInterrupts("ftruncate", path: path) { SystemCalls.ftruncate(descriptor, off_t(position)) }
        }
        return hasher?.finalizeHex()
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(DiskImageError) {
        if let positionalWriter {
            try positionalWriter.write(bytes, at: position)
        } else {
            var done = 0
            while done < bytes.count {
                done += try retryingInterrupts("write", path: path) {
                    // swift-format-ignore: NeverForceUnwrap
                    SystemCalls.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
                }
            }
        }
        position += UInt64(bytes.count)
        bytesWritten += UInt64(bytes.count)
    }
}

/// `pwrite` to a regular file at absolute offsets; safe from any number of threads at once.
struct PositionalWriter: Sendable {
    let descriptor: Int32
    let path: String

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(DiskImageError) {
        var done = 0
        while done < bytes.count {
            done += try retryingInterrupts("pwrite", path: path) {
                // swift-format-ignore: NeverForceUnwrap
                SystemCalls.pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            }
        }
    }

    /// Sets the file's length (a longer file ends in a hole).
    func setLength(_ length: UInt64) throws(DiskImageError) {
        guard length <= UInt64(Int64.max) else { throw DiskImageError.system(call: "ftruncate", path: path, errno: EFBIG) }
        _ = try retryingInterrupts("ftruncate", path: path) { SystemCalls.ftruncate(descriptor, off_t(length)) }
    }

    /// `write(_:at:)` of an array's bytes.
    func write(_ bytes: [UInt8], at offset: UInt64) throws(DiskImageError) {
        // withUnsafeBytes rethrows untyped errors, so carry ours out by hand.
        var failure: DiskImageError?
        bytes.withUnsafeBytes { buffer in
            do throws(DiskImageError) { try write(buffer, at: offset) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}
