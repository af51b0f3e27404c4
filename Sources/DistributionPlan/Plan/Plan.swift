import ConfigDocument

/// A value in a task's API parameters. Objects keep their members in the order written, so
/// renderings are deterministic and read like the AWS CLI's own input.
public indirect enum PlanValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case list([PlanValue])
    case object([Member])

    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: PlanValue
        public init(_ key: String, _ value: PlanValue) {
            self.key = key
            self.value = value
        }
    }
}

/// The kinds of work a plan holds; the names are part of the JSON schema.
public enum TaskKind: String, Sendable, CaseIterable, Codable {
    case copyImage = "copy-image"
    case modifyImageAttribute = "modify-image-attribute"
    case associateLicenses = "associate-licenses"
    case createLaunchTemplateVersion = "create-launch-template-version"
    case setDefaultLaunchTemplateVersion = "set-default-launch-template-version"
    case putSSMParameter = "put-ssm-parameter"
    case enableFastLaunch = "enable-fast-launch"
    case exportImage = "export-image"
    case distributeContainer = "distribute-container"

    /// The AWS API call the task stands for.
    public var apiCall: String {
        switch self {
        case .copyImage: "ec2 CopyImage"
        case .modifyImageAttribute: "ec2 ModifyImageAttribute"
        case .associateLicenses: "license-manager UpdateLicenseSpecificationsForResource"
        case .createLaunchTemplateVersion: "ec2 CreateLaunchTemplateVersion"
        case .setDefaultLaunchTemplateVersion: "ec2 ModifyLaunchTemplate"
        case .putSSMParameter: "ssm PutParameter"
        case .enableFastLaunch: "ec2 EnableFastLaunch"
        case .exportImage: "ec2 ExportImage"
        case .distributeContainer: "ecr (push image with tags)"
        }
    }
}

/// One unit of work the service would carry out: what, where, as whom, with which API
/// parameters, after which other tasks.
public struct PlanTask: Sendable, Equatable {
    /// Stable across runs: kind, region and the distinguishing resource.
    public var id: String
    public var kind: TaskKind
    public var region: String
    public var account: String
    public var parameters: [PlanValue.Member]
    public var dependsOn: [String]
    /// One line for people.
    public var summary: String
}

/// Something that must exist or be granted before the plan can run.
public struct Prerequisite: Sendable, Equatable {
    public var account: String
    public var regions: [String]
    public var requirement: String
}

/// Counts for the plan's headline.
public struct PlanTotals: Sendable, Equatable {
    public var tasks = 0
    public var byKind: [TaskKind: Int] = [:]
    /// Regions that receive an AMI copy.
    public var copyRegions = 0
    /// Accounts other than the owner that receive AMI copies.
    public var copyAccounts = 0
}

/// One region's S3 export, typed, for tools that produce the same files locally
/// (`imgship plan --emit-job`). Image Builder names the object
/// `<s3Prefix>export-ami-<id>.<vmdk|raw|vhd>`.
public struct PlannedExport: Sendable, Equatable {
    public var region: String
    /// VMDK, RAW or VHD, as configured.
    public var diskImageFormat: String
    public var s3Bucket: String
    public var s3Prefix: String?
    public var roleName: String

    init(region: String, export: DistributionConfiguration.S3Export) {
        self.region = region
        diskImageFormat = export.diskImageFormat
        s3Bucket = export.s3Bucket
        s3Prefix = export.s3Prefix
        roleName = export.roleName
    }
}

/// The expanded plan: everything a renderer needs.
public struct Plan: Sendable {
    public var configurationName: String?
    public var context: PlanContext
    /// The source region actually used (given, or the first listed).
    public var sourceRegion: String
    public var tasks: [PlanTask]
    /// The S3 exports of the plan's export-image tasks, in region order.
    public var exports: [PlannedExport]
    public var prerequisites: [Prerequisite]
    public var warnings: [Problem]
    public var totals: PlanTotals

    /// How an account is shown: the placeholder owner as `<owner>`.
    public func display(account: String) -> String {
        account == PlanContext.placeholderOwner && context.ownerAccount == nil ? "<owner>" : account
    }
}
