import ConfigDocument

/// A value known only when the plan runs: an AMI id a copy returns, a launch template version
/// number. Parameters hold these as values of their own, never as text, so no string from a
/// configuration (a description that happens to contain `{{ ami:build }}`) can turn into one.
public enum PlanReference: Hashable, Sendable {
    /// The AMI Image Builder built in the source region.
    case buildImage
    /// The image recipe's name, when neither the command line nor the document gives it:
    /// Image Builder names an AMI `<recipe name> <build date>` when the configuration names none.
    case recipeName
    /// The AMI in `region` owned by `account` (nil: the owner account).
    case image(region: String, account: String?)
    /// The version number the create-launch-template-version task `task` makes.
    case launchTemplateVersion(task: String)
    /// The export task id the export-image task of `region` gets.
    case exportTask(region: String)

    /// How JSON and text show the reference: `{{ami:eu-west-1:222222222222}}`.
    public var placeholder: String {
        switch self {
        case .buildImage: "{{ami:build}}"
        case .recipeName: "{{recipe-name}}"
        case let .image(region, account): account.map { "{{ami:\(region):\($0)}}" } ?? "{{ami:\(region)}}"
        case let .launchTemplateVersion(task): "{{version:\(task)}}"
        case let .exportTask(region): "{{export:\(region)}}"
        }
    }
}

/// A value in a task's API parameters. Objects keep their members in the order written, so
/// renderings are deterministic and read like the AWS CLI's own input.
public indirect enum PlanValue: Sendable, Hashable {
    case string(String)
    case reference(PlanReference)
    /// Text with references inside, such as an image ARN: rendered as one string.
    case joined([PlanValue])
    case int(Int)
    case bool(Bool)
    case list([PlanValue])
    case object([Member])
    case null

    public struct Member: Sendable, Hashable {
        public var key: String
        public var value: PlanValue
        public init(_ key: String, _ value: PlanValue) {
            self.key = key
            self.value = value
        }
    }

    /// Every reference inside the value, in order.
    public var references: [PlanReference] {
        switch self {
        case let .reference(reference): [reference]
        case let .joined(parts), let .list(parts): parts.flatMap(\.references)
        case let .object(members): members.flatMap(\.value.references)
        case .string, .int, .bool, .null: []
        }
    }

    /// The value as text for people: references as their placeholders.
    public var displayText: String {
        switch self {
        case let .string(text): text
        case let .reference(reference): reference.placeholder
        case let .joined(parts): parts.map(\.displayText).joined()
        case let .int(number): String(number)
        case let .bool(flag): String(flag)
        case .null: "null"
        case .list, .object: JSONRenderer.compact(self)
        }
    }
}

/// The kinds of work a plan holds; the names are part of the JSON schema.
public enum TaskKind: String, Sendable, CaseIterable, Codable {
    case shareBuildImage = "share-build-image"
    case tagBuildImage = "tag-build-image"
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
        case .shareBuildImage: "ec2 ModifyImageAttribute, ec2 ModifySnapshotAttribute"
        case .tagBuildImage: "ec2 CreateTags"
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
    /// The account whose resources the task changes (and whose credentials run it).
    public var account: String
    public var parameters: [PlanValue.Member]
    public var dependsOn: [String]
    /// One line for people.
    public var summary: String
    /// The IAM role assumed in `account` to run the task, when that is not the owner account:
    /// Image Builder works in target accounts through this role. Not an API parameter.
    public var assumeRole: String?

    public func parameter(_ key: String) -> PlanValue? {
        parameters.first { $0.key == key }?.value
    }
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
/// `<s3Prefix><export task id>.<vmdk|raw|vhd>`, the task id being `export-ami-…`.
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

/// The AMI Image Builder builds in the source region, as the source region's entry shapes it:
/// Image Builder gives it the name and description when it creates it.
public struct PlannedBuildImage: Sendable, Equatable {
    public var region: String
    /// The name the AMI gets: the configured name expanded, or the recipe name and build date.
    public var name: PlanValue
    public var description: String?
}

/// The expanded plan: everything a renderer needs.
public struct Plan: Sendable {
    public var configurationName: String?
    public var context: PlanContext
    /// The source region actually used (given, or the first listed).
    public var sourceRegion: String
    /// The partition every region of the plan is in.
    public var partition: Partition
    /// Stable for a configuration, owner and source region: the root of client tokens.
    public var id: String
    public var buildImage: PlannedBuildImage?
    public var tasks: [PlanTask]
    /// The S3 exports of the plan's export-image tasks, in region order.
    public var exports: [PlannedExport]
    public var prerequisites: [Prerequisite]
    /// Facts the plan relies on that AWS does not document or that imgship cannot know.
    public var assumptions: [String]
    public var warnings: [Problem]
    public var totals: PlanTotals

    /// How an account is shown (the unknown owner is already `<owner>`).
    public func display(account: String) -> String { account }
}
