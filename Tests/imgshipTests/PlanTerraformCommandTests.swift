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

    /// A plan whose module creates the configuration with its pipeline, recipe and
    /// infrastructure: they are read as --pipeline, --recipe and --infrastructure are, found by
    /// the configuration's reference expressions (the ARNs are known only after apply), and
    /// named by address. The platform the provider computes is named as unknown, not guessed;
    /// the image's size is the recipe's volumes (30 + 100 GiB; /dev/xvdc is no_device).
    @Test func pipelineResourcesOfAPlanAreRead() throws {
        let arguments = ["plan", "\(Self.terraform)/tfplan-pipeline-module.json", "--now", "2026-11-24T09:00:00Z"] + Self.context
        let result = try runProcess(Self.binary, arguments)
        #expect(result.status == 0, "\(result.standardError)")
        let text = Self.text(result)
        let module = "module.images.aws_imagebuilder"
        #expect(
            text.contains(
                "from the Terraform document: \(module)_image_pipeline.web (create), \(module)_image_recipe.web (create), \(module)_infrastructure_configuration.web (create)\n"
            ), "\(text)")
        #expect(text.contains("pipeline: golden (enabled)\n"))
        #expect(text.contains("schedule: cron(0 6 ? * mon *) in Etc/UTC, EXPRESSION_MATCH_ONLY; next: 2026-11-30 06:00 +00:00 (2026-11-30T06:00Z)"), "\(text)")
        #expect(
            text.contains(
                "image recipe: golden 1.0.0, from arn:aws:imagebuilder:us-east-1:aws:image/amazon-linux-2023-x86/x.x.x, 1 component, 130 GiB of EBS volumes\n"))
        #expect(text.contains("instance types: m7i.large, m6i.large\n"))
        #expect(!text.contains("platform: "), "the provider computes the platform: unknown on create")
        #expect(text.contains("image size: 130 GiB (the sum of the recipe's EBS volume sizes, imageRecipe.blockDeviceMappings)"))
        // The legacy pipeline belongs to another configuration: its Windows platform is not read.
        #expect(!text.contains("legacy") && text.contains("platform linux"))
        let errors = result.standardError
        #expect(errors.contains("\(module)_image_pipeline.web.platform: known only after apply (after_unknown): the provider computes it"), "\(errors)")
        #expect(errors.contains("\(module)_image_recipe.web.platform: known only after apply"))
        #expect(!errors.contains("distributionConfigurationArn") && !errors.contains("imageRecipeArn"))
        // The KMS key is created in the same apply: not the default key.
        #expect(!errors.contains("default EBS key"), "\(errors)")
        #expect(
            errors.contains(
                "main.distributions[0].amiDistributionConfiguration.kmsKeyId: shared with other principals, encrypted with a key known only after apply"))

        let json = try runProcess(Self.binary, arguments + ["--json"])
        #expect(json.status == 0, "\(json.standardError)")
        let list = try #require(try JSONSerialization.jsonObject(with: json.standardOutput) as? [[String: Any]])
        let plan = try #require(list.first?["plan"] as? [String: Any])
        let resources = try #require(plan["terraformResources"] as? [[String: Any]])
        #expect(
            resources.map { $0["address"] as? String } == [
                "\(module)_image_pipeline.web", "\(module)_image_recipe.web", "\(module)_infrastructure_configuration.web",
            ])
        #expect((plan["cost"] as? [String: Any]).flatMap { ($0["imageSize"] as? [String: Any])?["gib"] as? Int } == 130)

        // A side file given on the command line wins over the plan's resource of that kind.
        let given = try runProcess(Self.binary, arguments + ["--infrastructure", "\(Self.testdata)/pipeline/get-infrastructure-configuration.json"])
        #expect(given.status == 0, "\(given.standardError)")
        #expect(!Self.text(given).contains("\(module)_infrastructure_configuration.web"))
        #expect(Self.text(given).contains("placement: tenancy default, us-east-1a"))
    }

    /// A state: a macOS pipeline linked to its configuration by ARN. The S3 export and the
    /// dedicated tenancy are refused under the resources' addresses, with their lines.
    @Test func aMacOSPipelineInAStateRefusesTheExport() throws {
        let file = "\(Self.terraform)/tfstate-macos-pipeline.json"
        let result = try runProcess(Self.binary, ["plan", file] + Self.context)
        #expect(result.status == 2)
        let errors = result.standardError
        #expect(errors.contains("module.mac.aws_imagebuilder_distribution_configuration.this.distributions[0].s3ExportConfiguration"), "\(errors)")
        // Under the plan file's name, with the line and column of the tenancy in it.
        let tenancy = errors.split(separator: "\n").first { $0.contains("module.mac.aws_imagebuilder_infrastructure_configuration.this.placement.tenancy: ") }
        #expect(tenancy?.contains(#/tfstate-macos-pipeline\.json:[0-9]+:[0-9]+: error: /#) == true, "\(errors)")
        #expect(tenancy?.contains("a macOS image is built on a Dedicated Host: set placement tenancy to host (found dedicated)") == true)
    }
}
