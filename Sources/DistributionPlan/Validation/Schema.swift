/// The shapes of the Image Builder API's distribution configuration (service model
/// 2019-12-02), as data: one generic walk checks types, required members, lengths, patterns,
/// enums and list sizes for every field.
indirect enum Shape: Sendable {
    case structure(name: String, members: [Member], required: Set<String>)
    case list(Shape, min: Int = 0, max: Int = .max)
    case map(value: Shape, min: Int = 0, max: Int = .max, keyMax: Int = .max, keyPattern: String? = nil)
    /// `freeText` strings (descriptions, tag values) may hold tabs and line breaks; every other
    /// string is refused with any control character, as the service's own patterns refuse them.
    case string(min: Int = 1, max: Int = .max, pattern: String? = nil, values: [String]? = nil, freeText: Bool = false)
    case integer(min: Int = .min, max: Int = .max)
    case boolean

    struct Member: Sendable {
        var name: String
        var shape: Shape
    }
}

enum Schema {
    static let accountID = Shape.string(min: 12, max: 12, pattern: "^[0-9]{12}$")
    static let accountList = Shape.list(accountID, min: 1, max: 1536)
    static let nonEmpty = Shape.string(min: 1, max: 1024)
    static let description = Shape.string(min: 1, max: 1024, freeText: true)
    static let launchTemplateID = Shape.string(min: 1, max: 1024, pattern: "^lt-[a-z0-9-_]{17}$")
    static let tags = Shape.map(
        value: .string(min: 0, max: 256, freeText: true), min: 1, max: 50, keyMax: 128,
        keyPattern: "^(?!aws:)[a-zA-Z0-9\\s_.:/=+\\-@]*$")
    /// Region names (botocore's partition region regex, as `Partition.regionPattern`).
    static let region = Shape.string(min: 1, max: 1024, pattern: Partition.regionPattern)
    /// A KMS key as EC2 CopyImage's KmsKeyId takes it: key id, alias name, key or alias ARN
    /// (EC2 API reference, CopyImage).
    static let kmsKey = Shape.string(
        min: 1, max: 1024,
        pattern: #"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key/[a-zA-Z0-9-]+|alias/[a-zA-Z0-9/_-]+)|alias/[a-zA-Z0-9/_-]+|(mrk-)?[a-f0-9-]{32,36})$"#)
    /// IAM role names (IAM API reference, Role.RoleName).
    static let roleName = Shape.string(min: 1, max: 64, pattern: #"^[\w+=,.@-]+$"#)
    /// S3 bucket naming rules (S3 user guide, "Bucket naming rules"): 3-63 lowercase letters,
    /// digits, dots and hyphens, starting and ending with a letter or digit.
    static let bucket = Shape.string(min: 3, max: 63, pattern: "^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
    /// ECR repository names (ECR API reference, CreateRepository.repositoryName).
    static let repositoryName = Shape.string(min: 2, max: 256, pattern: "^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
    /// Image tags as ECR and Docker take them (ECR API reference, PutImage.imageTag).
    static let containerTag = Shape.string(min: 1, max: 128, pattern: "^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
    /// EC2 launch template names and versions (EC2 API reference, LaunchTemplateSpecification).
    static let launchTemplateName = Shape.string(min: 3, max: 128, pattern: #"^[a-zA-Z0-9().\-/_]+$"#)
    static let launchTemplateVersion = Shape.string(min: 1, max: 1024, pattern: #"^(\$Latest|\$Default|[0-9]+)$"#)

    static let launchPermission = Shape.structure(
        name: "launchPermission",
        members: [
            .init(name: "userIds", shape: accountList),
            .init(name: "userGroups", shape: .list(nonEmpty)),
            .init(
                name: "organizationArns",
                shape: .list(.string(pattern: "^arn:aws[^:]*:organizations::[0-9]{12}:organization/o-[a-z0-9]{10,32}$"), min: 1, max: 25)),
            .init(
                name: "organizationalUnitArns",
                shape: .list(.string(pattern: "^arn:aws[^:]*:organizations::[0-9]{12}:ou/o-[a-z0-9]{10,32}/ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}"), min: 1, max: 25)),
        ], required: [])

    static let amiDistribution = Shape.structure(
        name: "amiDistributionConfiguration",
        members: [
            .init(name: "name", shape: .string(min: 1, max: 127, pattern: "^[-_A-Za-z0-9{][-_A-Za-z0-9\\s:{}\\.]+[-_A-Za-z0-9}]$")),
            .init(name: "description", shape: description),
            .init(name: "targetAccountIds", shape: accountList),
            .init(name: "amiTags", shape: tags),
            .init(name: "kmsKeyId", shape: kmsKey),
            .init(name: "launchPermission", shape: launchPermission),
        ], required: [])

    static let containerDistribution = Shape.structure(
        name: "containerDistributionConfiguration",
        members: [
            .init(name: "description", shape: description),
            .init(name: "containerTags", shape: .list(containerTag)),
            .init(
                name: "targetRepository",
                shape: .structure(
                    name: "targetRepository",
                    members: [
                        .init(name: "service", shape: .string(values: ["ECR"])),
                        .init(name: "repositoryName", shape: repositoryName),
                    ], required: ["service", "repositoryName"])),
        ], required: ["targetRepository"])

    static let launchTemplate = Shape.structure(
        name: "launchTemplateConfigurations[]",
        members: [
            .init(name: "launchTemplateId", shape: launchTemplateID),
            .init(name: "accountId", shape: accountID),
            .init(name: "setDefaultVersion", shape: .boolean),
        ], required: ["launchTemplateId"])

    static let s3Export = Shape.structure(
        name: "s3ExportConfiguration",
        members: [
            .init(name: "roleName", shape: roleName),
            .init(name: "diskImageFormat", shape: .string(values: ["VMDK", "RAW", "VHD"])),
            .init(name: "s3Bucket", shape: bucket),
            .init(name: "s3Prefix", shape: nonEmpty),
        ], required: ["roleName", "diskImageFormat", "s3Bucket"])

    static let fastLaunch = Shape.structure(
        name: "fastLaunchConfigurations[]",
        members: [
            .init(name: "enabled", shape: .boolean),
            .init(
                name: "snapshotConfiguration",
                shape: .structure(
                    name: "snapshotConfiguration",
                    members: [
                        .init(name: "targetResourceCount", shape: .integer(min: 1, max: 10000))
                    ], required: [])),
            .init(name: "maxParallelLaunches", shape: .integer(min: 1)),
            .init(
                name: "launchTemplate",
                shape: .structure(
                    name: "launchTemplate",
                    members: [
                        .init(name: "launchTemplateId", shape: launchTemplateID),
                        .init(name: "launchTemplateName", shape: launchTemplateName),
                        .init(name: "launchTemplateVersion", shape: launchTemplateVersion),
                    ], required: [])),
            .init(name: "accountId", shape: accountID),
        ], required: ["enabled"])

    static let ssmParameter = Shape.structure(
        name: "ssmParameterConfigurations[]",
        members: [
            .init(name: "amiAccountId", shape: accountID),
            .init(name: "parameterName", shape: .string(min: 1, max: 1011, pattern: "^[a-zA-Z0-9_.\\-\\/]+$")),
            .init(name: "dataType", shape: .string(values: ["text", "aws:ec2:image"])),
        ], required: ["parameterName"])

    static let distribution = Shape.structure(
        name: "distributions[]",
        members: [
            .init(name: "region", shape: region),
            .init(name: "amiDistributionConfiguration", shape: amiDistribution),
            .init(name: "containerDistributionConfiguration", shape: containerDistribution),
            .init(
                name: "licenseConfigurationArns",
                shape: .list(.string(pattern: "^arn:aws[^:]*:license-manager:[^:]+:[0-9]{12}:license-configuration:lic-[a-z0-9-_]{32}$"), min: 1, max: 50)),
            .init(name: "launchTemplateConfigurations", shape: .list(launchTemplate, min: 1, max: 100)),
            .init(name: "s3ExportConfiguration", shape: s3Export),
            .init(name: "fastLaunchConfigurations", shape: .list(fastLaunch, min: 1, max: 1000)),
            .init(name: "ssmParameterConfigurations", shape: .list(ssmParameter)),
        ], required: ["region"])

    /// The shape a document of this spelling is checked against.
    static func configuration(for naming: FieldNaming) -> Shape {
        naming == .api ? configuration : cloudFormationProperties
    }

    /// The `Properties` of `AWS::ImageBuilder::DistributionConfiguration` (CloudFormation's
    /// resource schema): the request's members without the API-only ones, `Name` required, and
    /// no S3 export, which the resource does not have.
    static let cloudFormationProperties: Shape = {
        guard case let .structure(name, members, _) = configuration,
            case let .list(distribution, min, max)? = members.first(where: { $0.name == "distributions" })?.shape,
            case let .structure(entryName, entryMembers, entryRequired) = distribution
        else { fatalError("Schema.configuration changed shape") }
        let entry = Shape.structure(name: entryName, members: entryMembers.filter { $0.name != "s3ExportConfiguration" }, required: entryRequired)
        let kept: [Shape.Member] = members.compactMap { member in
            switch member.name {
            case "distributions": .init(name: member.name, shape: .list(entry, min: min, max: max))
            case "name", "description", "tags": member
            default: nil
            }
        }
        return .structure(name: name, members: kept, required: ["name", "distributions"])
    }()

    /// The create/update request body; the response form has the same members plus the
    /// service's read-only ones.
    static let configuration = Shape.structure(
        name: "distribution configuration",
        members: [
            .init(name: "name", shape: .string(min: 3, max: 128, pattern: "^[-_A-Za-z-0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z-0-9]$")),
            .init(name: "description", shape: description),
            .init(name: "distributions", shape: .list(distribution, min: 1)),
            .init(name: "tags", shape: tags),
            .init(name: "clientToken", shape: .string(min: 1, max: 64)),
            .init(name: "distributionConfigurationArn", shape: nonEmpty),
            // Read-only members of get-distribution-configuration's answer.
            .init(name: "arn", shape: nonEmpty),
            .init(name: "timeoutMinutes", shape: .integer(min: 30, max: 720)),
            .init(name: "dateCreated", shape: nonEmpty),
            .init(name: "dateUpdated", shape: nonEmpty),
        ], required: ["distributions"])
}
