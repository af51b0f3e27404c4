import Foundation
import TestSupport
import Testing

/// `imgship plan tfplan.json` and `imgship plan diff tfplan.json` (terraform show -json), and
/// `--now`, through the binary: addresses in the output, exit codes, nothing sensitive printed.
@Suite("imgship plan with Terraform plans and --now, end to end")
struct PlanTerraformCommandTests {
    static let testdata = PlanCommandTests.testdata
    static let binary = ExportCommandTests.binary
    static let terraform = "\(testdata)/terraform"
    static let context = ["--source-region", "us-east-1", "--account", "111111111111", "--build-date", "2026-11-24T09-00-00Z"]

    static func text(_ result: ProcessResult) -> String { String(decoding: result.standardOutput, as: UTF8.self) }

    @Test func planPrintsEachConfigurationUnderItsAddress() throws {
        let result = try runProcess(Self.binary, ["plan", "\(Self.terraform)/tfplan-lifecycle.json"] + Self.context)
        #expect(result.status == 0, "\(result.standardError)")
        let text = Self.text(result)
        #expect(text.hasPrefix("# aws_imagebuilder_distribution_configuration.created: create\n"))
        #expect(text.contains("# aws_imagebuilder_distribution_configuration.renamed: replace\n"))
        #expect(text.contains("# module.legacy[\"eu\"].aws_imagebuilder_distribution_configuration.this: delete\n(nothing to plan: Terraform will delete it)"))
        #expect(!text.contains("cc-secret-4242") && !result.standardError.contains("cc-secret-4242"))
        let json = try runProcess(Self.binary, ["plan", "\(Self.terraform)/tfplan-lifecycle.json", "--json"] + Self.context)
        let list = try #require(try JSONSerialization.jsonObject(with: json.standardOutput) as? [[String: Any]])
        #expect(
            list.map { $0["address"] as? String } == [
                "aws_imagebuilder_distribution_configuration.created", "aws_imagebuilder_distribution_configuration.renamed",
                "module.legacy[\"eu\"].aws_imagebuilder_distribution_configuration.this",
            ])
        #expect(list.last?["plan"] is NSNull)
    }

    /// The CI gate of docs/plan.md: exit 1 when a configuration changes.
    @Test func diffOfAPlanComparesBeforeAndAfter() throws {
        let result = try runProcess(Self.binary, ["plan", "diff", "\(Self.terraform)/tfplan-update.json", "--exit-code"] + Self.context)
        #expect(result.status == 1, "\(result.standardError)")
        let text = Self.text(result)
        #expect(text.hasPrefix("# module.images.aws_imagebuilder_distribution_configuration.main: update\n"))
        #expect(text.contains("+ copy-image:us-east-1:333333333333"))
        // The KMS key known only after apply is named, with the line in the file.
        #expect(result.standardError.contains("main.distributions[0].amiDistributionConfiguration.kmsKeyId: known only after apply"))
        let state = try runProcess(Self.binary, ["plan", "diff", "\(Self.terraform)/tfstate.json", "--exit-code"] + Self.context)
        #expect(state.status == 0, "\(state.standardError)")
        let missing = try runProcess(Self.binary, ["plan", "diff", "\(Self.testdata)/container.json"] + Self.context)
        #expect(missing.status == 64)
    }

    /// --now (and SOURCE_DATE_EPOCH) pin the instant: two runs print the same next starts.
    @Test func nowPinsTheSchedule() throws {
        let arguments = [
            "plan", "\(Self.testdata)/multi-region-cross-account-kms.json", "--source-region", "us-east-1",
            "--pipeline", "\(Self.testdata)/pipeline/get-image-pipeline.json",
        ]
        let pinned = try runProcess(Self.binary, arguments + ["--now", "2026-03-07T12:00:00Z"])
        #expect(pinned.status == 0, "\(pinned.standardError)")
        #expect(Self.text(pinned).contains("next: 2026-03-09 02:30 -07:00 (2026-03-09T09:30Z)"), "\(Self.text(pinned))")
        #expect(Self.text(pinned).contains("build 2026-03-07T12-00-00Z"))
        let epoch = try runProcess(Self.binary, arguments, environment: ["SOURCE_DATE_EPOCH": "1772884800"])
        #expect(Self.text(epoch) == Self.text(pinned))
        let bad = try runProcess(Self.binary, arguments + ["--now", "yesterday"])
        #expect(bad.status == 64)
        #expect(bad.standardError.contains("--now yesterday: expected an instant such as 2026-03-07T12:00:00Z"))
    }
}
