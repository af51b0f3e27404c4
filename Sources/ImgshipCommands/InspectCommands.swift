import ArgumentParser
import ConfigDocument
import DiskImage
import Foundation

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show an image's format, sizes and the format's own fields.",
        discussion: """
            When the disk's first sectors read, it also shows the partition table and the firmware that boots the \
            disk, bios, efi, both or none, with one line of evidence for or against each path (README, Firmware).
            """)

    @Argument(help: "An image file (raw, VHD, VHDX, VMDK, qcow2, VDI, OVA or a GCE image, disk.raw in a .tar.gz) or block device.")
    var image: String

    @OptionGroup var reading: ImageReadingOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        exitOnInterrupt()
        let opened: OpenedImage
        do throws(DiskImageError) {
            opened = try ImageReader.open(path: image, format: reading.sourceFormat, allowExternalExtents: reading.allowExternalExtents)
        } catch {
            throw fail(error)
        }
        let info = opened.info
        // The format's own checks that fail (`verify` lists them all): a damaged file shows so
        // here, before a tool that checks them refuses it.
        let failedChecks = opened.failedChecks
        if json {
            try writeToStandardOutput(Self.json(info, failedChecks: failedChecks).encoded() + "\n")
            return
        }
        var lines = [
            "\(info.path): \(info.format.rawValue) (\(info.subformat))",
            "virtual size:      \(info.virtualSize) bytes (\(formatBytes(info.virtualSize)))",
            "file size:         \(info.fileSize) bytes",
            "allocated:         \(info.allocatedBytes) bytes on disk",
        ]
        for (key, value) in info.details {
            lines.append(Self.labelled(key, value))
        }
        if !failedChecks.isEmpty {
            lines.append(Self.labelled("failed checks", failedChecks.joined(separator: ", ") + " (imgship verify lists every check)"))
        }
        // What the guest's first sectors say: what a target's firmware choice is made from.
        if let guest = info.guest {
            for (key, value) in guest.fields {
                lines.append(Self.labelled(key, value))
            }
            lines += Self.firmwareLines(guest)
        }
        // Details and fields quote the image's own text (a VHDX creator, a VMDK createType or
        // adapter): each line through the one display escaper.
        try writeToStandardOutput(lines.map { DisplayText.escaped($0) + "\n" }.joined())
    }

    /// `firmware: efi (...)`, unpadded, then the evidence for and against each path, indented.
    static func firmwareLines(_ guest: GuestInspection) -> [String] {
        ["firmware: \(guest.firmware.rawValue) (\(guest.firmwareSummary))"] + guest.evidence.map { "  " + $0 }
    }

    /// The `--json` object; with the guest read, `firmware` (`bios`, `efi`, `both` or `none`)
    /// and `firmwareEvidence` (one line for each path, for or against); `failedChecks` only when
    /// the format's own checks fail. Keys in the order earlier releases printed them (JSONSerialization's
    /// `.sortedKeys`: case-insensitive, digits as numbers), so the bytes stay the same.
    static func json(_ info: ImageInfo, failedChecks: [String] = []) -> JSONOutput {
        func sorted(_ members: [(key: String, value: JSONOutput)]) -> JSONOutput {
            .object(
                members.sorted { left, right in
                    left.key.compare(
                        right.key, options: [.numeric, .caseInsensitive, .forcedOrdering],
                        range: left.key.startIndex..<left.key.endIndex,
                        locale: Locale(identifier: "")) == .orderedAscending
                })
        }
        return sorted(
            [
                ("path", .string(info.path)), ("format", .string(info.format.rawValue)),
                ("subformat", .string(info.subformat)), ("virtualSize", .unsigned(info.virtualSize)),
                ("fileSize", .unsigned(info.fileSize)), ("allocatedBytes", .unsigned(info.allocatedBytes)),
                ("details", sorted(info.details.map { (jsonKey($0.key), json($0.value)) })),
            ]
                + (failedChecks.isEmpty ? [] : [("failedChecks", .array(failedChecks.map(JSONOutput.string)))])
                + (info.guest.map { guest in
                    [
                        ("guest", json(guest)), ("firmware", .string(guest.firmware.rawValue)),
                        ("firmwareEvidence", .array(guest.evidence.map(JSONOutput.string))),
                    ]
                } ?? []))
    }

    /// `key:` and `value` in the column the size lines use; a longer key pushes its value
    /// along rather than losing its end.
    static func labelled(_ key: String, _ value: some CustomStringConvertible) -> String {
        let label = key + ":"
        return label + String(repeating: " ", count: max(1, 19 - label.count)) + value.description
    }

    /// `guest`: the partition table (`none`, `mbr`, `gpt`), whether a GPT has its protective
    /// MBR, whether there is an EFI system partition and BIOS boot code, and the sector size a
    /// GPT was found with.
    static func json(_ guest: GuestInspection) -> JSONOutput {
        var members: [(key: String, value: JSONOutput)] = [
            ("biosBootCode", .bool(guest.hasBIOSBootCode)),
            ("efiSystemPartition", .bool(guest.hasEFISystemPartition)),
            ("partitionTable", .string(guest.partitionTable.rawValue)),
        ]
        if guest.partitionTable == .gpt {
            members.append(("gptSectorSize", guest.gptSectorSize.map { .integer($0) } ?? .null))
            members.append(("protectiveMBR", .bool(guest.hasProtectiveMBR)))
        }
        return .object(members.sorted { $0.key < $1.key })
    }

    /// Numbers (sizes, counts) are JSON numbers; the rest is text.
    static func json(_ detail: ImageInfo.Detail) -> JSONOutput {
        switch detail {
        case let .number(value): .unsigned(value)
        case let .text(value): .string(value)
        }
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
            SHA-256 is compared with IMAGE.sha256 or --manifest; a missing manifest is a failed check unless \
            --no-manifest. A signed OVA's NAME.cert is checked: its signature over the .mf with its certificate, and \
            with --ca-file the certificate's chain to a CA there; without --ca-file the check says the certificate was \
            not checked against a CA. Exits 1 when any check fails, 2 when the image is refused (see the exit table: imgship --help).
            """)

    @Argument(help: "An image file.")
    var image: String

    @Option(help: "The sha256sum manifest to check against (default: IMAGE.sha256).")
    var manifest: String?

    @Flag(name: .customLong("no-manifest"), help: "Check the structure only: compute no SHA-256 and need no manifest.")
    var noManifest = false

    @Option(
        name: .customLong("ca-file"),
        help: ArgumentHelp("OVA: PEM CA certificates the package's signing certificate must chain to (a signed OVA is then required).", valueName: "ca.pem"))
    var caFile: String?

    @OptionGroup var reading: ImageReadingOptions

    @Flag(help: "Print one JSON object: the image, every check and whether all passed.")
    var json = false

    @Flag(name: .customLong("no-progress"), help: "Do not draw the progress bar (drawn only when standard error is a terminal).")
    var noProgress = false

    func validate() throws {
        if noManifest && manifest != nil {
            throw ValidationError("--manifest and --no-manifest contradict each other; give one")
        }
    }

    func run() throws {
        exitOnInterrupt()
        let report: VerificationReport
        let progress = noProgress || !isTerminal(STDERR_FILENO) ? nil : ProgressBar()
        do throws(DiskImageError) {
            report = try ImageVerifier.verify(
                path: image, format: reading.sourceFormat, manifestPath: manifest,
                manifestCheck: noManifest ? .skipped : .required,
                allowExternalExtents: reading.allowExternalExtents, caFile: caFile,
                progress: progress.map { bar in { @Sendable state in bar.update(state) } })
        } catch {
            progress?.finish()
            throw fail(error)
        }
        progress?.finish()
        if json {
            try writeToStandardOutput(Self.json(report, path: image).encoded() + "\n")
        } else {
            var lines: [String] = []
            if let info = report.info {
                lines.append("\(image): \(info.format.rawValue) (\(info.subformat)), \(info.virtualSize) bytes virtual")
            }
            for check in report.checks {
                lines.append("\(check.passed ? "ok  " : "FAIL") \(check.name): \(check.detail)")
            }
            try writeToStandardOutput(lines.map { DisplayText.escaped($0) + "\n" }.joined())
        }
        guard report.passed else {
            throw fail(
                CommandProblem(
                    path: image, what: "\(report.checks.filter { !$0.passed }.count) check(s) failed",
                    exitStatus: .workFailed))
        }
    }

    /// The `--json` object: `format`, `subformat` and `virtualSize` are null when the image's
    /// structure could not be read; `sha256` is null with --no-manifest.
    static func json(_ report: VerificationReport, path: String) -> JSONOutput {
        .object([
            ("path", .string(path)),
            ("format", report.info.map { .string($0.format.rawValue) } ?? .null),
            ("subformat", report.info.map { .string($0.subformat) } ?? .null),
            ("virtualSize", report.info.map { .unsigned($0.virtualSize) } ?? .null),
            ("passed", .bool(report.passed)),
            ("sha256", report.sha256.map(JSONOutput.string) ?? .null),
            (
                "checks",
                .array(
                    report.checks.map { check in
                        .object([("name", .string(check.name)), ("passed", .bool(check.passed)), ("detail", .string(check.detail))])
                    })
            ),
        ])
    }
}

/// How `info`, `verify` and `check` read an image: its format when the bytes should not
/// decide, and whether a VMDK may name extents outside its folder.
struct ImageReadingOptions: ParsableArguments {
    @Option(
        help:
            "Read the image as \(ImageFormat.sourceList) instead of what its bytes say; raw reads the bytes as they are, also of the formats detection refuses by name (\(ImageFormat.refusedList))."
    )
    var sourceFormat: SourceFormat?

    @Flag(
        name: .customLong("allow-external-extents"),
        help: "Let a VMDK descriptor name extent files outside its own folder (your own files; they must still be regular files).")
    var allowExternalExtents = false
}
