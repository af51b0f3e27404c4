import ConfigDocument

/// The rules that span fields (distribution.md, "Cross-field rules"), checked on the typed
/// model with the plan's context. Every finding is reported; none stops the others.
enum CrossFieldRules {
    // Regex literals are immutable once built; the type is not marked Sendable.
    nonisolated(unsafe) static let buildDateVariable = #/\{\{\s*imagebuilder:buildDate\s*\}\}/#
    nonisolated(unsafe) static let buildVersionVariable = #/\{\{\s*imagebuilder:buildVersion\s*\}\}/#

    static func check(_ configuration: DistributionConfiguration, context: PlanContext) -> [Problem] {
        var problems: [Problem] = []
        let owner = context.owner
        // Paths and field names in messages are spelled as the document spells them.
        let field = configuration.naming.path
        var firstEntryOfRegion: [String: String] = [:]

        for entry in configuration.distributions {
            let path = entry.path
            func error(_ subpath: String, _ message: String, _ at: ConfigValue? = nil) {
                problems.append(Problem(.error, subpath.isEmpty ? path : "\(path).\(field(subpath))", message, at: at ?? entry.value))
            }
            func warning(_ subpath: String, _ message: String, _ at: ConfigValue? = nil) {
                problems.append(Problem(.warning, subpath.isEmpty ? path : "\(path).\(field(subpath))", message, at: at ?? entry.value))
            }

            if let first = firstEntryOfRegion[entry.region] {
                error("region", "region \(entry.region) is already listed at \(first); give each region once", entry.value["region"])
            } else {
                firstEntryOfRegion[entry.region] = path
            }

            // Read from the document, not the model: an output whose fields failed the schema
            // walk is still there, and reporting it missing would be noise.
            let outputKeys = ["amiDistributionConfiguration", "containerDistributionConfiguration", "licenseConfigurationArns",
                              "launchTemplateConfigurations", "s3ExportConfiguration", "fastLaunchConfigurations", "ssmParameterConfigurations"]
            let hasOutput = outputKeys.contains { entry.value[$0] != nil }
            if !hasOutput {
                error("", "one or more outputs should be provided for each region (an AMI, container, launch template, export, fast launch or SSM parameter configuration)")
            }
            if entry.ami != nil && entry.container != nil {
                warning("", "both \(field("amiDistributionConfiguration")) and \(field("containerDistributionConfiguration")): the API accepts it, CloudFormation documents one per region, and only the one matching the recipe is used")
            }

            let amiValue = entry.value["amiDistributionConfiguration"]
            if let ami = entry.ami {
                if let name = ami.name {
                    if name.firstMatch(of: buildDateVariable) == nil {
                        error("amiDistributionConfiguration.name", "must contain {{ imagebuilder:buildDate }} so every build gets a new AMI name", amiValue?["name"])
                    } else {
                        let expanded = expandName(name, context: context)
                        if expanded.count < 3 || expanded.count > 128 {
                            error("amiDistributionConfiguration.name", "expands to \"\(expanded)\" (\(expanded.count) characters); EC2 allows 3 to 128", amiValue?["name"])
                        }
                    }
                }
                if let description = ami.description, description.count > 255 {
                    warning("amiDistributionConfiguration.description", "\(description.count) characters; EC2 CopyImage accepts at most 255", amiValue?["description"])
                }
                let groups = ami.launchPermission?.userGroups ?? []
                for (index, group) in groups.enumerated() {
                    let at = amiValue?["launchPermission"]?["userGroups"]?.array?[index]
                    if group == "all" {
                        warning("amiDistributionConfiguration.launchPermission.userGroups[\(index)]", "\"all\" makes the AMI public in \(entry.region): anyone can launch it", at)
                    } else {
                        error("amiDistributionConfiguration.launchPermission.userGroups[\(index)]", "\"\(group)\" is not a launch permission group; EC2 knows only \"all\"", at)
                    }
                }
                let sharedAccounts = ami.targetAccountIds + (ami.launchPermission?.userIds ?? [])
                if !sharedAccounts.isEmpty && ami.kmsKeyId == nil {
                    warning("amiDistributionConfiguration", "shared with other accounts without \(field("kmsKeyId")): if the image is encrypted with the default EBS key, those accounts cannot use it; give a customer managed key", amiValue)
                }
                var seen: Set<String> = []
                for (index, account) in ami.targetAccountIds.enumerated() {
                    let at = amiValue?["targetAccountIds"]?.array?[index]
                    if !seen.insert(account).inserted {
                        error("amiDistributionConfiguration.targetAccountIds[\(index)]", "account \(account) is listed twice", at)
                    }
                }
            }

            let targets = Set(entry.ami?.targetAccountIds ?? [])
            let permitted = Set(entry.ami?.launchPermission?.userIds ?? [])
            for (index, template) in entry.launchTemplates.enumerated() {
                let templatePath = "launchTemplateConfigurations[\(index)]"
                let at = entry.value["launchTemplateConfigurations"]?.array?[index]
                if let account = template.accountId, account != owner, !targets.contains(account), !permitted.contains(account) {
                    warning(templatePath + ".accountId", "account \(account) gets neither a copy of the AMI (\(field("targetAccountIds"))) nor launch permission (\(field("launchPermission.userIds"))) in \(entry.region); the new template version would point at an AMI it cannot launch", at?["accountId"])
                }
            }

            for (index, parameter) in entry.ssmParameters.enumerated() {
                let at = entry.value["ssmParameterConfigurations"]?.array?[index]
                if let account = parameter.amiAccountId, account != owner, !targets.contains(account) {
                    error("ssmParameterConfigurations[\(index)].amiAccountId", "account \(account) is not a target account of \(entry.region) (\(field("amiDistributionConfiguration.targetAccountIds"))), so it gets no AMI id to store", at?["amiAccountId"])
                }
            }

            for (index, fast) in entry.fastLaunch.enumerated() {
                let fastPath = "fastLaunchConfigurations[\(index)]"
                let at = entry.value["fastLaunchConfigurations"]?.array?[index]
                if context.platform != .windows {
                    error(fastPath, "fast launch is for Windows AMIs only; this plan is for \(context.platform?.rawValue ?? "linux") (pass --platform windows for a Windows image)", at)
                }
                if fast.launchTemplateId != nil && fast.launchTemplateName != nil {
                    error(fastPath + ".launchTemplate", "give \(field("launchTemplateId")) or \(field("launchTemplateName")), not both", at?["launchTemplate"])
                }
                if let account = fast.accountId, account != owner {
                    error(fastPath + ".accountId", "fast launch cannot be enabled for another account's copy (\(account)); enable it from that account", at?["accountId"])
                }
                if fast.enabled, let parallel = fast.maxParallelLaunches, parallel < 6 {
                    warning(fastPath + ".maxParallelLaunches", "\(parallel) is below 6, the least EC2 EnableFastLaunch accepts", at?["maxParallelLaunches"])
                }
            }
        }

        if let source = context.sourceRegion, !configuration.distributions.isEmpty,
           !configuration.distributions.contains(where: { $0.region == source }) {
            problems.append(Problem(.warning, configuration.path, "the source region \(source) is not listed: the build AMI stays there with none of these settings"))
        }
        return problems
    }

    /// The AMI name with the build date and version substituted.
    static func expandName(_ name: String, context: PlanContext) -> String {
        name.replacing(buildDateVariable, with: context.buildDate)
            .replacing(buildVersionVariable, with: String(context.buildVersion))
    }
}
