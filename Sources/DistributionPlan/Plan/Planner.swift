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
    public static func plan(_ configuration: DistributionConfiguration, context: PlanContext, warnings: [Problem] = []) -> Plan {
        var builder = Builder(configuration: configuration, context: context)
        builder.build()
        let exports = configuration.distributions.compactMap { entry in
            entry.s3Export.map { PlannedExport(region: entry.region, export: $0) }
        }
        return Plan(configurationName: configuration.name, context: context, sourceRegion: builder.sourceRegion,
                    partition: builder.partition, id: builder.planID, buildImage: builder.buildImage, tasks: builder.tasks,
                    exports: exports, prerequisites: builder.prerequisites.items, assumptions: builder.assumptions,
                    warnings: warnings, totals: builder.totals())
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

/// The state of one expansion.
private struct Builder {
    let configuration: DistributionConfiguration
    let context: PlanContext
    let owner: String
    let sourceRegion: String
    let partition: Partition
    let planID: String
    var tasks: [PlanTask] = []
    var prerequisites = PrerequisiteList()
    var assumptions: [String] = []
    var buildImage: PlannedBuildImage?
    private var copyAccounts: Set<String> = []
    private var copyRegions: Set<String> = []

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
            assume("no AMI name is configured for \(region): Image Builder names the AMI after the recipe and the build date, planned as \"\(recipe) \(date)\"")
            return .string("\(recipe) \(date)")
        }
        assume("no AMI name is configured for \(region): Image Builder names the AMI after the recipe and the build date; the recipe name is unknown (give --recipe-name or a get-image response), so the plan shows {{recipe-name}} and the script asks for RECIPE_NAME")
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
            assume("kmsKeyId \(key) in the source region \(sourceRegion) encrypts only the copies made there for target accounts; the build AMI keeps the encryption its recipe gave it")
        }
        for entry in configuration.distributions {
            for tag in entry.ami?.amiTags ?? [] where tag.value.firstMatch(of: CrossFieldRules.anyVariable) != nil {
                assume("amiTags \(tag.key) in \(entry.region) is applied as written, \"\(tag.value)\": Image Builder documents its {{ }} variables for AMI names, not for tags")
            }
        }
        if let tags = sourceEntry?.ami?.amiTags, !tags.isEmpty {
            tasks.append(PlanTask(id: "tag-build-image:\(sourceRegion)", kind: .tagBuildImage, region: sourceRegion, account: owner,
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
            tasks.append(PlanTask(
                id: "share-build-image:\(account)", kind: .shareBuildImage, region: sourceRegion, account: owner,
                parameters: [.init("ImageId", Planner.buildImage),
                             .init("LaunchPermission", .object([.init("Add", .list([.object([.init("UserId", .string(account))])]))])),
                             .init("CreateVolumePermission", .object([.init("Add", .list([.object([.init("UserId", .string(account))])]))])),
                             .init("ForCopiesIn", .list(regions.map(PlanValue.string)))],
                dependsOn: [],
                summary: "share the build AMI and its snapshots with account \(account), which copies it into \(regions.joined(separator: ", "))"))
            prerequisites.add(owner, sourceRegion, "if the build AMI is encrypted, the key policy of its KMS key lets account \(account) use it (kms:Decrypt, kms:DescribeKey, kms:CreateGrant, kms:ReEncrypt*, kms:GenerateDataKey*): the copy in that account reads its snapshots")
        }
    }

    mutating func containerTask(_ region: String, _ container: DistributionConfiguration.ContainerDistribution) {
        var parameters: [PlanValue.Member] = [
            .init("repositoryName", .string(container.repositoryName)),
            .init("service", .string(container.service)),
            .init("tags", .list(container.containerTags.map(PlanValue.string))),
        ]
        if let description = container.description { parameters.append(.init("description", .string(description))) }
        tasks.append(PlanTask(id: "distribute-container:\(region)", kind: .distributeContainer, region: region, account: owner,
                              parameters: parameters, dependsOn: [],
                              summary: "push the container image to ECR \(container.repositoryName)"
                                + (container.containerTags.isEmpty ? "" : " with tags \(container.containerTags.joined(separator: ", "))")))
        prerequisites.add(owner, region, "ECR repository \(container.repositoryName) exists")
    }

    func tagList(_ tags: [(key: String, value: String)]) -> PlanValue {
        .list(tags.map { .object([.init("Key", .string($0.key)), .init("Value", .string($0.value))]) })
    }

    mutating func amiTasks(_ entry: DistributionConfiguration.Distribution) {
        let region = entry.region
        let ami = entry.ami
        let isSource = region == sourceRegion
        let regionImage = isSource ? Planner.buildImage : Planner.image(in: region)
        let name = isSource ? (buildImage?.name ?? amiName(entry)) : amiName(entry)
        let targets = targetAccounts(entry)
        if !isSource { copyRegions.insert(region) }
        for account in targets {
            copyAccounts.insert(account)
            copyRegions.insert(region)
        }

        func copyParameters(_ id: String) -> [PlanValue.Member] {
            var parameters: [PlanValue.Member] = [
                .init("SourceRegion", .string(sourceRegion)),
                .init("SourceImageId", Planner.buildImage),
                .init("Name", name),
            ]
            if let description = ami?.description { parameters.append(.init("Description", .string(description))) }
            if let key = ami?.kmsKeyId {
                parameters.append(.init("Encrypted", .bool(true)))
                parameters.append(.init("KmsKeyId", .string(key)))
            }
            if let tags = ami?.amiTags, !tags.isEmpty {
                parameters.append(.init("TagSpecifications", .list([.object([
                    .init("ResourceType", .string("image")), .init("Tags", tagList(tags)),
                ])])))
            }
            parameters.append(.init("ClientToken", .string(clientToken(id))))
            return parameters
        }
        let shownName = name.displayText

        // 1. Copies: the owner's into every region but the source, one per target account,
        //    each made in its account from the build AMI (not from the owner's copy).
        var ownerCopy: String?
        if !isSource {
            let id = "copy-image:\(region)"
            ownerCopy = id
            tasks.append(PlanTask(id: id, kind: .copyImage, region: region, account: owner, parameters: copyParameters(id), dependsOn: [],
                                  summary: "copy the AMI from \(sourceRegion) as \"\(shownName)\"" + (ami?.kmsKeyId.map { ", encrypted with \($0)" } ?? "")))
        }
        var accountCopies: [String: String] = [:]
        for account in targets {
            let id = "copy-image:\(region):\(account)"
            accountCopies[account] = id
            tasks.append(PlanTask(id: id, kind: .copyImage, region: region, account: account, parameters: copyParameters(id),
                                  dependsOn: ["share-build-image:\(account)"],
                                  summary: "copy the AMI into account \(account) as \"\(shownName)\"" + (ami?.kmsKeyId.map { ", encrypted with \($0)" } ?? ""),
                                  assumeRole: role(for: account)))
            var requirement = "IAM role \(Planner.crossAccountRole) that Image Builder can assume from the owner account"
            if let key = ami?.kmsKeyId {
                requirement += ", with an inline policy allowing kms:CreateGrant, kms:Decrypt, kms:DescribeKey, kms:Encrypt, kms:GenerateDataKey*, kms:ReEncrypt* on \(key)"
                prerequisites.add(owner, region, "KMS key policy of \(key) lets account \(account) use the key (CreateGrant, Decrypt, ReEncrypt*, GenerateDataKey*)")
            }
            prerequisites.add(account, region, requirement)
        }
        if let key = ami?.kmsKeyId, !isSource {
            for account in ami?.launchPermission?.userIds ?? [] {
                prerequisites.add(owner, region, "KMS key policy of \(key) lets account \(account) use the key (shared by launch permission)")
            }
            if let permission = ami?.launchPermission, !(permission.organizationArns + permission.organizationalUnitArns).isEmpty {
                prerequisites.add(owner, region, "KMS key policy of \(key) lets the shared organizations' and OUs' accounts use the key (for example a kms:CreateGrant and kms:Decrypt statement with an aws:PrincipalOrgID or aws:PrincipalOrgPaths condition)")
            }
        }
        func imageFor(_ account: String) -> (image: PlanValue, copy: String?) {
            if account != owner, let copy = accountCopies[account] { return (Planner.image(in: region, account: account), copy) }
            return (regionImage, ownerCopy)
        }

        // Each later stage waits for the one before it, as the workflow runs them in order.
        var previousStage: [String] = []
        func after(_ copy: String?) -> [String] {
            var dependencies = previousStage
            if let copy, !dependencies.contains(copy) { dependencies.insert(copy, at: 0) }
            return dependencies
        }
        func stage(_ stageTasks: [PlanTask]) {
            guard !stageTasks.isEmpty else { return }
            tasks += stageTasks
            previousStage = stageTasks.map(\.id)
        }

        // 2. Launch permissions on the region's AMI.
        if let permission = ami?.launchPermission, !permission.isEmpty {
            var add: [PlanValue] = permission.userIds.map { .object([.init("UserId", .string($0))]) }
            add += permission.userGroups.map { .object([.init("Group", .string($0))]) }
            add += permission.organizationArns.map { .object([.init("OrganizationArn", .string($0))]) }
            add += permission.organizationalUnitArns.map { .object([.init("OrganizationalUnitArn", .string($0))]) }
            var who: [String] = []
            if !permission.userIds.isEmpty { who.append("accounts \(permission.userIds.joined(separator: ", "))") }
            if permission.userGroups.contains("all") { who.append("everyone (public)") }
            if !permission.organizationArns.isEmpty { who.append("organizations \(permission.organizationArns.joined(separator: ", "))") }
            if !permission.organizationalUnitArns.isEmpty { who.append("OUs \(permission.organizationalUnitArns.joined(separator: ", "))") }
            stage([PlanTask(id: "modify-image-attribute:\(region)", kind: .modifyImageAttribute, region: region, account: owner,
                            parameters: [.init("ImageId", regionImage), .init("Attribute", .string("launchPermission")),
                                         .init("LaunchPermission", .object([.init("Add", .list(add))]))],
                            dependsOn: after(ownerCopy), summary: "let \(who.joined(separator: "; ")) launch the AMI")])
        }

        // 3. Licenses, launch templates, SSM parameters, fast launch, export.
        if !entry.licenseConfigurationArns.isEmpty {
            let imageARN = PlanValue.joined([.string("arn:\(partition.name):ec2:\(region)::image/"), regionImage])
            stage([PlanTask(id: "associate-licenses:\(region)", kind: .associateLicenses, region: region, account: owner,
                            parameters: [.init("ResourceArn", imageARN),
                                         .init("AddLicenseSpecifications", .list(entry.licenseConfigurationArns.map {
                                             .object([.init("LicenseConfigurationArn", .string($0))])
                                         }))],
                            dependsOn: after(ownerCopy),
                            summary: "associate \(entry.licenseConfigurationArns.count) license configuration(s)")])
        }

        var templateTasks: [PlanTask] = []
        for template in entry.launchTemplates {
            let account = template.accountId ?? owner
            let (templateImage, copy) = imageFor(account)
            let createID = "create-launch-template-version:\(region):\(template.launchTemplateId)"
            templateTasks.append(PlanTask(id: createID, kind: .createLaunchTemplateVersion, region: region, account: account,
                                          parameters: [.init("LaunchTemplateId", .string(template.launchTemplateId)),
                                                       .init("SourceVersion", .string("$Latest")),
                                                       .init("LaunchTemplateData", .object([.init("ImageId", templateImage)])),
                                                       .init("ClientToken", .string(clientToken(createID)))],
                                          dependsOn: after(copy),
                                          summary: "new version of \(template.launchTemplateId) launching the AMI", assumeRole: role(for: account)))
            if template.setDefaultVersion == nil {
                // CloudFormation reference, LaunchTemplateConfiguration.SetDefaultVersion: "If you
                // don't set a value, Image Builder treats it as true"; Terraform defaults it to true.
                assume("setDefaultVersion is not given for \(template.launchTemplateId) in \(region): planned as true, as the CloudFormation reference says Image Builder treats it")
            }
            if template.setDefaultVersion ?? true {
                templateTasks.append(PlanTask(id: "set-default-launch-template-version:\(region):\(template.launchTemplateId)",
                                              kind: .setDefaultLaunchTemplateVersion, region: region, account: account,
                                              parameters: [.init("LaunchTemplateId", .string(template.launchTemplateId)),
                                                           .init("DefaultVersion", .reference(.launchTemplateVersion(task: createID)))],
                                              dependsOn: [createID], summary: "make that version the default of \(template.launchTemplateId)",
                                              assumeRole: role(for: account)))
            }
            if account != owner {
                prerequisites.add(account, region, "launch template \(template.launchTemplateId) tagged CreatedBy: EC2 Image Builder, and IAM role \(Planner.crossAccountRole)")
            }
        }
        stage(templateTasks)

        stage(entry.ssmParameters.map { parameter in
            let account = parameter.amiAccountId ?? owner
            let (parameterImage, copy) = imageFor(account)
            var parameters: [PlanValue.Member] = [.init("Name", .string(parameter.parameterName)), .init("Value", parameterImage),
                                                  .init("Type", .string("String")), .init("Overwrite", .bool(true))]
            if let dataType = parameter.dataType { parameters.append(.init("DataType", .string(dataType))) }
            prerequisites.add(owner, region, "the Image Builder execution role allows ssm:PutParameter on the parameters it writes"
                              + (parameter.dataType == "aws:ec2:image" ? ", and ec2:DescribeImages (data type aws:ec2:image)" : ""))
            return PlanTask(id: "put-ssm-parameter:\(region):\(account):\(parameter.parameterName)", kind: .putSSMParameter, region: region,
                            account: account, parameters: parameters, dependsOn: after(copy),
                            summary: "store the AMI id in SSM parameter \(parameter.parameterName)", assumeRole: role(for: account))
        })

        var fastTasks: [PlanTask] = []
        for (index, fast) in entry.fastLaunch.enumerated() where fast.enabled {
            let account = fast.accountId ?? owner
            let (fastImage, copy) = imageFor(account)
            var parameters: [PlanValue.Member] = [.init("ImageId", fastImage), .init("ResourceType", .string("snapshot"))]
            if let count = fast.targetResourceCount {
                parameters.append(.init("SnapshotConfiguration", .object([.init("TargetResourceCount", .int(count))])))
            }
            var template: [PlanValue.Member] = []
            if let id = fast.launchTemplateId { template.append(.init("LaunchTemplateId", .string(id))) }
            if let name = fast.launchTemplateName { template.append(.init("LaunchTemplateName", .string(name))) }
            if !template.isEmpty {
                if fast.launchTemplateVersion == nil {
                    assume("fast launch in \(region) names launch template \(fast.launchTemplateId ?? fast.launchTemplateName ?? "") without a version; EC2 EnableFastLaunch needs one and Image Builder does not document which it passes: planned as \(Planner.assumedFastLaunchTemplateVersion)")
                }
                template.append(.init("Version", .string(fast.launchTemplateVersion ?? Planner.assumedFastLaunchTemplateVersion)))
                parameters.append(.init("LaunchTemplate", .object(template)))
            } else {
                prerequisites.add(account, region, "fast launch without a launch template: a default VPC, and permissions to let EC2 fast launch launch instances (EC2FastLaunchFullAccess)")
            }
            if let parallel = fast.maxParallelLaunches { parameters.append(.init("MaxParallelLaunches", .int(parallel))) }
            prerequisites.add(account, region, "the service-linked role AWSServiceRoleForEC2FastLaunch (EC2 creates it on first use if the caller may)")
            fastTasks.append(PlanTask(id: "enable-fast-launch:\(region):\(index)", kind: .enableFastLaunch, region: region, account: account,
                                      parameters: parameters, dependsOn: after(copy),
                                      summary: "pre-provision \(fast.targetResourceCount.map(String.init) ?? "the default number of") snapshots for fast launch",
                                      assumeRole: role(for: account)))
        }
        stage(fastTasks)

        if let export = entry.s3Export {
            let id = "export-image:\(region)"
            var location: [PlanValue.Member] = [.init("S3Bucket", .string(export.s3Bucket))]
            if let prefix = export.s3Prefix { location.append(.init("S3Prefix", .string(prefix))) }
            let fileExtension = export.diskImageFormat.lowercased()
            stage([PlanTask(id: id, kind: .exportImage, region: region, account: owner,
                            parameters: [.init("ImageId", regionImage), .init("DiskImageFormat", .string(export.diskImageFormat)),
                                         .init("S3ExportLocation", .object(location)), .init("RoleName", .string(export.roleName)),
                                         .init("ClientToken", .string(clientToken(id)))],
                            dependsOn: after(ownerCopy),
                            // VM Import/Export user guide: the object key is the prefix plus the
                            // export task id (export-ami-...), not the AMI id.
                            summary: "export the AMI as \(export.diskImageFormat) to s3://\(export.s3Bucket)/\(export.s3Prefix ?? "")<export task id>.\(fileExtension)")])
            prerequisites.add(owner, region, "IAM role \(export.roleName) (VM Import/Export service role) and S3 bucket \(export.s3Bucket) it can write to")
        }
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
private struct PrerequisiteList {
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
