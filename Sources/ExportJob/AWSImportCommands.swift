import ConfigDocument
import DiskImage

/// The AWS CLI commands that import an output made for `--target aws`: an upload to S3, then
/// `aws ec2 import-image` with the format and boot mode the export decided. imgship prints
/// them (`ShellQuoting`, the one quoting function) and never runs them.
///
/// Every command names its region (`--region`): without it the AWS CLI takes the region of
/// whatever profile or environment runs it, and VM Import reads the bucket only in the
/// bucket's own region (VM Import/Export user guide, "Import a VM as an image": the S3 bucket
/// must be in the Region where you import). The region is an `AWSRegion`, which only a
/// checked name makes, so a command without one cannot be built.
///
/// `--disk-containers` is JSON, whose escaping holds any key; the EC2 API reference
/// (ImportImage, ImageDiskContainer, UserBucket) names the members.
public struct AWSImportCommands: Sendable, Equatable {
    /// The bucket the commands name when none is given: the AWS documentation's own example
    /// bucket, a valid name the reader replaces.
    public static let exampleBucket = "amzn-s3-demo-bucket"
    /// The region the commands name when none is given, to be replaced like the bucket.
    public static let exampleRegion = AWSRegion.example

    /// `aws s3 cp FILE s3://BUCKET/KEY --region REGION`; nil when the output is no file (standard output).

    public var upload: [String]?
    /// `aws ec2 import-image --region REGION --boot-mode MODE --disk-containers JSON`.
    public var importImage: [String]
    /// The bucket is `exampleBucket`, to be replaced.
    public var usesExampleBucket: Bool
    /// The region is `exampleRegion`, to be replaced.
    public var usesExampleRegion: Bool

    /// - Parameters:
    ///   - file: the output's path as given, or nil for standard output.
    ///   - fileName: the output's file name: the key is `prefix` + it.
    ///   - bucket: an S3 bucket name, checked against S3's rules; nil names `exampleBucket`.
    ///   - region: the bucket's region, where the image is imported; nil names `exampleRegion`.
    public init(
        file: String?, fileName: String, decision: TargetDecision, bucket: String?, prefix: String?, region: AWSRegion?
    ) throws(AWSImportCommandsError) {
        try Self.check(bucket: bucket, prefix: prefix)
        guard let bootMode = decision.bootMode, let format = decision.importFormat else {
            throw AWSImportCommandsError("the export was not decided for --target aws")
        }
        let key = (prefix ?? "") + fileName
        try Self.check(key: key)
        let chosenBucket = bucket ?? Self.exampleBucket
        usesExampleBucket = bucket == nil
        usesExampleRegion = region == nil
        let chosenRegion = (region ?? Self.exampleRegion).name
        // A path starting with '-' would be read by the AWS CLI (argparse) as an option:
        // `./-x` names the same file and cannot be.
        upload = file.map { ["aws", "s3", "cp", "--region", chosenRegion, $0.hasPrefix("-") ? "./" + $0 : $0, "s3://\(chosenBucket)/\(key)"] }
        let container = JSONOutput.array([
            .object([
                ("Format", .string(format)),
                ("UserBucket", .object([("S3Bucket", .string(chosenBucket)), ("S3Key", .string(key))])),
            ])
        ])
        importImage = ["aws", "ec2", "import-image", "--region", chosenRegion, "--boot-mode", bootMode, "--disk-containers", container.encoded()]
    }

    /// S3 object keys are at most 1,024 bytes of UTF-8 (Amazon S3 user guide, "Naming objects").
    public static let maximumKeyBytes = 1024

    /// Refuses a key S3 would not take: checked before any work, so an export is never made
    /// only to find its key cannot be.
    public static func check(key: String) throws(AWSImportCommandsError) {
        guard key.utf8.count <= maximumKeyBytes else {
            throw AWSImportCommandsError(
                "the S3 key \(jsonString(String(key.prefix(60))))... is \(key.utf8.count) bytes, longer than the 1,024 bytes S3 allows")
        }
    }

    /// Refuses a bucket name S3 would not take, and a prefix the job files refuse too.
    public static func check(bucket: String?, prefix: String?) throws(AWSImportCommandsError) {
        if let bucket, !JobFileReader.isBucketName(bucket) {
            throw AWSImportCommandsError(
                "--s3-bucket \"\(bucket)\" is not an S3 bucket name: 3 to 63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit")
        }
        if let prefix, let problem = JobFileReader.prefixProblem(prefix) {
            throw AWSImportCommandsError("--s3-prefix \(jsonString(prefix)) \(problem)")
        }
    }

    /// The commands as lines of shell text.
    public var lines: [String] {
        [upload, importImage].compactMap { $0.map(ShellQuoting.command) }
    }
}

/// An AWS region name, checked: two letters, an optional `-gov` or `-iso[x]`, a direction and a
/// number (`us-east-1`, `us-gov-west-1`, `eu-isoe-west-1`), as botocore's partitions write them.
/// The only way to a region an import command names.
public struct AWSRegion: Sendable, Equatable, CustomStringConvertible {
    public let name: String

    /// Nil when `name` is not a region name.
    public init?(_ name: String) {
        guard (try? /[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,3}/.wholeMatch(in: name)) != nil else { return nil }
        self.name = name
    }

    private init(checked name: String) { self.name = name }

    /// What the commands name when no region is given: the AWS documentation's own example.
    public static let example = AWSRegion(checked: "us-east-1")

    public var description: String { name }

    /// The message for a name that is not a region, after what named it (`--region "x"`).
    public static func problem(_ name: String) -> String {
        "\(jsonString(name)) is not an AWS region name: like us-east-1 (two letters, a direction, a number)"
    }
}

/// Why the import commands cannot be made: a bucket or prefix S3 would not take.
public struct AWSImportCommandsError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
