import ConfigDocument
import Foundation
import Testing

@testable import DistributionPlan

/// Problems as `severity path: message` lines, for compact expectations.
func findings(_ json: String, _ context: PlanContext = PlanContext(sourceRegion: "us-east-1")) -> [String] {
    DistributionPlanner.plan(document: json, context: context).problems.map { "\($0.severity.rawValue) \($0)" }
}

/// A valid single-region request with the given entry members spliced in.
func request(_ entry: String, region: String = "us-east-1") -> String {
    #"{"name": "test-config", "distributions": [{"region": "\#(region)", \#(entry)}]}"#
}

@Suite("Configuration checks")
struct ValidationTests {
    @Test func malformedJSONNamesLineAndColumn() {
        let outcome = DistributionPlanner.plan(document: "{\"name\": \"x\",\n  \"distributions\": [}", context: PlanContext())
        let problem = outcome.problems.first
        #expect(outcome.problems.count == 1 && outcome.plan == nil)
        #expect(problem?.message == "malformed JSON: unexpected '}', expected a value")
        #expect(problem?.line == 2 && problem?.column == 21)
        #expect(
            DistributionPlanner.plan(document: #"{"a": 1, "a": 2}"#, context: PlanContext()).problems.first?.message
                == "malformed JSON: duplicate key \"a\"")
    }

    @Test func unknownKeysGetSuggestions() {
        let json = request(
            #"""
            "amiDistributionConfiguration": {
              "name": "app {{ imagebuilder:buildDate }}",
              "launchPermissions": {"userIds": ["222222222222"]},
              "fastLaunchConfigurations": []
            },
            "launchTemplateConfigurations": [{"launchTemplateID": "lt-0123456789abcdef0"}],
            "s3Export": {}
            """#)
        #expect(
            findings(json) == [
                "error distributions[0].amiDistributionConfiguration.launchPermissions: unknown key 'launchPermissions'; did you mean 'launchPermission'?",
                "error distributions[0].amiDistributionConfiguration.fastLaunchConfigurations: 'fastLaunchConfigurations' is not a field of amiDistributionConfiguration; it belongs in distributions[]",
                "error distributions[0].launchTemplateConfigurations[0]: missing required field 'launchTemplateId'",
                "error distributions[0].launchTemplateConfigurations[0].launchTemplateID: unknown key 'launchTemplateID'; did you mean 'launchTemplateId'?",
                "error distributions[0].s3Export: unknown key 's3Export'; expected one of region, amiDistributionConfiguration, containerDistributionConfiguration, licenseConfigurationArns, launchTemplateConfigurations, s3ExportConfiguration, fastLaunchConfigurations, ssmParameterConfigurations",
            ])
    }

    @Test func fieldRulesNameThePathAndTheExpectation() {
        let json = request(
            #"""
            "amiDistributionConfiguration": {
              "name": "app {{ imagebuilder:buildDate }}",
              "targetAccountIds": ["12345", "222222222222"],
              "amiTags": {"aws:owner": "me"},
              "launchPermission": {"organizationArns": ["arn:aws:organizations::123456789012:organization/o-abc"]}
            },
            "s3ExportConfiguration": {"roleName": "vmimport", "diskImageFormat": "vmdk", "s3Bucket": "b"},
            "fastLaunchConfigurations": [{"enabled": "yes", "snapshotConfiguration": {"targetResourceCount": 0}}],
            "ssmParameterConfigurations": [{"parameterName": "bad name!", "dataType": "string"}]
            """#)
        #expect(
            findings(json, PlanContext(sourceRegion: "us-east-1", platform: .windows)) == [
                "warning distributions[0].amiDistributionConfiguration: shared with other accounts and organizations without kmsKeyId: if the image is encrypted with the default EBS key, they cannot use it; give a customer managed key",
                #"error distributions[0].amiDistributionConfiguration.targetAccountIds[0]: "12345" has 5 characters; exactly 12 allowed"#,
                "error distributions[0].amiDistributionConfiguration.amiTags.aws:owner: keys starting with 'aws:' are reserved",
                #"error distributions[0].amiDistributionConfiguration.launchPermission.organizationArns[0]: "arn:aws:organizations::123456789012:organization/o-abc" does not match ^arn:aws[^:]*:organizations::[0-9]{12}:organization/o-[a-z0-9]{10,32}$"#,
                // VM Import/Export user guide, "Export considerations": license-included Windows is refused.
                "warning distributions[0].s3ExportConfiguration: VM Export refuses license-included Windows images; only bring-your-own-license Windows images can be exported as vmdk",
                #"error distributions[0].s3ExportConfiguration.diskImageFormat: "vmdk" is not one of "VMDK", "RAW", "VHD"; did you mean "VMDK"?"#,
                // S3 user guide, "Bucket naming rules": 3 to 63 characters.
                #"error distributions[0].s3ExportConfiguration.s3Bucket: "b" has 1 characters; 3 to 63 allowed"#,
                "error distributions[0].fastLaunchConfigurations[0].enabled: expected true or false, found a string",
                "error distributions[0].fastLaunchConfigurations[0].snapshotConfiguration.targetResourceCount: 0 is below the minimum 1",
                #"error distributions[0].ssmParameterConfigurations[0].parameterName: "bad name!" does not match ^[a-zA-Z0-9_.\-\/]+$"#,
                #"error distributions[0].ssmParameterConfigurations[0].dataType: "string" is not one of "text", "aws:ec2:image""#,
            ])
    }

    @Test func crossFieldRules() {
        let json = #"""
            {"name": "rules", "distributions": [
              {"region": "us-east-1", "amiDistributionConfiguration": {"name": "app-latest",
                 "description": "\#(String(repeating: "d", count: 300))",
                 "launchPermission": {"userGroups": ["all", "admins"]}}},
              {"region": "eu-west-1"},
              {"region": "us-east-1", "containerDistributionConfiguration": {"targetRepository": {"service": "ECR", "repositoryName": "app"}}},
              {"region": "us-west-2",
               "amiDistributionConfiguration": {"name": "app {{ imagebuilder:buildDate }}", "targetAccountIds": ["222222222222"], "kmsKeyId": "alias/app"},
               "fastLaunchConfigurations": [{"enabled": true, "maxParallelLaunches": 4, "accountId": "222222222222",
                 "launchTemplate": {"launchTemplateId": "lt-0123456789abcdef0", "launchTemplateName": "fast"}}],
               "ssmParameterConfigurations": [{"parameterName": "/ami/app", "amiAccountId": "333333333333"}],
               "launchTemplateConfigurations": [{"launchTemplateId": "lt-0123456789abcdef1", "accountId": "444444444444"}]}
            ]}
            """#
        #expect(
            findings(json, PlanContext(sourceRegion: "ca-central-1", ownerAccount: "123456789012")) == [
                "error distributions[0].amiDistributionConfiguration.name: must contain {{ imagebuilder:buildDate }} so every build gets a new AMI name",
                "warning distributions[0].amiDistributionConfiguration.description: 300 characters; EC2 CopyImage accepts at most 255",
                #"warning distributions[0].amiDistributionConfiguration.launchPermission.userGroups[0]: "all" makes the AMI public in us-east-1: anyone can launch it"#,
                #"error distributions[0].amiDistributionConfiguration.launchPermission.userGroups[1]: "admins" is not a launch permission group; EC2 knows only "all""#,
                "error distributions[1]: one or more outputs should be provided for each region (an AMI, container, launch template, export, fast launch or SSM parameter configuration)",
                "error distributions[2].region: region us-east-1 is already listed at distributions[0]; give each region once",
                // KMS developer guide, "Key identifiers": an alias resolves in the calling account.
                #"warning distributions[3].amiDistributionConfiguration.kmsKeyId: "alias/app" is not an ARN: the copies in target accounts are made there, where it names the target account's own key; give the key ARN to use the owner's key"#,
                "error distributions[3].fastLaunchConfigurations[0]: fast launch is for Windows AMIs only; this plan is for linux (pass --platform windows for a Windows image)",
                // EC2 API reference, EnableFastLaunch: MaxParallelLaunches must be 6 or greater.
                "error distributions[3].fastLaunchConfigurations[0].maxParallelLaunches: 4 is below 6, the least EC2 EnableFastLaunch accepts",
                // distribution.md: another account's fast launch is documented by AWS's examples; a warning.
                "warning distributions[3].fastLaunchConfigurations[0].accountId: fast launch is enabled in account 222222222222, on that account's copy, through the cross-account role.",
                "error distributions[3].fastLaunchConfigurations[0].launchTemplate: give launchTemplateId or launchTemplateName, not both",
                "error distributions[3].ssmParameterConfigurations[0].amiAccountId: account 333333333333 is not a target account of us-west-2 (amiDistributionConfiguration.targetAccountIds), so it gets no AMI id to store",
                "warning distributions[3].launchTemplateConfigurations[0].accountId: account 444444444444 gets neither a copy of the AMI (targetAccountIds) nor launch permission (launchPermission.userIds) in us-west-2; the new template version would point at an AMI it cannot launch",
                // Problems without a position come after the positioned ones.
                "warning distributions: the source region ca-central-1 is not listed: the build AMI stays there with none of these settings",
            ])
    }

    /// RegionTable (botocore partitions.json, dated): an unknown region is an error naming the
    /// table's date; --allow-unknown-regions makes it a warning.
    @Test func regionsAreCheckedAgainstTheDatedTable() {
        let fake = request(#""amiDistributionConfiguration": {"name": "a{{imagebuilder:buildDate}}"}"#, region: "xx-fake-1")
        let context = PlanContext(sourceRegion: "xx-fake-1")
        #expect(
            findings(fake, context).contains(
                "error distributions[0].region: xx-fake-1 is not a region in imgship's region table of \(RegionTable.date) (\(RegionTable.source)) (aws has \(RegionTable.regions["aws"]?.count ?? 0): af-south-1, ap-east-1, ap-east-2, ap-northeast-1, ...); a newer region is planned with --allow-unknown-regions"
            ), "\(findings(fake, context))")
        var allowed = context
        allowed.allowUnknownRegions = true
        let relaxed = findings(fake, allowed)
        #expect(!relaxed.contains { $0.hasPrefix("error") }, "\(relaxed)")
        #expect(relaxed.contains { $0.hasPrefix("warning distributions[0].region: xx-fake-1 is not in imgship's region table of \(RegionTable.date)") })
        // Every partition's regions are known: China, GovCloud.
        #expect(
            !findings(
                request(#""amiDistributionConfiguration": {"name": "a{{imagebuilder:buildDate}}"}"#, region: "cn-north-1"),
                PlanContext(sourceRegion: "cn-north-1")
            ).contains { $0.contains("region table") })
        #expect(RegionTable.contains("us-gov-west-1") && RegionTable.contains("eu-west-1") && !RegionTable.contains("us-est-1"))
    }

    @Test func sharingWithoutKeyWarnsAndExpandedNamesAreChecked() {
        let shared = request(#""amiDistributionConfiguration": {"name": "a{{imagebuilder:buildDate}}", "targetAccountIds": ["222222222222"]}"#)
        #expect(
            findings(shared).contains(
                "warning distributions[0].amiDistributionConfiguration: shared with other accounts without kmsKeyId: if the image is encrypted with the default EBS key, those accounts cannot use it; give a customer managed key"
            ))
        // EBS user guide, "Share an encrypted snapshot": the default key cannot be shared with
        // anyone, so organizations and OUs get the same warning; the owner alone is no share.
        let organization = request(
            #""amiDistributionConfiguration": {"name": "a{{imagebuilder:buildDate}}", "launchPermission": {"organizationArns": ["arn:aws:organizations::123456789012:organization/o-abcdefghij"]}}"#
        )
        #expect(
            findings(organization).contains(
                "warning distributions[0].amiDistributionConfiguration: shared with organizations without kmsKeyId: if the image is encrypted with the default EBS key, they cannot use it; give a customer managed key"
            ))
        let unit = request(
            #""amiDistributionConfiguration": {"name": "a{{imagebuilder:buildDate}}", "launchPermission": {"organizationalUnitArns": ["arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-abcdefgh"]}}"#
        )
        #expect(findings(unit).contains { $0.contains("shared with organizational units without kmsKeyId") })
        let ownerOnly = request(#""amiDistributionConfiguration": {"name": "a{{imagebuilder:buildDate}}", "targetAccountIds": ["111111111111"]}"#)
        #expect(!findings(ownerOnly, PlanContext(sourceRegion: "us-east-1", ownerAccount: "111111111111")).contains { $0.contains("shared with") })
        let long = request(#""amiDistributionConfiguration": {"name": "\#(String(repeating: "n", count: 110)){{ imagebuilder:buildDate }}"}"#)
        #expect(
            findings(long, PlanContext(sourceRegion: "us-east-1", buildDate: "2026-11-24T09-00-00Z")) == [
                #"error distributions[0].amiDistributionConfiguration.name: "\#(String(repeating: "n", count: 110)){{ imagebuilder:buildDate }}" has 138 characters; 1 to 127 allowed"#,
                #"error distributions[0].amiDistributionConfiguration.name: expands to "\#(String(repeating: "n", count: 110))2026-11-24T09-00-00Z": 130 characters; EC2 allows 3 to 128"#,
            ])
    }

    @Test func missingSourceRegionIsAWarning() {
        let outcome = DistributionPlanner.plan(
            document: request(#""amiDistributionConfiguration": {"name": "a {{imagebuilder:buildDate}}"}"#, region: "eu-north-1"),
            context: PlanContext())
        #expect(outcome.warnings.map(\.message) == ["no --source-region given; assuming the first listed region, eu-north-1"])
        #expect(outcome.plan?.sourceRegion == "eu-north-1")
    }

    @Test func requestNeedsANameAndDistributions() {
        #expect(
            findings(#"{"description": "d"}"#) == [
                "error missing required field 'distributions'",
                "error missing required field 'name' (or 'distributionConfigurationArn' for an update)",
            ])
    }

    /// A document reports its first 1,000 problems and counts the rest, in one error: 1,500
    /// unknown keys of a distribution give 1,000 messages, in document order, and the count.
    @Test func problemsPastTheLimitAreCountedNotListed() throws {
        let keys = (0..<1_500).map { #""unknownKey\#($0)": 1"# }.joined(separator: ", ")
        let ami = #""amiDistributionConfiguration": {"name": "a{{imagebuilder:buildDate}}"}, "#
        let found = findings(request(ami + keys))
        try #require(found.count == 1_001, "\(found.prefix(2)) \(found.suffix(2))")
        #expect(found.first?.hasPrefix("error distributions[0].unknownKey0: unknown key 'unknownKey0'") == true, "\(found.first ?? "")")
        #expect(found[999].hasPrefix("error distributions[0].unknownKey999: unknown key 'unknownKey999'"), "\(found[999])")
        #expect(found.last == "error 500 more errors not shown: only the first 1000 problems of a document are reported")
        // "N error(s)" counts the 500 the last problem stands for, not it as one.
        let problems = DistributionPlanner.plan(document: request(ami + keys), context: PlanContext(sourceRegion: "us-east-1")).problems
        #expect(Problem.errorCount(problems) == 1_500)
    }
}
