import ConfigDocument
import DiskImage

/// The AWS CLI commands that import an output made for `--target aws`: an upload to S3, then
/// either `aws ec2 import-image` with the format and boot mode the export decided, or the
/// snapshot path (`import-snapshot`, its wait, `register-image`) users take when ImportImage
/// refuses the guest's operating system. imgship prints them (`ShellQuoting`, the one quoting
/// function) and never runs them.
///
/// Every command names its region (`--region`): without it the AWS CLI takes the region of
/// whatever profile or environment runs it, and VM Import reads the bucket only in the
/// bucket's own region (VM Import/Export user guide, "Import a VM as an image": the S3 bucket
/// must be in the Region where you import). The region is an `AWSRegion`, which only a
/// checked name makes, so a command without one cannot be built.
///
/// `--disk-containers` and `--disk-container` are JSON, whose escaping holds any key; the EC2
/// API reference (ImportImage, ImageDiskContainer, ImportSnapshot, SnapshotDiskContainer,
/// UserBucket, RegisterImage) and botocore's EC2 model name the members.
public struct AWSImportCommands: Sendable, Equatable {
    /// Which VM Import call makes the AMI.
    public enum Method: String, Sendable, CaseIterable {
        /// `import-image`: VM Import checks the operating system and makes the AMI.
        case image
        /// `import-snapshot`, then `register-image` of the snapshot: for an operating system
        /// ImportImage does not support (VM Import/Export user guide, "Import a disk as a
        /// snapshot"); the AMI's boot mode, architecture and ENA are then the caller's to state.
        case snapshot
    }

    /// What `register-image` states of the AMI on the snapshot path.
    public struct Registration: Sendable, Equatable {
        /// `--name`: 3-128 of letters, digits and `()[] ./-'@_` (botocore EC2 model,
        /// RegisterImage Name).
        public var name: String
        /// `--architecture`: `x86_64` or `arm64`.
        public var architecture: String
        /// `--boot-mode`: `uefi`, `legacy-bios` or `uefi-preferred`; nil takes the export's,
        /// or `uefi-preferred` for a disk read to boot either way (RegisterImage BootMode:
        /// "the AMI supports both UEFI and Legacy BIOS").
        public var bootMode: String?

        public init(name: String, architecture: String = "x86_64", bootMode: String? = nil) {
            self.name = name
            self.architecture = architecture
            self.bootMode = bootMode
        }

        /// The AMI name made from a file name: its extension dropped, every character
        /// RegisterImage refuses replaced by `-`, cut to 128 and padded to 3.
        public static func name(forFile fileName: String) -> String {
            var base = Substring(fileName)
            if let dot = base.lastIndex(of: "."), dot != base.startIndex { base = base[..<dot] }
            var name = String(String.UnicodeScalarView(base.unicodeScalars.map { isNameScalar($0) ? $0 : "-" }).prefix(128))
            while name.count < 3 { name += "-" }
            return name
        }

        static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "()[] ./-'@_".unicodeScalars.contains(scalar))
        }

        /// Refuses a name, architecture or boot mode RegisterImage would not take.
        public static func check(name: String?, architecture: String?) throws(AWSImportCommandsError) {
            if let name, let problem = nameProblem(name) {
                throw AWSImportCommandsError("--ami-name \(problem)")
            }
            if let architecture, let problem = architectureProblem(architecture) {
                throw AWSImportCommandsError("--architecture \(problem)")
            }
        }

        /// Why RegisterImage would refuse `name`, after the name of what gave it; nil when it takes it.
        public static func nameProblem(_ name: String) -> String? {
            guard !(3...128).contains(name.unicodeScalars.count) || !name.unicodeScalars.allSatisfy(isNameScalar) else { return nil }
            return
                "\(jsonString(name)) is not an AMI name: 3 to 128 of letters, digits, spaces and ( ) [ ] . / - ' @ _ (EC2 API reference, RegisterImage Name)"
        }

        /// Why VM Import would refuse `architecture`, after the name of what gave it; nil when it takes it.
        public static func architectureProblem(_ architecture: String) -> String? {
            architectures.contains(architecture) ? nil : "\(architecture): VM Import takes \(architectures.joined(separator: " or "))"
        }

        /// The architectures VM Import takes (VM Import/Export user guide, "Requirements":
        /// x86_64 and arm64 images; the model's i386 and Mac values are not imports).
        public static let architectures = ["x86_64", "arm64"]
    }

    /// The disk formats ImportSnapshot takes (EC2 API reference, SnapshotDiskContainer
    /// Format: VHD | VMDK | RAW).
    public static let snapshotFormats = ["VHD", "VMDK", "RAW"]

    /// The root device the snapshot is mapped to: the name EC2's own Linux AMIs use and the
    /// user guide's register-image example gives (`/dev/xvda`).
    public static let rootDeviceName = "/dev/xvda"

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
    public var method: Method
    /// The snapshot path's lines after the upload: import-snapshot, the wait, the look-up of
    /// the snapshot id and register-image, sharing shell variables; empty for `.image`.
    public var snapshotLines: [String] = []
    /// The region is `exampleRegion`, to be replaced.
    public var usesExampleRegion: Bool

    /// - Parameters:
    ///   - file: the output's path as given, or nil for standard output.
    ///   - fileName: the output's file name: the key is `prefix` + it.
    ///   - bucket: an S3 bucket name, checked against S3's rules; nil names `exampleBucket`.
    ///   - region: the bucket's region, where the image is imported; nil names `exampleRegion`.
    ///   - method: `import-image`, or the snapshot path stating `registration`.
    public init(
        file: String?, fileName: String, decision: TargetDecision, bucket: String?, prefix: String?, region: AWSRegion?,
        method: Method = .image, registration: Registration? = nil
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
        self.method = method
        if method == .snapshot {
            guard Self.snapshotFormats.contains(format) else {
                throw AWSImportCommandsError(
                    "--aws-import snapshot: ImportSnapshot takes \(Self.snapshotFormats.joined(separator: ", ")) disks, not \(format) (EC2 API reference, SnapshotDiskContainer); give -f vmdk, vhd or raw"
                )
            }
            let registration = registration ?? Registration(name: Registration.name(forFile: fileName))
            try Registration.check(name: registration.name, architecture: registration.architecture)
            snapshotLines = Self.snapshotLines(
                format: format, bucket: chosenBucket, key: key, region: chosenRegion, registration: registration,
                bootMode: registration.bootMode ?? (decision.bootsEitherWay == true ? "uefi-preferred" : bootMode))
        }
    }

    /// import-snapshot (its task id kept in `import_task`), the wait, the snapshot id (kept
    /// in `snapshot`), then register-image mapping it as the root device.
    ///
    /// `aws ec2 wait snapshot-imported` polls DescribeImportSnapshotTasks every 15 s, 40 times
    /// (botocore's EC2 waiters-2.json, SnapshotImported), and fails at once on the status
    /// `error`; an import that takes longer than 10 minutes fails the wait, which is run again.
    static func snapshotLines(format: String, bucket: String, key: String, region: String, registration: Registration, bootMode: String) -> [String] {
        let container = JSONOutput.object([
            ("Format", .string(format)),
            ("UserBucket", .object([("S3Bucket", .string(bucket)), ("S3Key", .string(key))])),
        ])
        let importSnapshot = ShellQuoting.command([
            "aws", "ec2", "import-snapshot", "--region", region, "--disk-container", container.encoded(), "--query", "ImportTaskId", "--output", "text",
        ])
        let wait = ShellQuoting.command(["aws", "ec2", "wait", "snapshot-imported", "--region", region, "--import-task-ids"]) + " \"$import_task\""
        let describe =
            ShellQuoting.command(["aws", "ec2", "describe-import-snapshot-tasks", "--region", region, "--import-task-ids"]) + " \"$import_task\" "
            + ShellQuoting.command(["--query", "ImportSnapshotTasks[0].SnapshotTaskDetail.SnapshotId", "--output", "text"])
        // The mapping is JSON around the snapshot id the shell holds: two quoted halves and the
        // variable between them make one word.
        let mapping = ("[{\"DeviceName\":\"\(rootDeviceName)\",\"Ebs\":{\"SnapshotId\":\"", "\",\"DeleteOnTermination\":true}}]")
        let register =
            ShellQuoting.command([
                "aws", "ec2", "register-image", "--region", region, "--name", registration.name, "--architecture", registration.architecture,
                "--boot-mode", bootMode, "--ena-support", "--virtualization-type", "hvm", "--root-device-name", rootDeviceName,
                "--block-device-mappings",
            ]) + " " + ShellQuoting.word(mapping.0) + "\"$snapshot\"" + ShellQuoting.word(mapping.1)
        return ["import_task=$(\(importSnapshot))", wait, "snapshot=$(\(describe))", register]
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
        switch method {
        case .image: [upload, importImage].compactMap { $0.map(ShellQuoting.command) }
        case .snapshot: [upload].compactMap { $0.map(ShellQuoting.command) } + snapshotLines
        }
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
