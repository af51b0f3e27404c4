import ArgumentParser
import ConfigDocument
import DiskImage
import DistributionPlan
import ExportJob
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `imgship plan`: a group whose default subcommand plans one configuration, so
/// `imgship plan CONFIG` and `imgship plan diff OLD NEW` both read as they should.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Check an EC2 Image Builder distribution configuration and show what distributing an image with it would do.",
        discussion: """
            A dry run: no AWS call is made. `imgship plan CONFIG` plans one configuration (the show subcommand); \
            `imgship plan diff OLD NEW` shows what changing OLD into NEW would change.
            """,
        subcommands: [PlanShowCommand.self, PlanDiffCommand.self],
        defaultSubcommand: PlanShowCommand.self)

    /// `imgship plan --help` (or `-h`, `help plan`) names the group; ArgumentParser would show
    /// only the subcommand list there, though `imgship plan CONFIG` is what users type, so the
    /// default subcommand's flags follow it.
    static func asksForGroupHelp(_ arguments: [String]) -> Bool {
        arguments == ["plan", "--help"] || arguments == ["plan", "-h"] || arguments == ["help", "plan"]
    }

    static func groupHelp(columns: Int?) -> String {
        Imgship.helpMessage(for: PlanCommand.self, columns: columns) + "\n\n" + Imgship.helpMessage(for: PlanShowCommand.self, columns: columns)
    }
}

struct PlanShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Plan one distribution configuration (the default: `imgship plan CONFIG`).",
        discussion: """
            CONFIG, JSON or YAML, is the API form (create-/update-distribution-configuration --cli-input-json), the answer \
            of get-distribution-configuration or get-image, or a CloudFormation template with an \
            AWS::ImageBuilder::DistributionConfiguration resource, or what `terraform show -json` prints of a plan or a \
            state (each aws_imagebuilder_distribution_configuration under its address; --resource ADDRESS picks one, \
            --resource before:ADDRESS plans it as it is before the change). With --pipeline, --recipe and --infrastructure (or a \
            get-image answer, a template or a Terraform plan or state that carries them: the pipeline resource that \
            references the configuration, its recipe and infrastructure, named by address) the header shows the pipeline, and its schedule, block \
            devices and placement are checked; with --image-size or a recipe, the plan ends with its size and an estimate \
            of its cost. Errors exit 2; warnings are printed and exit 0 unless --strict.
            """)

    @Argument(help: "The configuration file, or - for standard input.")
    var config: String

    @OptionGroup(title: "Context")
    var context: PlanContextOptions

    @OptionGroup(title: "Pipeline, size and cost")
    var review: PlanReviewOptions

    @Option(help: "How many next starts of the pipeline's schedule to show (1 to 100; default 1); needs --pipeline.")
    var next: Int?

    @OptionGroup(title: "Output")
    var output: PlanOutputOptions

    @Flag(help: "Treat warnings as errors.")
    var strict = false

    @Option(
        name: .customLong("emit-job"),
        help: ArgumentHelp(
            "Print, instead of the plan, a job file (imgship job) exporting this image as each region's s3ExportConfiguration says.",
            valueName: "source-image"))
    var emitJob: String?

    @Option(help: "With --emit-job: the local folder standing for S3; buckets become its subfolders (default: exports).")
    var jobDestination: String?

    func validate() throws {
        if let next {
            guard (1...100).contains(next) else { throw ValidationError("--next must be 1 to 100, got \(next)") }
            // A flag that does not apply is refused, never silently ignored.
            guard review.pipeline != nil else {
                throw ValidationError("--next shows the next starts of a pipeline's schedule; give the pipeline with --pipeline")
            }
        }
        if jobDestination != nil && emitJob == nil {
            throw ValidationError("--job-destination applies only with --emit-job")
        }
        if emitJob != nil, let format = output.explicitFormat, format != .json {
            throw ValidationError("--emit-job prints a job file (JSON); --format \(format.rawValue) does not apply")
        }
    }

    func run() throws {
        let readFiles = [config] + review.paths
        try output.checkOutput(inputs: readFiles)
        let documents = try review.documents()
        let now = try context.clock()
        let configText = try readDocument(config)
        if emitJob == nil, context.resource == nil, let resources = TerraformPlan.resources(inDocument: configText) {
            return try planTerraform(configText, resources: resources, documents: documents, now: now, readFiles: readFiles)
        }
        let review = PlanReview.make(
            config: NamedDocument(name: nil, text: configText),
            context: context.planContext(fallbackBuildDate: PlanClock.buildDate(now)),
            inputs: self.review.inputs(documents, resource: context.resource, nextRuns: next ?? 1, now: now))
        let name = displayName(config)
        printDocumentProblems(review.problems, in: name)
        guard let plan = review.plan else {
            writeToStandardError("imgship: \(Problem.errorCount(review.problems)) error(s); no plan\n")
            throw ExitStatus.inputRefused.exitCode
        }
        let text: String
        if let emitJob {
            guard !plan.exports.isEmpty else {
                throw fail(
                    CommandProblem(
                        path: name, what: "no region has an s3ExportConfiguration; there is nothing to export",
                        exitStatus: .inputRefused))
            }
            text = Self.job(exporting: emitJob, to: jobDestination ?? "exports", as: plan.exports).json()
        } else {
            switch output.resolvedFormat {
            case .text: text = review.text(plan)
            case .json: text = review.json(plan)
            case .script: text = ScriptRenderer.render(plan)
            }
        }
        try output.write(text, inputs: readFiles)
        if strict && !review.warnings.isEmpty {
            writeToStandardError("imgship: \(review.warnings.count) warning(s) with --strict\n")
            throw ExitStatus.inputRefused.exitCode
        }
    }

    /// A Terraform plan or state: each distribution configuration under its address, as it
    /// would be after apply (`# ADDRESS: ACTION` before each; JSON: a list of
    /// `{"address", "action", "plan"}`, `plan` null for a deleted one).
    func planTerraform(
        _ text: String, resources: [TerraformPlan.Resource], documents: PlanReviewOptions.Documents, now: Date, readFiles: [String]
    ) throws {
        let reviews = TerraformReview.make(
            config: NamedDocument(name: nil, text: text), resources: resources,
            context: context.planContext(fallbackBuildDate: PlanClock.buildDate(now)),
            inputs: review.inputs(documents, resource: nil, nextRuns: next ?? 1, now: now), before: false)
        let name = displayName(config)
        var parts: [String] = []
        var failed = 0
        var warnings = 0
        for entry in reviews.entries {
            printDocumentProblems(entry.problems, in: name)
            warnings += entry.after?.warnings.count ?? 0
            let plan = entry.after?.plan
            if entry.after != nil && plan == nil { failed += entry.after?.errors.count ?? 0 }
            switch output.resolvedFormat {
            case .json:
                parts.append(
                    "{\"address\": \(jsonString(entry.resource.address)), \"action\": \(jsonString(entry.resource.action)), \"plan\": \(plan.flatMap { p in entry.after.map { $0.json(p).trimmingCharacters(in: .whitespacesAndNewlines) } } ?? "null")}"
                )
            case .text:
                parts.append(
                    entry.heading + "\n"
                        + (plan.flatMap { p in entry.after.map { $0.text(p) } } ?? "(nothing to plan: Terraform will \(entry.resource.action) it)\n"))
            case .script:
                parts.append(entry.heading + "\n" + (plan.map(ScriptRenderer.render) ?? ""))
            }
        }
        if failed > 0 {
            writeToStandardError("imgship: \(failed) error(s); no plan\n")
            throw ExitStatus.inputRefused.exitCode
        }
        try output.write(output.resolvedFormat == .json ? "[\n" + parts.joined(separator: ",\n") + "\n]\n" : parts.joined(separator: "\n"), inputs: readFiles)
        if strict && warnings > 0 {
            writeToStandardError("imgship: \(warnings) warning(s) with --strict\n")
            throw ExitStatus.inputRefused.exitCode
        }
    }

    /// The job `--emit-job` prints: the plan's exports as plain values, paths made absolute
    /// against the current directory.
    static func job(exporting source: String, to destination: String, as exports: [PlannedExport]) -> JobFile {
        JobFile(
            exporting: source, to: destination,
            as: exports.map { export in
                JobFile.RegionExport(
                    region: export.region, diskImageFormat: export.diskImageFormat,
                    s3Bucket: export.s3Bucket, s3Prefix: export.s3Prefix)
            },
            currentDirectory: FileManager.default.currentDirectoryPath)
    }
}

/// How a document path is shown in messages: `-` is standard input.
func displayName(_ path: String) -> String {
    path == "-" ? "<stdin>" : path
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
        throw fail(CommandProblem(path: path, what: "cannot read: \(error.reason)", exitStatus: .inputRefused))
    }
    do throws(Problem) {
        return try DocumentText.decode(bytes)
    } catch {
        var problem = error
        problem.line = problem.line ?? 1
        printDocumentProblems([problem], in: displayName(path))
        throw ExitStatus.inputRefused.exitCode
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
    let descriptor = path == "-" ? STDIN_FILENO : SystemCalls.open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw DocumentReadError(reason: String(cString: strerror(errno))) }
    defer { if descriptor != STDIN_FILENO { SystemCalls.close(descriptor) } }
    var bytes: [UInt8] = []
    // A file's size is known: reserved once, as growing by doubling would hold up to twice it.
    var info = stat()
    if SystemCalls.fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG {
        bytes.reserveCapacity(min(Int(info.st_size), maximumDocumentBytes) + 1)
    }
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { SystemCalls.read(descriptor, $0.baseAddress, $0.count) }
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
