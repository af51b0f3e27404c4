import ConfigDocument
import Foundation
import Testing

@testable import DistributionPlan

/// `terraform show -json` plans and states. The fixtures under testdata/distribution/terraform
/// are written from HashiCorp's "JSON Output Format" page (resource_changes, change.actions,
/// before/after, after_unknown, before_sensitive/after_sensitive; values.root_module with
/// child_modules for a state) and terraform-provider-aws's schema for
/// aws_imagebuilder_distribution_configuration (internal/service/imagebuilder/
/// distribution_configuration.go, v5 series; fast launch, S3 export and SSM parameter blocks
/// from the v6 schema): snake_case names, MaxItems 1 blocks as lists of one object, sets as
/// lists, absent blocks as empty lists, unset strings as "".
@Suite("Terraform plans and states")
struct TerraformTests {
    static let context = PlanContext(sourceRegion: "us-east-1", ownerAccount: "111111111111", buildDate: "2026-11-24T09-00-00Z")
    static let main = "module.images.aws_imagebuilder_distribution_configuration.main"

    static func text(_ name: String) throws -> String {
        try Repository.text(Repository.configurations.appendingPathComponent("terraform/\(name)"))
    }

    static func plan(_ name: String, _ resource: String? = nil) throws -> DistributionPlanner.Outcome {
        DistributionPlanner.plan(document: try text(name), context: context, resource: resource)
    }

    /// An update in place inside a module: the after side is planned under the resource's
    /// address, the provider's names mapped to the API's; the KMS key known only after apply
    /// is reported, not guessed.
    @Test func updateInPlaceInAModule() throws {
        let after = try Self.plan("tfplan-update.json")
        #expect(after.form == .terraform)
        let plan = try #require(after.plan, "\(after.problems)")
        let ids = plan.tasks.map(\.id)
        #expect(ids.contains("copy-image:us-east-1:333333333333"))
        #expect(plan.tasks.contains { $0.region == "eu-west-1" && $0.kind == .createLaunchTemplateVersion }, "\(ids)")
        #expect(ids.contains { $0.hasPrefix("put-ssm-parameter:us-east-1:") && $0.hasSuffix(":/golden/latest") })
        #expect(ids.contains { $0.hasPrefix("create-launch-template-version:eu-west-1:lt-0123456789abcdef0") }, "\(ids)")
        #expect(
            after.problems.map { "\($0.severity.rawValue) \($0)" }.contains(
                "warning \(Self.main).distributions[0].amiDistributionConfiguration.kmsKeyId: known only after apply (after_unknown): left out of the plan, not guessed"
            ))
        // The before side: one region, one target account.
        let before = try #require(try Self.plan("tfplan-update.json", "before:\(Self.main)").plan)
        #expect(!before.tasks.map(\.id).contains("copy-image:us-east-1:333333333333"))
        #expect(before.tasks.map(\.id).contains("copy-image:us-east-1:222222222222"))
        #expect(!before.tasks.contains { $0.region == "eu-west-1" })
        // The diff between them: the new account's copy and the new region are added.
        let diff = PlanDiff.compare(old: before, new: plan)
        let added = diff.tasks.filter { $0.action == .added }.map(\.id)
        #expect(added.contains("copy-image:us-east-1:333333333333"))
        #expect(diff.totals.toRemove == 0)
    }

    /// Create, replace and delete, and a resource address with a module index.
    @Test func createReplaceDelete() throws {
        let resources = try TerraformPlan.resources(in: DocumentReader.parse(try Self.text("tfplan-lifecycle.json"))).get()
        #expect(
            resources.map { "\($0.address) \($0.action)" } == [
                "aws_imagebuilder_distribution_configuration.created create",
                "aws_imagebuilder_distribution_configuration.renamed replace",
                #"module.legacy["eu"].aws_imagebuilder_distribution_configuration.this delete"#,
            ])
        let none = try Self.plan("tfplan-lifecycle.json")
        #expect(none.plan == nil)
        #expect(none.problems.first?.message.hasSuffix("choose one with --resource ADDRESS") == true, "\(none.problems)")
        let created = "aws_imagebuilder_distribution_configuration.created"
        #expect(try Self.plan("tfplan-lifecycle.json", created).plan != nil)
        #expect(
            try Self.plan("tfplan-lifecycle.json", "before:\(created)").problems.map(\.description) == [
                "\(created): does not exist before this plan (Terraform will create it)"
            ])
        let legacy = #"module.legacy["eu"].aws_imagebuilder_distribution_configuration.this"#
        #expect(
            try Self.plan("tfplan-lifecycle.json", legacy).problems.map(\.description) == [
                "\(legacy): will not exist after this plan (Terraform will delete it)"
            ])
        #expect(try Self.plan("tfplan-lifecycle.json", "before:\(legacy)").plan?.tasks.contains { $0.region == "eu-west-1" } == true)
        let renamed = "aws_imagebuilder_distribution_configuration.renamed"
        #expect(try Self.plan("tfplan-lifecycle.json", renamed).plan?.configurationName == "new-name")
        #expect(try Self.plan("tfplan-lifecycle.json", "before:\(renamed)").plan?.configurationName == "old-name")
    }

    /// A value after_sensitive marks is planned as a placeholder and never printed.
    @Test func sensitiveValuesAreNeverPrinted() throws {
        let outcome = try Self.plan("tfplan-lifecycle.json", "aws_imagebuilder_distribution_configuration.created")
        let plan = try #require(outcome.plan)
        let rendered = JSONRenderer.render(plan) + TextRenderer.render(plan) + ScriptRenderer.render(plan)
        #expect(!rendered.contains("cc-secret-4242"))
        #expect(rendered.contains(TerraformPlan.sensitivePlaceholder))
        #expect(outcome.problems.contains { $0.path.hasSuffix("amiDistributionConfiguration.amiTags.cost-center") && $0.message.hasPrefix("sensitive") })
    }

    /// A state (terraform show -json of a state file): values in a child module.
    @Test func stateInAChildModule() throws {
        let outcome = try Self.plan("tfstate.json")
        let plan = try #require(outcome.plan, "\(outcome.problems)")
        #expect(plan.tasks.contains { $0.id.hasPrefix("modify-image-attribute:us-east-1") || $0.kind == .modifyImageAttribute })
    }

    /// HashiCorp's page: "Reject any input which reports an unsupported major version".
    @Test func unsupportedMajorVersionIsRefused() {
        let outcome = DistributionPlanner.plan(document: #"{"format_version": "2.0", "resource_changes": []}"#, context: Self.context)
        #expect(outcome.plan == nil)
        #expect(outcome.problems.first?.path == "format_version")
        #expect(outcome.problems.first?.line == 1)
    }

    /// A template `cdk synth` writes (CDK metadata, bootstrap-version rule and parameter
    /// beside the resource) is read as any CloudFormation template.
    @Test func cdkSynthesizedTemplate() throws {
        let text = try Repository.text(Repository.configurations.appendingPathComponent("cdk/cdk-synth.template.json"))
        let outcome = DistributionPlanner.plan(document: text, context: Self.context)
        #expect(outcome.form == .cloudFormation)
        let plan = try #require(outcome.plan, "\(outcome.problems)")
        #expect(plan.tasks.map(\.id).contains("copy-image:us-east-1:222222222222"))
        #expect(plan.tasks.contains { $0.region == "eu-west-1" })
        #expect(outcome.problems.allSatisfy { $0.severity == .warning })
    }

    /// A KMS key Terraform knows only after apply (created in the same apply) is a key: the
    /// sharing rule does not warn of the default EBS key, it says the key is not known yet.
    @Test func aKeyKnownOnlyAfterApplyIsNotTheDefaultKey() throws {
        let outcome = try Self.plan("tfplan-update.json")
        let messages = outcome.problems.map { "\($0.severity.rawValue) \($0.path): \($0.message)" }
        #expect(!messages.contains { $0.contains("default EBS key") }, "\(messages)")
        #expect(
            messages.contains(
                "warning \(Self.main).distributions[0].amiDistributionConfiguration.kmsKeyId: shared with other principals, encrypted with a key known only after apply: imgship cannot check that it is a customer managed key whose policy lets them use it"
            ), "\(messages)")
        // The same configuration without the unknown mark is a share without a key.
        let known = try Self.text("tfplan-update.json").replacingOccurrences(of: #""kms_key_id": true"#, with: #""kms_key_id": false"#)
        let plain = DistributionPlanner.plan(document: known, context: Self.context)
        #expect(plain.problems.contains { $0.message.contains("default EBS key") }, "\(plain.problems)")
    }

    /// The pipeline, recipe and infrastructure resources around a configuration, in the API's
    /// spelling: linked by reference expressions in a plan, by ARN in a state.
    @Test func sideResourcesAreTranslated() throws {
        let document = try DocumentReader.parse(try Self.text("tfplan-pipeline-module.json"))
        let (resources, problems) = TerraformPlan.sideResources(in: document, distribution: Self.main, before: false)
        #expect(problems.isEmpty)
        #expect(resources.map(\.kind) == [.pipeline, .recipe, .infrastructure])
        let recipe = try #require(resources[1].document?["imageRecipe"])
        let mappings = try #require(recipe["blockDeviceMappings"]?.array)
        #expect(mappings.count == 3)
        #expect(mappings[0]["ebs"]?["deleteOnTermination"]?.bool == true && mappings[0]["ebs"]?["iops"] == nil && mappings[0]["ebs"]?["encrypted"] == nil)
        #expect(mappings[1]["ebs"]?["encrypted"]?.bool == true && mappings[1]["ebs"]?["iops"]?.int == 4000)
        #expect(mappings[2]["noDevice"]?.string == "" && mappings[2]["ebs"] == nil && mappings[0]["noDevice"] == nil)
        #expect(recipe["components"]?.array?.first?["componentArn"]?.string == "arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x")
        #expect(resources[0].document?["imagePipeline"]?["schedule"]?["scheduleExpression"]?.string == "cron(0 6 ? * mon *)")
        #expect(resources[0].unknown == ["platform"])
        // Before the change nothing exists: no pipeline.
        #expect(TerraformPlan.sideResources(in: document, distribution: Self.main, before: true).resources.isEmpty)
        let state = try DocumentReader.parse(try Self.text("tfstate-macos-pipeline.json"))
        let mac = TerraformPlan.sideResources(in: state, distribution: "module.mac.aws_imagebuilder_distribution_configuration.this", before: false)
        #expect(mac.resources.map(\.kind) == [.pipeline, .infrastructure])
        #expect(mac.resources[1].document?["infrastructureConfiguration"]?["placement"]?["tenancy"]?.string == "dedicated")
    }
}
