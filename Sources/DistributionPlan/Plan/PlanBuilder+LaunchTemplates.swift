import ConfigDocument

extension PlanBuilder {
    /// A new version of each launch template launching the region's AMI (the account's own
    /// copy for a template in a target account), and making it the default unless told not to.
    mutating func launchTemplateTasks(_ entry: DistributionConfiguration.Distribution, _ stages: RegionStages) -> [PlanTask] {
        let region = stages.region
        var templateTasks: [PlanTask] = []
        for template in entry.launchTemplates {
            let account = template.accountId ?? owner
            let (templateImage, copy) = stages.image(for: account)
            let createID = "create-launch-template-version:\(region):\(template.launchTemplateId)"
            templateTasks.append(
                PlanTask(
                    id: createID, kind: .createLaunchTemplateVersion, region: region, account: account,
                    parameters: [
                        .init("LaunchTemplateId", .string(template.launchTemplateId)),
                        .init("SourceVersion", .string("$Latest")),
                        .init("LaunchTemplateData", .object([.init("ImageId", templateImage)])),
                        .init("ClientToken", .string(clientToken(createID))),
                    ],
                    dependsOn: stages.after(copy),
                    summary: "new version of \(template.launchTemplateId) launching the AMI", assumeRole: role(for: account)))
            if template.setDefaultVersion == nil {
                // CloudFormation reference, LaunchTemplateConfiguration.SetDefaultVersion: "If you
                // don't set a value, Image Builder treats it as true"; Terraform defaults it to true.
                assume(
                    "setDefaultVersion is not given for \(template.launchTemplateId) in \(region): planned as true, as the CloudFormation reference says Image Builder treats it"
                )
            }
            if template.setDefaultVersion ?? true {
                templateTasks.append(
                    PlanTask(
                        id: "set-default-launch-template-version:\(region):\(template.launchTemplateId)",
                        kind: .setDefaultLaunchTemplateVersion, region: region, account: account,
                        parameters: [
                            .init("LaunchTemplateId", .string(template.launchTemplateId)),
                            .init("DefaultVersion", .reference(.launchTemplateVersion(task: createID))),
                        ],
                        dependsOn: [createID], summary: "make that version the default of \(template.launchTemplateId)",
                        assumeRole: role(for: account)))
            }
            if account != owner {
                prerequisites.add(
                    account, region,
                    "launch template \(template.launchTemplateId) tagged CreatedBy: EC2 Image Builder, and IAM role \(Planner.crossAccountRole)")
            }
        }
        return templateTasks
    }
}
