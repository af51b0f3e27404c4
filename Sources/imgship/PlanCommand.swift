#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import DistributionPlan
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

    func validate() throws {
        if let account, account.count != 12 || !account.allSatisfy(\.isNumber) {
            throw ValidationError("--account must be a 12-digit account id, got '\(account)'")
        }
    }

    func run() throws {
        let text: String
        do {
            if config == "-" {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else {
                text = try String(contentsOfFile: config, encoding: .utf8)
            }
        } catch {
            writeToStandardError("imgship: error: \(config): cannot read: \((error as NSError).localizedDescription)\n")
            throw ExitCode(2)
        }
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
        switch output {
        case .text: print(TextRenderer.render(plan), terminator: "")
        case .json: print(JSONRenderer.render(plan), terminator: "")
        case .script: print(ScriptRenderer.render(plan), terminator: "")
        }
        if strict && !outcome.warnings.isEmpty {
            writeToStandardError("imgship: \(outcome.warnings.count) warning(s) with --strict\n")
            throw ExitCode(2)
        }
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
