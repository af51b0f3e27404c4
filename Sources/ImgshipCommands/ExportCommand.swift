import ArgumentParser
import ConfigDocument
import DiskImage
import ExportJob
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Convert an image (\(ImageFormat.sourceList)) or block device to \(ImageFormat.helpList), with a SHA-256 manifest.",
        discussion: """
            The source format is read from the file's bytes, never its name; --source-format overrides it. \
            A format imgship does not read (\(ImageFormat.refusedList)) is refused by name with the command that converts it, \
            a stream from its first bytes. The manifest OUTPUT.sha256 is in sha256sum format: `sha256sum -c OUTPUT.sha256` passes in \
            OUTPUT's folder. The output is written under a temporary name and renamed when complete. \
            SOURCE_DATE_EPOCH, when set, is the VHD time stamp.
            """)

    @Argument(
        help:
            "An image file (raw, sparse or not; VHD; VHDX; VMDK; qcow2; VDI; OVA; a GCE image, disk.raw in a .tar.gz), a block device, or - (standard input) or a FIFO, whose format is read from its bytes too."
    )
    var source: String

    /// `--source-format` and `--allow-external-extents`, as info, verify and check take them.
    @OptionGroup var reading: ImageReadingOptions

    @Option(name: [.short, .long], help: "\(ImageFormat.helpList); any case. With --target, one the target imports (default: the target's first).")
    var format: OutputFormat?

    @Option(
        name: .customLong("target"),
        help: ArgumentHelp(
            "The platform the image is for: \(ExportTarget.names.joined(separator: ", ")). Picks the format and its details and refuses what the platform is documented to reject (docs/export.md, \"Targets\").",
            valueName: "target"))
    var targetName: String?

    @Option(help: "With --target: the firmware the guest boots with, bios or efi (default: read from the disk).")
    var firmware: VirtualMachineSettings.Firmware?

    @Option(
        name: .customLong("boot-mode"),
        help:
            "With --target aws: the AMI's boot mode, legacy-bios or uefi (the same as --firmware bios or efi); with --aws-import snapshot also uefi-preferred (a disk that boots either way)."
    )
    var bootMode: AWSBootMode?

    @Option(
        name: .customLong("aws-import"),
        help:
            "With --target aws: the import commands printed: image (import-image) or snapshot (import-snapshot, its wait and register-image, for an OS ImportImage refuses; vmdk, vhd or raw)."
    )
    var awsImport: AWSImportCommands.Method?

    @Option(help: "With --aws-import snapshot: register-image's --architecture, x86_64 or arm64 (default: x86_64).")
    var architecture: String?

    @Option(name: .customLong("ami-name"), help: "With --aws-import snapshot: register-image's --name (default: the output's name without extension).")
    var amiName: String?

    @Option(name: .customLong("s3-bucket"), help: "With --target aws: the bucket the printed import commands name (default: amzn-s3-demo-bucket, to replace).")
    var s3Bucket: String?

    @Option(name: .customLong("s3-prefix"), help: "With --target aws: prepended to the file name in the printed S3 key.")
    var s3Prefix: String?

    @Option(
        name: .customLong("region"),
        help: "With --target aws: the bucket's region, which every printed import command names with --region (default: us-east-1, to replace).")
    var region: String?

    @Option(name: [.short, .long], help: "The output path, or - for standard output.")
    var output: String

    @Flag(help: "Overwrite an existing output and manifest (never a directory, device node or the source); with -o -, write the image to a terminal.")
    var force = false

    @Flag(
        help:
            "When another export or job is writing the same output (it holds .OUTPUT.imgship.lock beside it), wait for it to end instead of failing (exit 1) naming it; Ctrl-C stops the wait. File outputs only."
    )
    var wait = false

    @Flag(
        name: .customLong("to-device"),
        help: "Write the image onto the block device given with -o, from its first byte (what the device holds is lost; a mounted device is refused).")
    var toDevice = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(
        help:
            "VMDK, OVA, GCE and compressed qcow2 compression: fast, default (libdeflate 5; zstd 3), best or 1..12; other formats warn that it does not apply."
    )
    var level: DeflateLevel?

    @Flag(help: "qcow2: compress the clusters (zlib, or --qcow2-compression zstd) with the parallel workers; --level sets how hard.")
    var compress = false

    @Option(
        name: .customLong("qcow2-compression"),
        help:
            "qcow2: the compression type of compressed clusters, zlib (the default, every qemu) or zstd (qemu 5.1 and later; needs compat 1.1). Implies --compress."
    )
    var qcow2Compression: QCOW2.WriteOptions.CompressionType?

    @Option(
        name: .customLong("qcow2-compat"),
        help: "qcow2: 1.1 (version 3, the default) or 0.10 (version 2, for qemu older than 1.1).")
    var qcow2Compat: QCOW2.WriteOptions.Compatibility?

    @Option(help: "VMDK adapter type: lsilogic (the default), ide or buslogic; vmdk and ova only.")
    var adapter: VMDK.Adapter?

    @Option(
        name: .customLong("block-size"),
        help: ArgumentHelp(
            "VHDX payload block size in MiB: a power of two from 1 to 256 (1, 2M, 32MiB). Default: 1 MiB, Microsoft's recommendation for Linux guests, for a disk up to 1 TiB; above, the smallest power of two giving at most 2^20 blocks.",
            valueName: "MIB"))
    var blockSize: String?

    @Flag(name: .customLong("align-mib"), help: "Round the virtual size up to a whole MiB (Azure requires it of fixed VHDs).")
    var alignToMiB = false

    @Option(help: "Write the sha256sum manifest here (default: OUTPUT.sha256; with -o -, standard error).")
    var manifest: String?

    @Flag(
        name: .customLong("no-manifest"),
        help: "Compute no SHA-256 and write no manifest (a 2 TiB sparse disk spends about 20 minutes hashing zeros).")
    var noManifest = false

    @Option(help: "With -o -: the file name recorded in the manifest and the VMDK descriptor.")
    var name: String?

    @Option(help: "Disk identifier (UUID) for the VHD unique id and the VMDK CID; random by default.")
    var uuid: String?

    @Flag(help: "Print one JSON summary on standard output.")
    var json = false

    @Flag(name: .customLong("no-progress"), help: "Do not draw the progress bar.")
    var noProgress = false

    @Option(help: "OVA: virtual CPUs of the virtual machine (default: 2).")
    var cpus: Int?

    @Option(name: .customLong("memory-mib"), help: "OVA: memory of the virtual machine, in MiB (default: 2048).")
    var memoryMiB: Int?

    @Option(name: .customLong("os-type"), help: "OVA: guest operating system: linux64, windows64 or other64 (default: linux64).")
    var osType: VirtualMachineSettings.OperatingSystem?

    @Option(
        name: .customLong("manifest-digest"),
        help: "OVA: the digest of the .mf lines and of the signature: sha256 (the default), sha512 or sha1 (vSphere 6.0 and older).")
    var manifestDigest: VirtualMachineSettings.ManifestDigest?

    @Option(
        name: .customLong("sign-key"),
        help: ArgumentHelp(
            "OVA: sign the package's manifest with this PEM private key (RSA or EC, not encrypted), writing NAME.cert; needs --sign-cert.",
            valueName: "key.pem"))
    var signKey: String?

    @Option(
        name: .customLong("sign-cert"),
        help: ArgumentHelp(
            "OVA: the PEM certificate of --sign-key, then any intermediate certificates to ship in NAME.cert.", valueName: "cert.pem"))
    var signCertificate: String?

    /// `--target`, read in `validate()`.
    var target: ExportTarget? { try? targetName.map { try ExportTarget(parsing: $0) } }

    /// `-f`, or the target's default format.
    var chosenFormat: OutputFormat { format ?? target?.defaultFormat ?? .raw }

    /// `--compress`, `--qcow2-compression` and `--qcow2-compat`.
    var qcow2Options: QCOW2.WriteOptions {
        QCOW2.WriteOptions(
            compatibility: qcow2Compat ?? .version3, compression: qcow2Compression ?? (compress ? .zlib : nil))
    }

    /// `--firmware`, or `--boot-mode` in its terms.
    var chosenFirmware: VirtualMachineSettings.Firmware? { firmware ?? bootMode?.firmware }

    /// Options given that need `--target aws`, by flag.
    var awsOnlyFlags: [(String, Bool)] {
        [
            ("--boot-mode", bootMode != nil), ("--s3-bucket", s3Bucket != nil), ("--s3-prefix", s3Prefix != nil), ("--aws-import", awsImport != nil),
            ("--architecture", architecture != nil), ("--ami-name", amiName != nil), ("--region", region != nil),
        ]
    }

    func validate() throws {
        if let blockSize, ExportOptionRules.vhdxBlockSize(parsing: blockSize) == nil {
            throw ValidationError("--block-size \(jsonString(blockSize)) \(ExportOptionRules.blockSizeExpectation)")
        }
        if let targetName {
            do throws(ExportTargetParseError) {
                _ = try ExportTarget(parsing: targetName)
            } catch {
                throw ValidationError("--target: \(error)")
            }
        }
        if format == nil && targetName == nil {
            throw ValidationError(
                "give the output format with -f FORMAT (\(ImageFormat.valueNames.joined(separator: ", "))) or a platform with --target (\(ExportTarget.names.joined(separator: ", ")))"
            )
        }
        if target == nil {
            for (flag, isGiven) in [("--firmware", firmware != nil)] + awsOnlyFlags where isGiven {
                throw ValidationError("\(flag) applies with --target only")
            }
        } else if let target, target != .aws {
            for (flag, isGiven) in awsOnlyFlags where isGiven {
                throw ValidationError("\(flag) applies with --target aws only; --target \(target) has no import command")
            }
        }
        if awsImport != .snapshot {
            for (flag, isGiven) in [
                ("--architecture", architecture != nil), ("--ami-name", amiName != nil), ("--boot-mode uefi-preferred", bootMode == .uefiPreferred),
            ]
            where isGiven {
                throw ValidationError("\(flag) applies with --aws-import snapshot only (import-image decides the AMI itself and takes no uefi-preferred)")
            }
        }
        if awsImport == .snapshot, let problem = ExportOptionRules.snapshotFormatProblem(chosenFormat) {
            throw ValidationError("--aws-import snapshot: \(problem); give -f vmdk, vhd or raw")
        }
        do throws(AWSImportCommandsError) {
            try AWSImportCommands.Registration.check(name: amiName, architecture: architecture)
        } catch {
            throw ValidationError(error.description)
        }
        if (signKey == nil) != (signCertificate == nil) {
            throw ValidationError("--sign-key and --sign-cert go together: the key signs, the certificate is shipped for checking")
        }
        let packageOptions = [(ExportOptionKey.signKey, signKey != nil), (.signCert, signCertificate != nil), (.manifestDigest, manifestDigest != nil)]
        if let problem = ExportOptionRules.packageOptionProblem(formats: [chosenFormat], given: packageOptions.filter(\.1).map(\.0), name: \.flag) {
            throw ValidationError(problem)
        }
        if let manifestDigest, let problem = ExportOptionRules.manifestDigestProblem(manifestDigest, target: target, name: \.flag, targetName: "--target") {
            throw ValidationError(problem)
        }
        do throws(AWSImportCommandsError) {
            try AWSImportCommands.check(bucket: s3Bucket, prefix: s3Prefix)
        } catch {
            throw ValidationError(error.description)
        }
        if let problem = qcow2Options.problem, chosenFormat == .qcow2 {
            throw ValidationError(problem)
        }
        if let region, AWSRegion(region) == nil {
            throw ValidationError("--region \(AWSRegion.problem(region))")
        }
        if let firmware, let bootMode, let implied = bootMode.firmware, firmware != implied {
            throw ValidationError("--firmware \(firmware.rawValue) and --boot-mode \(bootMode.rawValue) contradict each other; give one")
        }
        if let threads, threads < 1 || threads > 256 {
            throw ValidationError("--threads must be between 1 and 256, got \(threads)")
        }
        if let uuid, UUID(uuidString: uuid) == nil {
            throw ValidationError("--uuid must be a UUID such as 8a6f0a3e-1f7c-4d2e-9b1a-3c5d7e9f0a1b, got '\(uuid)'")
        }
        if let cpus, cpus < 1 || cpus > 768 {
            throw ValidationError("--cpus must be between 1 and 768, got \(cpus)")
        }
        if let memoryMiB, memoryMiB < 4 || memoryMiB > 24 << 20 {
            throw ValidationError("--memory-mib must be between 4 and 25165824 (24 TiB), got \(memoryMiB)")
        }
        if toDevice && output == "-" {
            throw ValidationError("--to-device needs the device's path with -o, not -")
        }
        // A device holds the disk itself: a container format written onto it (a VMDK's
        // header and grain tables) is read by nothing that boots or mounts the device.
        if toDevice && chosenFormat != .raw {
            throw ValidationError("--to-device writes raw images only (the device holds the disk itself), not \(chosenFormat.rawValue); give -f raw")
        }
        // A stream has no name another run could be writing; a device is opened exclusively
        // (O_EXCL), so a second writer is refused there and has nothing to wait for.
        if wait && (output == "-" || toDevice) {
            throw ValidationError("--wait waits for another run writing the same output file; \(toDevice ? "--to-device" : "-o -") takes no lock")
        }
        if output == "-" && json {
            throw ValidationError("--json prints on standard output, which -o - already uses for the image")
        }
        // A flag that does not apply is refused or warned of, never silently ignored.
        if name != nil && output != "-" {
            throw ValidationError("--name names the image written to standard output; with -o PATH the name is PATH's")
        }
        if noManifest && manifest != nil {
            throw ValidationError("--manifest and --no-manifest contradict each other; give one")
        }
    }

    /// Flags given that the chosen format ignores: told as warnings, since the export is still
    /// what was asked (tools/bench-export passes --level to every format).
    var inapplicableFlagWarnings: [String] {
        let given: [(key: ExportOptionKey, value: String?, isGiven: Bool)] = [
            (.level, level?.description, level != nil), (.compress, nil, compress), (.qcow2Compression, nil, qcow2Compression != nil),
            (.qcow2Compat, nil, qcow2Compat != nil), (.blockSize, blockSize, blockSize != nil), (.adapter, adapter?.rawValue, adapter != nil),
            (.uuid, nil, uuid != nil), (.cpus, nil, cpus != nil), (.memoryMiB, nil, memoryMiB != nil), (.osType, nil, osType != nil),
        ]
        return ExportOptionRules.inapplicable(
            format: chosenFormat, given: given.filter(\.isGiven).map { ($0.key, $0.value) }, qcow2: qcow2Options, name: \.flag)
    }

    func run() throws {
        installInterruptHandlers()
        let format = chosenFormat
        let toStandardOutput = output == "-"
        for warning in inapplicableFlagWarnings { printProblem(.warning, warning) }
        // Refusals that need no reading come before any work: an image on a terminal would
        // be unreadable bytes and could leave it in a bad state; `-o DIR` or a taken name
        // would otherwise be found only after a stream was copied.
        if toStandardOutput && !force && isTerminal(STDOUT_FILENO) {
            throw fail(
                CommandProblem(
                    path: "standard output", what: "is a terminal; redirect the image to a file or a pipe, or pass --force to write it there",
                    exitStatus: .usage))
        }
        if !toStandardOutput && !toDevice {
            do throws(DiskImageError) {
                try Exporter.refuseOutputPath(output, overwrite: force)
                if let manifest { try Exporter.refuseOutputPath(manifest, overwrite: force) }
            } catch {
                throw fail(error)
            }
        }
        let progress = noProgress || !isTerminal(STDERR_FILENO) ? nil : ProgressBar()
        var identifier: [UInt8]?
        if let uuid, let parsed = UUID(uuidString: uuid) {
            identifier = withUnsafeBytes(of: parsed.uuid) { Array($0) }
        }
        let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap { UInt64($0) }
        let defaultMachine = VirtualMachineSettings()
        let machine = VirtualMachineSettings(
            cpus: cpus ?? defaultMachine.cpus, memoryMiB: memoryMiB ?? defaultMachine.memoryMiB,
            operatingSystem: osType ?? defaultMachine.operatingSystem, manifestDigest: manifestDigest ?? defaultMachine.manifestDigest)
        // The key and certificate are read and matched before any work: a package made only
        // for its signing to fail would be work thrown away.
        var signer: OVA.PackageSigner?
        if let signKey, let signCertificate {
            do throws(DiskImageError) {
                signer = try OVA.PackageSigner(keyPath: signKey, certificatePath: signCertificate)
            } catch {
                throw fail(error)
            }
        }
        var options = ExportOptions(
            format: format, sourceFormat: reading.sourceFormat, threads: threads ?? 0, level: level ?? .standard, adapter: adapter ?? .lsilogic,
            alignToMiB: alignToMiB, overwrite: force, timestamp: epoch, diskIdentifier: identifier,
            isCancelled: { interruptRequested.load(ordering: .relaxed) },
            progress: progress.map { bar in { @Sendable progress in bar.update(progress) } },
            machine: machine, allowExternalExtents: reading.allowExternalExtents, computesDigest: !noManifest,
            target: target, firmware: chosenFirmware, signer: signer, qcow2: qcow2Options)
        options.vhdxBlockSize = blockSize.flatMap(ExportOptionRules.vhdxBlockSize(parsing:))
        // One writer per output: another export or a job writing it holds its lock.
        options.outputLock = .take(
            wait: wait,
            onWaiting: { held in
                if case let .held(path, holder) = held {
                    writeToStandardError(
                        DisplayText.escaped("imgship: \(output): waiting for the lock \(path), which another run holds (\(holder ?? "unknown"))") + "\n")
                }
            })
        let destination: Exporter.Destination
        if toStandardOutput {
            let sourceName = URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
            destination = .standardOutput(name: name ?? sourceName + "." + format.fileExtension)
        } else if toDevice {
            destination = .device(output)
        } else {
            destination = .file(output)
        }
        // The key the import commands will name, checked before any work: an output committed
        // only for its key to be refused would be work thrown away.
        if target == .aws, !toDevice {
            do throws(AWSImportCommandsError) {
                try AWSImportCommands.check(key: (s3Prefix ?? "") + destination.name)
            } catch {
                throw fail(CommandProblem(path: nil, what: error.description, exitStatus: .usage))
            }
        }
        let summary: ExportSummary
        do throws(DiskImageError) {
            summary = try Exporter.export(source: source, to: destination, manifestPath: manifest, options: options)
        } catch {
            progress?.finish()
            throw fail(error)
        }
        progress?.finish()
        for warning in summary.warnings {
            printProblem(.warning, warning)
        }
        if toStandardOutput && manifest == nil, let sha256 = summary.sha256 {
            writeToStandardError("\(sha256)  \(destination.name)\n")
        }
        // The target row's commands (AWS with its bucket and path; OpenStack, KVM, Proxmox,
        // Oracle Cloud, Google Cloud), chosen by the one function a job's report uses too.
        var printed: PrintedImportCommands?
        if let decision = summary.target {
            do throws(AWSImportCommandsError) {
                printed = try PrintedImportCommands(
                    target: target, decision: decision, file: toStandardOutput || toDevice ? nil : output, fileName: destination.name,
                    aws: AWSImportRequest(
                        bucket: s3Bucket, prefix: s3Prefix, region: region.flatMap(AWSRegion.init), method: awsImport ?? .image,
                        architecture: architecture, amiName: amiName, bootMode: bootMode == .uefiPreferred ? AWSBootMode.uefiPreferred.rawValue : nil),
                    hint: (bucket: "--s3-bucket", region: "--region"))
            } catch {
                throw fail(CommandProblem(path: nil, what: error.description, exitStatus: .usage))
            }
        }
        if json {
            try writeToStandardOutput(Self.json(summary, importCommands: printed).encoded() + "\n")
        } else if toStandardOutput {
            if let decision = summary.target {
                writeToStandardError(Self.targetText(decision, importCommands: printed))
            }
        } else {
            let rate = summary.seconds > 0 ? Double(summary.virtualSize) / summary.seconds / 1e6 : 0
            var text =
                "\(summary.output): \(summary.format.rawValue), \(summary.virtualSize) bytes virtual, "
                + "\(summary.outputSize) bytes, \(String(format1: summary.seconds)) s, \(Int(rate)) MB/s\n"
            if let sha256 = summary.sha256, let manifest = summary.manifest {
                text += "sha256 \(sha256)  -> \(manifest)\n"
            } else if let sha256 = summary.sha256 {
                text += "sha256 \(sha256)  (of the first \(summary.outputSize) bytes of \(summary.output))\n"
            } else {
                text += "no sha256 computed (--no-manifest)\n"
            }
            if let decision = summary.target { text += Self.targetText(decision, importCommands: printed) }
            try writeToStandardOutput(text)
        }
    }

    /// The `--json` document: the export summary plus the throughput, keys sorted as the
    /// `JSONEncoder` (`.sortedKeys`) output of earlier releases; `manifest` and `sha256` are
    /// absent when there is none, as that encoder left them out.
    static func json(_ summary: ExportSummary, importCommands: PrintedImportCommands? = nil) -> JSONOutput {
        let rate = summary.seconds > 0 ? Double(summary.virtualSize) / summary.seconds / 1e6 : 0
        var members: [(key: String, value: JSONOutput)] = [
            ("bytesWritten", .unsigned(summary.bytesWritten)),
            ("format", .string(summary.format.rawValue)),
        ]
        if let manifest = summary.manifest { members.append(("manifest", .string(manifest))) }
        members += [
            ("megabytesPerSecond", .number((rate * 10).rounded() / 10)),
            ("output", .string(summary.output)),
            ("outputSize", .unsigned(summary.outputSize)),
            ("seconds", .number(summary.seconds)),
        ]
        if let sha256 = summary.sha256 { members.append(("sha256", .string(sha256))) }
        members += [
            ("source", .string(summary.source)),
            ("sourceFormat", .string(summary.sourceFormat)),
            ("sourceSize", .unsigned(summary.sourceSize)),
        ]
        if let decision = summary.target { members.append(("target", targetJSON(decision, importCommands: importCommands))) }
        members += [
            ("virtualSize", .unsigned(summary.virtualSize)),
            ("warnings", .array(summary.warnings.map(JSONOutput.string))),
        ]
        return .object(members)
    }
}

extension ExportCommand {
    /// What the target decided, as lines after the summary: the platform, the firmware and
    /// why, the details it fixed, and for AWS the import commands (printed, never run).
    static func targetText(_ decision: TargetDecision, importCommands: PrintedImportCommands?) -> String {
        var lines = ["target \(decision.target): \(decision.format.rawValue), firmware \(decision.firmware.rawValue) (\(decision.firmwareReason))"]
        if let version = decision.hardwareVersion { lines.append("  virtual hardware vmx-\(version)") }
        if let adapter = decision.networkAdapter { lines.append("  network adapter \(adapter)") }
        if let digest = decision.manifestDigest { lines.append("  OVF manifest \(digest.uppercased().replacing("SHA", with: "SHA-"))") }
        if let generation = decision.hyperVGeneration {
            lines.append("  Hyper-V: attach it as the boot disk of a generation \(generation) virtual machine")
        }
        if let importCommands {
            lines.append("  to import it (imgship prints these commands and never runs them):")
            lines += importCommands.lines.map { "    " + $0 }
            lines += importCommands.notes.map { "  (\($0))" }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The `target` member of `--json`: keys sorted, absent values left out.
    static func targetJSON(_ decision: TargetDecision, importCommands: PrintedImportCommands?) -> JSONOutput {
        var members: [(key: String, value: JSONOutput)] = []
        if let bootMode = decision.bootMode { members.append(("bootMode", .string(bootMode))) }
        members += [("firmware", .string(decision.firmware.rawValue)), ("firmwareReason", .string(decision.firmwareReason))]
        if let version = decision.hardwareVersion { members.append(("hardwareVersion", .string("vmx-\(version)"))) }
        if let features = decision.guestOSFeatures { members.append(("guestOSFeatures", .array(features.map(JSONOutput.string)))) }
        if let generation = decision.hyperVGeneration { members.append(("hyperVGeneration", .integer(generation))) }
        if let importCommands { members.append(("importCommands", .array(importCommands.lines.map(JSONOutput.string)))) }
        if let format = decision.importFormat { members.append(("importFormat", .string(format))) }
        if let digest = decision.manifestDigest { members.append(("manifestDigest", .string(digest))) }
        members.append(("name", .string(decision.target)))
        if let adapter = decision.networkAdapter { members.append(("networkAdapter", .string(adapter))) }
        return .object(members)
    }
}

extension Exporter.Destination {
    var name: String {
        switch self {
        case let .file(path): URL(fileURLWithPath: path).lastPathComponent
        case let .standardOutput(name): name
        case let .device(path): URL(fileURLWithPath: path).lastPathComponent
        }
    }
}

extension OutputFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
    public static var allValueStrings: [String] { ImageFormat.valueNames }
}

extension DeflateLevel: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
    public var defaultValueDescription: String { self == .standard ? "default (libdeflate 5)" : description }
}

extension QCOW2.WriteOptions.CompressionType: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension QCOW2.WriteOptions.Compatibility: ExpressibleByArgument {}

extension VMDK.Adapter: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

extension VirtualMachineSettings.OperatingSystem: ExpressibleByArgument {}

extension VirtualMachineSettings.Firmware: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

/// `--boot-mode` values: `aws ec2 import-image` takes legacy-bios and uefi (uefi-preferred is
/// not one: EC2 API reference, ImportImage BootMode); `register-image` also uefi-preferred
/// (botocore EC2 model, BootModeValues), for a disk that boots either way.
enum AWSBootMode: String, CaseIterable, ExpressibleByArgument {
    case legacyBIOS = "legacy-bios"
    case uefi
    case uefiPreferred = "uefi-preferred"

    /// The firmware the mode names; nil for uefi-preferred, which leaves it to the disk.
    var firmware: VirtualMachineSettings.Firmware? {
        switch self {
        case .uefi: .efi
        case .legacyBIOS: .bios
        case .uefiPreferred: nil
        }
    }
}

extension AWSImportCommands.Method: ExpressibleByArgument {}

extension VirtualMachineSettings.ManifestDigest: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

extension SourceFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}
