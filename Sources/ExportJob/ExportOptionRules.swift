import ConfigDocument
import DiskImage

/// A per-output option that `imgship export` takes as a flag and a job file as a key of an
/// export's `options`: the one list both check against (`ExportOptionRules`), so a flag and
/// its key are refused and warned of alike.
public enum ExportOptionKey: String, Sendable, CaseIterable {
    case level, compress, qcow2Compression, qcow2Compat, blockSize, adapter, uuid, cpus, memoryMiB, osType
    case manifestDigest, signKey, signCert, awsImport, architecture, amiName

    /// The export command's flag for it.
    public var flag: String {
        switch self {
        case .level: "--level"
        case .compress: "--compress"
        case .qcow2Compression: "--qcow2-compression"
        case .qcow2Compat: "--qcow2-compat"
        case .blockSize: "--block-size"
        case .adapter: "--adapter"
        case .uuid: "--uuid"
        case .cpus: "--cpus"
        case .memoryMiB: "--memory-mib"
        case .osType: "--os-type"
        case .manifestDigest: "--manifest-digest"
        case .signKey: "--sign-key"
        case .signCert: "--sign-cert"
        case .awsImport: "--aws-import"
        case .architecture: "--architecture"
        case .amiName: "--ami-name"
        }
    }
}

/// The rules of the per-output options, shared by `imgship export` (which names flags) and job
/// files (which name keys): `name` turns a key into the word a message uses.
public enum ExportOptionRules {
    /// A VHDX block size in bytes from a number of MiB, with an optional `M` or `MiB`, that
    /// is one VHDX allows (MS-VHDX 2.6.2.1: a power of two from 1 to 256 MiB); nil otherwise.
    public static func vhdxBlockSize(parsing text: String) -> Int? {
        var digits = Substring(text.lowercased())
        for suffix in ["mib", "m"] where digits.hasSuffix(suffix) {
            digits = digits.dropLast(suffix.count)
            break
        }
        guard !digits.isEmpty, digits.count <= 4, digits.allSatisfy(\.isASCII), let mebibytes = Int(digits) else { return nil }
        let bytes = mebibytes << 20
        return VHDX.isValidBlockSize(bytes) ? bytes : nil
    }

    /// What follows the value of a block size `vhdxBlockSize(parsing:)` refuses.
    public static let blockSizeExpectation = "is not a VHDX block size: a power of two from 1 to 256 MiB, in MiB (1, 2M, 32MiB)"

    /// The options given that `format` ignores, as warnings: the export is still what was
    /// asked (tools/bench-export passes --level to every format). `given` pairs each option
    /// given with its value as written (nil for a switch); `qcow2` is what the qcow2 options
    /// make of them.
    package static func inapplicable(
        format: OutputFormat, given: [(key: ExportOptionKey, value: String?)], qcow2: QCOW2.WriteOptions, name: (ExportOptionKey) -> String
    ) -> [String] {
        func said(_ key: ExportOptionKey, _ value: String?) -> String { name(key) + (value.map { " " + $0 } ?? "") }
        let compressing = format.entry.compresses || (format == .qcow2 && qcow2.compression != nil)
        var warnings: [String] = []
        for (key, value) in given {
            switch key {
            case .level where !compressing:
                let remedy = format == .qcow2 ? " (give \(name(.compress)) to compress it)" : ""
                warnings.append("\(said(key, value)) does not apply to \(format.rawValue), which is not compressed\(remedy); ignored")
            case .compress, .qcow2Compression, .qcow2Compat:
                if format != .qcow2 { warnings.append("\(name(key)) applies to qcow2 outputs; \(format.rawValue) is not one; ignored") }
            case .blockSize where format != .vhdx:
                warnings.append("\(said(key, value)) sets the block size of a VHDX; \(format.rawValue) has none; ignored")
            case .adapter where format != .vmdk && format != .ova:
                warnings.append("\(said(key, value)) names the disk controller of a VMDK; \(format.rawValue) records none; ignored")
            case .uuid where format == .raw:
                warnings.append("\(name(key)) sets the identifier a container format records; raw has none; ignored")
            case .cpus, .memoryMiB, .osType:
                if !format.entry.declaresMachine {
                    warnings.append("\(name(key)) describes the virtual machine of an OVA; \(format.rawValue) has none; ignored")
                }
            case .manifestDigest, .signKey, .signCert:
                if format != .ova { warnings.append("\(name(key)) applies to OVA packages only; \(format.rawValue) has no OVF manifest; ignored") }
            default: break
            }
        }
        return warnings
    }

    /// Why the OVA options given cannot apply to any of `formats` (nil when one is an OVA):
    /// an OVF manifest, its digest and its signature exist in OVA packages only.
    public static func packageOptionProblem(formats: [OutputFormat], given: [ExportOptionKey], name: (ExportOptionKey) -> String) -> String? {
        guard !formats.contains(.ova), let key = given.first(where: [ExportOptionKey.signKey, .signCert, .manifestDigest].contains) else { return nil }
        let named = formats.map(\.rawValue).joined(separator: ", ")
        return "\(name(key)) applies to OVA packages (-f ova) only; \(named) \(formats.count == 1 ? "has" : "have") no OVF manifest"
    }

    /// Why a manifest digest contradicts a target whose OVF manifest digest is fixed
    /// (vSphere releases: docs/export.md, "Targets"), or nil.
    public static func manifestDigestProblem(
        _ digest: VirtualMachineSettings.ManifestDigest, target: ExportTarget?, name: (ExportOptionKey) -> String, targetName: String
    ) -> String? {
        guard let target, let fixed = target.machine(format: .ova, firmware: .bios).manifestDigest, fixed != digest else { return nil }
        return
            "\(name(.manifestDigest)) \(digest.rawValue) contradicts \(targetName) \(target), whose OVF manifest is \(fixed.rawValue) (docs/export.md, \"Targets\")"
    }

    /// Why ImportSnapshot cannot take `format`, or nil (EC2 API reference,
    /// SnapshotDiskContainer Format: VHD | VMDK | RAW).
    public static func snapshotFormatProblem(_ format: OutputFormat) -> String? {
        // Both VHD subformats are "VHD" to EC2, as import-image's Format is
        // (`TargetDecision.importFormat`); comparing the name alone refused vhd-dynamic.
        guard ![OutputFormat.vmdk, .vhdDynamic, .vhdFixed, .raw].contains(format) else { return nil }
        return
            "ImportSnapshot takes \(AWSImportCommands.snapshotFormats.joined(separator: ", ")) disks, not \(format.rawValue) (EC2 API reference, SnapshotDiskContainer)"
    }
}

/// What an export asks of its AWS import commands besides the output itself: the bucket,
/// prefix and region they name, and the path (`import-image` or the snapshot path with what
/// `register-image` states).
public struct AWSImportRequest: Sendable, Equatable {
    public var bucket: String?
    public var prefix: String?
    public var region: AWSRegion?
    public var method: AWSImportCommands.Method
    /// `register-image --architecture`; nil is x86_64.
    public var architecture: String?
    /// `register-image --name`; nil is the file's name without its extension.
    public var amiName: String?
    /// `register-image --boot-mode` when it differs from the export's (`uefi-preferred`).
    public var bootMode: String?

    public init(
        bucket: String? = nil, prefix: String? = nil, region: AWSRegion? = nil, method: AWSImportCommands.Method = .image, architecture: String? = nil,
        amiName: String? = nil, bootMode: String? = nil
    ) {
        self.bucket = bucket
        self.prefix = prefix
        self.region = region
        self.method = method
        self.architecture = architecture
        self.amiName = amiName
        self.bootMode = bootMode
    }
}

/// The import commands printed for an output made for a target, as shell lines (every word
/// quoted by `ShellQuoting`), and the notes on their placeholders: what `imgship export
/// --target T` prints and a job's report carries, made by one function (`init(target:…)`).
public struct PrintedImportCommands: Sendable, Equatable {
    public var lines: [String]
    /// What a placeholder stands for, or what is left to do by hand.
    public var notes: [String]

    /// The commands of the target's row for an output `fileName` at `file` (nil: a stream or a
    /// device), as `decision` decided it: AWS's (`AWSImportCommands`, with `aws`), or the
    /// row's own (`ExportTarget.importCommands`); nil for a row without any. `hint` says how
    /// to name the bucket and the region the AWS commands stand in for (`--s3-bucket`, or
    /// "the export an s3Bucket").
    public init?(
        target: ExportTarget?, decision: TargetDecision, file: String?, fileName: String, aws: AWSImportRequest,
        hint: (bucket: String, region: String)
    ) throws(AWSImportCommandsError) {
        if decision.bootMode != nil {
            let registration = AWSImportCommands.Registration(
                name: aws.amiName ?? AWSImportCommands.Registration.name(forFile: fileName), architecture: aws.architecture ?? "x86_64",
                bootMode: aws.bootMode)
            let commands = try AWSImportCommands(
                file: file, fileName: fileName, decision: decision, bucket: aws.bucket, prefix: aws.prefix, region: aws.region, method: aws.method,
                registration: registration)
            lines = commands.lines
            notes = commands.usesExampleBucket ? ["\(AWSImportCommands.exampleBucket) stands for your bucket: give \(hint.bucket) to name it"] : []
            if commands.usesExampleRegion {
                notes.append("\(AWSImportCommands.exampleRegion) stands for the bucket's region: give \(hint.region) to name it")
            }
            return
        }
        guard let commands = target?.importCommands(for: decision, file: file, name: fileName) else { return nil }
        lines = commands.commands.map(ShellQuoting.command)
        notes = commands.notes
    }
}
