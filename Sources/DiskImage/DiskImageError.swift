#if canImport(Glibc)
import Glibc
#endif

/// Every failure the `DiskImage` library reports. The text names the file, the structure or
/// offset, and what was expected, so the CLI can print it as it is.
public enum DiskImageError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A system call failed; keeps the call's name and errno.
    case system(call: String, path: String, errno: Int32)
    /// The source cannot be exported as asked.
    case unsupportedSource(path: String, reason: String)
    /// The image is too large for the output format.
    /// `path` is the source whose size it is, when known.
    case sizeTooLarge(path: String?, format: String, size: UInt64, limit: UInt64)
    /// The output (or its manifest) exists and overwriting was not asked for.
    case outputExists(path: String)
    /// A source image's structure is damaged or not what its format allows.
    case malformedImage(path: String, offset: UInt64, reason: String)
    /// A VMDK descriptor names an extent imgship will not read: outside the descriptor's
    /// folder or archive, not a regular file, or bytes another extent already reads.
    case refusedExtent(descriptor: String, line: Int, extent: String, reason: String)
    /// The source changed while it was being read.
    case sourceChanged(path: String, offset: UInt64, reason: String)
    /// The output (or manifest) path is one imgship will not replace with a regular file: a
    /// directory, a device node, or the source itself.
    case refusedOutput(path: String, reason: String)
    /// The source's size, times or identity differ at the end of the export from the start:
    /// it changed while it was read, and the output may mix old and new data.
    case sourceModified(path: String, change: String)
    /// A compressor failed on a buffer that it should always handle.
    case compression(offset: UInt64, reason: String)
    /// The user interrupted the export.
    case cancelled
    /// `--target`'s platform is documented to reject the export: `source` names the document.
    case refusedByTarget(target: String, reason: String, source: String)
    /// A signing key or certificate imgship will not use: unreadable, encrypted, of another
    /// kind, or not each other's.
    case signing(path: String, reason: String)
    /// Another run (an export or a job) is writing the output: its lock (`JobLock`) is held,
    /// the wait for it was interrupted, or it could not be taken.
    case outputLocked(output: String, JobLockError)

    /// What `outputExists` says after the path.
    public static let outputExistsAdvice = "exists; pass --force to overwrite it"

    public var description: String {
        switch self {
        case let .system(call, path, code):
            let reason = String(cString: strerror(code))
            return "\(path): \(call) failed: \(reason) (errno \(code))"
        case let .unsupportedSource(path, reason):
            return "\(path): \(reason)"
        case let .sizeTooLarge(path, format, size, limit):
            return (path.map { "\($0): " } ?? "") + "\(format) cannot hold \(size) bytes: its limit is \(limit) bytes (\(limit >> 30) GiB)"
        case let .outputExists(path):
            return "\(path) \(Self.outputExistsAdvice)"
        case let .malformedImage(path, offset, reason):
            return "\(path) at offset \(offset): \(reason)"
        case let .refusedExtent(descriptor, line, extent, reason):
            return "\(descriptor) line \(line): extent \"\(extent)\" \(reason)"
        case let .sourceChanged(path, offset, reason):
            return "\(path) at offset \(offset): \(reason)"
        case let .refusedOutput(path, reason):
            return "\(path): \(reason)"
        case let .sourceModified(path, change):
            return "\(path): changed while it was read (\(change)); the export was abandoned and no output was written"
        case let .compression(offset, reason):
            return "compressing the grain at offset \(offset): \(reason)"
        case .cancelled:
            return "interrupted; no output was left behind"
        case let .refusedByTarget(target, reason, source):
            return "--target \(target): \(reason) (\(source)); nothing was written"
        case let .signing(path, reason):
            return "\(path): \(reason)"
        case let .outputLocked(output, error):
            return "\(output): \(error)"
        }
    }
}
