import ConfigDocument
import Dispatch
import Foundation
import Synchronization

/// A document's text and the name its problems are reported under; nil for the command's main
/// document, which the caller names itself.
public struct NamedDocument: Sendable {
    public var name: String?
    public var text: String

    public init(name: String?, text: String) {
        self.name = name
        self.text = text
    }
}

/// What a reviewer sees of one distribution configuration (`imgship plan`, each side of
/// `imgship plan diff`): the plan, the pipeline that builds the image it distributes, and the
/// size and cost of distributing it. The command line only reads files and prints.
public struct PlanReview: Sendable {
    /// Everything beside the configuration and its context.
    public struct Inputs: Sendable {
        /// The logical id of the configuration to plan in a template with several.
        public var resource: String?
        /// `--image-size`: wins over any recipe.
        public var imageSizeGiB: Int?
        /// `--recipe`, `--pipeline`, `--infrastructure`: any of them may be a get-image response
        /// or a template standing for several.
        public var recipe: NamedDocument?
        public var pipeline: NamedDocument?
        public var infrastructure: NamedDocument?
        /// `--prices`: laid over the bundled price table.
        public var prices: NamedDocument?
        /// How many next starts of the schedule to show.
        public var nextRuns: Int
        /// The instant next starts are counted from.
        public var now: Date

        public init(
            resource: String? = nil, imageSizeGiB: Int? = nil, recipe: NamedDocument? = nil,
            pipeline: NamedDocument? = nil, infrastructure: NamedDocument? = nil,
            prices: NamedDocument? = nil, nextRuns: Int = 1, now: Date = Date()
        ) {
            self.resource = resource
            self.imageSizeGiB = imageSizeGiB
            self.recipe = recipe
            self.pipeline = pipeline
            self.infrastructure = infrastructure
            self.prices = prices
            self.nextRuns = nextRuns
            self.now = now
        }
    }

    /// Nil when any document has an error.
    public var plan: Plan?
    /// Every problem of every document, the main document's with `file` nil.
    public var problems: [Problem]
    /// Nil when no pipeline, recipe or infrastructure was given or carried by the configuration.
    public var pipeline: PipelineDocuments?
    /// The pipeline's lines for the plan's header; empty without a pipeline.
    public var pipelineSummary: [String]
    /// Nil when neither `--image-size` nor a recipe gives the image's size.
    public var imageSize: ImageSize?
    public var prices: PriceTable
    /// Nil without an image size or a plan.
    public var cost: CostEstimate?
    /// The Terraform pipeline, recipe and infrastructure resources read around the
    /// configuration, in that order.
    public var terraformResources: [TerraformResource]
    /// The instant and count of the schedule's next starts shown.
    var now: Date
    var nextRuns: Int

    public var errors: [Problem] { problems.filter { $0.severity == .error } }
    public var warnings: [Problem] { problems.filter { $0.severity == .warning } }

    /// A Terraform resource the review read beside the configuration.
    public struct TerraformResource: Sendable, Equatable {
        public var address: String
        public var type: String
        public var action: String
    }

    static func parsed(_ document: NamedDocument) -> (name: String?, value: Swift.Result<ConfigValue, Problem>) {
        do throws(Problem) {
            return (document.name, .success(try DocumentReader.parse(document.text)))
        } catch {
            return (document.name, .failure(error))
        }
    }

    /// The pipeline, recipe and infrastructure resources of a Terraform document around the
    /// configuration `resource` names (`before:ADDRESS` for the side before the change; without
    /// one, the document's only configuration), except the kinds in `excluding`; each value
    /// known only after apply is named in a warning, never guessed.
    static func terraformSides(config: NamedDocument, resource: String?, excluding: Set<TerraformPlan.SideResource.Kind>) -> (
        resources: [TerraformPlan.SideResource], problems: [Problem]
    ) {
        guard config.text.contains("format_version") || config.text.contains("terraform_version"),
            let document = try? DocumentReader.parse(config.text), TerraformPlan.recognises(document)
        else { return ([], []) }
        var wanted = resource
        let before = wanted?.hasPrefix("before:") == true
        if before { wanted = wanted.map { String($0.dropFirst("before:".count)) } }
        let only: String? = {
            guard case let .success(found) = TerraformPlan.resources(in: document), found.count == 1 else { return nil }
            return found.first?.address
        }()
        guard let address = wanted ?? only else { return ([], []) }
        let found = TerraformPlan.sideResources(in: document, distribution: address, before: before)
        let resources = found.resources.filter { !excluding.contains($0.kind) && $0.document != nil }
        var problems = found.problems
        for resource in resources {
            for path in resource.unknown {
                problems.append(
                    Problem(
                        .warning, "\(resource.address).\(path)",
                        path == "platform"
                            ? "known only after apply (after_unknown): the provider computes it from the recipe's parent image; not taken from it"
                            : "known only after apply (after_unknown): left out of the review, not guessed"))
            }
        }
        return (resources, problems)
    }

    /// Plans `config` and reads what `inputs` give beside it.
    public static func make(config: NamedDocument, context given: PlanContext, inputs: Inputs) -> PlanReview {
        // The side files' platform drives the plan when the command line gives none: a
        // Windows pipeline's plan is a Windows plan (fast launch allowed, its header says so).
        var context = given
        let side = [inputs.pipeline, inputs.recipe, inputs.infrastructure].compactMap { $0 }
        // A Terraform plan or state may hold the pipeline, recipe and infrastructure resources
        // around the configuration: read as the side files are, unless a side file is given
        // for that part.
        var sideKinds = Set<TerraformPlan.SideResource.Kind>()
        if inputs.pipeline != nil { sideKinds.insert(.pipeline) }
        if inputs.recipe != nil { sideKinds.insert(.recipe) }
        if inputs.infrastructure != nil { sideKinds.insert(.infrastructure) }
        let terraform = terraformSides(config: config, resource: inputs.resource, excluding: sideKinds)
        let terraformDocuments = terraform.resources.compactMap { resource in
            resource.document.map { (name: String?.none, value: Swift.Result<ConfigValue, Problem>.success($0)) }
        }
        if context.platform == nil, !side.isEmpty || !terraformDocuments.isEmpty {
            context.platform = PipelineDocuments.load(parsed: terraformDocuments + side.map(Self.parsed)).contextPlatform
        }
        let outcome = DistributionPlanner.plan(document: config.text, context: context, resource: inputs.resource)
        var problems = outcome.problems.map { problem in config.name.map(problem.located(in:)) ?? problem }
        problems += terraform.problems.map { problem in config.name.map(problem.located(in:)) ?? problem }

        // A get-image response or a template may carry the pipeline's parts itself.
        var documents = [inputs.pipeline, inputs.recipe, inputs.infrastructure].compactMap { $0 }
        // Only those forms can: an API request or get-distribution-configuration answer holds
        // the configuration alone, and a 30-region fleet's is not searched for nothing.
        if outcome.form == .getImage || outcome.form == .cloudFormation, PipelineDocuments.carriesPipelineParts(config.text) {
            documents.insert(config, at: 0)
        }
        var pipeline: PipelineDocuments?
        if !documents.isEmpty || !terraformDocuments.isEmpty {
            var loaded = PipelineDocuments.load(
                parsed: terraformDocuments + documents.map(Self.parsed), distribution: outcome.configuration,
                platform: outcome.plan?.context.platform ?? context.platform, now: inputs.now)
            // A Terraform resource's problems are named by its address, in the plan's file.
            for index in loaded.problems.indices where loaded.problems[index].file == nil {
                let path = loaded.problems[index].path
                for resource in terraform.resources {
                    let member = resource.kind.responseMember
                    guard path == member || path.hasPrefix(member + ".") else { continue }
                    loaded.problems[index].path = resource.address + path.dropFirst(member.count)
                    if let name = config.name { loaded.problems[index].file = name }
                }
            }
            problems += loaded.problems
            pipeline = loaded
        }
        var pipelineSummary = pipeline?.summary(now: inputs.now, nextRuns: inputs.nextRuns).lines ?? []
        if !terraform.resources.isEmpty {
            let parts = terraform.resources.map { "\($0.address) (\($0.action))" }
            pipelineSummary.insert("from the Terraform document: \(parts.joined(separator: ", "))", at: 0)
        }

        var imageSize = inputs.imageSizeGiB.map { ImageSize(gib: $0) }
        if imageSize == nil, let recipe = inputs.recipe {
            // The recipe's own reading names the devices whose size comes from elsewhere.
            let reading = ImageSize.fromRecipe(document: recipe.text)
            imageSize = reading.size
            if !reading.unsizedDevices.isEmpty {
                let warning = Problem(
                    .warning, "",
                    "\(reading.unsizedDevices.joined(separator: ", ")) "
                        + "\(reading.unsizedDevices.count == 1 ? "has" : "have") no volumeSize: the size comes from the parent image "
                        + "or snapshot, which imgship cannot see, and is not counted in the image size")
                problems.append(recipe.name.map(warning.located(in:)) ?? warning)
            }
        }
        if imageSize == nil { imageSize = pipeline?.recipe?.size }

        var prices = PriceTable.bundled
        if let file = inputs.prices, imageSize == nil {
            // Prices only price a size: say so rather than ignore the file silently.
            let warning = Problem(
                .warning, "",
                "prices apply to the size and cost estimate, which needs the image's size: give --image-size or --recipe; ignored")
            problems.append(file.name.map(warning.located(in:)) ?? warning)
        }
        if let file = inputs.prices {
            let overridden = prices.overridden(byJSON: file.text)
            prices = overridden.table
            problems += overridden.problems.map { problem in file.name.map(problem.located(in:)) ?? problem }
        }

        let failed = problems.contains { $0.severity == .error }
        let plan = failed ? nil : outcome.plan
        return PlanReview(
            plan: plan, problems: problems, pipeline: pipeline,
            pipelineSummary: pipelineSummary,
            imageSize: imageSize, prices: prices,
            cost: plan.flatMap { plan in imageSize.map { CostEstimator.estimate(plan: plan, imageSize: $0, prices: prices) } },
            terraformResources: terraform.resources.map { .init(address: $0.address, type: $0.kind.rawValue, action: $0.action) },
            now: inputs.now, nextRuns: inputs.nextRuns)
    }
}

extension PlanReview {
    /// The plan for people: the pipeline in the header, the size and cost after the tasks.
    public func text(_ plan: Plan) -> String {
        TextRenderer.render(plan, pipeline: pipelineSummary, cost: cost)
    }

    /// The plan's JSON with `pipeline` and `cost` members when there is a pipeline or an
    /// estimate (schemas: `PipelineDocuments.jsonValue`, `CostRenderer`).
    public func json(_ plan: Plan) -> String {
        var extra: [PlanValue.Member] = []
        if let pipeline { extra.append(.init("pipeline", pipeline.jsonValue(now: now, nextRuns: nextRuns))) }
        if !terraformResources.isEmpty {
            extra.append(
                .init(
                    "terraformResources",
                    .list(
                        terraformResources.map {
                            .object([.init("address", .string($0.address)), .init("type", .string($0.type)), .init("action", .string($0.action))])
                        })))
        }
        if let cost { extra.append(.init("cost", CostRenderer.jsonValue(cost))) }
        return JSONRenderer.render(plan, adding: extra)
    }

    /// Both sides of a diff, planned at once on two threads: each is independent of the
    /// other, and a 30-region fleet takes a third of a second to plan.
    public static func makePair(
        old: NamedDocument, new: NamedDocument, context: PlanContext,
        inputs: Inputs
    ) -> (old: PlanReview, new: PlanReview) {
        let sides = [old, new]
        let results = Mutex<[PlanReview?]>([nil, nil])
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let review = make(config: sides[index], context: context, inputs: inputs)
            results.withLock { $0[index] = review }
        }
        let reviews = results.withLock { $0 }
        guard let oldReview = reviews[0], let newReview = reviews[1] else {
            preconditionFailure("concurrentPerform returned before both sides were planned")
        }
        return (oldReview, newReview)
    }

    /// The diff of two reviews' plans, with the cost delta when either side knows the image's
    /// size (the new side's size and prices first). Nil when either has no plan.
    public static func diff(old: PlanReview, new: PlanReview) -> PlanDiff? {
        guard let oldPlan = old.plan, let newPlan = new.plan else { return nil }
        let diff = PlanDiff.compare(old: oldPlan, new: newPlan)
        guard let size = new.imageSize ?? old.imageSize else { return diff }
        return diff.withCost(old: oldPlan, new: newPlan, imageSize: size, prices: new.prices)
    }
}
