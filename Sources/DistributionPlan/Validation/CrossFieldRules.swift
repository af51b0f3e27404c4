import ConfigDocument

/// The rules that span fields (distribution.md, "Cross-field rules"), checked on the typed
/// model with the plan's context. Every finding is reported; none stops the others. Each rule
/// names the service behaviour it follows; what the service or EC2 would refuse at
/// distribution time is an error here, so a plan never shows work that cannot happen.
enum CrossFieldRules {
    // Regex literals are immutable once built; the type is not marked Sendable.
    nonisolated(unsafe) static let buildDateVariable = #/\{\{\s*imagebuilder:buildDate\s*\}\}/#
    nonisolated(unsafe) static let buildVersionVariable = #/\{\{\s*imagebuilder:buildVersion\s*\}\}/#
    nonisolated(unsafe) static let anyVariable = #/\{\{[^}]*\}\}/#

    /// EC2's AMI name rule (EC2 API reference, CopyImage and RegisterImage `Name`): 3 to 128
    /// characters of letters, digits, parentheses, square brackets, spaces, periods, slashes,
    /// dashes, single quotes, at-signs and underscores.
    static func ec2NameViolation(_ name: String) -> String? {
        if name.count < 3 || name.count > 128 { return "\(name.count) characters; EC2 allows 3 to 128" }
        let allowed = "()[] ./-'@_"
        if let bad = name.first(where: { !(($0.isASCII && ($0.isLetter || $0.isNumber)) || allowed.contains($0)) }) {
            return "'\(bad)' is not allowed; EC2 AMI names take letters, digits and ( ) [ ] space . / - ' @ _"
        }
        return nil
    }

    static func check(_ configuration: DistributionConfiguration, context: PlanContext) -> [Problem] {
        var problems: [Problem] = []
        let owner = context.owner
        let sourceRegion = context.sourceRegion ?? configuration.distributions.first?.region
        let partition = sourceRegion.map(Partition.init(region:))
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
            let isSourceRegion = entry.region == sourceRegion
            let regionPartition = Partition(region: entry.region)
            /// An ARN of another region or partition than this entry's: EC2, KMS and License
            /// Manager resources are regional, and the service uses them in the entry's region.
            func checkRegional(_ arnText: String, _ subpath: String, _ what: String, _ at: ConfigValue?) {
                guard let arn = ARN(arnText) else { return }
                if arn.partition != regionPartition.name {
                    error(subpath, "\(what) is in partition \(arn.partition), but \(entry.region) is in \(regionPartition.name)", at)
                } else if !arn.region.isEmpty && arn.region != entry.region {
                    error(subpath, "\(what) is in \(arn.region), but this entry distributes to \(entry.region); a \(what) is used only in its own region", at)
                }
            }

            if let first = firstEntryOfRegion[entry.region] {
                error("region", "region \(entry.region) is already listed at \(first); give each region once", entry.value["region"])
            } else {
                firstEntryOfRegion[entry.region] = path
            }
            if Partition.isRegionName(entry.region),
                let problem = RegionTable.problem(
                    region: entry.region, path: "\(path).\(field("region"))", at: entry.value["region"], allowUnknown: context.allowUnknownRegions)
            {
                problems.append(problem)
            }
            if let partition, regionPartition != partition {
                error(
                    "region",
                    "\(entry.region) is in partition \(regionPartition.name), but the source region \(sourceRegion ?? "") is in \(partition.name); AMIs cannot be copied between partitions",
                    entry.value["region"])
            }

            // Read from the document, not the model: an output whose fields failed the schema
            // walk is still there, and reporting it missing would be noise.
            let outputKeys = [
                "amiDistributionConfiguration", "containerDistributionConfiguration", "licenseConfigurationArns",
                "launchTemplateConfigurations", "s3ExportConfiguration", "fastLaunchConfigurations", "ssmParameterConfigurations",
            ]
            let hasOutput = outputKeys.contains { entry.value[$0] != nil }
            if !hasOutput {
                error(
                    "",
                    "one or more outputs should be provided for each region (an AMI, container, launch template, export, fast launch or SSM parameter configuration)"
                )
            }
            if entry.ami != nil && entry.container != nil {
                warning(
                    "",
                    "both \(field("amiDistributionConfiguration")) and \(field("containerDistributionConfiguration")): the API accepts it, CloudFormation documents one per region, and only the one matching the recipe is used"
                )
            }

            let amiValue = entry.value["amiDistributionConfiguration"]
            // Without a name the AMI is named "<recipe name> <build date>" (distribution.md):
            // that name must pass EC2's rule too.
            if entry.ami != nil && entry.ami?.name == nil, let recipe = context.recipeName,
                let violation = ec2NameViolation("\(recipe) \(context.effectiveBuildDate)")
            {
                error(
                    "amiDistributionConfiguration",
                    "no name is given, so the AMI would be named \"\(recipe) \(context.effectiveBuildDate)\" after the recipe and the build date: \(violation)",
                    amiValue)
            }
            // The owner's AMI in this region is encrypted with kmsKeyId only when it is a copy:
            // in the source region the key applies to target-account copies alone.
            let ownerImageEncrypted = entry.ami?.kmsKeyId != nil && !isSourceRegion
            if let ami = entry.ami {
                if let name = ami.name {
                    checkName(name, context: context, at: amiValue?["name"], error: { error("amiDistributionConfiguration.name", $0, $1) })
                }
                if let description = ami.description, description.count > 255 {
                    warning(
                        "amiDistributionConfiguration.description", "\(description.count) characters; EC2 CopyImage accepts at most 255",
                        amiValue?["description"])
                }
                let groups = ami.launchPermission?.userGroups ?? []
                for (index, group) in groups.enumerated() {
                    let at = amiValue?["launchPermission"]?["userGroups"]?.array?[index]
                    let groupPath = "amiDistributionConfiguration.launchPermission.userGroups[\(index)]"
                    if group != "all" {
                        error(groupPath, "\"\(group)\" is not a launch permission group; EC2 knows only \"all\"", at)
                    } else if ownerImageEncrypted {
                        // EC2 ModifyImageAttribute: "you can't make an AMI public if it has
                        // encrypted snapshots" (EC2 user guide, "Share an AMI publicly").
                        error(
                            groupPath,
                            "\"all\" would make the AMI public, but its copy in \(entry.region) is encrypted with \(field("kmsKeyId")); EC2 refuses public launch permission on AMIs with encrypted snapshots",
                            at)
                    } else {
                        warning(groupPath, "\"all\" makes the AMI public in \(entry.region): anyone can launch it", at)
                    }
                }
                // The default EBS key cannot be shared with any other principal (EBS user guide,
                // "Share an encrypted snapshot": "You can't share snapshots that are encrypted
                // with the default AWS managed key"), so an organization or OU is no different
                // from an account; the owner itself is not a share.
                let otherAccounts = (ami.targetAccountIds + (ami.launchPermission?.userIds ?? [])).filter {
                    context.ownerAccount == nil || $0 != context.ownerAccount
                }
                let organizations = (ami.launchPermission?.organizationArns ?? []) + (ami.launchPermission?.organizationalUnitArns ?? [])
                if (!otherAccounts.isEmpty || !organizations.isEmpty) && ami.kmsKeyId == nil && ami.kmsKeyKnownAfterApply {
                    // A key Terraform creates in the same apply: set, but not yet known. Not the
                    // default key, and not a key imgship can check either.
                    warning(
                        "amiDistributionConfiguration.kmsKeyId",
                        "shared with other principals, encrypted with a key known only after apply: imgship cannot check that it is a customer managed key whose policy lets them use it",
                        amiValue)
                } else if (!otherAccounts.isEmpty || !organizations.isEmpty) && ami.kmsKeyId == nil {
                    let with = [
                        otherAccounts.isEmpty ? nil : "other accounts",
                        (ami.launchPermission?.organizationArns ?? []).isEmpty ? nil : "organizations",
                        (ami.launchPermission?.organizationalUnitArns ?? []).isEmpty ? nil : "organizational units",
                    ].compactMap { $0 }
                    let listed = with.count > 1 ? with.dropLast().joined(separator: ", ") + " and " + with[with.count - 1] : with[0]
                    warning(
                        "amiDistributionConfiguration",
                        "shared with \(listed) without \(field("kmsKeyId")): if the image is encrypted with the default EBS key, \(with == ["other accounts"] ? "those accounts" : "they") cannot use it; give a customer managed key",
                        amiValue)
                }
                if let key = ami.kmsKeyId {
                    let at = amiValue?["kmsKeyId"]
                    if key.hasPrefix("arn:") {
                        checkRegional(key, "amiDistributionConfiguration.kmsKeyId", "KMS key", at)
                    } else if !ami.targetAccountIds.isEmpty {
                        // CopyImage runs in each target account, where a key id or alias names
                        // that account's key (KMS developer guide, "Key identifiers").
                        warning(
                            "amiDistributionConfiguration.kmsKeyId",
                            "\"\(key)\" is not an ARN: the copies in target accounts are made there, where it names the target account's own key; give the key ARN to use the owner's key",
                            at)
                    } else {
                        // Image Builder API reference, AmiDistributionConfiguration.kmsKeyId: "the
                        // Key ARN or the Alias ARN"; EC2 CopyImage also takes an id or alias name.
                        warning(
                            "amiDistributionConfiguration.kmsKeyId",
                            "\"\(key)\" is not an ARN; Image Builder documents a key ARN or alias ARN here (EC2 CopyImage also takes a key id or alias name, resolved in the owner account of \(entry.region))",
                            at)
                    }
                }
                for (index, arn) in (ami.launchPermission?.organizationArns ?? []).enumerated() {
                    if let parsed = ARN(arn), parsed.partition != regionPartition.name {
                        error(
                            "amiDistributionConfiguration.launchPermission.organizationArns[\(index)]",
                            "the organization is in partition \(parsed.partition), but \(entry.region) is in \(regionPartition.name)",
                            amiValue?["launchPermission"]?["organizationArns"]?.array?[index])
                    }
                }
                for (index, arn) in (ami.launchPermission?.organizationalUnitArns ?? []).enumerated() {
                    if let parsed = ARN(arn), parsed.partition != regionPartition.name {
                        error(
                            "amiDistributionConfiguration.launchPermission.organizationalUnitArns[\(index)]",
                            "the OU is in partition \(parsed.partition), but \(entry.region) is in \(regionPartition.name)",
                            amiValue?["launchPermission"]?["organizationalUnitArns"]?.array?[index])
                    }
                }
                var seen: Set<String> = []
                for (index, account) in ami.targetAccountIds.enumerated() {
                    let at = amiValue?["targetAccountIds"]?.array?[index]
                    if !seen.insert(account).inserted {
                        error("amiDistributionConfiguration.targetAccountIds[\(index)]", "account \(account) is listed twice", at)
                    } else if account == owner && context.ownerAccount != nil {
                        warning(
                            "amiDistributionConfiguration.targetAccountIds[\(index)]",
                            "\(account) is the owner account, which gets the region's AMI anyway; planned as one copy", at)
                    }
                }
            }

            for (index, arn) in entry.licenseConfigurationArns.enumerated() {
                checkRegional(arn, "licenseConfigurationArns[\(index)]", "license configuration", entry.value["licenseConfigurationArns"]?.array?[index])
            }

            let targets = Set(entry.ami?.targetAccountIds ?? [])
            let permitted = Set(entry.ami?.launchPermission?.userIds ?? [])
            var templates: [String: Int] = [:]
            for (index, template) in entry.launchTemplates.enumerated() {
                let templatePath = "launchTemplateConfigurations[\(index)]"
                let at = entry.value["launchTemplateConfigurations"]?.array?[index]
                let account = template.accountId ?? owner
                if let first = templates.updateValue(index, forKey: template.launchTemplateId + "@" + account) {
                    error(
                        templatePath,
                        "launch template \(template.launchTemplateId) in account \(account) is already at \(field("launchTemplateConfigurations"))[\(first)]; each would make a new version and only the last would launch the AMI",
                        at)
                }
                if let account = template.accountId, account != owner, !targets.contains(account), !permitted.contains(account) {
                    warning(
                        templatePath + ".accountId",
                        "account \(account) gets neither a copy of the AMI (\(field("targetAccountIds"))) nor launch permission (\(field("launchPermission.userIds"))) in \(entry.region); the new template version would point at an AMI it cannot launch",
                        at?["accountId"])
                }
            }

            var parameters: [String: Int] = [:]
            for (index, parameter) in entry.ssmParameters.enumerated() {
                let at = entry.value["ssmParameterConfigurations"]?.array?[index]
                let account = parameter.amiAccountId ?? owner
                if let first = parameters.updateValue(index, forKey: parameter.parameterName + "@" + account) {
                    error(
                        "ssmParameterConfigurations[\(index)]",
                        "parameter \(parameter.parameterName) in account \(account) is already at \(field("ssmParameterConfigurations"))[\(first)]", at)
                }
                if let account = parameter.amiAccountId, account != owner, !targets.contains(account) {
                    error(
                        "ssmParameterConfigurations[\(index)].amiAccountId",
                        "account \(account) is not a target account of \(entry.region) (\(field("amiDistributionConfiguration.targetAccountIds"))), so it gets no AMI id to store",
                        at?["amiAccountId"])
                }
            }

            for (index, fast) in entry.fastLaunch.enumerated() {
                let fastPath = "fastLaunchConfigurations[\(index)]"
                let at = entry.value["fastLaunchConfigurations"]?.array?[index]
                if fast.launchTemplateId != nil && fast.launchTemplateName != nil {
                    error(fastPath + ".launchTemplate", "give \(field("launchTemplateId")) or \(field("launchTemplateName")), not both", at?["launchTemplate"])
                }
                // enabled: false asks for nothing (Image Builder user guide, "fast launch"),
                // so it is not an error on any platform.
                guard fast.enabled else { continue }
                if context.platform != .windows {
                    error(
                        fastPath,
                        "fast launch is for Windows AMIs only; this plan is for \(context.platform?.rawValue ?? "linux") (pass --platform windows for a Windows image)",
                        at)
                }
                if let account = fast.accountId, account != owner {
                    // EC2 lets an account enable fast launch on an AMI it owns a copy of; AWS's
                    // own examples set accountId, Terraform requires it.
                    let reaches = targets.contains(account) ? "" : " It is not a target account of \(entry.region), so it owns no copy there."
                    warning(
                        fastPath + ".accountId",
                        "fast launch is enabled in account \(account), on that account's copy, through the cross-account role.\(reaches)", at?["accountId"])
                }
                if let parallel = fast.maxParallelLaunches, parallel < 6 {
                    // EC2 EnableFastLaunch: MaxParallelLaunches "must be 6 or greater".
                    error(fastPath + ".maxParallelLaunches", "\(parallel) is below 6, the least EC2 EnableFastLaunch accepts", at?["maxParallelLaunches"])
                }
            }

            if let export = entry.s3Export {
                let at = entry.value["s3ExportConfiguration"]
                // VM Import/Export user guide, "Export an instance or AMI": images with encrypted
                // EBS snapshots cannot be exported; Windows images only when bring-your-own-license.
                if ownerImageEncrypted {
                    error(
                        "s3ExportConfiguration",
                        "the AMI copy in \(entry.region) is encrypted with \(field("amiDistributionConfiguration.kmsKeyId")), and VM Export refuses images with encrypted snapshots",
                        at)
                }
                // VM Import/Export user guide, "Export considerations": macOS is not among the
                // operating systems it exports.
                if context.platform == .macos {
                    error("s3ExportConfiguration", "VM Import/Export cannot export a macOS image", at)
                }
                if context.platform == .windows {
                    warning(
                        "s3ExportConfiguration",
                        "VM Export refuses license-included Windows images; only bring-your-own-license Windows images can be exported as \(export.diskImageFormat)",
                        at)
                }
            }
        }

        if let source = context.sourceRegion, !configuration.distributions.isEmpty,
            !configuration.distributions.contains(where: { $0.region == source })
        {
            problems.append(
                Problem(.warning, configuration.path, "the source region \(source) is not listed: the build AMI stays there with none of these settings"))
        }
        return problems
    }

    /// The AMI name rules: the build date variable is required (the service refuses a name
    /// without it), only Image Builder's two variables exist, and the expanded name must pass
    /// EC2's rule.
    private static func checkName(_ name: String, context: PlanContext, at: ConfigValue?, error: (String, ConfigValue?) -> Void) {
        if name.firstMatch(of: buildDateVariable) == nil {
            return error("must contain {{ imagebuilder:buildDate }} so every build gets a new AMI name", at)
        }
        let unknown = name.matches(of: anyVariable).map { String(name[$0.range]) }.filter {
            $0.firstMatch(of: buildDateVariable) == nil && $0.firstMatch(of: buildVersionVariable) == nil
        }
        if let variable = unknown.first {
            return error("\(variable) is not an Image Builder variable; AMI names know {{ imagebuilder:buildDate }} and {{ imagebuilder:buildVersion }}", at)
        }
        let expanded = expandName(name, context: context)
        if let violation = ec2NameViolation(expanded) {
            error("expands to \"\(expanded)\": \(violation)", at)
        }
    }

    /// The AMI name with the build date and version substituted.
    static func expandName(_ name: String, context: PlanContext) -> String {
        name.replacing(buildDateVariable, with: context.effectiveBuildDate)
            .replacing(buildVersionVariable, with: String(context.effectiveBuildVersion))
    }
}
