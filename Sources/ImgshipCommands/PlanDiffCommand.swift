import ArgumentParser
import ConfigDocument
import DistributionPlan

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
            with the change in size and estimated cost. Exit status: 0, or with --exit-code 0 when nothing changes and \
            1 when something does; 2 when either configuration has errors.
            """)

    @Argument(help: "The configuration as it is (a file, or - for standard input).")
    var old: String

    @Argument(help: "The configuration as it would be.")
    var new: String

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
        let readFiles = [old, new] + review.paths
        try output.checkOutput(inputs: readFiles)
        let documents = try review.documents()
        let oldText = try readDocument(old)
        let newText = try readDocument(new)
        // One instant for both sides, so a build date taken from the clock cannot differ.
        let context = self.context.planContext(fallbackBuildDate: PlanShowCommand.now())
        let inputs = review.inputs(documents, resource: self.context.resource)
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
}
