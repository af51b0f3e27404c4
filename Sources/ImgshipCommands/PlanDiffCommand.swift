import ArgumentParser
import ConfigDocument
import DistributionPlan
import Foundation

/// `imgship plan diff OLD NEW`: what changing a distribution configuration would change, task
/// by task, in Terraform's manner.
struct PlanDiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what changing a distribution configuration would change: tasks to add, change and remove.",
        discussion: """
            OLD and NEW are configurations in any form `imgship plan` reads, and may differ in form (a template against \
            a get-distribution-configuration answer); both are planned with the same context flags. Either may be a \
            FIFO: imgship plan diff <(git show main:dist.json) dist.json. With --image-size or a recipe, the diff ends \
            with the change in size and estimated cost. `imgship plan diff tfplan.json` (what terraform show -json prints \
            of a saved plan) compares each aws_imagebuilder_distribution_configuration's before and after, under its \
            address. Exit status: 0, or with --exit-code 0 when nothing changes and \
            1 when something does; 2 when either configuration has errors.
            """)

    @Argument(help: "The configuration as it is (a file, or - for standard input).")
    var old: String

    @Argument(help: "The configuration as it would be; omitted when OLD is a Terraform plan (terraform show -json), whose before and after are compared.")
    var new: String?

    @OptionGroup(title: "Context")
    var context: PlanContextOptions

    @OptionGroup(title: "Size and cost")
    var review: PlanReviewOptions

    @OptionGroup(title: "Output")
    var output: PlanOutputOptions

    @Option(help: "Colour the markers: auto (a terminal, NO_COLOR unset), always or never.")
    var color: ColourChoice = .auto

    @Flag(help: "Exit 1 when the plans differ, 0 when they do not (as git diff --exit-code).")
    var exitCode = false

    func validate() throws {
        if old == "-" && new == "-" {
            throw ValidationError("OLD and NEW cannot both be standard input")
        }
        if output.explicitFormat == .script {
            throw ValidationError("plan diff prints text or json, not script")
        }
    }

    func run() throws {
        // A diff compares distribution tasks: a pipeline's schedule and an infrastructure's
        // placement are checked (their problems are printed) but belong to neither plan.
        for (flag, path) in [("--pipeline", review.pipeline), ("--infrastructure", review.infrastructure)] {
            if let path {
                printProblem(
                    .warning, "\(flag) \(path) is only checked: a diff shows distribution tasks, not the schedule or placement (imgship plan shows them)")
            }
        }
        let readFiles = [old] + (new.map { [$0] } ?? []) + review.paths
        try output.checkOutput(inputs: readFiles)
        let documents = try review.documents()
        let oldText = try readDocument(old)
        // One instant for both sides, so a build date taken from the clock cannot differ.
        let now = try self.context.clock()
        let context = self.context.planContext(fallbackBuildDate: PlanClock.buildDate(now))
        let inputs = review.inputs(documents, resource: self.context.resource, now: now)
        guard let new else {
            guard var resources = TerraformPlan.resources(inDocument: oldText) else {
                throw ValidationError("give NEW, or make OLD a Terraform plan (terraform show -json tfplan) to compare its before and after")
            }
            if let wanted = self.context.resource { resources = resources.filter { $0.address == wanted } }
            return try diffTerraform(oldText, resources: resources, context: context, inputs: inputs, readFiles: readFiles)
        }
        let newText = try readDocument(new)
        let (oldReview, newReview) = PlanReview.makePair(
            old: NamedDocument(name: displayName(old), text: oldText),
            new: NamedDocument(name: displayName(new), text: newText),
            context: context, inputs: inputs)
        // The side documents (--recipe, ...) are read for both sides: print their problems once.
        printDocumentProblems(Problem.unique(oldReview.problems + newReview.problems), in: displayName(new))
        guard let diff = PlanReview.diff(old: oldReview, new: newReview) else {
            let failed = [(old, oldReview), (new, newReview)].filter { $0.1.plan == nil }.map { displayName($0.0) }
            writeToStandardError("imgship: no diff: \(failed.joined(separator: " and ")) could not be planned\n")
            throw ExitCode(PlanDiff.errorExitCode)
        }
        switch output.resolvedFormat {
        case .json: try output.write(DiffRenderer.json(diff), inputs: readFiles)
        case .text, .script: try output.write(DiffRenderer.text(diff, color: output.wantsColour(color)), inputs: readFiles)
        }
        if exitCode && diff.exitCode != 0 { throw ExitCode(diff.exitCode) }
    }

    /// Each distribution configuration of a Terraform plan, before against after, under
    /// `# ADDRESS: ACTION`; a created one shows its plan, a deleted one what stops running.
    /// JSON: a list of `{"address", "action", "diff"}` (`diff` null for a create or delete).
    func diffTerraform(_ text: String, resources: [TerraformPlan.Resource], context: PlanContext, inputs: PlanReview.Inputs, readFiles: [String]) throws {
        let reviews = TerraformReview.make(config: NamedDocument(name: nil, text: text), resources: resources, context: context, inputs: inputs, before: true)
        var parts: [String] = []
        var changed = false
        var failed: [String] = []
        for entry in reviews.entries {
            printDocumentProblems(entry.problems, in: displayName(old))
            if entry.before != nil && entry.before?.plan == nil || entry.after != nil && entry.after?.plan == nil {
                failed.append(entry.resource.address)
                continue
            }
            let diff = entry.before.flatMap { old in entry.after.flatMap { PlanReview.diff(old: old, new: $0) } }
            if entry.resource.action != "no-op" && (diff == nil || diff?.exitCode != 0) { changed = true }
            switch output.resolvedFormat {
            case .json:
                parts.append(
                    "{\"address\": \(jsonString(entry.resource.address)), \"action\": \(jsonString(entry.resource.action)), \"diff\": \(diff.map { DiffRenderer.json($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "null")}"
                )
            case .text, .script:
                let body: String
                if let diff {
                    body = DiffRenderer.text(diff, color: output.wantsColour(color))
                } else if let after = entry.after, let plan = after.plan {
                    body = "Terraform creates it; its plan:\n" + after.text(plan)
                } else {
                    body =
                        "Terraform deletes it: its \(entry.before?.plan?.tasks.count ?? 0) tasks no longer run for new builds; images already distributed stay.\n"
                }
                parts.append(entry.heading + "\n" + body)
            }
        }
        guard failed.isEmpty else {
            writeToStandardError("imgship: no diff: \(failed.joined(separator: " and ")) could not be planned\n")
            throw ExitCode(PlanDiff.errorExitCode)
        }
        try output.write(output.resolvedFormat == .json ? "[\n" + parts.joined(separator: ",\n") + "\n]\n" : parts.joined(separator: "\n"), inputs: readFiles)
        if exitCode && changed { throw ExitCode(1) }
    }
}
