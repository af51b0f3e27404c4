import Foundation
import Testing
import TestSupport

@Suite("imgship plan, end to end")
struct PlanCommandTests {
    static let testdata = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("testdata/distribution").path

    @Test func validConfigurationPrintsThePlan() throws {
        let result = try runProcess(ExportCommandTests.binary, ["plan", "\(Self.testdata)/container.json", "--source-region", "us-east-1",
                                                                "--build-date", "2026-11-24T09-00-00Z"])
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
        #expect(result.standardError == """
            \(file):3:14: error: distributions[1].region: region us-east-1 is already listed at distributions[0]; give each region once
            imgship: 1 error(s); no plan

            """)
    }

    @Test func warningsPrintAndFailOnlyWhenStrict() throws {
        let file = "\(Self.testdata)/container.json"
        let relaxed = try runProcess(ExportCommandTests.binary, ["plan", file, "-o", "json"])
        #expect(relaxed.status == 0)
        #expect(relaxed.standardError == "\(file): warning: no --source-region given; assuming the first listed region, us-east-1\n")
        let json = try JSONSerialization.jsonObject(with: relaxed.standardOutput) as? [String: Any]
        #expect((json?["tasks"] as? [Any])?.count == 2)
        let strict = try runProcess(ExportCommandTests.binary, ["plan", file, "--strict"])
        #expect(strict.status == 2)
        #expect(strict.standardError.hasSuffix("imgship: 1 warning(s) with --strict\n"))
    }

    @Test func readsStandardInput() throws {
        let result = try runProcess("/bin/sh", ["-c", "'\(ExportCommandTests.binary)' plan - --source-region us-east-1 < '\(Self.testdata)/broken/malformed.json'"])
        #expect(result.status == 2)
        #expect(result.standardError.hasPrefix("<stdin>:3:27: error: malformed JSON: unexpected '}', expected a key in double quotes\n"))
    }

    @Test func cloudFormationYAMLToScript() throws {
        let file = "\(Self.testdata)/cloudformation-two-configurations.yaml"
        let ambiguous = try runProcess(ExportCommandTests.binary, ["plan", file, "--source-region", "eu-central-1"])
        #expect(ambiguous.status == 2)
        #expect(ambiguous.standardError.hasPrefix("\(file): error: Resources: the template has 2 distribution configurations (FleetAmiDistribution, FleetContainerDistribution); choose one with --resource\n"))
        let result = try runProcess(ExportCommandTests.binary, ["plan", file, "--source-region", "eu-central-1", "--resource", "FleetAmiDistribution",
                                                                "--account", "123456789012", "-o", "script"])
        #expect(result.status == 0, "\(result.standardError)")
        let script = String(decoding: result.standardOutput, as: UTF8.self)
        #expect(script.hasPrefix("#!/usr/bin/env bash\n# Distribution plan for \"fleet-ami\""))
        #expect(script.contains("\nset -euo pipefail\n"))
        #expect(script.contains("AMI_eu_west_3=$(aws ec2 copy-image --region eu-west-3 --source-region eu-central-1 --source-image-id \"$BUILD_AMI\""))
        #expect(script.contains("wait_for_image eu-west-3 \"$AMI_eu_west_3\"\n"))
    }
}
