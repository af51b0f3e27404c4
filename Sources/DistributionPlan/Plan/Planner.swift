import ConfigDocument

/// Expands a checked configuration into the tasks Image Builder would carry out, following
/// the distribution workflow (distribution.md, "What the service does, in order"): the build
/// AMI shared with target accounts, copies, then launch permissions, then licenses, launch
/// templates, SSM parameters, fast launch and export; container distribution alongside.
public enum Planner {
    public static let buildImage = PlanValue.reference(.buildImage)

    public static func image(in region: String, account: String? = nil) -> PlanValue {
        .reference(.image(region: region, account: account))
    }

    /// The role Image Builder assumes in a target account (Image Builder user guide,
    /// "Set up cross-account AMI distribution").
    public static let crossAccountRole = "EC2ImageBuilderDistributionCrossAccountRole"

    /// The launch template version planned when fast launch names a template without one:
    /// EnableFastLaunch needs a version, Image Builder does not document which it passes, and
    /// `$Default` is the version EC2 launches when none is given.
    static let assumedFastLaunchTemplateVersion = "$Default"

    /// Plans `configuration`; the warnings given are carried into the plan.
    /// `recipeNameGiven`: the recipe name came from the command line, so a configuration that
    /// never uses it is worth a warning.
    public static func plan(
        _ configuration: DistributionConfiguration, context: PlanContext, warnings: [Problem] = [], recipeNameGiven: Bool = false
    ) -> Plan {
        planFindingWarnings(configuration, context: context, warnings: warnings, recipeNameGiven: recipeNameGiven).plan
    }

    /// `plan`, and apart the warnings the planner itself found while expanding (the plan
    /// carries them after the given ones).
    public static func planFindingWarnings(
        _ configuration: DistributionConfiguration, context: PlanContext, warnings: [Problem] = [], recipeNameGiven: Bool = false
    ) -> (plan: Plan, found: [Problem]) {
        var builder = PlanBuilder(configuration: configuration, context: context)
        builder.build()
        var found: [Problem] = []
        // A recipe name names only AMIs without a configured name (distribution.md); given
        // on the command line for a configuration that names every AMI, it changes nothing a
        // reader sees but JSON's context, so it must not pass silently (issue 22).
        if recipeNameGiven, !builder.namedAfterRecipe {
            found.append(
                Problem(
                    .warning, "",
                    "--recipe-name names nothing: every AMI this configuration makes has its own name (amiDistributionConfiguration.name); it is kept only in JSON's context"
                ))
        }
        let exports = configuration.distributions.compactMap { entry in
            entry.s3Export.map { PlannedExport(region: entry.region, export: $0) }
        }
        let plan = Plan(
            configurationName: configuration.name, context: context, sourceRegion: builder.sourceRegion,
            partition: builder.partition, id: builder.planID, buildImage: builder.buildImage, tasks: builder.tasks,
            exports: exports, prerequisites: builder.prerequisites.items, assumptions: builder.assumptions,
            warnings: warnings + found, totals: builder.totals())
        return (plan, found)
    }

    /// A 64-bit FNV-1a digest in hex: stable across runs and machines (Swift's Hasher is
    /// seeded per process), for plan ids and client tokens.
    static func stableDigest(_ parts: [String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in parts.joined(separator: "\u{1F}").utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// The state of one expansion; each kind of work adds its tasks in its own file
/// (`PlanBuilder+FastLaunch.swift`, ...).
struct PlanBuilder {
    let configuration: DistributionConfiguration
    let context: PlanContext
    let owner: String
    let sourceRegion: String
    let partition: Partition
    let planID: String
    var tasks: [PlanTask] = []
    var prerequisites = PrerequisiteList()
    var assumptions: [String] = []
    /// Whether some AMI is named after the recipe (one without a configured name).
    var namedAfterRecipe = false
    var buildImage: PlannedBuildImage?
    var copyAccounts: Set<String> = []
    var copyRegions: Set<String> = []

    init(configuration: DistributionConfiguration, context: PlanContext) {
        self.configuration = configuration
        self.context = context
        owner = context.owner
        sourceRegion = context.sourceRegion ?? configuration.distributions.first?.region ?? "us-east-1"
        partition = Partition(region: sourceRegion)
        planID = Planner.stableDigest([configuration.name ?? "", owner, sourceRegion])
    }

    /// Idempotency token for CopyImage, CreateLaunchTemplateVersion and ExportImage: the same
    /// plan, task and build always give the same token, so a rerun after a failure midway
    /// returns what the first run made instead of making it again (EC2 API reference,
    /// "Ensuring idempotency"; at most 64 ASCII characters).
    func clientToken(_ taskID: String) -> String {
        "imgship-\(planID.prefix(8))-" + Planner.stableDigest([planID, taskID, String(context.effectiveBuildVersion), context.effectiveBuildDate])
    }

    func role(for account: String) -> String? {
        account == owner ? nil : partition.roleARN(account: account, role: Planner.crossAccountRole)
    }

    /// The target accounts of an entry, without the owner (planned once, as the owner's AMI).
    func targetAccounts(_ entry: DistributionConfiguration.Distribution) -> [String] {
        var seen: Set<String> = []
        return (entry.ami?.targetAccountIds ?? []).filter { $0 != owner && seen.insert($0).inserted }
    }

    func hasAMIWork(_ entry: DistributionConfiguration.Distribution) -> Bool {
        entry.ami != nil || !entry.licenseConfigurationArns.isEmpty || !entry.launchTemplates.isEmpty
            || entry.s3Export != nil || !entry.fastLaunch.isEmpty || !entry.ssmParameters.isEmpty || entry.container == nil
    }

    /// The AMI name of an entry: its configured name expanded, else what the service uses
    /// when none is given, the recipe name and the build date.
    mutating func amiName(_ entry: DistributionConfiguration.Distribution?) -> PlanValue {
        if let name = entry?.ami?.name { return .string(CrossFieldRules.expandName(name, context: context)) }
        let date = context.effectiveBuildDate
        let region = entry?.region ?? sourceRegion
        if let recipe = context.recipeName {
            namedAfterRecipe = true
            assume("no AMI name is configured for \(region): Image Builder names the AMI after the recipe and the build date, planned as \"\(recipe) \(date)\"")
            return .string("\(recipe) \(date)")
        }
        assume(
            "no AMI name is configured for \(region): Image Builder names the AMI after the recipe and the build date; the recipe name is unknown (give --recipe-name or a get-image response), so the plan shows {{recipe-name}} and the script asks for RECIPE_NAME"
        )
        return .joined([.reference(.recipeName), .string(" \(date)")])
    }

    mutating func assume(_ text: String) {
        if !assumptions.contains(text) { assumptions.append(text) }
    }

    mutating func build() {
        let sourceEntry = configuration.distributions.first { $0.region == sourceRegion }
        if context.ownerAccount == nil {
            assume("the owner account is not known (give --account or a response with an ARN): shown as <owner>, and the script uses the caller's account")
        }
        if sourceEntry.map(hasAMIWork) ?? true {
            buildImage = PlannedBuildImage(region: sourceRegion, name: amiName(sourceEntry), description: sourceEntry?.ami?.description)
        }
        if let key = sourceEntry?.ami?.kmsKeyId {
            assume(
                "kmsKeyId \(key) in the source region \(sourceRegion) encrypts only the copies made there for target accounts; the build AMI keeps the encryption its recipe gave it"
            )
        }
        for entry in configuration.distributions {
            for tag in entry.ami?.amiTags ?? [] where tag.value.firstMatch(of: CrossFieldRules.anyVariable) != nil {
                assume(
                    "amiTags \(tag.key) in \(entry.region) is applied as written, \"\(tag.value)\": Image Builder documents its {{ }} variables for AMI names, not for tags"
                )
            }
        }
        if let tags = sourceEntry?.ami?.amiTags, !tags.isEmpty {
            tasks.append(
                PlanTask(
                    id: "tag-build-image:\(sourceRegion)", kind: .tagBuildImage, region: sourceRegion, account: owner,
                    parameters: [.init("Resources", .list([Planner.buildImage])), .init("Tags", tagList(tags))],
                    dependsOn: [], summary: "tag the build AMI with \(tags.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))"))
        }
        shareBuildImage()
        for entry in configuration.distributions {
            if hasAMIWork(entry) { amiTasks(entry) }
            if let container = entry.container { containerTask(entry.region, container) }
        }
    }

    /// A target account copies the build AMI itself, so Image Builder first gives it launch
    /// permission on the AMI and create-volume permission on its snapshots: a side effect on
    /// the build AMI that outlives the distribution.
    mutating func shareBuildImage() {
        var regionsOf: [String: [String]] = [:]
        var accounts: [String] = []
        for entry in configuration.distributions where hasAMIWork(entry) {
            for account in targetAccounts(entry) {
                if regionsOf[account] == nil { accounts.append(account) }
                regionsOf[account, default: []].append(entry.region)
            }
        }
        for account in accounts {
            let regions = regionsOf[account] ?? []
            tasks.append(
                PlanTask(
                    id: "share-build-image:\(account)", kind: .shareBuildImage, region: sourceRegion, account: owner,
                    parameters: [
                        .init("ImageId", Planner.buildImage),
                        .init("LaunchPermission", .object([.init("Add", .list([.object([.init("UserId", .string(account))])]))])),
                        .init("CreateVolumePermission", .object([.init("Add", .list([.object([.init("UserId", .string(account))])]))])),
                        .init("ForCopiesIn", .list(regions.map(PlanValue.string))),
                    ],
                    dependsOn: [],
                    summary: "share the build AMI and its snapshots with account \(account), which copies it into \(regions.joined(separator: ", "))"))
            prerequisites.add(
                owner, sourceRegion,
                "if the build AMI is encrypted, the key policy of its KMS key lets account \(account) use it (kms:Decrypt, kms:DescribeKey, kms:CreateGrant, kms:ReEncrypt*, kms:GenerateDataKey*): the copy in that account reads its snapshots"
            )
        }
    }

    func tagList(_ tags: [(key: String, value: String)]) -> PlanValue {
        .list(tags.map { .object([.init("Key", .string($0.key)), .init("Value", .string($0.value))]) })
    }

    /// One region's AMI work, in the workflow's order: copies, then launch permissions, then
    /// licenses, launch templates, SSM parameters, fast launch and export, each stage waiting
    /// for the one before it (one file each: `PlanBuilder+Copies.swift`, ...).
    mutating func amiTasks(_ entry: DistributionConfiguration.Distribution) {
        var stages = copyTasks(entry)
        stage(launchPermissionTask(entry, stages), in: &stages)
        stage(licenseTask(entry, stages), in: &stages)
        stage(launchTemplateTasks(entry, stages), in: &stages)
        stage(ssmParameterTasks(entry, stages), in: &stages)
        stage(fastLaunchTasks(entry, stages), in: &stages)
        stage(exportTask(entry, stages), in: &stages)
    }

    /// Adds a stage's tasks; the next stage waits for them.
    mutating func stage(_ stageTasks: [PlanTask], in stages: inout RegionStages) {
        guard !stageTasks.isEmpty else { return }
        tasks += stageTasks
        stages.previousStage = stageTasks.map(\.id)
    }

    func totals() -> PlanTotals {
        var totals = PlanTotals()
        totals.tasks = tasks.count
        for task in tasks { totals.byKind[task.kind, default: 0] += 1 }
        totals.copyRegions = copyRegions.count
        totals.copyAccounts = copyAccounts.count
        return totals
    }
}

/// Prerequisites, merged per account and requirement with their regions, in first-seen order.
struct PrerequisiteList {
    private(set) var items: [Prerequisite] = []
    private var index: [String: Int] = [:]

    mutating func add(_ account: String, _ region: String, _ requirement: String) {
        let key = account + "\u{0}" + requirement
        if let position = index[key] {
            if !items[position].regions.contains(region) { items[position].regions.append(region) }
        } else {
            index[key] = items.count
            items.append(Prerequisite(account: account, regions: [region], requirement: requirement))
        }
    }
}
