import ConfigDocument
import Foundation
import TestSupport
import Testing

@testable import DistributionPlan

/// No value from a configuration, template or flag can run as shell code or end a comment
/// line; hostile values are refused where the service refuses them, and everything else is
/// quoted by the one quoting function.
@Suite("Generated scripts are safe")
struct ScriptSafetyTests {
    /// The region the issue reported: written unquoted, it created a file when the script ran.
    @Test func hostileRegionIsRefused() {
        let json =
            #"{"name": "x-config", "distributions": [{"region": "eu-west-1\"; touch X; echo \"", "amiDistributionConfiguration": {"name": "a {{ imagebuilder:buildDate }}"}}]}"#
        let outcome = DistributionPlanner.plan(document: json, context: PlanContext(sourceRegion: "us-east-1"))
        #expect(outcome.plan == nil)
        #expect(
            outcome.errors.map(\.description).contains(
                #"distributions[0].region: "eu-west-1"; touch X; echo "" does not match ^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$"#))
    }

    @Test(arguments: [
        ("amiDistributionConfiguration.name", #""amiDistributionConfiguration": {"name": "a {{ imagebuilder:buildDate }}\nb"}"#),
        (
            "s3ExportConfiguration.s3Prefix",
            #""s3ExportConfiguration": {"roleName": "vmimport", "diskImageFormat": "RAW", "s3Bucket": "bucket", "s3Prefix": "a\nrm -rf /"}"#
        ),
        ("s3ExportConfiguration.roleName", #""s3ExportConfiguration": {"roleName": "vm\nimport", "diskImageFormat": "RAW", "s3Bucket": "bucket"}"#),
        (
            "containerDistributionConfiguration.targetRepository.repositoryName",
            #""containerDistributionConfiguration": {"targetRepository": {"service": "ECR", "repositoryName": "repo\n$(id)"}}"#
        ),
        ("amiDistributionConfiguration.amiTags.K\nK", #""amiDistributionConfiguration": {"name": "a {{ imagebuilder:buildDate }}", "amiTags": {"K\nK": "v"}}"#),
    ])
    func controlCharactersAreRefusedOutsideText(path: String, entry: String) {
        let outcome = DistributionPlanner.plan(document: request(entry), context: PlanContext(sourceRegion: "us-east-1"))
        #expect(outcome.plan == nil)
        #expect(
            outcome.errors.contains { $0.path == "distributions[0].\(path)" && ($0.message.contains("U+000A") || $0.message.contains("does not match")) },
            "\(outcome.errors)")
    }

    /// Descriptions and tag values may hold line breaks (the service takes them): the
    /// command gets them verbatim, and every comment stays one line.
    @Test func lineBreaksInTextStayInsideTheirValue() throws {
        let entry =
            #""amiDistributionConfiguration": {"name": "app {{ imagebuilder:buildDate }}", "description": "first\ntouch CANARY\n# {{ami:build}}", "amiTags": {"Note": "x\ntouch CANARY"}}"#
        let plan = try #require(DistributionPlanner.plan(document: request(entry, region: "us-east-2"), context: goldenContext).plan)
        let script = ScriptRenderer.render(plan)
        let lines = script.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(!lines.contains { $0.hasPrefix("touch") })
        // Free text that looks like a reference is text, never a variable.
        #expect(!script.contains("first\ntouch CANARY\n# ${BUILD_AMI}"))
        #expect(script.contains(#"--description $'first\ntouch CANARY\n# {{ami:build}}'"#))
        let text = TextRenderer.render(plan)
        #expect(!text.split(separator: "\n").contains { $0.hasPrefix("touch") })
    }

    /// Random text in every free-text field of every kind of task: bash accepts every
    /// script, running it against the stand-in `aws` runs nothing else, and the values reach
    /// the calls unchanged. Seeded, so a failure names the case that reproduces it.
    @Test func fuzzedFreeTextNeverRunsAnything() throws {
        let folder = try TemporaryFolder()
        let canary = folder.file("CANARY")
        let pieces = [
            "'", "\"", "$", "`", "\\", ";", "|", "&", "(", ")", "{", "}", "{{", "}}", "[", "]", "<", ">", "*", "?", "~", "#", "!",
            "\n", "\t", "\r", " ", "$(touch \(canary))", "`touch \(canary)`", "'; touch \(canary); '", "\"; touch \(canary); \"",
            "${IFS}", "{{ami:build}}", "{{version:x}}", "%s", "-n", "--", "é", "😀", "\u{2028}", "a", "Z", "0",
        ]
        var random = SplitMix64(seed: 20261124)
        func text(_ length: Int) -> String {
            (0..<length).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
        }
        var planned = 0
        for round in 0..<60 {
            let description = text(1 + Int(random.next() % 12))
            let tagValue = text(Int(random.next() % 8))
            let prefix = text(1 + Int(random.next() % 6)).filter { !$0.isNewline && $0 != "\t" && $0 != "\u{2028}" && $0 != "\r" }
            let document: [String: Any] = [
                "name": "fuzz-config",
                "description": description,
                "distributions": [
                    [
                        "region": "us-east-1",
                        "amiDistributionConfiguration": [
                            "name": "fuzz {{ imagebuilder:buildDate }}", "description": description,
                            "amiTags": ["Note": tagValue], "targetAccountIds": ["222222222222"],
                        ],
                        "licenseConfigurationArns": [
                            "arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-0123456789abcdef0123456789abcdef"
                        ],
                    ],
                    [
                        "region": "eu-west-1",
                        "amiDistributionConfiguration": [
                            "name": "fuzz {{ imagebuilder:buildDate }}", "description": description, "amiTags": ["Note": tagValue],
                        ],
                        "launchTemplateConfigurations": [["launchTemplateId": "lt-0123456789abcdef0"]],
                        "ssmParameterConfigurations": [["parameterName": "/fuzz/ami"]],
                        "s3ExportConfiguration": [
                            "roleName": "vmimport", "diskImageFormat": "VMDK", "s3Bucket": "fuzz-bucket", "s3Prefix": prefix.isEmpty ? "p" : prefix,
                        ],
                    ],
                    [
                        "region": "eu-central-1",
                        "containerDistributionConfiguration": [
                            "description": description, "containerTags": ["latest"],
                            "targetRepository": ["service": "ECR", "repositoryName": "fuzz"],
                        ],
                    ],
                ],
            ]
            let json = String(decoding: try JSONSerialization.data(withJSONObject: document), as: UTF8.self)
            let outcome = DistributionPlanner.plan(document: json, context: goldenContext)
            guard let plan = outcome.plan else {
                // Refused: only ever for the reasons the service refuses.
                #expect(
                    outcome.errors.allSatisfy { $0.message.contains("control character") || $0.message.contains("characters;") },
                    "round \(round): \(outcome.errors)")
                continue
            }
            planned += 1
            let script = folder.file("plan-\(round).sh")
            try ScriptRenderer.render(plan).write(toFile: script, atomically: true, encoding: .utf8)
            let syntax = try runProcess("/bin/bash", ["-n", script])
            #expect(syntax.status == 0, "round \(round): \(syntax.standardError)")
            let (result, calls) = try ScriptTests.run(plan, environment: ["CONTAINER_IMAGE": "fuzz:1"])
            #expect(result.status == 0, "round \(round): \(result.standardError)")
            #expect(!FileManager.default.fileExists(atPath: canary), "round \(round) ran a value: \(description.debugDescription)")
            #expect(calls.contains { $0.hasPrefix("owner ec2 export-image --region eu-west-1") }, "round \(round)")
        }
        #expect(planned >= 30)
    }
}
