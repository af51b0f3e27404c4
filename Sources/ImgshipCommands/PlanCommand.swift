#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import ConfigDocument
import DiskImage
import DistributionPlan
import ExportJob
import Foundation

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Check an EC2 Image Builder distribution configuration and show what distributing an image with it would do.",
        discussion: """
        A dry run: no AWS call is made. CONFIG, JSON or YAML, is the API form (create-/update-distribution-configuration \
        --cli-input-json), the answer of get-distribution-configuration or get-image, or a CloudFormation template \
        with an AWS::ImageBuilder::DistributionConfiguration resource. Errors exit 2; warnings are printed and exit 0 \
        unless --strict.
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, script
    }

    @Argument(help: "The configuration file, or - for standard input.")
    var config: String

    @Option(help: "The region the image is built in (default: the first listed region).")
    var sourceRegion: String?

    @Option(help: "The owner account id (default: a placeholder shown as <owner>).")
    var account: String?

    @Option(help: "linux, windows or macos (default: linux, or what get-image says).")
    var platform: PlanContext.Platform?

    @Option(help: "The build date for {{ imagebuilder:buildDate }} (default: get-image's, else now, UTC).")
    var buildDate: String?

    @Option(help: "The build version for {{ imagebuilder:buildVersion }} (default: get-image's, else 1).")
    var buildVersion: Int?

    @Option(help: "The image recipe's name: AMIs without a configured name are named '<recipe name> <build date>' (default: get-image's).")
    var recipeName: String?

    @Option(help: "The logical id of the distribution configuration to plan, when a CloudFormation template has several.")
    var resource: String?

    @Option(name: .shortAndLong, help: "text, json, or script (a bash script of AWS CLI commands; imgship never runs it).")
    var output: Format = .text

    @Flag(help: "Treat warnings as errors.")
    var strict = false

    @Option(name: .customLong("emit-job"), help: ArgumentHelp(
        "Print, instead of the plan, a job file (imgship job) exporting this image as each region's s3ExportConfiguration says.",
        valueName: "source-image"))
    var emitJob: String?

    @Option(help: "With --emit-job: the local folder standing for S3; buckets become its subfolders.")
    var jobDestination = "exports"

    func validate() throws {
        // The same checks DistributionPlanner makes of any context, answered here as usage errors.
        if let account, !DistributionPlanner.isAccountID(account) {
            throw ValidationError("--account must be a 12-digit account id, got '\(account)'")
        }
        if let sourceRegion, !Partition.isRegionName(sourceRegion) {
            throw ValidationError("--source-region must be a region name such as us-east-1 (\(Partition.regionPattern)), got '\(sourceRegion)'")
        }
        if let buildVersion, buildVersion < 1 {
            throw ValidationError("--build-version must be 1 or more, got \(buildVersion)")
        }
        if let recipeName, !DistributionPlanner.isRecipeName(recipeName) {
            throw ValidationError("--recipe-name must be an Image Builder recipe name (letters, digits, - _ and spaces, 3 to 128 characters), got '\(recipeName)'")
        }
        if let buildDate, !DistributionPlanner.isBuildDate(buildDate) {
            throw ValidationError("--build-date must be letters, digits, '-', '_' and '.' (AMI names allow no ':'), such as 2026-11-24T09-30-00Z, got '\(buildDate)'")
        }
    }

    func run() throws {
        let text = try readDocument(config)
        let context = PlanContext(sourceRegion: sourceRegion, ownerAccount: account, platform: platform,
                                  buildDate: buildDate, buildVersion: buildVersion, recipeName: recipeName,
                                  fallbackBuildDate: Self.now())
        let outcome = DistributionPlanner.plan(document: text, context: context, resource: resource)
        let name = config == "-" ? "<stdin>" : config
        for problem in outcome.problems {
            let position = problem.line.map { ":\($0):\(problem.column ?? 1)" } ?? ""
            writeToStandardError("\(name)\(position): \(problem.severity.rawValue): \(problem)\n")
        }
        guard let plan = outcome.plan else {
            writeToStandardError("imgship: \(outcome.errors.count) error(s); no plan\n")
            throw ExitCode(2)
        }
        if let emitJob {
            guard !plan.exports.isEmpty else {
                writeToStandardError("imgship: error: \(name): no region has an s3ExportConfiguration; there is nothing to export\n")
                throw ExitCode(2)
            }
            try writeToStandardOutput(Self.job(exporting: emitJob, to: jobDestination, as: plan.exports).json())
        } else {
            switch output {
            case .text: try writeToStandardOutput(TextRenderer.render(plan))
            case .json: try writeToStandardOutput(JSONRenderer.render(plan))
            case .script: try writeToStandardOutput(ScriptRenderer.render(plan))
            }
        }
        if strict && !outcome.warnings.isEmpty {
            writeToStandardError("imgship: \(outcome.warnings.count) warning(s) with --strict\n")
            throw ExitCode(2)
        }
    }

    /// The job `--emit-job` prints: the plan's exports as plain values, paths made absolute
    /// against the current directory.
    static func job(exporting source: String, to destination: String, as exports: [PlannedExport]) -> JobFile {
        JobFile(exporting: source, to: destination,
                as: exports.map { export in
                    JobFile.RegionExport(region: export.region, diskImageFormat: export.diskImageFormat,
                                         s3Bucket: export.s3Bucket, s3Prefix: export.s3Prefix)
                },
                currentDirectory: FileManager.default.currentDirectoryPath)
    }

    /// Image Builder's buildDate form, UTC: 2026-11-24T09-30-00Z has no colons, which AMI
    /// names do not allow.
    static func now() -> String {
        var seconds = time(nil)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour))-\(two(parts.tm_min))-\(two(parts.tm_sec))Z"
    }
}

extension PlanContext.Platform: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

/// The text of a configuration or job file, or of standard input for `-`; exit 2 when it
/// cannot be read, or is not UTF-8 text (`DocumentText`: the first invalid byte, a NUL byte
/// or a byte-order mark, named by its offset and line:column).
func readDocument(_ path: String) throws -> String {
    let bytes: [UInt8]
    do {
        bytes = try readAllBytes(path)
    } catch {
        writeToStandardError("imgship: error: \(path): cannot read: \(error.reason)\n")
        throw ExitCode(2)
    }
    do throws(Problem) {
        return try DocumentText.decode(bytes)
    } catch {
        let name = path == "-" ? "<stdin>" : path
        writeToStandardError("\(name):\(error.line ?? 1):\(error.column ?? 1): error: \(error)\n")
        throw ExitCode(2)
    }
}

/// Why a configuration file could not be read.
struct DocumentReadError: Error {
    var reason: String
}

/// Configuration and job files are small; a larger input is refused instead of read into memory.
let maximumDocumentBytes = 64 << 20

/// The bytes of `path` (or standard input for `-`), read with read(2) to the end, so a FIFO or
/// a process substitution (`<(git show main:dist.json)`) reads as a file does; at most
/// `maximumDocumentBytes`.
func readAllBytes(_ path: String) throws(DocumentReadError) -> [UInt8] {
    let descriptor = path == "-" ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw DocumentReadError(reason: String(cString: strerror(errno))) }
    defer { if descriptor != STDIN_FILENO { close(descriptor) } }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count == 0 { return bytes }
        if count < 0 {
            if errno == EINTR { continue }
            throw DocumentReadError(reason: String(cString: strerror(errno)))
        }
        bytes.append(contentsOf: chunk[..<count])
        if bytes.count > maximumDocumentBytes {
            throw DocumentReadError(reason: "larger than \(maximumDocumentBytes >> 20) MiB, more than a configuration or job file holds")
        }
    }
}
