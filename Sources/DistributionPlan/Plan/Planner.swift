import ConfigDocument

/// Expands a checked configuration into the tasks Image Builder would carry out, following
/// the distribution workflow: copies, then launch permissions, then licenses, launch
/// templates, SSM parameters, fast launch and export; container distribution alongside.
public enum Planner {
    /// AMI references inside parameters; renderers turn them into ids or variables.
    public static let buildImage = "{{ami:build}}"

    public static func image(in region: String, account: String? = nil) -> String {
        account.map { "{{ami:\(region):\($0)}}" } ?? "{{ami:\(region)}}"
    }

    public static let crossAccountRole = "EC2ImageBuilderDistributionCrossAccountRole"

    /// Plans `configuration`; the warnings given are carried into the plan.
    public static func plan(_ configuration: DistributionConfiguration, context: PlanContext, warnings: [Problem] = []) -> Plan {
        let owner = context.owner
        let sourceRegion = context.sourceRegion ?? configuration.distributions.first?.region ?? "unknown"
        var tasks: [PlanTask] = []
        var prerequisites = PrerequisiteList()
        var copyAccounts: Set<String> = []
        var copyRegions: Set<String> = []

        for entry in configuration.distributions {
            let region = entry.region
            let amiWork = entry.ami != nil || !entry.licenseConfigurationArns.isEmpty || !entry.launchTemplates.isEmpty
                || entry.s3Export != nil || !entry.fastLaunch.isEmpty || !entry.ssmParameters.isEmpty
                || entry.container == nil
            if amiWork {
                tasks += amiTasks(entry, configuration: configuration, context: context, owner: owner, sourceRegion: sourceRegion,
                                  prerequisites: &prerequisites)
                if region != sourceRegion { copyRegions.insert(region) }
                for account in entry.ami?.targetAccountIds ?? [] {
                    copyAccounts.insert(account)
                    copyRegions.insert(region)
                }
            }
            if let container = entry.container {
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
        }

        var totals = PlanTotals()
        totals.tasks = tasks.count
        for task in tasks { totals.byKind[task.kind, default: 0] += 1 }
        totals.copyRegions = copyRegions.count
        totals.copyAccounts = copyAccounts.count
        let exports = configuration.distributions.compactMap { entry in
            entry.s3Export.map { PlannedExport(region: entry.region, export: $0) }
        }
        return Plan(configurationName: configuration.name, context: context, sourceRegion: sourceRegion, tasks: tasks, exports: exports,
                    prerequisites: prerequisites.items, warnings: warnings, totals: totals)
    }

    private static func amiTasks(_ entry: DistributionConfiguration.Distribution, configuration: DistributionConfiguration,
                                 context: PlanContext, owner: String, sourceRegion: String,
                                 prerequisites: inout PrerequisiteList) -> [PlanTask] {
        let region = entry.region
        let ami = entry.ami
        var tasks: [PlanTask] = []
        let regionImage = region == sourceRegion ? buildImage : image(in: region)
        let name = ami?.name.map { CrossFieldRules.expandName($0, context: context) }

        func copyParameters(into account: String?) -> [PlanValue.Member] {
            var parameters: [PlanValue.Member] = [
                .init("SourceRegion", .string(sourceRegion)),
                .init("SourceImageId", .string(buildImage)),
                .init("Region", .string(region)),
            ]
            if let name { parameters.append(.init("Name", .string(name))) }
            if let description = ami?.description { parameters.append(.init("Description", .string(description))) }
            if let key = ami?.kmsKeyId {
                parameters.append(.init("Encrypted", .bool(true)))
                parameters.append(.init("KmsKeyId", .string(key)))
            }
            if let tags = ami?.amiTags, !tags.isEmpty {
                parameters.append(.init("TagSpecifications", .list([.object([
                    .init("ResourceType", .string("image")),
                    .init("Tags", .list(tags.map { .object([.init("Key", .string($0.key)), .init("Value", .string($0.value))]) })),
                ])])))
            }
            if account != nil { parameters.append(.init("RoleName", .string(crossAccountRole))) }
            return parameters
        }

        // 1. Copies: the owner's into every region but the source, one per target account.
        var ownerCopy: String?
        if region != sourceRegion {
            let id = "copy-image:\(region)"
            ownerCopy = id
            tasks.append(PlanTask(id: id, kind: .copyImage, region: region, account: owner, parameters: copyParameters(into: nil),
                                  dependsOn: [], summary: "copy the AMI from \(sourceRegion)" + (name.map { " as \"\($0)\"" } ?? "")
                                    + (ami?.kmsKeyId.map { ", encrypted with \($0)" } ?? "")))
        }
        var accountCopies: [String: String] = [:]
        for account in ami?.targetAccountIds ?? [] {
            let id = "copy-image:\(region):\(account)"
            accountCopies[account] = id
            tasks.append(PlanTask(id: id, kind: .copyImage, region: region, account: account, parameters: copyParameters(into: account),
                                  dependsOn: ownerCopy.map { [$0] } ?? [],
                                  summary: "copy the AMI into account \(account) through \(crossAccountRole)"))
            prerequisites.add(account, region, "IAM role \(crossAccountRole) that Image Builder can assume from the owner account")
            if let key = ami?.kmsKeyId {
                prerequisites.add(owner, region, "KMS key policy of \(key) lets account \(account) use the key (CreateGrant, Decrypt, ReEncrypt*, GenerateDataKey*)")
            }
        }
        for account in ami?.launchPermission?.userIds ?? [] where ami?.kmsKeyId != nil {
            prerequisites.add(owner, region, "KMS key policy of \(ami!.kmsKeyId!) lets account \(account) use the key (shared by launch permission)")
        }
        func imageFor(_ account: String) -> (image: String, copy: String?) {
            if account != owner, let copy = accountCopies[account] { return (image(in: region, account: account), copy) }
            return (regionImage, ownerCopy)
        }

        // Each later stage waits for the one before it, as the workflow runs them in order.
        var previousStage: [String] = []
        func stage(_ stageTasks: [PlanTask]) {
            guard !stageTasks.isEmpty else { return }
            tasks += stageTasks
            previousStage = stageTasks.map(\.id)
        }
        func after(_ copy: String?) -> [String] {
            var dependencies = previousStage
            if let copy, !dependencies.contains(copy) { dependencies.insert(copy, at: 0) }
            return dependencies
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
                            parameters: [.init("ImageId", .string(regionImage)), .init("Attribute", .string("launchPermission")),
                                         .init("LaunchPermission", .object([.init("Add", .list(add))]))],
                            dependsOn: after(ownerCopy), summary: "let \(who.joined(separator: "; ")) launch the AMI")])
        }

        // 3. Licenses, launch templates, SSM parameters, fast launch, export.
        if !entry.licenseConfigurationArns.isEmpty {
            stage([PlanTask(id: "associate-licenses:\(region)", kind: .associateLicenses, region: region, account: owner,
                            parameters: [.init("ResourceArn", .string("arn:aws:ec2:\(region)::image/\(regionImage)")),
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
                                                       .init("LaunchTemplateData", .object([.init("ImageId", .string(templateImage))]))],
                                          dependsOn: after(copy),
                                          summary: "new version of \(template.launchTemplateId) launching the AMI"))
            if template.setDefaultVersion {
                templateTasks.append(PlanTask(id: "set-default-launch-template-version:\(region):\(template.launchTemplateId)",
                                              kind: .setDefaultLaunchTemplateVersion, region: region, account: account,
                                              parameters: [.init("LaunchTemplateId", .string(template.launchTemplateId)),
                                                           .init("DefaultVersion", .string("{{version:\(createID)}}"))],
                                              dependsOn: [createID], summary: "make that version the default of \(template.launchTemplateId)"))
            }
            if account != owner {
                prerequisites.add(account, region, "launch template \(template.launchTemplateId) tagged CreatedBy: EC2 Image Builder, and IAM role \(crossAccountRole)")
            }
        }
        stage(templateTasks)

        stage(entry.ssmParameters.map { parameter in
            let account = parameter.amiAccountId ?? owner
            let (parameterImage, copy) = imageFor(account)
            var parameters: [PlanValue.Member] = [.init("Name", .string(parameter.parameterName)), .init("Value", .string(parameterImage)),
                                                  .init("Type", .string("String")), .init("Overwrite", .bool(true))]
            if let dataType = parameter.dataType { parameters.append(.init("DataType", .string(dataType))) }
            return PlanTask(id: "put-ssm-parameter:\(region):\(account):\(parameter.parameterName)", kind: .putSSMParameter, region: region,
                            account: account, parameters: parameters, dependsOn: after(copy),
                            summary: "store the AMI id in SSM parameter \(parameter.parameterName)")
        })

        stage(entry.fastLaunch.enumerated().compactMap { index, fast in
            guard fast.enabled else { return nil }
            var parameters: [PlanValue.Member] = [.init("ImageId", .string(regionImage)), .init("ResourceType", .string("snapshot"))]
            if let count = fast.targetResourceCount {
                parameters.append(.init("SnapshotConfiguration", .object([.init("TargetResourceCount", .int(count))])))
            }
            var template: [PlanValue.Member] = []
            if let id = fast.launchTemplateId { template.append(.init("LaunchTemplateId", .string(id))) }
            if let name = fast.launchTemplateName { template.append(.init("LaunchTemplateName", .string(name))) }
            if let version = fast.launchTemplateVersion { template.append(.init("Version", .string(version))) }
            if !template.isEmpty { parameters.append(.init("LaunchTemplate", .object(template))) }
            if let parallel = fast.maxParallelLaunches { parameters.append(.init("MaxParallelLaunches", .int(parallel))) }
            if template.isEmpty {
                prerequisites.add(owner, region, "service-linked permissions EC2FastLaunchFullAccess (fast launch without a launch template)")
            }
            return PlanTask(id: "enable-fast-launch:\(region):\(index)", kind: .enableFastLaunch, region: region, account: owner,
                            parameters: parameters, dependsOn: after(ownerCopy),
                            summary: "pre-provision \(fast.targetResourceCount.map(String.init) ?? "the default number of") snapshots for fast launch")
        })

        if let export = entry.s3Export {
            var location: [PlanValue.Member] = [.init("S3Bucket", .string(export.s3Bucket))]
            if let prefix = export.s3Prefix { location.append(.init("S3Prefix", .string(prefix))) }
            let fileExtension = export.diskImageFormat.lowercased()
            stage([PlanTask(id: "export-image:\(region)", kind: .exportImage, region: region, account: owner,
                            parameters: [.init("ImageId", .string(regionImage)), .init("DiskImageFormat", .string(export.diskImageFormat)),
                                         .init("S3ExportLocation", .object(location)), .init("RoleName", .string(export.roleName))],
                            dependsOn: after(ownerCopy),
                            summary: "export the AMI as \(export.diskImageFormat) to s3://\(export.s3Bucket)/\(export.s3Prefix ?? "")export-ami-<id>.\(fileExtension)")])
            prerequisites.add(owner, region, "IAM role \(export.roleName) (VM Import/Export service role) and S3 bucket \(export.s3Bucket) it can write to")
        }
        return tasks
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
