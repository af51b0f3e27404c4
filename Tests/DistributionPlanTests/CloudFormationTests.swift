import ConfigDocument
import Foundation
import TestSupport
import Testing

@testable import DistributionPlan

/// A template with one distribution configuration whose `Properties` are `properties`, in YAML.
func template(_ properties: String) -> String {
    """
    Resources:
      Dist:
        Type: AWS::ImageBuilder::DistributionConfiguration
        Properties:
    \(properties.split(separator: "\n", omittingEmptySubsequences: false).map { "      " + $0 }.joined(separator: "\n"))
    """
}

@Suite("CloudFormation templates")
struct CloudFormationTests {
    static func outcome(_ name: String, resource: String? = nil) throws -> DistributionPlanner.Outcome {
        DistributionPlanner.plan(
            document: try Repository.text(Repository.configurations.appendingPathComponent(name)),
            context: PlanContext(sourceRegion: "us-east-1"), resource: resource)
    }

    @Test func intrinsicFunctionsAreReportedNotGuessed() throws {
        let outcome = try Self.outcome("broken/cloudformation-intrinsic-functions.yaml")
        #expect(outcome.form == .cloudFormation && outcome.plan == nil)
        let resolved =
            "(an intrinsic function) is resolved by CloudFormation at deploy time and imgship does not guess its value; write the literal value to plan this configuration"
        #expect(
            outcome.problems.map { "\($0.line!):\($0.column!) \($0)" } == [
                "9:13 Resources.AppDistribution.Properties.Name: Fn::Sub \(resolved)",
                "11:19 Resources.AppDistribution.Properties.Distributions[0].Region: Ref \(resolved)",
                "15:17 Resources.AppDistribution.Properties.Distributions[0].AmiDistributionConfiguration.TargetAccountIds[0]: Ref \(resolved)",
            ])
        // The JSON long form is the same finding.
        let json =
            #"{"Resources": {"D": {"Type": "AWS::ImageBuilder::DistributionConfiguration", "Properties": {"Name": {"Fn::Join": ["-", ["a", "b"]]}, "Distributions": [{"Region": "us-east-1", "ContainerDistributionConfiguration": {"TargetRepository": {"Service": "ECR", "RepositoryName": {"Ref": "Repo"}}}}]}}}}"#
        #expect(
            findings(json).map { String($0.prefix(while: { $0 != "(" })) } == [
                "error Resources.D.Properties.Name: Fn::Join ",
                "error Resources.D.Properties.Distributions[0].ContainerDistributionConfiguration.TargetRepository.RepositoryName: Ref ",
            ])
    }

    @Test func fieldsAreSpelledTheTemplatesWay() throws {
        #expect(
            try Self.outcome("broken/cloudformation-launch-permission.yaml").errors.map(\.description) == [
                "Resources.SharedDistribution.Properties.Distributions[0].AmiDistributionConfiguration.LaunchPermission: unknown key 'LaunchPermission'; did you mean 'LaunchPermissionConfiguration'?"
            ])
        #expect(
            try Self.outcome("broken/cloudformation-s3-export.json").errors.map(\.description) == [
                "Resources.ExportDistribution.Properties.Distributions[0].S3ExportConfiguration: CloudFormation's AWS::ImageBuilder::DistributionConfiguration has no S3ExportConfiguration; give S3 exports in the API form (create-distribution-configuration)"
            ])
        let yaml = template(
            """
            Name: app
            Distributions:
              - region: us-east-1
                AmiDistributionConfiguration:
                  Name: "app-{{ imagebuilder:buildDate }}"
                FastLaunchConfigurations:
                  - Enabled: true
                    MaxParallelLaunches: 2
                    LaunchTemplate: {LaunchTemplateId: lt-0123456789abcdef0, LaunchTemplateName: fast}
                SsmParameterConfigurations:
                  - ParameterName: /ami/app
                    AmiAccountId: 333333333333
            """)
        #expect(
            findings(yaml, PlanContext(sourceRegion: "us-east-1", platform: .windows)) == [
                "error Resources.Dist.Properties.Distributions[0]: missing required field 'Region'",
                "error Resources.Dist.Properties.Distributions[0].region: unknown key 'region'; did you mean 'Region'?",
            ])
        let fixed = yaml.replacing("- region:", with: "- Region:")
        #expect(
            findings(fixed, PlanContext(sourceRegion: "us-east-1", platform: .windows)) == [
                "error Resources.Dist.Properties.Distributions[0].FastLaunchConfigurations[0].MaxParallelLaunches: 2 is below 6, the least EC2 EnableFastLaunch accepts",
                "error Resources.Dist.Properties.Distributions[0].FastLaunchConfigurations[0].LaunchTemplate: give LaunchTemplateId or LaunchTemplateName, not both",
                "error Resources.Dist.Properties.Distributions[0].SsmParameterConfigurations[0].AmiAccountId: account 333333333333 is not a target account of us-east-1 (AmiDistributionConfiguration.TargetAccountIds), so it gets no AMI id to store",
            ])
    }

    @Test func scalarsConvertAsCloudFormationConvertsThem() throws {
        // Unquoted account ids are YAML numbers, kept as written (leading zero too); "true" and
        // "6" as strings are CloudFormation's booleans and integers.
        let yaml = template(
            """
            Name: app
            Distributions:
              - Region: us-east-1
                AmiDistributionConfiguration:
                  Name: "app-{{ imagebuilder:buildDate }}"
                  TargetAccountIds: [012345678901]
                  KmsKeyId: alias/app
                  AmiTags: {Build: 42}
                FastLaunchConfigurations:
                  - Enabled: "true"
                    MaxParallelLaunches: "6"
            """)
        let outcome = DistributionPlanner.plan(document: yaml, context: PlanContext(sourceRegion: "eu-west-1", platform: .windows))
        #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        let plan = try #require(outcome.plan)
        #expect(
            plan.tasks.map(\.id) == [
                "share-build-image:012345678901", "copy-image:us-east-1", "copy-image:us-east-1:012345678901", "enable-fast-launch:us-east-1:0",
            ])
        #expect(plan.tasks[3].parameter("MaxParallelLaunches") == .int(6))
        // The API form is not converted: botocore would refuse a number for an account id.
        #expect(
            findings(request(#""amiDistributionConfiguration": {"targetAccountIds": [123456789012]}"#)) == [
                "error distributions[0].amiDistributionConfiguration.targetAccountIds[0]: expected a string, found a number"
            ])
    }

    @Test func templatesWithSeveralConfigurationsNeedAResource() throws {
        #expect(
            try Self.outcome("cloudformation-two-configurations.yaml").errors.map(\.description) == [
                "Resources: the template has 2 distribution configurations (FleetAmiDistribution, FleetContainerDistribution); choose one with --resource"
            ])
        #expect(
            try Self.outcome("cloudformation-two-configurations.yaml", resource: "Fleet").errors.map(\.description) == [
                "Resources: no AWS::ImageBuilder::DistributionConfiguration resource named Fleet; the template has FleetAmiDistribution, FleetContainerDistribution"
            ])
        let container = try Self.outcome("cloudformation-two-configurations.yaml", resource: "FleetContainerDistribution")
        #expect(container.plan?.tasks.map(\.kind) == [.distributeContainer, .distributeContainer])
        #expect(
            findings(#"{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}}"#) == [
                "error Resources: the template has no AWS::ImageBuilder::DistributionConfiguration resource (it has AWS::S3::Bucket)"
            ])
        let conditional = template("Name: app\nDistributions: [{Region: us-east-1, AmiDistributionConfiguration: {Name: 'a-{{ imagebuilder:buildDate }}'}}]")
            .replacing("    Properties:", with: "    Condition: IsProduction\n    Properties:")
        #expect(
            findings(conditional) == [
                "warning Resources.Dist.Condition: the resource exists only when condition IsProduction holds; planned as if it does"
            ])
    }

    @Test func malformedYAMLNamesLineAndColumn() throws {
        let outcome = try Self.outcome("broken/malformed.yaml")
        let problem = try #require(outcome.problems.first)
        #expect(outcome.problems.count == 1)
        #expect(problem.line == 8 && problem.column == 10)
        #expect(problem.message == "malformed YAML: did not find expected '-' indicator (while parsing a block collection at line 7, column 9)")
        let duplicate = DistributionPlanner.plan(document: "name: a\ndistributions: []\nname: b\n", context: PlanContext()).problems.first
        #expect(duplicate?.message == "malformed YAML: duplicate key \"name\"")
        #expect(duplicate?.line == 3 && duplicate?.column == 1)
    }

    @Test func yamlRequestsAreTheAPIForm() throws {
        // `--cli-input-yaml`: the API's spelling in YAML.
        let yaml = """
            name: from-yaml
            distributions:
              - region: us-east-1
                amiDistributionConfiguration:
                  name: "app-{{ imagebuilder:buildDate }}"
                  targetAccountIds: ["222222222222"]
                  kmsKeyId: alias/app
            """
        let outcome = DistributionPlanner.plan(document: yaml, context: PlanContext(sourceRegion: "us-east-1"))
        #expect(outcome.form == .apiRequest)
        #expect(outcome.errors.isEmpty)
        #expect(outcome.plan?.tasks.map(\.id) == ["share-build-image:222222222222", "copy-image:us-east-1:222222222222"])
    }
}

/// cfn-lint, CloudFormation's own linter with the resource schema, agrees with imgship on the
/// template fixtures: it accepts the valid ones and rejects the misspelled ones. Runs where
/// cfn-lint is installed (pip); imgship does not depend on it.
@Suite("CloudFormation templates, checked by cfn-lint")
struct CloudFormationLintTests {
    @Test(.enabled(if: which("cfn-lint") != nil, "cfn-lint is not installed"))
    func cfnLintAgrees() throws {
        let linter = try #require(which("cfn-lint"))
        let folder = Repository.configurations.path
        let valid = try runProcess(
            linter,
            [
                "\(folder)/cloudformation-template.json", "\(folder)/cloudformation-template.yaml",
                "\(folder)/cloudformation-two-configurations.yaml",
            ])
        #expect(valid.status == 0, "\(String(decoding: valid.standardOutput, as: UTF8.self))")
        for broken in ["cloudformation-s3-export.json", "cloudformation-launch-permission.yaml"] {
            let result = try runProcess(linter, ["\(folder)/broken/\(broken)"])
            #expect(result.status != 0)
            #expect(String(decoding: result.standardOutput, as: UTF8.self).contains("E3002"), "\(broken)")
        }
    }
}
