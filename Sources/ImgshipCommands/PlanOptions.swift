import ArgumentParser
import DiskImage
import DistributionPlan
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The context flags `plan` and `plan diff` share: what the configuration alone does not say.
struct PlanContextOptions: ParsableArguments {
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

    @Option(
        help: ArgumentHelp(
            "The instant the plan is made at, such as 2026-03-07T12:00:00Z or @SECONDS: the schedule's next starts and the default build date (default: SOURCE_DATE_EPOCH, else the clock).",
            valueName: "time"))
    var now: String?

    /// The plan's instant (`PlanClock`): `--now`, `SOURCE_DATE_EPOCH`, the clock.
    func clock() throws -> Date {
        switch PlanClock.resolve(now: now, environment: ProcessInfo.processInfo.environment) {
        case let .success(date): return date
        case let .failure(refusal): throw ValidationError(refusal.description)
        }
    }

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
            throw ValidationError(
                "--recipe-name must be an Image Builder recipe name (letters, digits, - _ and spaces, 3 to 128 characters), got '\(recipeName)'")
        }
        if let buildDate, !DistributionPlanner.isBuildDate(buildDate) {
            throw ValidationError(
                "--build-date must be letters, digits, '-', '_' and '.' (AMI names allow no ':'), such as 2026-11-24T09-30-00Z, got '\(buildDate)'")
        }
    }

    @Flag(help: "Plan regions missing from imgship's dated region table (newer than it) with a warning instead of an error.")
    var allowUnknownRegions = false

    func planContext(fallbackBuildDate: String) -> PlanContext {
        var context = PlanContext(
            sourceRegion: sourceRegion, ownerAccount: account, platform: platform, buildDate: buildDate,
            buildVersion: buildVersion, recipeName: recipeName, fallbackBuildDate: fallbackBuildDate)
        context.allowUnknownRegions = allowUnknownRegions
        return context
    }
}

/// The documents around a configuration: the pipeline that builds the image, and what its
/// size and cost are reckoned from.
struct PlanReviewOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The image's size in GiB, for the size and cost estimate (default: the recipe's EBS volume sizes).",
            valueName: "GiB"))
    var imageSize: Int?

    @Option(
        help: ArgumentHelp(
            "A get-image-recipe or get-container-recipe answer, or a template with the recipe: the image's size, and its block devices checked.",
            valueName: "file"))
    var recipe: String?

    @Option(
        help: ArgumentHelp(
            "A get-image-pipeline answer, a get-image answer or a template: the schedule checked and its next starts shown.",
            valueName: "file"))
    var pipeline: String?

    @Option(
        help: ArgumentHelp(
            "A get-infrastructure-configuration answer: instance types and placement checked (macOS needs a Dedicated Host).",
            valueName: "file"))
    var infrastructure: String?

    @Option(
        help: ArgumentHelp(
            "A JSON prices file (per region, and per region pair for transfer) laid over the bundled price table (docs/plan.md, \"Size and cost\").",
            valueName: "file"))
    var prices: String?

    func validate() throws {
        // EBS volumes are at most 64 TiB (io2 Block Express); an image of many is bounded
        // here only so the arithmetic cannot overflow.
        if let imageSize, !(1...ImageSize.maximumGiB).contains(imageSize) {
            throw ValidationError("--image-size must be a size in GiB from 1 to \(ImageSize.maximumGiB), got \(imageSize)")
        }
        if [recipe, pipeline, infrastructure, prices].contains("-") {
            throw ValidationError("--recipe, --pipeline, --infrastructure and --prices take files; standard input is the configuration's")
        }
    }

    /// The side documents' paths, for `PlanOutputOptions.checkOutput`.
    var paths: [String] { [recipe, pipeline, infrastructure, prices].compactMap { $0 } }

    /// The files read, each named by its path in messages.
    struct Documents {
        var recipe, pipeline, infrastructure, prices: NamedDocument?
    }

    func documents() throws -> Documents {
        func read(_ path: String?) throws -> NamedDocument? {
            try path.map { NamedDocument(name: $0, text: try readDocument($0)) }
        }
        return Documents(
            recipe: try read(recipe), pipeline: try read(pipeline),
            infrastructure: try read(infrastructure), prices: try read(prices))
    }

    func inputs(_ documents: Documents, resource: String?, nextRuns: Int = 1, now: Date) -> PlanReview.Inputs {
        PlanReview.Inputs(
            resource: resource, imageSizeGiB: imageSize, recipe: documents.recipe,
            pipeline: documents.pipeline, infrastructure: documents.infrastructure,
            prices: documents.prices, nextRuns: nextRuns, now: now)
    }
}

/// Where a plan goes and in what form: `--format`, `--json`, `-o PATH`.
struct PlanOutputOptions: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, script
    }

    @Option(help: "text, json, or script (a bash script of AWS CLI commands; imgship never runs it).")
    var format: Format?

    @Flag(help: "The same as --format json.")
    var json = false

    @Option(
        name: .shortAndLong,
        help: ArgumentHelp(
            "Write to this file instead of standard output: under a temporary name, moved into place when complete.",
            valueName: "path"))
    var output: String?

    @Flag(help: "With --output: replace an existing file.")
    var force = false

    /// `-o text|json|script`, the format flag of earlier releases: still taken as the format
    /// when no --format or --json is given (`-o ./json` names a file called json).
    var legacyFormat: Format? {
        guard format == nil && !json else { return nil }
        return output.flatMap(Format.init(rawValue:))
    }

    /// The format the user asked for, nil when none was.
    var explicitFormat: Format? { json ? .json : format ?? legacyFormat }

    var resolvedFormat: Format { explicitFormat ?? .text }

    /// The output file; nil for standard output.
    var path: String? { legacyFormat == nil && output != "-" ? output : nil }

    func validate() throws {
        if json, let format, format != .json {
            throw ValidationError("--json and --format \(format.rawValue) disagree; give one")
        }
        if force && path == nil {
            throw ValidationError("--force applies only with --output FILE")
        }
        if let path {
            var info = stat()
            if SystemCalls.stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
                throw ValidationError("--output \(path) is a directory; give a file path")
            }
        }
    }

    /// Refuses, before any work, an output that is one of the command's `inputs` (by device
    /// and inode: another spelling, a hard or symbolic link), whatever `--force` says; exit 2.
    func checkOutput(inputs: [String]) throws {
        guard let path, let refusal = TextOutputFile.refusal(toReplace: path, inputs: inputs) else { return }
        throw fail(refusal)
    }

    /// The text to the file or standard output; a write error names the user's path and exits 1.
    /// `inputs` are the files the command read: the output replaces none of them.
    func write(_ text: String, inputs: [String]) throws {
        if let legacy = legacyFormat {
            printProblem(.warning, "-o \(legacy.rawValue) is read as --format \(legacy.rawValue); -o takes a path (-o ./\(legacy.rawValue) writes a file)")
        }
        guard let path else { return try writeToStandardOutput(text) }
        do throws(DiskImageError) {
            try TextOutputFile.write(text, to: path, overwrite: force, inputs: inputs)
        } catch {
            throw fail(error)
        }
    }

    /// Colour for a terminal: standard output is one and `NO_COLOR` is unset or empty
    /// (no-color.org), or `--color always`.
    func wantsColour(_ choice: ColourChoice) -> Bool {
        switch choice {
        case .always: return true
        case .never: return false
        case .auto:
            let noColour = ProcessInfo.processInfo.environment["NO_COLOR"].map { !$0.isEmpty } ?? false
            return path == nil && !noColour && isatty(STDOUT_FILENO) == 1
        }
    }
}

/// `--color`.
enum ColourChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never
}
