import ArgumentParser
import ConfigDocument
import DiskImage
import Foundation

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show an image's format, sizes and the format's own fields.")

    @Argument(help: "An image file or block device.")
    var image: String

    @Option(help: "Read the image as \(ImageFormat.sourceList) instead of what its bytes say.")
    var sourceFormat: SourceFormat?

    @Flag(name: .customLong("allow-external-extents"),
          help: "Let a VMDK descriptor name extent files outside its own folder (your own files; they must still be regular files).")
    var allowExternalExtents = false

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let opened: OpenedImage
        do throws(DiskImageError) {
            opened = try ImageReader.open(path: image, format: sourceFormat, allowExternalExtents: allowExternalExtents)
        } catch {
            writeToStandardError("imgship: error: \(error)\n")
            throw ExitCode(1)
        }
        let info = opened.info
        if json {
            try writeToStandardOutput(Self.json(info).encoded() + "\n")
            return
        }
        var lines = [
            "\(info.path): \(info.format.rawValue) (\(info.subformat))",
            "virtual size:      \(info.virtualSize) bytes (\(formatBytes(info.virtualSize)))",
            "file size:         \(info.fileSize) bytes",
            "allocated:         \(info.allocatedBytes) bytes on disk",
        ]
        for (key, value) in info.details {
            lines.append("\((key + ":").padding(toLength: 18, withPad: " ", startingAt: 0)) \(value)")
        }
        try writeToStandardOutput(lines.map { $0 + "\n" }.joined())
    }

    /// The `--json` object. Keys in the order earlier releases printed them (JSONSerialization's
    /// `.sortedKeys`: case-insensitive, digits as numbers), so the bytes stay the same.
    static func json(_ info: ImageInfo) -> JSONOutput {
        func sorted(_ members: [(key: String, value: JSONOutput)]) -> JSONOutput {
            .object(members.sorted { left, right in
                left.key.compare(right.key, options: [.numeric, .caseInsensitive, .forcedOrdering],
                                 range: left.key.startIndex..<left.key.endIndex,
                                 locale: Locale(identifier: "")) == .orderedAscending
            })
        }
        return sorted([
            ("path", .string(info.path)), ("format", .string(info.format.rawValue)),
            ("subformat", .string(info.subformat)), ("virtualSize", .unsigned(info.virtualSize)),
            ("fileSize", .unsigned(info.fileSize)), ("allocatedBytes", .unsigned(info.allocatedBytes)),
            ("details", sorted(info.details.map { (jsonKey($0.key), .string($0.value)) })),
        ])
    }

    /// "cluster size" is "clusterSize" in JSON.
    static func jsonKey(_ key: String) -> String {
        let words = key.split(separator: " ")
        return words.enumerated().map { $0 == 0 ? String($1) : $1.prefix(1).uppercased() + $1.dropFirst() }.joined()
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check an image's whole structure and its SHA-256 against its manifest.",
        discussion: """
        Every table entry must lie inside the file, every stored cluster must read and every compressed one \
        inflate to its size; checksums and footer copies are compared where the format has them. The file's \
        SHA-256 is compared with IMAGE.sha256 or --manifest. Exits 1 when any check fails.
        """)

    @Argument(help: "An image file.")
    var image: String

    @Option(help: "The sha256sum manifest to check against (default: IMAGE.sha256 when it exists).")
    var manifest: String?

    @Option(help: "Read the image as \(ImageFormat.sourceList) instead of what its bytes say.")
    var sourceFormat: SourceFormat?

    @Flag(name: .customLong("allow-external-extents"),
          help: "Let a VMDK descriptor name extent files outside its own folder (your own files; they must still be regular files).")
    var allowExternalExtents = false

    func run() throws {
        let report: VerificationReport
        do throws(DiskImageError) {
            report = try ImageVerifier.verify(path: image, format: sourceFormat, manifestPath: manifest,
                                              allowExternalExtents: allowExternalExtents)
        } catch {
            writeToStandardError("imgship: error: \(error)\n")
            throw ExitCode(1)
        }
        var lines: [String] = []
        if let info = report.info {
            lines.append("\(image): \(info.format.rawValue) (\(info.subformat)), \(info.virtualSize) bytes virtual")
        }
        for check in report.checks {
            lines.append("\(check.passed ? "ok  " : "FAIL") \(check.name): \(check.detail)")
        }
        try writeToStandardOutput(lines.map { $0 + "\n" }.joined())
        guard report.passed else {
            writeToStandardError("imgship: \(image): \(report.checks.filter { !$0.passed }.count) check(s) failed\n")
            throw ExitCode(1)
        }
    }
}
