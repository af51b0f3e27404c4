import DiskImage

/// Why one output of a job failed: typed until printed, so a line that already shows the
/// output can print what happened to it without its path (`detail(besides:)`).
public enum UnitFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The output is, through a link the job file cannot see, the source itself.
    case outputIsSource(output: String, source: String)
    /// An output exists that is not known to be good, and replacing it was not asked for.
    case outputNotReplaced(output: String, reason: String)
    /// The output's folder could not be made: the message names the folder.
    case folder(String)
    /// The export failed or was interrupted.
    case export(DiskImageError)
    /// What a sharded job's merge found (`JobMerge`): a shard's own failure as its report
    /// gives it, or an output that does not verify now.
    case merge(String)
    /// Another run (of another job file, or another shard) writes the same output now.
    case outputLocked(JobLockError)

    public var description: String {
        switch self {
        case let .outputIsSource(output, _), let .outputNotReplaced(output, _): "\(output) \(detail(besides: output))"
        case let .folder(message), let .merge(message): message
        case let .export(error): "\(error)"
        case let .outputLocked(error): "\(error)"
        }
    }

    /// The message for a line that already names `output`: without the output's path when the
    /// message starts with it (`exists; pass --force to overwrite it`), whole otherwise.
    public func detail(besides output: String) -> String {
        switch self {
        case let .outputIsSource(path, source) where path == output:
            "is the source \(source) itself; give another name, s3Prefix or destination"
        case let .outputNotReplaced(path, reason) where path == output:
            "\(reason); remove it or run with --force to export it again"
        case let .export(.outputExists(path)) where path == output:
            DiskImageError.outputExistsAdvice
        case .outputIsSource, .outputNotReplaced, .folder, .export, .merge, .outputLocked:
            description
        }
    }
}
