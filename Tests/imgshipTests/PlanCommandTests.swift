import Foundation
import TestSupport
import Testing

@Suite("imgship plan, end to end")
struct PlanCommandTests {
    static let testdata = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("testdata/distribution").path

    @Test func validConfigurationPrintsThePlan() throws {
        let result = try runProcess(
            ExportCommandTests.binary,
            [
                "plan", "\(Self.testdata)/container.json", "--source-region", "us-east-1",
                "--build-date", "2026-11-24T09-00-00Z",
            ])
        #expect(result.status == 0, "\(result.standardError)")
        let text = String(decoding: result.standardOutput, as: UTF8.self)
        #expect(text.contains("Totals: 2 tasks: 2 container distributions"))
        #expect(text.contains("    distribute-container: push the container image to ECR api-service with tags latest, 1.4.0"))
        #expect(result.standardError.isEmpty)
    }

    @Test func errorsExitTwoWithFileLineAndPath() throws {
        let file = "\(Self.testdata)/broken/duplicate-region.json"
        let result = try runProcess(ExportCommandTests.binary, ["plan", file, "--source-region", "us-east-1"])
        #expect(result.status == 2)
        #expect(result.standardOutput.isEmpty)
        #expect(
            result.standardError == """
                \(file):3:14: error: distributions[1].region: region us-east-1 is already listed at distributions[0]; give each region once
                imgship: 1 error(s); no plan

                """)
    }

    @Test func warningsPrintAndFailOnlyWhenStrict() throws {
        let file = "\(Self.testdata)/container.json"
        let relaxed = try runProcess(ExportCommandTests.binary, ["plan", file, "--format", "json"])
        #expect(relaxed.status == 0)
        #expect(relaxed.standardError == "\(file): warning: no --source-region given; assuming the first listed region, us-east-1\n")
        let json = try JSONSerialization.jsonObject(with: relaxed.standardOutput) as? [String: Any]
        #expect((json?["tasks"] as? [Any])?.count == 2)
        let strict = try runProcess(ExportCommandTests.binary, ["plan", file, "--strict"])
        #expect(strict.status == 2)
        #expect(strict.standardError.hasSuffix("imgship: 1 warning(s) with --strict\n"))
    }

    @Test func readsStandardInput() throws {
        let result = try runProcess(
            "/bin/sh", ["-c", "'\(ExportCommandTests.binary)' plan - --source-region us-east-1 < '\(Self.testdata)/broken/malformed.json'"])
        #expect(result.status == 2)
        #expect(result.standardError.hasPrefix("<stdin>:3:27: error: malformed JSON: unexpected '}', expected a key in double quotes\n"))
    }

    @Test func cloudFormationYAMLToScript() throws {
        let file = "\(Self.testdata)/cloudformation-two-configurations.yaml"
        let ambiguous = try runProcess(ExportCommandTests.binary, ["plan", file, "--source-region", "eu-central-1"])
        #expect(ambiguous.status == 2)
        #expect(
            ambiguous.standardError.hasPrefix(
                "\(file): error: Resources: the template has 2 distribution configurations (FleetAmiDistribution, FleetContainerDistribution); choose one with --resource\n"
            ))
        let result = try runProcess(
            ExportCommandTests.binary,
            [
                "plan", file, "--source-region", "eu-central-1", "--resource", "FleetAmiDistribution",
                "--account", "123456789012", "--format", "script",
            ])
        #expect(result.status == 0, "\(result.standardError)")
        let script = String(decoding: result.standardOutput, as: UTF8.self)
        #expect(script.hasPrefix("#!/usr/bin/env bash\n# Distribution plan for \"fleet-ami\""))
        #expect(script.contains("\nset -euo pipefail\n"))
        #expect(script.contains("AMI_eu_west_3=$(aws ec2 copy-image --region eu-west-3 --source-region eu-central-1 --source-image-id \"$BUILD_AMI\""))
        #expect(script.contains("wait_for_image eu-west-3 \"$AMI_eu_west_3\"\n"))
    }

    /// Flags reach the script too: each is checked against the service's pattern first.
    @Test(arguments: [
        (["--source-region", "eu-west-1; touch X"], "--source-region must be a region name"),
        (["--account", "12345678901x"], "--account must be a 12-digit account id"),
        (["--recipe-name", "web$(id)"], "--recipe-name must be an Image Builder recipe name"),
        (["--build-date", "2026-11-24T09:00:00Z"], "--build-date must be letters, digits"),
        (["--build-version", "0"], "--build-version must be 1 or more"),
    ])
    func hostileFlagsAreRefused(flags: [String], message: String) throws {
        let result = InProcess.parse(["plan", "\(Self.testdata)/container.json"] + flags)
        #expect(result.status == 64)
        #expect(result.standardOutput.isEmpty)
        #expect(result.standardError.contains(message), "\(result.standardError)")
    }

    @Test func recipeNameNamesUnnamedAMIs() throws {
        let folder = try TemporaryFolder()
        try
            #"{"name": "unnamed-amis", "distributions": [{"region": "us-east-1", "amiDistributionConfiguration": {}}, {"region": "eu-west-1", "amiDistributionConfiguration": {}}]}"#
            .write(toFile: folder.file("unnamed.json"), atomically: true, encoding: .utf8)
        let result = try runProcess(
            ExportCommandTests.binary,
            [
                "plan", folder.file("unnamed.json"), "--source-region", "us-east-1",
                "--build-date", "2026-11-24T09-00-00Z", "--recipe-name", "web recipe", "--format", "script",
            ])
        #expect(result.status == 0, "\(result.standardError)")
        let script = String(decoding: result.standardOutput, as: UTF8.self)
        #expect(script.contains("--name 'web recipe 2026-11-24T09-00-00Z'"))
        #expect(
            script.contains(
                "# assumption: no AMI name is configured for eu-west-1: Image Builder names the AMI after the recipe and the build date, planned as \"web recipe 2026-11-24T09-00-00Z\""
            ))
    }

    /// `imgship plan <(git show main:dist.json)`: a FIFO reads as a file does.
    @Test func readsAProcessSubstitution() throws {
        let result = try runProcess(
            "/bin/bash", ["-c", "'\(ExportCommandTests.binary)' plan <(cat '\(Self.testdata)/container.json') --source-region us-east-1"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(String(decoding: result.standardOutput, as: UTF8.self).hasPrefix("Distribution plan for \"api-container\"\n"))
        let folder = try runProcess(ExportCommandTests.binary, ["plan", Self.testdata, "--source-region", "us-east-1"])
        #expect(folder.status == 2)
        #expect(folder.standardError == "imgship: error: \(Self.testdata): cannot read: Is a directory\n")
    }
}
