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
            "An image file (raw, sparse or not; VHD; VHDX; VMDK; qcow2; VDI; OVA), a block device, or - (standard input) or a FIFO, whose format is read from its bytes too."
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

    @Option(name: .customLong("boot-mode"), help: "With --target aws: import-image's --boot-mode, legacy-bios or uefi (the same as --firmware bios or efi).")
    var bootMode: AWSBootMode?

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
        name: .customLong("to-device"),
        help: "Write the image onto the block device given with -o, from its first byte (what the device holds is lost; a mounted device is refused).")
    var toDevice = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(help: "VMDK and OVA compression: fast, default (libdeflate 5), best or 1..12; other formats warn that it does not apply.")
    var level: DeflateLevel?

    @Option(help: "VMDK adapter type: lsilogic (the default), ide or buslogic; vmdk and ova only.")
    var adapter: VMDK.Adapter?

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

    /// `--target`, read in `validate()`.
    var target: ExportTarget? { try? targetName.map { try ExportTarget(parsing: $0) } }

    /// `-f`, or the target's default format.
    var chosenFormat: OutputFormat { format ?? target?.defaultFormat ?? .raw }

    /// `--firmware`, or `--boot-mode` in its terms.
    var chosenFirmware: VirtualMachineSettings.Firmware? { firmware ?? bootMode?.firmware }

    func validate() throws {
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
            for (flag, isGiven) in [
                ("--firmware", firmware != nil), ("--boot-mode", bootMode != nil), ("--s3-bucket", s3Bucket != nil), ("--s3-prefix", s3Prefix != nil),
                ("--region", region != nil),
            ] where isGiven {
                throw ValidationError("\(flag) applies with --target only")
            }
        } else if let target, target != .aws {
            for (flag, isGiven) in [
                ("--boot-mode", bootMode != nil), ("--s3-bucket", s3Bucket != nil), ("--s3-prefix", s3Prefix != nil), ("--region", region != nil),
            ] where isGiven {
                throw ValidationError("\(flag) applies with --target aws only; --target \(target) has no import command")
            }
        }
        do throws(AWSImportCommandsError) {
            try AWSImportCommands.check(bucket: s3Bucket, prefix: s3Prefix)
        } catch {
            throw ValidationError(error.description)
        }
        if let region, AWSRegion(region) == nil {
            throw ValidationError("--region \(AWSRegion.problem(region))")
        }
        if let firmware, let bootMode, firmware != bootMode.firmware {
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
        var warnings: [String] = []
        let format = chosenFormat
        if let level, !format.entry.compresses {
            warnings.append("--level \(level) does not apply to \(format.rawValue), which is not compressed; ignored")
        }
        if let adapter, format != .vmdk && format != .ova {
            warnings.append("--adapter \(adapter.rawValue) names the disk controller of a VMDK; \(format.rawValue) records none; ignored")
        }
        if uuid != nil && format == .raw {
            warnings.append("--uuid sets the identifier a container format records; raw has none; ignored")
        }
        if !format.entry.declaresMachine {
            let given = [("--cpus", cpus != nil), ("--memory-mib", memoryMiB != nil), ("--os-type", osType != nil)]
            for (flag, isGiven) in given where isGiven {
                warnings.append("\(flag) describes the virtual machine of an OVA; \(format.rawValue) has none; ignored")
            }
        }
        return warnings
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
            operatingSystem: osType ?? defaultMachine.operatingSystem)
        let options = ExportOptions(
            format: format, sourceFormat: reading.sourceFormat, threads: threads ?? 0, level: level ?? .standard, adapter: adapter ?? .lsilogic,
            alignToMiB: alignToMiB, overwrite: force, timestamp: epoch, diskIdentifier: identifier,
            isCancelled: { interruptRequested.load(ordering: .relaxed) },
            progress: progress.map { bar in { @Sendable progress in bar.update(progress) } },
            machine: machine, allowExternalExtents: reading.allowExternalExtents, computesDigest: !noManifest,
            target: target, firmware: chosenFirmware)
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
        var importCommands: AWSImportCommands?
        if let decision = summary.target, decision.bootMode != nil {
            do throws(AWSImportCommandsError) {
                importCommands = try AWSImportCommands(
                    file: toStandardOutput || toDevice ? nil : output, fileName: destination.name, decision: decision,
                    bucket: s3Bucket, prefix: s3Prefix, region: region.flatMap(AWSRegion.init))
            } catch {
                throw fail(CommandProblem(path: nil, what: error.description, exitStatus: .usage))
            }
        }
        if json {
            try writeToStandardOutput(Self.json(summary, importCommands: importCommands).encoded() + "\n")
        } else if toStandardOutput {
            if let decision = summary.target {
                writeToStandardError(Self.targetText(decision, importCommands: importCommands))
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
            if let decision = summary.target { text += Self.targetText(decision, importCommands: importCommands) }
            try writeToStandardOutput(text)
        }
    }

    /// The `--json` document: the export summary plus the throughput, keys sorted as the
    /// `JSONEncoder` (`.sortedKeys`) output of earlier releases; `manifest` and `sha256` are
    /// absent when there is none, as that encoder left them out.
    static func json(_ summary: ExportSummary, importCommands: AWSImportCommands? = nil) -> JSONOutput {
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
    static func targetText(_ decision: TargetDecision, importCommands: AWSImportCommands?) -> String {
        var lines = ["target \(decision.target): \(decision.format.rawValue), firmware \(decision.firmware.rawValue) (\(decision.firmwareReason))"]
        if let version = decision.hardwareVersion { lines.append("  virtual hardware vmx-\(version)") }
        if let adapter = decision.networkAdapter { lines.append("  network adapter \(adapter)") }
        if let digest = decision.manifestDigest { lines.append("  OVF manifest \(digest == "sha1" ? "SHA-1" : "SHA-256")") }
        if let generation = decision.hyperVGeneration {
            lines.append("  Hyper-V: attach it as the boot disk of a generation \(generation) virtual machine")
        }
        if let importCommands {
            lines.append("  to import it (imgship prints these commands and never runs them):")
            lines += importCommands.lines.map { "    " + $0 }
            if importCommands.usesExampleBucket {
                lines.append("  (\(AWSImportCommands.exampleBucket) stands for your bucket: give --s3-bucket to name it)")
            }
            if importCommands.usesExampleRegion {
                lines.append("  (\(AWSImportCommands.exampleRegion) stands for the bucket's region: give --region to name it)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The `target` member of `--json`: keys sorted, absent values left out.
    static func targetJSON(_ decision: TargetDecision, importCommands: AWSImportCommands?) -> JSONOutput {
        var members: [(key: String, value: JSONOutput)] = []
        if let bootMode = decision.bootMode { members.append(("bootMode", .string(bootMode))) }
        members += [("firmware", .string(decision.firmware.rawValue)), ("firmwareReason", .string(decision.firmwareReason))]
        if let version = decision.hardwareVersion { members.append(("hardwareVersion", .string("vmx-\(version)"))) }
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

extension VMDK.Adapter: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

extension VirtualMachineSettings.OperatingSystem: ExpressibleByArgument {}

extension VirtualMachineSettings.Firmware: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

/// `aws ec2 import-image --boot-mode` values VM Import takes (uefi-preferred is not one:
/// EC2 API reference, ImportImage BootMode).
enum AWSBootMode: String, CaseIterable, ExpressibleByArgument {
    case legacyBIOS = "legacy-bios"
    case uefi

    var firmware: VirtualMachineSettings.Firmware { self == .uefi ? .efi : .bios }
}

extension SourceFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}
