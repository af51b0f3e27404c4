import ConfigDocument

extension PlanBuilder {
    /// Launch permissions on the region's AMI (EC2 ModifyImageAttribute): accounts, the
    /// public group, organizations and OUs.
    func launchPermissionTask(_ entry: DistributionConfiguration.Distribution, _ stages: RegionStages) -> [PlanTask] {
        guard let permission = entry.ami?.launchPermission, !permission.isEmpty else { return [] }
        var add: [PlanValue] = permission.userIds.map { .object([.init("UserId", .string($0))]) }
        add += permission.userGroups.map { .object([.init("Group", .string($0))]) }
        add += permission.organizationArns.map { .object([.init("OrganizationArn", .string($0))]) }
        add += permission.organizationalUnitArns.map { .object([.init("OrganizationalUnitArn", .string($0))]) }
        var who: [String] = []
        if !permission.userIds.isEmpty { who.append("accounts \(permission.userIds.joined(separator: ", "))") }
        if permission.userGroups.contains("all") { who.append("everyone (public)") }
        if !permission.organizationArns.isEmpty { who.append("organizations \(permission.organizationArns.joined(separator: ", "))") }
        if !permission.organizationalUnitArns.isEmpty { who.append("OUs \(permission.organizationalUnitArns.joined(separator: ", "))") }
        return [
            PlanTask(
                id: "modify-image-attribute:\(stages.region)", kind: .modifyImageAttribute, region: stages.region, account: owner,
                parameters: [
                    .init("ImageId", stages.regionImage), .init("Attribute", .string("launchPermission")),
                    .init("LaunchPermission", .object([.init("Add", .list(add))])),
                ],
                dependsOn: stages.after(stages.ownerCopy), summary: "let \(who.joined(separator: "; ")) launch the AMI")
        ]
    }

    /// License Manager configurations associated with the region's AMI.
    func licenseTask(_ entry: DistributionConfiguration.Distribution, _ stages: RegionStages) -> [PlanTask] {
        guard !entry.licenseConfigurationArns.isEmpty else { return [] }
        let imageARN = PlanValue.joined([.string("arn:\(partition.name):ec2:\(stages.region)::image/"), stages.regionImage])
        return [
            PlanTask(
                id: "associate-licenses:\(stages.region)", kind: .associateLicenses, region: stages.region, account: owner,
                parameters: [
                    .init("ResourceArn", imageARN),
                    .init(
                        "AddLicenseSpecifications",
                        .list(
                            entry.licenseConfigurationArns.map {
                                .object([.init("LicenseConfigurationArn", .string($0))])
                            })),
                ],
                dependsOn: stages.after(stages.ownerCopy),
                summary: "associate \(entry.licenseConfigurationArns.count) license configuration(s)")
        ]
    }
}
