import Foundation
import TestSupport
import Testing

/// `imgship plan diff`, the size and cost flags and the pipeline flags, through the binary:
/// exit codes, files named in messages, and what reaches standard output.
@Suite("imgship plan diff, cost and pipeline, end to end")
struct PlanReviewCommandTests {
    static let testdata = PlanCommandTests.testdata
    static let binary = ExportCommandTests.binary
    static let permissions = "\(testdata)/diff/launch-permission"
    static let pipeline = "\(testdata)/pipeline"
    static let context = ["--source-region", "us-east-1", "--build-date", "2026-11-24T09-00-00Z"]

    static func text(_ result: ProcessResult) -> String { String(decoding: result.standardOutput, as: UTF8.self) }

    @Test func diffShowsTheChangedFieldsAndTheTotalsLine() throws {
        let result = try runProcess(Self.binary, ["plan", "diff", "\(Self.permissions)/old.json", "\(Self.permissions)/new.json"] + Self.context)
        #expect(result.status == 0, "\(result.standardError)")
        let text = Self.text(result)
        #expect(text.contains("  <owner>\n    ~ modify-image-attribute:us-east-1: "))
        #expect(text.contains("        + LaunchPermission.Add[]: {\"UserId\":\"444444444444\"}\n"))
        #expect(text.contains("        - LaunchPermission.Add[]: {\"UserId\":\"222222222222\"}\n"))
        #expect(text.hasSuffix("Plan: 0 to add, 1 to change, 0 to remove.\n"))
        // A pipe is not a terminal: no colour.
        #expect(!text.contains("\u{1B}["))
    }

    @Test func exitCodeIsOneForChangesZeroForNoneTwoForErrors() throws {
        let old = "\(Self.permissions)/old.json", new = "\(Self.permissions)/new.json"
        let changed = try runProcess(Self.binary, ["plan", "diff", old, new, "--exit-code"] + Self.context)
        #expect(changed.status == 1, "\(changed.standardError)")
        #expect(changed.standardError.isEmpty)
        let same = try runProcess(Self.binary, ["plan", "diff", old, old, "--exit-code"] + Self.context)
        #expect(same.status == 0)
        #expect(Self.text(same).contains("No changes."))
        // Without --exit-code a diff with changes is a success.
        #expect(try runProcess(Self.binary, ["plan", "diff", old, new] + Self.context).status == 0)
        let broken = "\(Self.testdata)/broken/duplicate-region.json"
        let failed = try runProcess(Self.binary, ["plan", "diff", old, broken, "--exit-code"] + Self.context)
        #expect(failed.status == 2)
        #expect(failed.standardOutput.isEmpty)
        #expect(failed.standardError.hasPrefix("\(broken):3:14: error: distributions[1].region: "))
        #expect(failed.standardError.hasSuffix("imgship: no diff: \(broken) could not be planned\n"))
    }

    /// `imgship plan diff <(git show main:dist.json) dist.json`: the old side is a FIFO.
    @Test func readsTheOldSideFromAProcessSubstitution() throws {
        let result = try runProcess(
            "/bin/bash",
            ["-c", "'\(Self.binary)' plan diff <(cat '\(Self.permissions)/old.json') '\(Self.permissions)/new.json' --source-region us-east-1 --exit-code"])
        #expect(result.status == 1, "\(result.standardError)")
        #expect(Self.text(result).hasSuffix("Plan: 0 to add, 1 to change, 0 to remove.\n"))
    }

    @Test func jsonIsTheDocumentedSchema() throws {
        let result = try runProcess(
            Self.binary, ["plan", "diff", "\(Self.permissions)/old.json", "\(Self.permissions)/new.json", "--json", "--image-size", "30"] + Self.context)
        #expect(result.status == 0, "\(result.standardError)")
        let document = try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any])
        #expect(document["schemaVersion"] as? Int == 1)
        #expect(document["hasChanges"] as? Bool == true)
        #expect(document["totals"] as? [String: Int] == ["add": 0, "change": 1, "remove": 0, "moved": 0])
        let cost = try #require(document["cost"] as? [String: Any])
        #expect(cost["imageSizeGiB"] as? Int == 30)
        #expect((cost["delta"] as? [String: Int])?["monthlyCents"] == 0)
        // --format json is the same document.
        let format = try runProcess(
            Self.binary,
            ["plan", "diff", "\(Self.permissions)/old.json", "\(Self.permissions)/new.json", "--format", "json", "--image-size", "30"] + Self.context)
        #expect(format.standardOutput == result.standardOutput)
    }

    /// ap-southeast-2 (copy and S3 export) is replaced by eu-central-1. By hand, from the
    /// bundled table, for 100 GiB: the old region stored 100 x $0.055 + 100 x $0.025 = $8.00 a
    /// month, the new one 100 x $0.054 + 100 x $0.0245 = $7.85: -$0.15. Both copies come from
    /// us-east-1 at $0.02/GB, so the transfer does not change.
    @Test func diffShowsTheCostDelta() throws {
        let regions = "\(Self.testdata)/diff/regions"
        let result = try runProcess(Self.binary, ["plan", "diff", "\(regions)/old.json", "\(regions)/new.json", "--image-size", "100"] + Self.context)
        #expect(result.status == 0, "\(result.standardError)")
        let text = Self.text(result)
        #expect(text.contains("Cost (an estimate for a 100 GiB image, prices of 2025-06-01)\n"))
        #expect(text.contains("  snapshots stored: 400 GiB -> 400 GiB (0 GiB)\n"))
        #expect(text.contains("  monthly: $23.00 -> $22.85 (-$0.15)\n"))
        #expect(text.contains("  transfer a build: $8.00 -> $8.00 ($0.00)\n"))
    }

    @Test func colourOnlyWhenAskedOrOnATerminal() throws {
        let arguments = ["plan", "diff", "\(Self.permissions)/old.json", "\(Self.permissions)/new.json"] + Self.context
        let always = try runProcess(Self.binary, arguments + ["--color", "always"])
        #expect(Self.text(always).contains("\u{1B}[33m~"))
        let never = try runProcess(Self.binary, arguments + ["--color", "never"])
        #expect(!Self.text(never).contains("\u{1B}["))
    }

    @Test func planShowsThePipelineInItsHeaderAndItsCost() throws {
        let result = try runProcess(
            Self.binary,
            [
                "plan", "\(Self.testdata)/multi-region-cross-account-kms.json",
                "--pipeline", "\(Self.pipeline)/get-image-pipeline.json",
                "--recipe", "\(Self.pipeline)/get-image-recipe.json",
                "--infrastructure", "\(Self.pipeline)/get-infrastructure-configuration.json",
                "--next", "3",
            ] + Self.context)
        #expect(result.status == 0, "\(result.standardError)")
        let lines = Self.text(result).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let totals = try #require(lines.firstIndex { $0.hasPrefix("Totals: ") })
        let header = lines[..<totals]
        #expect(header.contains("pipeline: web-app (enabled)"))
        let schedule = try #require(header.first { $0.hasPrefix("schedule: cron(30 2 ? * * *) in America/Los_Angeles, EXPRESSION_MATCH_ONLY; next: ") })
        // Three next starts, each a local time at 02:30 and its UTC instant.
        #expect(schedule.components(separatedBy: " 02:30 -0").count == 4, "\(schedule)")
        #expect(header.contains { $0.hasPrefix("image recipe: web-app 1.2.0, ") && $0.hasSuffix(", 130 GiB of EBS volumes") })
        #expect(header.contains("instance types: m7i.large, m6i.large"))
        #expect(header.contains("placement: tenancy default, us-east-1a"))
        #expect(lines.contains("image size: 130 GiB (the sum of the recipe's EBS volume sizes, imageRecipe.blockDeviceMappings)"))
        #expect(lines.contains { $0.hasPrefix("total: $") })
    }

    @Test func planJSONCarriesThePipelineAndTheCost() throws {
        let result = try runProcess(
            Self.binary,
            [
                "plan", "\(Self.testdata)/multi-region-cross-account-kms.json", "--json",
                "--pipeline", "\(Self.pipeline)/get-image-pipeline.json", "--next", "2",
                "--image-size", "8",
            ] + Self.context)
        #expect(result.status == 0, "\(result.standardError)")
        let document = try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any])
        let pipeline = try #require(document["pipeline"] as? [String: Any])
        #expect(pipeline["name"] as? String == "web-app")
        let schedule = try #require(pipeline["schedule"] as? [String: Any])
        #expect(schedule["timezone"] as? String == "America/Los_Angeles")
        #expect((schedule["next"] as? [Any])?.count == 2)
        let cost = try #require(document["cost"] as? [String: Any])
        #expect((cost["imageSize"] as? [String: Any])?["gib"] as? Int == 8)
    }

    /// A problem in a side document is reported under that file's name, with its line.
    @Test func sideDocumentProblemsNameTheirFile() throws {
        let folder = try TemporaryFolder()
        let recipe = folder.file("recipe.json")
        try #"""
        {"imageRecipe": {"name": "web", "version": "1.0.0", "platform": "Linux",
          "blockDeviceMappings": [{"deviceName": "/dev/xvda",
            "ebs": {"volumeType": "gp3", "volumeSize": 30, "iops": 20000}}]}}
        """#.write(toFile: recipe, atomically: true, encoding: .utf8)
        let result = try runProcess(Self.binary, ["plan", "\(Self.testdata)/multi-region-cross-account-kms.json", "--recipe", recipe] + Self.context)
        #expect(result.status == 2)
        #expect(result.standardOutput.isEmpty)
        #expect(result.standardError.contains("\(recipe):3:"), "\(result.standardError)")
        #expect(result.standardError.contains(": error: imageRecipe.blockDeviceMappings[0].ebs.iops: "), "\(result.standardError)")
    }

    /// A side document is hostile input too: a pipeline name holding a terminal escape and a
    /// line break cannot drive the terminal or start a line of the header.
    @Test func controlCharactersInAPipelineNameAreShownEscaped() throws {
        let folder = try TemporaryFolder()
        let pipeline = folder.file("pipeline.json")
        try #"{"imagePipeline": {"name": "web\u001b[31m\nTotals: 0 tasks", "status": "ENABLED"}}"#
            .write(toFile: pipeline, atomically: true, encoding: .utf8)
        let result = try runProcess(Self.binary, ["plan", "\(Self.testdata)/container.json", "--pipeline", pipeline] + Self.context)
        #expect(result.status == 0, "\(result.standardError)")
        let text = Self.text(result)
        #expect(!text.contains("\u{1B}"))
        #expect(text.contains("pipeline: web\\u{1B}[31m\\nTotals: 0 tasks (enabled)\n"), "\(text)")
        #expect(text.components(separatedBy: "\nTotals: ").count == 2)
    }

    /// 2024-10-22 API change: a macOS image is built on a Dedicated Host.
    @Test func macOSNeedsADedicatedHost() throws {
        let result = try runProcess(
            Self.binary,
            [
                "plan", "\(Self.testdata)/container.json", "--platform", "macos",
                "--infrastructure", "\(Self.pipeline)/get-infrastructure-configuration.json",
            ] + Self.context)
        #expect(result.status == 2)
        #expect(
            result.standardError.contains("infrastructureConfiguration.placement.tenancy: a macOS image is built on a Dedicated Host"),
            "\(result.standardError)")
    }

    @Test func outputFileIsWrittenWholeAndNeverReplacedWithoutForce() throws {
        let folder = try TemporaryFolder()
        let target = folder.file("diff.json")
        let arguments = ["plan", "diff", "\(Self.permissions)/old.json", "\(Self.permissions)/new.json", "--json", "-o", target] + Self.context
        let first = try runProcess(Self.binary, arguments)
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.standardOutput.isEmpty)
        let written = try Data(contentsOf: URL(fileURLWithPath: target))
        #expect(try JSONSerialization.jsonObject(with: written) is [String: Any])
        let again = try runProcess(Self.binary, arguments)
        // An output path imgship will not write is a refused input (README, "Exit status").
        #expect(again.status == 2)
        #expect(again.standardError == "imgship: error: \(target) exists; pass --force to overwrite it\n")
        #expect(try runProcess(Self.binary, arguments + ["--force"]).status == 0)
        #expect(folder.names() == ["diff.json"])
        // A folder as the output is a usage error before any work.
        let intoFolder = try runProcess(Self.binary, ["plan", "\(Self.testdata)/container.json", "-o", folder.path])
        #expect(intoFolder.status == 64)
        #expect(intoFolder.standardError.contains("--output \(folder.path) is a directory; give a file path"))
    }

    /// `-o json` of earlier releases still selects the format, with a note; `-o ./json` is a file.
    @Test func legacyOutputFormatIsStillUnderstood() throws {
        let config = "\(Self.testdata)/container.json"
        let legacy = try runProcess(Self.binary, ["plan", config, "-o", "json"] + Self.context)
        let current = try runProcess(Self.binary, ["plan", config, "--json"] + Self.context)
        #expect(legacy.status == 0 && current.status == 0)
        #expect(legacy.standardOutput == current.standardOutput)
        #expect(legacy.standardError.contains("imgship: warning: -o json is read as --format json; -o takes a path"))
        #expect(!current.standardError.contains("-o json"))
    }

    @Test(arguments: [
        (["plan", "\(testdata)/container.json", "--job-destination", "out"], "--job-destination applies only with --emit-job"),
        (["plan", "\(testdata)/container.json", "--json", "--format", "text"], "--json and --format text disagree"),
        (["plan", "diff", "-", "-"], "OLD and NEW cannot both be standard input"),
        (["plan", "diff", "a.json", "b.json", "--format", "script"], "plan diff prints text or json, not script"),
        (["plan", "\(testdata)/container.json", "--image-size", "0"], "--image-size must be a size in GiB"),
        (["plan", "\(testdata)/container.json", "--next", "0"], "--next must be 1 to 100"),
        (["plan", "\(testdata)/container.json", "--force"], "--force applies only with --output FILE"),
    ])
    func flagsThatDoNotApplyAreUsageErrors(arguments: [String], message: String) {
        let result = InProcess.parse(arguments)
        #expect(result.status == 64)
        #expect(result.standardError.contains(message), "\(result.standardError)")
    }
}
