import ConfigDocument

/// A distribution configuration that passed the schema checks: typed, in document order.
/// Each part keeps the JSON path it came from, for the cross-field rules' messages.
public struct DistributionConfiguration: Sendable {
    public var name: String?
    public var description: String?
    public var distributions: [Distribution]
    public var tags: [(key: String, value: String)]
    /// Where `distributions` sits in the document ("distributions" or a nested path).
    var path: String
    /// How the document spells field names, for the cross-field rules' paths and messages.
    var naming: FieldNaming = .api

    public struct Distribution: Sendable {
        public var region: String
        public var ami: AMIDistribution?
        public var container: ContainerDistribution?
        public var licenseConfigurationArns: [String]
        public var launchTemplates: [LaunchTemplate]
        public var s3Export: S3Export?
        public var fastLaunch: [FastLaunch]
        public var ssmParameters: [SSMParameter]
        var path: String
        var value: ConfigValue
    }

    public struct AMIDistribution: Sendable {
        public var name: String?
        public var description: String?
        public var targetAccountIds: [String]
        public var amiTags: [(key: String, value: String)]
        public var kmsKeyId: String?
        public var launchPermission: LaunchPermission?
        /// `kmsKeyId` is set, but Terraform knows it only after apply (a key created in the
        /// same apply): not the same as no key.
        public var kmsKeyKnownAfterApply = false
    }

    public struct LaunchPermission: Sendable {
        public var userIds: [String]
        public var userGroups: [String]
        public var organizationArns: [String]
        public var organizationalUnitArns: [String]

        var isEmpty: Bool {
            userIds.isEmpty && userGroups.isEmpty && organizationArns.isEmpty && organizationalUnitArns.isEmpty
        }
    }

    public struct ContainerDistribution: Sendable {
        public var description: String?
        public var containerTags: [String]
        public var repositoryName: String
        public var service: String
    }

    public struct LaunchTemplate: Sendable {
        public var launchTemplateId: String
        public var accountId: String?
        /// Nil when the configuration does not say; the service then treats it as true.
        public var setDefaultVersion: Bool?
    }

    public struct S3Export: Sendable {
        public var roleName: String
        public var diskImageFormat: String
        public var s3Bucket: String
        public var s3Prefix: String?
    }

    public struct FastLaunch: Sendable {
        public var enabled: Bool
        public var targetResourceCount: Int?
        public var maxParallelLaunches: Int?
        public var launchTemplateId: String?
        public var launchTemplateName: String?
        public var launchTemplateVersion: String?
        public var accountId: String?
    }

    public struct SSMParameter: Sendable {
        public var parameterName: String
        public var amiAccountId: String?
        public var dataType: String?
    }
}

extension DistributionConfiguration {
    /// Builds the typed model from a document the schema walk accepted; members that failed
    /// it are simply absent here (their errors are already reported). `value` is in the API's
    /// spelling; `path` and `naming` say where it sits in the document and how that spells it.
    init(_ value: ConfigValue, path: String, naming: FieldNaming = .api) {
        let distributionsPath = (path.isEmpty ? "" : path + ".") + naming.name("distributions")
        self.path = distributionsPath
        self.naming = naming
        name = value["name"]?.string
        description = value["description"]?.string
        tags = Self.tags(value["tags"])
        distributions = (value["distributions"]?.array ?? []).enumerated().compactMap { index, entry in
            guard let region = entry["region"]?.string else { return nil }
            return Distribution(
                region: region,
                ami: entry["amiDistributionConfiguration"].flatMap(Self.ami),
                container: entry["containerDistributionConfiguration"].flatMap(Self.container),
                licenseConfigurationArns: Self.strings(entry["licenseConfigurationArns"]),
                launchTemplates: (entry["launchTemplateConfigurations"]?.array ?? []).compactMap { template in
                    template["launchTemplateId"]?.string.map {
                        LaunchTemplate(
                            launchTemplateId: $0, accountId: template["accountId"]?.string,
                            setDefaultVersion: template["setDefaultVersion"]?.bool)
                    }
                },
                s3Export: entry["s3ExportConfiguration"].flatMap { export in
                    guard let role = export["roleName"]?.string, let format = export["diskImageFormat"]?.string,
                        let bucket = export["s3Bucket"]?.string
                    else { return nil }
                    return S3Export(roleName: role, diskImageFormat: format, s3Bucket: bucket, s3Prefix: export["s3Prefix"]?.string)
                },
                fastLaunch: (entry["fastLaunchConfigurations"]?.array ?? []).compactMap { fast in
                    guard let enabled = fast["enabled"]?.bool else { return nil }
                    return FastLaunch(
                        enabled: enabled,
                        targetResourceCount: fast["snapshotConfiguration"]?["targetResourceCount"]?.int,
                        maxParallelLaunches: fast["maxParallelLaunches"]?.int,
                        launchTemplateId: fast["launchTemplate"]?["launchTemplateId"]?.string,
                        launchTemplateName: fast["launchTemplate"]?["launchTemplateName"]?.string,
                        launchTemplateVersion: fast["launchTemplate"]?["launchTemplateVersion"]?.string,
                        accountId: fast["accountId"]?.string)
                },
                ssmParameters: (entry["ssmParameterConfigurations"]?.array ?? []).compactMap { parameter in
                    parameter["parameterName"]?.string.map {
                        SSMParameter(
                            parameterName: $0, amiAccountId: parameter["amiAccountId"]?.string,
                            dataType: parameter["dataType"]?.string)
                    }
                },
                path: "\(distributionsPath)[\(index)]",
                value: entry)
        }
    }

    private static func strings(_ value: ConfigValue?) -> [String] {
        (value?.array ?? []).compactMap(\.string)
    }

    private static func tags(_ value: ConfigValue?) -> [(key: String, value: String)] {
        (value?.members ?? []).compactMap { key, value in value.string.map { (key, $0) } }
    }

    private static func ami(_ value: ConfigValue) -> AMIDistribution? {
        let permission = value["launchPermission"].map {
            LaunchPermission(
                userIds: strings($0["userIds"]), userGroups: strings($0["userGroups"]),
                organizationArns: strings($0["organizationArns"]),
                organizationalUnitArns: strings($0["organizationalUnitArns"]))
        }
        return AMIDistribution(
            name: value["name"]?.string, description: value["description"]?.string,
            targetAccountIds: strings(value["targetAccountIds"]), amiTags: tags(value["amiTags"]),
            kmsKeyId: value["kmsKeyId"]?.string, launchPermission: permission)
    }

    private static func container(_ value: ConfigValue) -> ContainerDistribution? {
        guard let repository = value["targetRepository"], let name = repository["repositoryName"]?.string else { return nil }
        return ContainerDistribution(
            description: value["description"]?.string, containerTags: strings(value["containerTags"]),
            repositoryName: name, service: repository["service"]?.string ?? "ECR")
    }
}
