#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import DiskImage
import Foundation

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Convert an image (\(ImageFormat.sourceList)) or block device to \(ImageFormat.helpList), with a SHA-256 manifest.",
        discussion: """
        The source format is read from the file's bytes, never its name; --source-format overrides it. The manifest OUTPUT.sha256 is in sha256sum format: `sha256sum -c OUTPUT.sha256` passes in \
        OUTPUT's folder. The output is written under a temporary name and renamed when complete. \
        SOURCE_DATE_EPOCH, when set, is the VHD time stamp.
        """)

    @Argument(help: "An image file (raw, sparse or not; VHD; VMDK; qcow2; OVA), a block device, or - (standard input) or a FIFO, read as raw unless --source-format says otherwise.")
    var source: String

    @Option(help: "Read the source as \(ImageFormat.sourceList) instead of what its bytes say.")
    var sourceFormat: SourceFormat?

    @Flag(name: .customLong("allow-external-extents"),
          help: "Let a VMDK descriptor name extent files outside its own folder (your own files; they must still be regular files).")
    var allowExternalExtents = false

    @Option(name: [.short, .long], help: "\(ImageFormat.helpList); any case.")
    var format: OutputFormat

    @Option(name: [.short, .long], help: "The output path, or - for standard output.")
    var output: String

    @Flag(help: "Overwrite an existing output and manifest (never a directory, device node or the source).")
    var force = false

    @Flag(name: .customLong("to-device"),
          help: "Write the image onto the block device given with -o, from its first byte (what the device holds is lost; a mounted device is refused).")
    var toDevice = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(help: "VMDK compression: fast, default, best or 1..12.")
    var level: DeflateLevel = .standard

    @Option(help: "VMDK adapter type: lsilogic, ide or buslogic.")
    var adapter: VMDK.Adapter = .lsilogic

    @Flag(name: .customLong("align-mib"), help: "Round the virtual size up to a whole MiB (Azure requires it of fixed VHDs).")
    var alignToMiB = false

    @Option(help: "Write the sha256sum manifest here (default: OUTPUT.sha256; with -o -, standard error).")
    var manifest: String?

    @Option(help: "The file name recorded in the manifest and the VMDK descriptor when writing to standard output.")
    var name: String?

    @Option(help: "Disk identifier (UUID) for the VHD unique id and the VMDK CID; random by default.")
    var uuid: String?

    @Flag(help: "Print one JSON summary on standard output.")
    var json = false

    @Flag(name: .customLong("no-progress"), help: "Do not draw the progress bar.")
    var noProgress = false

    @Option(help: "OVA: virtual CPUs of the virtual machine.")
    var cpus = 2

    @Option(name: .customLong("memory-mib"), help: "OVA: memory of the virtual machine, in MiB.")
    var memoryMiB = 2048

    @Option(name: .customLong("os-type"), help: "OVA: guest operating system: linux64, windows64 or other64.")
    var osType: VirtualMachineSettings.OperatingSystem = .linux64

    func validate() throws {
        if let threads, threads < 1 || threads > 256 {
            throw ValidationError("--threads must be between 1 and 256, got \(threads)")
        }
        if let uuid, UUID(uuidString: uuid) == nil {
            throw ValidationError("--uuid must be a UUID such as 8a6f0a3e-1f7c-4d2e-9b1a-3c5d7e9f0a1b, got '\(uuid)'")
        }
        if cpus < 1 || cpus > 768 {
            throw ValidationError("--cpus must be between 1 and 768, got \(cpus)")
        }
        if memoryMiB < 4 || memoryMiB > 24 << 20 {
            throw ValidationError("--memory-mib must be between 4 and 25165824 (24 TiB), got \(memoryMiB)")
        }
        if toDevice && output == "-" {
            throw ValidationError("--to-device needs the device's path with -o, not -")
        }
        if output == "-" && json {
            throw ValidationError("--json prints on standard output, which -o - already uses for the image")
        }
    }

    func run() throws {
        installInterruptHandlers()
        let toStandardOutput = output == "-"
        let showProgress = !noProgress && isatty(STDERR_FILENO) == 1
        let bar = showProgress ? ProgressBar() : nil
        var identifier: [UInt8]?
        if let uuid, let parsed = UUID(uuidString: uuid) {
            identifier = withUnsafeBytes(of: parsed.uuid) { Array($0) }
        }
        let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap { UInt64($0) }
        let options = ExportOptions(
            format: format, sourceFormat: sourceFormat, threads: threads ?? 0, level: level, adapter: adapter,
            alignToMiB: alignToMiB, overwrite: force, timestamp: epoch, diskIdentifier: identifier,
            isCancelled: { interruptRequested.load(ordering: .relaxed) },
            progress: bar.map { bar in { @Sendable progress in bar.update(progress) } },
            machine: VirtualMachineSettings(cpus: cpus, memoryMiB: memoryMiB, operatingSystem: osType),
            allowExternalExtents: allowExternalExtents)
        let destination: Exporter.Destination
        if toStandardOutput {
            let sourceName = URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
            destination = .standardOutput(name: name ?? sourceName + "." + format.fileExtension)
        } else if toDevice {
            destination = .device(output)
        } else {
            destination = .file(output)
        }

        let summary: ExportSummary
        do throws(DiskImageError) {
            summary = try Exporter.export(source: source, to: destination, manifestPath: manifest, options: options)
        } catch {
            bar?.finish()
            writeToStandardError("imgship: error: \(error)\n")
            throw ExitCode(error == .cancelled ? 130 : 1)
        }
        bar?.finish()
        for warning in summary.warnings {
            writeToStandardError("imgship: warning: \(warning)\n")
        }
        if toStandardOutput && manifest == nil {
            writeToStandardError("\(summary.sha256)  \(destination.name)\n")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(JSONSummary(summary))
            try writeToStandardOutput(String(decoding: data, as: UTF8.self) + "\n")
        } else if !toStandardOutput {
            let rate = summary.seconds > 0 ? Double(summary.virtualSize) / summary.seconds / 1e6 : 0
            var text = "\(summary.output): \(summary.format.rawValue), \(summary.virtualSize) bytes virtual, "
                + "\(summary.outputSize) bytes, \(String(format1: summary.seconds)) s, \(Int(rate)) MB/s\n"
            if let manifest = summary.manifest {
                text += "sha256 \(summary.sha256)  -> \(manifest)\n"
            } else {
                text += "sha256 \(summary.sha256)  (of the first \(summary.outputSize) bytes of \(summary.output))\n"
            }
            try writeToStandardOutput(text)
        }
    }
}

/// The `--json` document: the export summary plus the throughput.
struct JSONSummary: Encodable {
    var summary: ExportSummary
    init(_ summary: ExportSummary) { self.summary = summary }

    enum Keys: String, CodingKey { case megabytesPerSecond }

    func encode(to encoder: any Encoder) throws {
        try summary.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        let rate = summary.seconds > 0 ? Double(summary.virtualSize) / summary.seconds / 1e6 : 0
        try container.encode((rate * 10).rounded() / 10, forKey: .megabytesPerSecond)
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

extension SourceFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}
