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

    @Option(help: "The build date for {{ imagebuilder:buildDate }} (default: now, UTC).")
    var buildDate: String?

    @Option(help: "The build version for {{ imagebuilder:buildVersion }}.")
    var buildVersion: Int = 1

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
        if let account, account.count != 12 || !account.allSatisfy(\.isNumber) {
            throw ValidationError("--account must be a 12-digit account id, got '\(account)'")
        }
    }

    func run() throws {
        let text = try readDocument(config)
        let context = PlanContext(sourceRegion: sourceRegion, ownerAccount: account, platform: platform,
                                  buildDate: buildDate ?? Self.now(), buildVersion: buildVersion)
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

    /// One export a region: the image in that region's disk image format, bucket and prefix.
    /// Image Builder names the object `export-ami-<id>`; the AMI id exists only after the
    /// build, so the local name is `export-<image name>-<region>`. Paths are absolute, as the
    /// job file may be saved anywhere.
    static func job(exporting source: String, to destination: String, as exports: [PlannedExport]) -> JobFile {
        let current = FileManager.default.currentDirectoryPath
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : current + "/" + path }
        let imageName = URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
        return JobFile(exports: exports.map { export in
            JobFile.Export(source: absolute(source), formats: [OutputFormat(parsing: export.diskImageFormat) ?? .raw],
                           destination: absolute(destination), s3Bucket: export.s3Bucket, s3Prefix: export.s3Prefix,
                           name: "export-\(imageName)-\(export.region)")
        })
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
        if path == "-" {
            bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
        } else {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
    } catch {
        writeToStandardError("imgship: error: \(path): cannot read: \((error as NSError).localizedDescription)\n")
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
