import ConfigDocument

extension PlanBuilder {
    /// EC2 EnableFastLaunch for each enabled fast launch configuration (Windows AMIs only,
    /// checked by `CrossFieldRules`): snapshots pre-provisioned in the account it names, with
    /// its launch template (and the version Image Builder does not document, assumed) or the
    /// default VPC.
    mutating func fastLaunchTasks(_ entry: DistributionConfiguration.Distribution, _ stages: RegionStages) -> [PlanTask] {
        let region = stages.region
        var fastTasks: [PlanTask] = []
        for (index, fast) in entry.fastLaunch.enumerated() where fast.enabled {
            let account = fast.accountId ?? owner
            let (fastImage, copy) = stages.image(for: account)
            var parameters: [PlanValue.Member] = [.init("ImageId", fastImage), .init("ResourceType", .string("snapshot"))]
            if let count = fast.targetResourceCount {
                parameters.append(.init("SnapshotConfiguration", .object([.init("TargetResourceCount", .int(count))])))
            }
            var template: [PlanValue.Member] = []
            if let id = fast.launchTemplateId { template.append(.init("LaunchTemplateId", .string(id))) }
            if let name = fast.launchTemplateName { template.append(.init("LaunchTemplateName", .string(name))) }
            if !template.isEmpty {
                if fast.launchTemplateVersion == nil {
                    assume(
                        "fast launch in \(region) names launch template \(fast.launchTemplateId ?? fast.launchTemplateName ?? "") without a version; EC2 EnableFastLaunch needs one and Image Builder does not document which it passes: planned as \(Planner.assumedFastLaunchTemplateVersion)"
                    )
                }
                template.append(.init("Version", .string(fast.launchTemplateVersion ?? Planner.assumedFastLaunchTemplateVersion)))
                parameters.append(.init("LaunchTemplate", .object(template)))
            } else {
                prerequisites.add(
                    account, region,
                    "fast launch without a launch template: a default VPC, and permissions to let EC2 fast launch launch instances (EC2FastLaunchFullAccess)")
            }
            if let parallel = fast.maxParallelLaunches { parameters.append(.init("MaxParallelLaunches", .int(parallel))) }
            prerequisites.add(account, region, "the service-linked role AWSServiceRoleForEC2FastLaunch (EC2 creates it on first use if the caller may)")
            fastTasks.append(
                PlanTask(
                    id: "enable-fast-launch:\(region):\(index)", kind: .enableFastLaunch, region: region, account: account,
                    parameters: parameters, dependsOn: stages.after(copy),
                    summary: "pre-provision \(fast.targetResourceCount.map(String.init) ?? "the default number of") snapshots for fast launch",
                    assumeRole: role(for: account)))
        }
        return fastTasks
    }
}
