import Foundation
import TestSupport
import Testing

/// README promises that no flag is silently ignored. This suite reads every option and flag of
/// every subcommand from the command tree itself (`--experimental-dump-help`) and requires an
/// entry in `table` for each, so a flag added later without one fails here by name. Each entry
/// runs the built binary on tiny fixtures and expects one effect: the output differs from the
/// same run without the flag, a warning naming the flag, or a usage error (exit 64) naming it.
@Suite("every flag changes the output or says why not")
struct EveryFlagTests {
    /// ArgumentParser's own flags, which say nothing about imgship's behaviour; the `help`
    /// subcommand is ArgumentParser's too.
    static let excluded: Set<String> = ["-h", "--help", "--version"]

    enum Effect {
        /// Exit status, standard output (the run's folder, timings and speeds masked) or the
        /// files the run wrote differ from `baseline`'s.
        case differs(baseline: [String])
        /// Exit 0 and a warning line naming the flag or the value given to it.
        case warns
        /// Exit 64 and a message naming the flag.
        case usageError
    }

    struct Entry {
        var command: String
        var flag: String
        var arguments: [String]
        /// Files written into the run's folder first (for this run and its baseline).
        var files: [String: String] = [:]
        /// Run on a terminal (`script`), for what is drawn only there.
        var terminal = false
        var effect: Effect
    }

    /// The fixtures every entry shares, made once in one temporary folder.
    final class Fixtures {
        let folder: TemporaryFolder
        var root: String { folder.path }
        let testdata: String
        let uuid = "8a6f0a3e-1f7c-4d2e-9b1a-3c5d7e9f0a1b"
        var runs = 0

        init() throws {
            folder = try TemporaryFolder()
            testdata =
                URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("testdata").path
            // An 8 MiB + 512 byte sparse disk (not a whole MiB, for --align-mib) with data at 1 MiB.
            let raw = folder.file("d.raw")
            try OutputSafetyCommandTests().makeSource(raw)
            for (format, name) in [("vhd", "d.vhd"), ("vmdk", "d.vmdk")] {
                let made = try runProcess(
                    EveryFlagTests.binary, ["export", raw, "-f", format, "-o", folder.file(name), "--uuid", uuid, "--no-progress"])
                guard made.status == 0 else { throw FixtureError(what: "export \(format): \(made.standardError)") }
            }
            // A monolithicFlat descriptor whose extent lies outside its folder.
            try FileManager.default.createDirectory(atPath: folder.file("ext"), withIntermediateDirectories: true)
            let sectors = (8 * 1024 * 1024 + 512) / 512
            try """
            # Disk DescriptorFile
            version=1
            CID=fffffffe
            parentCID=ffffffff
            createType="monolithicFlat"
            RW \(sectors) FLAT "../d.raw" 0
            ddb.adapterType = "lsilogic"

            """.write(toFile: folder.file("ext/x.vmdk"), atomically: true, encoding: .utf8)
            try "0000000000000000000000000000000000000000000000000000000000000000  d.vmdk\n"
                .write(toFile: folder.file("wrong.sha256"), atomically: true, encoding: .utf8)
            try "exists\n".write(toFile: folder.file("exists.raw"), atomically: true, encoding: .utf8)
            try "exists\n".write(toFile: folder.file("exists.txt"), atomically: true, encoding: .utf8)
            try #"{"date": "2026-11-01", "source": "test rates", "regions": {"eu-west-1": {"snapshotGBMonth": 0.5}}}"#
                .write(toFile: folder.file("prices.json"), atomically: true, encoding: .utf8)
            // A region newer than the bundled table: refused unless --allow-unknown-regions.
            let config = try String(contentsOfFile: self.config, encoding: .utf8)
            try config.replacingOccurrences(of: "eu-west-1", with: "eu-west-9")
                .write(toFile: folder.file("new-region.json"), atomically: true, encoding: .utf8)
            // Diff fixtures whose AMI names use the build version, or carry no name (so they are
            // named after the recipe).
            let diffs = testdata + "/distribution/diff/regions/"
            for side in ["old", "new"] {
                let text = try String(contentsOfFile: diffs + side + ".json", encoding: .utf8)
                try text.replacingOccurrences(of: "imagebuilder:buildDate }}", with: "imagebuilder:buildDate }} v{{ imagebuilder:buildVersion }}")
                    .write(toFile: folder.file("version-\(side).json"), atomically: true, encoding: .utf8)
                try text.replacingOccurrences(of: #""description": "Web app base image","#, with: "")
                    .replacingOccurrences(of: #""name": "web-app {{ imagebuilder:buildDate }}""#, with: #""description": "web app""#)
                    .write(toFile: folder.file("unnamed-\(side).json"), atomically: true, encoding: .utf8)
            }
            try #"{"schemaVersion": 1, "exports": [{"source": "\#(raw)", "formats": ["vmdk"], "destination": "out"}]}"#
                .write(toFile: folder.file("job.json"), atomically: true, encoding: .utf8)
        }

        var config: String { testdata + "/distribution/multi-region-cross-account-kms.json" }
        var pipeline: String { testdata + "/distribution/pipeline/" }

        /// A fresh folder for one run, so two runs' files compare by name.
        func runFolder() throws -> String {
            runs += 1
            let path = folder.file("run-\(runs)")
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }
    }

    struct FixtureError: Error, CustomStringConvertible { var what: String; var description: String { what } }

    static let binary = ExportCommandTests.binary

    /// Every option and flag of every command, as "COMMAND --flag", from the binary's own dump.
    static func commandTreeFlags() throws -> Set<String> {
        let dump = try runProcess(binary, ["--experimental-dump-help"])
        guard dump.status == 0, let object = try JSONSerialization.jsonObject(with: dump.standardOutput) as? [String: Any],
            let root = object["command"] as? [String: Any]
        else { throw FixtureError(what: "--experimental-dump-help: \(dump.standardError)") }
        var flags: Set<String> = []
        func walk(_ command: [String: Any], _ path: [String]) {
            for argument in command["arguments"] as? [[String: Any]] ?? [] where argument["kind"] as? String != "positional" {
                for name in argument["names"] as? [[String: Any]] ?? [] {
                    guard let text = name["name"] as? String else { continue }
                    let spelled = (name["kind"] as? String == "short" ? "-" : "--") + text
                    if !excluded.contains(spelled) && !path.isEmpty { flags.insert(path.joined(separator: " ") + " " + spelled) }
                }
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                guard let name = sub["commandName"] as? String, name != "help" else { continue }
                walk(sub, path + [name])
            }
        }
        walk(root, [])
        return flags
    }

    // MARK: The table

    /// `@RUN` in an argument stands for the run's own folder, `@F` for the fixtures' folder.
    static func table(_ f: Fixtures) -> [Entry] {
        let u = ["--uuid", f.uuid]
        let raw = "@F/d.raw"
        let out = "@RUN/out"
        let exportBase = ["export", raw, "-o", out, "--json"]
        let vmdk = exportBase + ["-f", "vmdk"] + u
        let aws = vmdk + ["--target", "aws"]
        let snapshot = aws + ["--aws-import", "snapshot"]
        let ova = exportBase + ["-f", "ova"] + u
        let qcow2 = exportBase + ["-f", "qcow2"]
        func export(_ flag: String, _ arguments: [String], _ effect: Effect) -> Entry {
            Entry(command: "export", flag: flag, arguments: arguments, effect: effect)
        }
        var entries: [Entry] = [
            export(
                "--source-format", ["export", "@F/d.vhd", "-f", "raw", "-o", out, "--json", "--source-format", "raw"],
                .differs(baseline: ["export", "@F/d.vhd", "-f", "raw", "-o", out, "--json"])),
            export(
                "--allow-external-extents", ["export", "@F/ext/x.vmdk", "-f", "raw", "-o", out, "--allow-external-extents"],
                .differs(baseline: ["export", "@F/ext/x.vmdk", "-f", "raw", "-o", out])),
            export("-f", exportBase + ["-f", "vhdx"] + u, .differs(baseline: exportBase + ["-f", "raw"])),
            export("--format", exportBase + ["--format", "vhdx"] + u, .differs(baseline: exportBase + ["--format", "raw"])),
            export("--target", aws, .differs(baseline: vmdk)),
            export("--firmware", aws + ["--firmware", "efi"], .differs(baseline: aws)),
            export("--firmware", vmdk + ["--firmware", "efi"], .usageError),
            export("--boot-mode", aws + ["--boot-mode", "uefi"], .differs(baseline: aws)),
            export("--aws-import", snapshot, .differs(baseline: aws)),
            export("--architecture", snapshot + ["--architecture", "arm64"], .differs(baseline: snapshot)),
            export("--architecture", aws + ["--architecture", "arm64"], .usageError),
            export("--ami-name", snapshot + ["--ami-name", "web-app"], .differs(baseline: snapshot)),
            export("--s3-bucket", aws + ["--s3-bucket", "my-imports"], .differs(baseline: aws)),
            export("--s3-prefix", aws + ["--s3-prefix", "2026/"], .differs(baseline: aws)),
            export("--s3-bucket", vmdk + ["--s3-bucket", "my-imports"], .usageError),
            export("--region", aws + ["--region", "eu-west-1"], .differs(baseline: aws)),
            export("--region", vmdk + ["--region", "eu-west-1"], .usageError),
            export("--region", aws + ["--region", "mars-north-1x"], .usageError),
            export("-o", ["export", raw, "-f", "raw", "-o", "-"], .differs(baseline: ["export", raw, "-f", "raw", "-o", out])),
            export("--output", ["export", raw, "-f", "raw", "--output", "-"], .differs(baseline: ["export", raw, "-f", "raw", "-o", out])),
            export(
                "--force", ["export", raw, "-f", "raw", "-o", "@F/exists.raw", "--force"],
                .differs(baseline: ["export", raw, "-f", "raw", "-o", "@F/exists.raw"])),
            export("--to-device", vmdk + ["--to-device"], .usageError),
            // Its wait is tested against a held lock in HostileJobTests.exportsTakeTheOutputLock.
            export("--wait", ["export", raw, "-f", "raw", "-o", "-", "--wait"], .usageError),
            export("--threads", vmdk + ["--threads", "0"], .usageError),
            export("--level", vmdk + ["--level", "best"], .differs(baseline: vmdk)),
            export("--level", exportBase + ["-f", "raw", "--level", "best"], .warns),
            export("--compress", qcow2 + ["--compress"], .differs(baseline: qcow2)),
            export("--compress", vmdk + ["--compress"], .warns),
            export("--qcow2-compression", qcow2 + ["--compress", "--qcow2-compression", "zstd"], .differs(baseline: qcow2 + ["--compress"])),
            export("--qcow2-compat", qcow2 + ["--qcow2-compat", "0.10"], .differs(baseline: qcow2)),
            export("--adapter", vmdk + ["--adapter", "ide"], .differs(baseline: vmdk)),
            export("--adapter", exportBase + ["-f", "raw", "--adapter", "ide"], .warns),
            export("--adapter", exportBase + ["-f", "vhdx", "--adapter", "ide"] + u, .warns),
            export("--block-size", exportBase + ["-f", "vhdx", "--block-size", "2"] + u, .differs(baseline: exportBase + ["-f", "vhdx"] + u)),
            export("--block-size", vmdk + ["--block-size", "1"], .warns),
            export("--align-mib", exportBase + ["-f", "raw", "--align-mib"], .differs(baseline: exportBase + ["-f", "raw"])),
            export("--manifest", exportBase + ["-f", "raw", "--manifest", "@RUN/other.sha256"], .differs(baseline: exportBase + ["-f", "raw"])),
            export("--no-manifest", exportBase + ["-f", "raw", "--no-manifest"], .differs(baseline: exportBase + ["-f", "raw"])),
            export(
                "--name", ["export", raw, "-f", "vmdk", "-o", "-", "--name", "web.vmdk"] + u,
                .differs(baseline: ["export", raw, "-f", "vmdk", "-o", "-"] + u)),
            export("--name", exportBase + ["-f", "raw", "--name", "web.raw"], .usageError),
            export(
                "--uuid", exportBase + ["-f", "vhd", "--uuid", "0b6f0a3e-1f7c-4d2e-9b1a-3c5d7e9f0a1b"], .differs(baseline: exportBase + ["-f", "vhd"] + u)),
            export("--uuid", exportBase + ["-f", "raw"] + u, .warns),
            Entry(
                command: "export", flag: "--no-progress", arguments: ["export", raw, "-f", "raw", "-o", out, "--no-progress"], terminal: true,
                effect: .differs(baseline: ["export", raw, "-f", "raw", "-o", out])),
            export("--json", ["export", raw, "-f", "raw", "-o", out, "--json"], .differs(baseline: ["export", raw, "-f", "raw", "-o", out])),
            export("--cpus", ova + ["--cpus", "4"], .differs(baseline: ova)),
            export("--cpus", vmdk + ["--cpus", "4"], .warns),
            export("--memory-mib", ova + ["--memory-mib", "4096"], .differs(baseline: ova)),
            export("--os-type", ova + ["--os-type", "windows64"], .differs(baseline: ova)),
            export("--os-type", vmdk + ["--os-type", "windows64"], .warns),
            export("--manifest-digest", ova + ["--manifest-digest", "sha512"], .differs(baseline: ova)),
            export("--manifest-digest", vmdk + ["--manifest-digest", "sha512"], .usageError),
            export("--sign-key", ova + ["--sign-key", "@F/absent.key"], .usageError),
            export("--sign-cert", ova + ["--sign-cert", "@F/absent.pem"], .usageError),
        ]

        // info, verify, check: one image each, read differently.
        for command in ["info", "check"] {
            let target = command == "check" ? ["--target", "aws"] : []
            entries += [
                Entry(
                    command: command, flag: "--source-format", arguments: [command, "@F/d.vhd", "--source-format", "raw"] + target,
                    effect: .differs(baseline: [command, "@F/d.vhd"] + target)),
                Entry(
                    command: command, flag: "--allow-external-extents", arguments: [command, "@F/ext/x.vmdk", "--allow-external-extents"] + target,
                    effect: .differs(baseline: [command, "@F/ext/x.vmdk"] + target)),
                Entry(
                    command: command, flag: "--json", arguments: [command, "@F/d.vhd", "--json"] + target,
                    effect: .differs(baseline: [command, "@F/d.vhd"] + target)),
            ]
        }
        entries.append(
            Entry(
                command: "check", flag: "--target", arguments: ["check", "@F/d.vhd", "--target", "azure"],
                effect: .differs(baseline: ["check", "@F/d.vhd", "--target", "aws"])))
        let verify = ["verify", "@F/d.vmdk"]
        entries += [
            Entry(command: "verify", flag: "--manifest", arguments: verify + ["--manifest", "@F/wrong.sha256"], effect: .differs(baseline: verify)),
            Entry(command: "verify", flag: "--no-manifest", arguments: verify + ["--no-manifest"], effect: .differs(baseline: verify)),
            Entry(command: "verify", flag: "--ca-file", arguments: verify + ["--ca-file", "@F/absent.pem"], effect: .differs(baseline: verify)),
            Entry(
                command: "verify", flag: "--source-format", arguments: verify + ["--source-format", "raw", "--no-manifest"],
                effect: .differs(baseline: verify + ["--no-manifest"])),
            Entry(
                command: "verify", flag: "--allow-external-extents", arguments: ["verify", "@F/ext/x.vmdk", "--no-manifest", "--allow-external-extents"],
                effect: .differs(baseline: ["verify", "@F/ext/x.vmdk", "--no-manifest"])),
            Entry(command: "verify", flag: "--no-progress", arguments: verify + ["--no-progress"], terminal: true, effect: .differs(baseline: verify)),
            Entry(command: "verify", flag: "--json", arguments: verify + ["--json"], effect: .differs(baseline: verify)),
        ]

        // plan (show) and plan diff share the context, size and output options.
        let diffFolder = f.testdata + "/distribution/diff/regions/"
        let planBases: [(command: String, base: [String])] = [
            ("plan show", ["plan", "show", f.config]), ("plan diff", ["plan", "diff", diffFolder + "old.json", diffFolder + "new.json"]),
        ]
        for (command, base) in planBases {
            func plan(_ flag: String, _ extra: [String], baseline: [String] = [], _ effect: Effect? = nil) -> Entry {
                Entry(command: command, flag: flag, arguments: base + baseline + extra, effect: effect ?? .differs(baseline: base + baseline))
            }
            entries += [
                plan("--source-region", ["--source-region", "eu-west-1"]),
                plan("--account", ["--account", "123456789012"]),

                plan("--build-date", ["--build-date", "2030-01-02"]),

                plan("--now", ["--now", "2030-01-02T03:04:05Z"]),
                plan("--image-size", ["--image-size", "30"]),
                plan("--recipe", ["--recipe", f.pipeline + "get-image-recipe.json"]),

                plan("--prices", ["--prices", "@F/prices.json"], baseline: ["--image-size", "30"]),
                plan("--prices", ["--prices", "@F/prices.json"], .warns),
                plan("--format", ["--format", "json"]),
                plan("--json", ["--json"]),
                plan("-o", ["-o", "@RUN/plan.out"]),
                plan("--output", ["--output", "@RUN/plan.out"]),
                plan("--force", ["--force"], .usageError),
            ]
        }
        let show = ["plan", "show", f.config]
        let fastLaunch = ["plan", "diff", f.testdata + "/distribution/diff/fast-launch/old.json", f.testdata + "/distribution/diff/fast-launch/new.json"]
        for (command, version, unnamed) in [
            ("plan show", ["plan", "@F/version-new.json"], ["plan", "@F/unnamed-new.json"]),
            ("plan diff", ["plan", "diff", "@F/version-old.json", "@F/version-new.json"], ["plan", "diff", "@F/unnamed-old.json", "@F/unnamed-new.json"]),
        ] {
            entries += [
                Entry(command: command, flag: "--build-version", arguments: version + ["--build-version", "7"], effect: .differs(baseline: version)),
                Entry(command: command, flag: "--recipe-name", arguments: unnamed + ["--recipe-name", "other-recipe"], effect: .differs(baseline: unnamed)),
                // A configuration naming every AMI has nothing to name after the recipe.
                Entry(command: command, flag: "--recipe-name", arguments: version + ["--recipe-name", "other-recipe"], effect: .warns),
            ]
        }
        entries += [
            Entry(command: "plan show", flag: "--platform", arguments: show + ["--platform", "windows"], effect: .differs(baseline: show)),
            Entry(command: "plan diff", flag: "--platform", arguments: fastLaunch + ["--platform", "windows"], effect: .differs(baseline: fastLaunch)),
            Entry(
                command: "plan show", flag: "--pipeline", arguments: show + ["--pipeline", f.pipeline + "get-image-pipeline.json"],
                effect: .differs(baseline: show)),
            Entry(
                command: "plan diff", flag: "--pipeline", arguments: planBases[1].base + ["--pipeline", f.pipeline + "get-image-pipeline.json"], effect: .warns),
            Entry(
                command: "plan show", flag: "--infrastructure", arguments: show + ["--infrastructure", f.pipeline + "get-infrastructure-configuration.json"],
                effect: .differs(baseline: show)),
            Entry(
                command: "plan diff", flag: "--infrastructure",
                arguments: planBases[1].base + ["--infrastructure", f.pipeline + "get-infrastructure-configuration.json"], effect: .warns),
            Entry(
                command: "plan show", flag: "--resource",
                arguments: ["plan", f.testdata + "/distribution/cloudformation-two-configurations.yaml", "--resource", "FleetContainerDistribution"],
                effect: .differs(baseline: ["plan", f.testdata + "/distribution/cloudformation-two-configurations.yaml", "--resource", "FleetAmiDistribution"])),
            Entry(
                command: "plan diff", flag: "--resource",
                arguments: [
                    "plan", "diff", f.testdata + "/distribution/cloudformation-two-configurations.yaml",
                    f.testdata + "/distribution/cloudformation-two-configurations.yaml", "--resource", "FleetContainerDistribution",
                ],
                effect: .differs(baseline: [
                    "plan", "diff", f.testdata + "/distribution/cloudformation-two-configurations.yaml",
                    f.testdata + "/distribution/cloudformation-two-configurations.yaml", "--resource", "FleetAmiDistribution",
                ])),
            Entry(
                command: "plan show", flag: "--allow-unknown-regions", arguments: ["plan", "@F/new-region.json", "--allow-unknown-regions"],
                effect: .differs(baseline: ["plan", "@F/new-region.json"])),
            Entry(
                command: "plan diff", flag: "--allow-unknown-regions", arguments: ["plan", "diff", f.config, "@F/new-region.json", "--allow-unknown-regions"],
                effect: .differs(baseline: ["plan", "diff", f.config, "@F/new-region.json"])),
            Entry(
                command: "plan show", flag: "--next", arguments: show + ["--pipeline", f.pipeline + "get-image-pipeline.json", "--next", "3"],
                effect: .differs(baseline: show + ["--pipeline", f.pipeline + "get-image-pipeline.json"])),
            Entry(command: "plan show", flag: "--next", arguments: show + ["--next", "3"], effect: .usageError),
            Entry(command: "plan show", flag: "--strict", arguments: show + ["--strict"], effect: .differs(baseline: show)),
            Entry(command: "plan show", flag: "--emit-job", arguments: show + ["--emit-job", "@F/d.raw"], effect: .differs(baseline: show)),
            Entry(
                command: "plan show", flag: "--job-destination", arguments: show + ["--emit-job", "@F/d.raw", "--job-destination", "elsewhere"],
                effect: .differs(baseline: show + ["--emit-job", "@F/d.raw"])),
            Entry(
                command: "plan show", flag: "--force", arguments: show + ["-o", "@F/exists.txt", "--force"],
                effect: .differs(baseline: show + ["-o", "@F/exists.txt"])),
            Entry(command: "plan diff", flag: "--color", arguments: planBases[1].base + ["--color", "always"], effect: .differs(baseline: planBases[1].base)),
            Entry(command: "plan diff", flag: "--exit-code", arguments: planBases[1].base + ["--exit-code"], effect: .differs(baseline: planBases[1].base)),
        ]

        // job: one small job file, copied into each run's folder.
        let job = ["job", "@RUN/job.json"]
        entries += [
            Entry(command: "job", flag: "--dry-run", arguments: job + ["--dry-run"], effect: .differs(baseline: job)),
            Entry(command: "job", flag: "--concurrency", arguments: job + ["--concurrency", "2", "--dry-run"], effect: .usageError),
            Entry(command: "job", flag: "--concurrency", arguments: job + ["--concurrency", "2", "--merge"], effect: .usageError),
            Entry(command: "job", flag: "--force", arguments: job + ["--force"], files: ["out/d.vmdk": "not a vmdk\n"], effect: .differs(baseline: job)),
            Entry(command: "job", flag: "--force", arguments: job + ["--force", "--merge"], effect: .usageError),
            Entry(command: "job", flag: "--report", arguments: job + ["--report", "@RUN/elsewhere.json"], effect: .differs(baseline: job)),
            Entry(command: "job", flag: "--json", arguments: job + ["--json"], effect: .differs(baseline: job)),
            Entry(command: "job", flag: "--shard", arguments: job + ["--shard", "1/2"], effect: .differs(baseline: job)),
            Entry(command: "job", flag: "--shard-by", arguments: job + ["--shard-by", "size"], effect: .usageError),
            Entry(command: "job", flag: "--merge", arguments: job + ["--merge"], effect: .differs(baseline: job)),
            Entry(command: "job", flag: "--wait", arguments: job + ["--wait", "--dry-run"], effect: .usageError),
        ]
        return entries
    }

    // MARK: Running

    struct Observation: Equatable {
        var status: Int32
        var standardOutput: String
        var files: [String: Data]
    }

    /// Runs `arguments` in a fresh folder: its exit status, its standard output with the
    /// folder, timings and speeds masked, and the files it left in its folder.
    static func observe(_ arguments: [String], files: [String: String], terminal: Bool, _ f: Fixtures) throws -> (Observation, standardError: String) {
        let run = try f.runFolder()
        try FileManager.default.copyItem(atPath: f.folder.file("job.json"), toPath: run + "/job.json")
        for (name, text) in files {
            let path = run + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        }
        let resolved = arguments.map { $0.replacingOccurrences(of: "@RUN", with: run).replacingOccurrences(of: "@F", with: f.root) }
        var environment = ProcessInfo.processInfo.environment
        environment["SOURCE_DATE_EPOCH"] = "1790000000"
        environment["NO_COLOR"] = nil
        // `script` gives the command a terminal; its own output is what the terminal shows.
        let result =
            terminal
            ? try runProcess(
                "/usr/bin/script", ["-qec", ([binary] + resolved).map { "'\($0)'" }.joined(separator: " "), "/dev/null"], environment: environment)
            : try runProcess(binary, resolved, environment: environment)
        var output = String(decoding: result.standardOutput, as: UTF8.self).replacingOccurrences(of: run, with: "@RUN")
        for pattern in [#"[0-9.]+ s, [0-9.]+ [kMG]?B/s"#, #""(seconds|megabytesPerSecond|elapsedSeconds)":[0-9.e+-]+"#, #"[0-9]+\.[0-9]+ ?s\b"#] {
            output = output.replacingOccurrences(of: pattern, with: "#", options: .regularExpression)
        }
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: run)
        while let name = enumerator?.nextObject() as? String {
            var isFolder: ObjCBool = false
            FileManager.default.fileExists(atPath: run + "/" + name, isDirectory: &isFolder)
            // Reports record when they were written; their presence and name are what differ.
            if !isFolder.boolValue {
                files[name] = name.hasSuffix(".json") && name != "job.json" ? Data() : FileManager.default.contents(atPath: run + "/" + name)
            }
        }
        return (Observation(status: result.status, standardOutput: output, files: files), result.standardError)
    }

    @Test func everyFlagHasAnEntryAndItsEffect() throws {
        let fixtures = try Fixtures()
        let flags = try Self.commandTreeFlags()
        let entries = Self.table(fixtures)
        let covered = Set(entries.map { "\($0.command) \($0.flag)" })
        for missing in flags.subtracting(covered).sorted() {
            Issue.record("\(missing) has no entry in EveryFlagTests.table: say how it changes the output, or make it warn or refuse")
        }
        for stale in covered.subtracting(flags).sorted() {
            Issue.record("\(stale) is in EveryFlagTests.table but not in the command tree")
        }
        #expect(flags.count > 80, "the command tree lists \(flags.count) flags")
        for entry in entries {
            let label = "\(entry.command) \(entry.flag): \(entry.arguments.joined(separator: " "))"
            let (observed, standardError) = try Self.observe(entry.arguments, files: entry.files, terminal: entry.terminal, fixtures)
            switch entry.effect {
            case let .differs(baseline):
                let (without, _) = try Self.observe(baseline, files: entry.files, terminal: entry.terminal, fixtures)
                #expect(observed != without, "\(label): same status, output and files as without it; stderr: \(standardError)")
            case .warns:
                #expect(observed.status == 0, "\(label): exit \(observed.status): \(standardError)")
                // The flag's value names it too: a warning about a file given with it starts with that file.
                let value = entry.arguments.firstIndex(of: entry.flag).flatMap { entry.arguments.indices.contains($0 + 1) ? entry.arguments[$0 + 1] : nil }
                    .map { $0.replacingOccurrences(of: "@F", with: fixtures.root) }
                let warnings = standardError.split(separator: "\n").filter { line in
                    line.contains("warning:") && (line.contains(entry.flag) || value.map { !$0.hasPrefix("-") && line.contains($0) } == true)
                }
                #expect(!warnings.isEmpty, "\(label): no warning naming \(entry.flag); stderr: \(standardError)")
            case .usageError:
                #expect(observed.status == 64, "\(label): exit \(observed.status), not 64: \(standardError)")
                #expect(standardError.contains(entry.flag), "\(label): the message does not name \(entry.flag): \(standardError)")
            }
        }
    }
}
