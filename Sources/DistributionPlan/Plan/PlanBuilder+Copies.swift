import ConfigDocument

/// What the later stages of one region's AMI work wait for and act on: the region's AMI (the
/// build AMI in the source region, the owner's copy elsewhere), each target account's copy,
/// and the ids of the stage before.
struct RegionStages {
    let region: String
    let owner: String
    /// The owner's AMI in the region.
    let regionImage: PlanValue
    /// The task copying it there; nil in the source region, where the build AMI is.
    let ownerCopy: String?
    /// Target account to the task copying the AMI into it.
    let accountCopies: [String: String]
    /// The tasks of the last stage added; the next stage waits for them.
    var previousStage: [String] = []

    /// The AMI an account's task acts on, and the copy that makes it.
    func image(for account: String) -> (image: PlanValue, copy: String?) {
        if account != owner, let copy = accountCopies[account] { return (Planner.image(in: region, account: account), copy) }
        return (regionImage, ownerCopy)
    }

    /// A task's dependencies: its copy, then the stage before (the workflow runs stages in order).
    func after(_ copy: String?) -> [String] {
        var dependencies = previousStage
        if let copy, !dependencies.contains(copy) { dependencies.insert(copy, at: 0) }
        return dependencies
    }
}

extension PlanBuilder {
    /// The copies of a region: the owner's into every region but the source, and one per
    /// target account, each made in its account from the build AMI (not from the owner's
    /// copy), with their IAM and KMS prerequisites.
    mutating func copyTasks(_ entry: DistributionConfiguration.Distribution) -> RegionStages {
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
                parameters.append(
                    .init(
                        "TagSpecifications",
                        .list([
                            .object([
                                .init("ResourceType", .string("image")), .init("Tags", tagList(tags)),
                            ])
                        ])))
            }
            parameters.append(.init("ClientToken", .string(clientToken(id))))
            return parameters
        }
        let shownName = name.displayText

        var ownerCopy: String?
        if !isSource {
            let id = "copy-image:\(region)"
            ownerCopy = id
            tasks.append(
                PlanTask(
                    id: id, kind: .copyImage, region: region, account: owner, parameters: copyParameters(id), dependsOn: [],
                    summary: "copy the AMI from \(sourceRegion) as \"\(shownName)\"" + (ami?.kmsKeyId.map { ", encrypted with \($0)" } ?? "")))
        }
        var accountCopies: [String: String] = [:]
        for account in targets {
            let id = "copy-image:\(region):\(account)"
            accountCopies[account] = id
            tasks.append(
                PlanTask(
                    id: id, kind: .copyImage, region: region, account: account, parameters: copyParameters(id),
                    dependsOn: ["share-build-image:\(account)"],
                    summary: "copy the AMI into account \(account) as \"\(shownName)\"" + (ami?.kmsKeyId.map { ", encrypted with \($0)" } ?? ""),
                    assumeRole: role(for: account)))
            var requirement = "IAM role \(Planner.crossAccountRole) that Image Builder can assume from the owner account"
            if let key = ami?.kmsKeyId {
                requirement +=
                    ", with an inline policy allowing kms:CreateGrant, kms:Decrypt, kms:DescribeKey, kms:Encrypt, kms:GenerateDataKey*, kms:ReEncrypt* on \(key)"
                prerequisites.add(
                    owner, region, "KMS key policy of \(key) lets account \(account) use the key (CreateGrant, Decrypt, ReEncrypt*, GenerateDataKey*)")
            }
            prerequisites.add(account, region, requirement)
        }
        if let key = ami?.kmsKeyId, !isSource {
            for account in ami?.launchPermission?.userIds ?? [] {
                prerequisites.add(owner, region, "KMS key policy of \(key) lets account \(account) use the key (shared by launch permission)")
            }
            if let permission = ami?.launchPermission, !(permission.organizationArns + permission.organizationalUnitArns).isEmpty {
                prerequisites.add(
                    owner, region,
                    "KMS key policy of \(key) lets the shared organizations' and OUs' accounts use the key (for example a kms:CreateGrant and kms:Decrypt statement with an aws:PrincipalOrgID or aws:PrincipalOrgPaths condition)"
                )
            }
        }
        return RegionStages(region: region, owner: owner, regionImage: regionImage, ownerCopy: ownerCopy, accountCopies: accountCopies)
    }
}
