import ArgumentParser
import ConfigDocument
import DiskImage

/// `imgship check IMAGE --target T`: the target's rules against an image that already
/// exists, writing nothing (logic: `TargetCheck` in DiskImage).
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check an existing image against a target's import rules, writing nothing.",
        discussion: """
            Runs the rules export --target checks, and those an image made elsewhere can break: the format and \
            subformat the platform imports (AWS and vSphere take stream-optimized VMDKs, Azure fixed VHDs), sizes \
            (Azure: a whole MiB, at least 20 MiB), the firmware the disk boots with against the target, an OVA's \
            member order, ovf:size and ovf:capacity against the real sizes, its manifest digests and algorithm \
            (vSphere 6.0 and older: SHA-1), and partition table limits (an MBR over 2 TiB). Each broken rule is \
            printed with its source. Exits 0 when the target accepts the image (warnings may be printed), 1 when a \
            rule is broken, 2 when the image cannot be read (see README, Exit status).
            """)

    @Argument(help: "An image file (raw, VHD, VHDX, VMDK, qcow2, VDI, OVA or a GCE image, disk.raw in a .tar.gz) or block device.")
    var image: String

    @Option(
        name: .customLong("target"),
        help: ArgumentHelp("The platform: \(ExportTarget.names.joined(separator: ", ")).", valueName: "target"))
    var targetName: String

    @OptionGroup var reading: ImageReadingOptions

    @Flag(help: "Print one JSON object: the image, the firmware, every rule and whether the target accepts it.")
    var json = false

    func validate() throws {
        do throws(ExportTargetParseError) {
            _ = try ExportTarget(parsing: targetName)
        } catch {
            throw ValidationError("--target: \(error)")
        }
    }

    func run() throws {
        exitOnInterrupt()
        // validate() has read the target.
        guard let target = try? ExportTarget(parsing: targetName) else { throw ExitStatus.usage.exitCode }
        let report: TargetCheckReport
        do throws(DiskImageError) {
            report = try TargetCheck.check(
                path: image, target: target, format: reading.sourceFormat, allowExternalExtents: reading.allowExternalExtents)
        } catch {
            // Whatever stops the image being read (missing, damaged, refused), there is no
            // image to ask the target about: exit 2.
            throw fail(CommandProblem(path: nil, what: error.description, exitStatus: .inputRefused))
        }
        if json {
            try writeToStandardOutput(Self.json(report).encoded() + "\n")
        } else {
            try writeToStandardOutput(Self.text(report))
        }
        guard report.accepted else {
            let broken = report.rules.filter { !$0.kept && $0.effect == .refuse }.count
            throw fail(
                CommandProblem(path: image, what: "\(broken) rule(s) of --target \(report.target) broken", exitStatus: .workFailed))
        }
    }

    /// One line for the image, one for the firmware, one a rule (`ok`, `n/a` with why, `FAIL`,
    /// `warn`), the broken ones with their source, then the verdict.
    static func text(_ report: TargetCheckReport) -> String {
        let info = report.info
        var lines = ["\(info.path): \(info.format.rawValue) (\(info.subformat)), \(info.virtualSize) bytes virtual"]
        lines += report.guest.map(InfoCommand.firmwareLines) ?? []
        if let firmware = report.firmware {
            lines.append("target \(report.target) boots it with \(firmware.rawValue) (\(report.firmwareReason))")
        }
        for rule in report.rules {
            if let why = rule.notApplicable {
                lines.append("n/a  \(rule.name): \(why)")
                continue
            }
            guard let broken = rule.broken else {
                lines.append("ok   \(rule.name)")
                continue
            }
            lines.append("\(rule.effect == .refuse ? "FAIL" : "warn") \(rule.name): \(broken) (\(rule.source))")
        }
        lines.append(report.accepted ? "accepted by \(report.target)" : "refused by \(report.target)")
        return lines.map { $0 + "\n" }.joined()
    }

    /// The `--json` object: `path`, `target`, `format`, `subformat`, `virtualSize`, `firmware`
    /// and `firmwareEvidence` (as `info --json`), `targetFirmware` and its reason, `accepted`,
    /// and `rules` (`name`, `effect`, `kept`, `applies`, `notApplicable` (why not, or null),
    /// `broken`, `source`).
    static func json(_ report: TargetCheckReport) -> JSONOutput {
        .object([
            ("path", .string(report.info.path)),
            ("target", .string(report.target)),
            ("format", .string(report.info.format.rawValue)),
            ("subformat", .string(report.info.subformat)),
            ("virtualSize", .unsigned(report.info.virtualSize)),
            ("firmware", report.guest.map { .string($0.firmware.rawValue) } ?? .null),
            ("firmwareEvidence", .array((report.guest?.evidence ?? []).map(JSONOutput.string))),
            ("targetFirmware", report.firmware.map { .string($0.rawValue) } ?? .null),
            ("targetFirmwareReason", .string(report.firmwareReason)),
            ("accepted", .bool(report.accepted)),
            (
                "rules",
                .array(
                    report.rules.map { rule in
                        .object([
                            ("name", .string(rule.name)), ("effect", .string(rule.effect.rawValue)), ("kept", .bool(rule.kept)),
                            ("applies", .bool(rule.notApplicable == nil)), ("notApplicable", rule.notApplicable.map(JSONOutput.string) ?? .null),
                            ("broken", rule.broken.map(JSONOutput.string) ?? .null), ("source", .string(rule.source)),
                        ])
                    })
            ),
        ])
    }
}
