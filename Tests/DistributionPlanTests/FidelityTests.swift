import ConfigDocument
import Foundation
import Testing

@testable import DistributionPlan

/// What the service does, each case with the documentation it follows: the plan must show
/// what Image Builder would do, not what is easiest to show.
@Suite("Plans follow the service")
struct FidelityTests {
    static let context = PlanContext(sourceRegion: "us-east-1", ownerAccount: "123456789012", buildDate: "2026-11-24T09-00-00Z", buildVersion: 3)

    static func plan(_ json: String, _ context: PlanContext = context) throws -> Plan {
        let outcome = DistributionPlanner.plan(document: json, context: context)
        #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        return try #require(outcome.plan)
    }

    /// CloudFormation reference, AWS::ImageBuilder::DistributionConfiguration
    /// LaunchTemplateConfiguration.SetDefaultVersion: "If you don't set a value, Image Builder
    /// treats it as true"; Terraform's `default` defaults to true.
    @Test func setDefaultVersionAbsentMeansTrue() throws {
        let plan = try Self.plan(
            request(
                #""launchTemplateConfigurations": [{"launchTemplateId": "lt-0123456789abcdef0"}, {"launchTemplateId": "lt-0123456789abcdef1", "setDefaultVersion": false}]"#
            ))
        #expect(
            plan.tasks.map(\.id) == [
                "create-launch-template-version:us-east-1:lt-0123456789abcdef0",
                "set-default-launch-template-version:us-east-1:lt-0123456789abcdef0",
                "create-launch-template-version:us-east-1:lt-0123456789abcdef1",
            ])
        #expect(plan.assumptions.contains { $0.hasPrefix("setDefaultVersion is not given for lt-0123456789abcdef0 in us-east-1: planned as true") })
        #expect(!plan.assumptions.contains { $0.contains("lt-0123456789abcdef1") })
    }

    /// distribution.md ("What the service does"): the source region's AMI is the build output;
    /// its entry's name, description, amiTags, launch permissions and licenses apply to it, and
    /// kmsKeyId there affects only target-account copies (Image Builder user guide, "Create
    /// and update AMI distribution configurations": the key "doesn't apply for the original AMI").
    @Test func buildRegionSettingsApplyToTheBuildAMI() throws {
        let plan = try Self.plan(
            request(
                #"""
                "amiDistributionConfiguration": {"name": "web {{ imagebuilder:buildDate }}", "description": "Web base", "amiTags": {"Team": "web"},
                  "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                  "launchPermission": {"userIds": ["444444444444"]}},
                "licenseConfigurationArns": ["arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-0123456789abcdef0123456789abcdef"]
                """#))
        #expect(plan.buildImage == PlannedBuildImage(region: "us-east-1", name: .string("web 2026-11-24T09-00-00Z"), description: "Web base"))
        #expect(plan.tasks.map(\.kind) == [.tagBuildImage, .modifyImageAttribute, .associateLicenses])
        #expect(plan.tasks[0].parameter("Tags") == .list([.object([.init("Key", .string("Team")), .init("Value", .string("web"))])]))
        #expect(plan.tasks.allSatisfy { !$0.parameters.contains { $0.key == "KmsKeyId" } })
        #expect(plan.assumptions.contains { $0.contains("in the source region us-east-1 encrypts only the copies made there for target accounts") })
        #expect(TextRenderer.render(plan).contains(#"build AMI: "web 2026-11-24T09-00-00Z", description "Web base""#))
    }

    /// distribution.md: without a name the service names the AMI after the recipe and the build
    /// date. CopyImage requires a Name (EC2 API reference), so the plan never omits it.
    @Test func amiWithoutANameGetsTheRecipeNameAndDate() throws {
        let entry = #""amiDistributionConfiguration": {"description": "no name"}"#
        let json = #"{"name": "unnamed", "distributions": [{"region": "us-east-1", \#(entry)}, {"region": "eu-west-1", \#(entry)}]}"#
        var named = Self.context
        named.recipeName = "web-recipe"
        let plan = try Self.plan(json, named)
        let copy = try #require(plan.tasks.first { $0.kind == .copyImage })
        #expect(copy.parameter("Name") == .string("web-recipe 2026-11-24T09-00-00Z"))
        #expect(plan.buildImage?.name == .string("web-recipe 2026-11-24T09-00-00Z"))

        let unknown = try Self.plan(json)
        let placeholder = try #require(unknown.tasks.first { $0.kind == .copyImage })
        #expect(placeholder.parameter("Name") == .joined([.reference(.recipeName), .string(" 2026-11-24T09-00-00Z")]))
        #expect(unknown.assumptions.contains { $0.contains("the recipe name is unknown (give --recipe-name or a get-image response)") })
        let script = ScriptRenderer.render(unknown)
        #expect(script.contains(#"--name "${RECIPE_NAME} 2026-11-24T09-00-00Z""#))
        #expect(script.contains(#"RECIPE_NAME="${RECIPE_NAME:?set RECIPE_NAME to the image recipe name}""#))
        #expect(JSONRenderer.render(unknown).contains(#""Name": "{{recipe-name}} 2026-11-24T09-00-00Z""#))
    }

    /// Image Builder user guide (fast launch): `enabled: false` turns nothing on, on any
    /// platform; EnableFastLaunch needs LaunchTemplate.Version (EC2 API reference), which the
    /// service does not document, so the plan states the version it assumes.
    @Test func fastLaunchDisabledIsANoOpAndVersionsAreAssumed() throws {
        let disabled = try Self.plan(
            request(#""amiDistributionConfiguration": {"name": "l {{ imagebuilder:buildDate }}"}, "fastLaunchConfigurations": [{"enabled": false}]"#))
        #expect(!disabled.tasks.contains { $0.kind == .enableFastLaunch })
        var windows = Self.context
        windows.platform = .windows
        let plan = try Self.plan(
            request(#""fastLaunchConfigurations": [{"enabled": true, "maxParallelLaunches": 6, "launchTemplate": {"launchTemplateName": "fast-lt"}}]"#), windows
        )
        let fast = try #require(plan.tasks.first { $0.kind == .enableFastLaunch })
        #expect(fast.parameter("LaunchTemplate") == .object([.init("LaunchTemplateName", .string("fast-lt")), .init("Version", .string("$Default"))]))
        #expect(plan.assumptions.contains { $0.contains("without a version") && $0.contains("planned as $Default") })
        #expect(
            findings(request(#""fastLaunchConfigurations": [{"enabled": true, "maxParallelLaunches": 5}]"#), windows)
                .contains("error distributions[0].fastLaunchConfigurations[0].maxParallelLaunches: 5 is below 6, the least EC2 EnableFastLaunch accepts"))
    }

    /// Fast launch for another account's copy runs in that account, through the role.
    @Test func fastLaunchInAnotherAccountRunsThere() throws {
        var windows = Self.context
        windows.platform = .windows
        let json = request(
            #""amiDistributionConfiguration": {"name": "w {{ imagebuilder:buildDate }}", "targetAccountIds": ["222222222222"], "kmsKeyId": "arn:aws:kms:us-west-2:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"}, "fastLaunchConfigurations": [{"enabled": true, "accountId": "222222222222"}]"#,
            region: "us-west-2")
        let plan = try Self.plan(json, windows)
        let fast = try #require(plan.tasks.first { $0.kind == .enableFastLaunch })
        #expect(fast.account == "222222222222")
        #expect(fast.assumeRole == "arn:aws:iam::222222222222:role/EC2ImageBuilderDistributionCrossAccountRole")
        #expect(fast.parameter("ImageId") == .reference(.image(region: "us-west-2", account: "222222222222")))
        #expect(fast.dependsOn == ["copy-image:us-west-2:222222222222"])
    }

    /// The owner is in every response's ARN; the AWS CLI prints `"tags": {}`, which the
    /// request's 1-50 rule does not apply to; an update (UpdateDistributionConfigurationRequest)
    /// has neither name nor tags (botocore's imagebuilder model, 2019-12-02).
    @Test func ownerComesFromTheResponseARN() throws {
        let response = #"""
            {"distributionConfiguration": {"arn": "arn:aws:imagebuilder:us-east-1:210987654321:distribution-configuration/web", "name": "web",
              "tags": {}, "distributions": [{"region": "us-east-1", "amiDistributionConfiguration": {"name": "w {{ imagebuilder:buildDate }}"}}]}}
            """#
        let plan = try Self.plan(response, PlanContext(sourceRegion: "us-east-1"))
        #expect(plan.context.ownerAccount == "210987654321")
        #expect(
            findings(response, PlanContext(sourceRegion: "us-east-1", ownerAccount: "123456789012"))
                == ["error distributionConfiguration.arn: says 210987654321, but --account says 123456789012; leave the flag out or plan the right document"])
        let update =
            #"{"distributionConfigurationArn": "arn:aws:imagebuilder:us-east-1:123456789012:distribution-configuration/web", "name": "web", "tags": {"a": "b"}, "distributions": [{"region": "us-east-1", "amiDistributionConfiguration": {}}]}"#
        #expect(
            findings(update) == [
                "error name: the update form (distributionConfigurationArn) takes no 'name': a configuration's name and tags cannot be changed by an update",
                "error tags: the update form (distributionConfigurationArn) takes no 'tags': a configuration's name and tags cannot be changed by an update",
            ])
        #expect(
            findings(#"{"name": "web", "tags": {}, "distributions": [{"region": "us-east-1", "amiDistributionConfiguration": {}}]}"#)
                == ["error tags: has 0 entries; at least 1 required"])
    }

    /// get-image carries the build: region, account and build version from its ARN, the
    /// recipe name, the platform; a conflicting --platform is an error.
    @Test func getImageGivesTheBuildContext() throws {
        let document = #"""
            {"image": {"arn": "arn:aws:imagebuilder:eu-west-1:210987654321:image/web-recipe/2.1.0/7", "name": "web-recipe",
              "platform": "Linux", "dateCreated": "2026-11-20T08:15:00.000Z",
              "distributionConfiguration": {"name": "web", "distributions": [
                {"region": "eu-west-1", "amiDistributionConfiguration": {"name": "web-{{ imagebuilder:buildVersion }}-{{ imagebuilder:buildDate }}"}},
                {"region": "eu-central-1", "amiDistributionConfiguration": {}}]}}}
            """#
        let plan = try Self.plan(document, PlanContext())
        #expect(plan.sourceRegion == "eu-west-1" && plan.context.ownerAccount == "210987654321")
        #expect(plan.buildImage?.name == .string("web-7-2026-11-20T08-15-00.000Z"))
        #expect(plan.tasks.first?.parameter("Name") == .string("web-recipe 2026-11-20T08-15-00.000Z"))
        #expect(
            findings(document, PlanContext(platform: .windows))
                == ["error image.platform: says linux, but --platform says windows; leave the flag out or plan the right document"])
    }

    /// AWS partitions: ARNs and endpoints of China and GovCloud; AMIs never cross partitions.
    @Test func partitionsShapeARNsAndEndpoints() throws {
        let json = #"""
            {"name": "china", "distributions": [
              {"region": "cn-north-1", "amiDistributionConfiguration": {"name": "c {{ imagebuilder:buildDate }}", "targetAccountIds": ["222222222222"],
                 "kmsKeyId": "arn:aws-cn:kms:cn-north-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"},
               "licenseConfigurationArns": ["arn:aws-cn:license-manager:cn-north-1:123456789012:license-configuration:lic-0123456789abcdef0123456789abcdef"]},
              {"region": "cn-northwest-1", "containerDistributionConfiguration": {"targetRepository": {"service": "ECR", "repositoryName": "app"}}}]}
            """#
        let plan = try Self.plan(json, PlanContext(sourceRegion: "cn-north-1", ownerAccount: "123456789012"))
        #expect(plan.partition.name == "aws-cn")
        #expect(plan.tasks.first { $0.kind == .copyImage }?.assumeRole == "arn:aws-cn:iam::222222222222:role/EC2ImageBuilderDistributionCrossAccountRole")
        #expect(
            plan.tasks.first { $0.kind == .associateLicenses }?.parameter("ResourceArn")
                == .joined([.string("arn:aws-cn:ec2:cn-north-1::image/"), .reference(.buildImage)]))
        let script = ScriptRenderer.render(plan)
        #expect(script.contains(#"role="arn:aws-cn:iam::${account}:role/EC2ImageBuilderDistributionCrossAccountRole""#))
        #expect(script.contains(#"registry="${OWNER_ACCOUNT}.dkr.ecr.cn-northwest-1.amazonaws.com.cn""#))
        let mixed = json.replacing("\"cn-northwest-1\"", with: "\"eu-west-1\"")
        #expect(
            findings(mixed, PlanContext(sourceRegion: "cn-north-1", ownerAccount: "123456789012"))
                == [
                    "error distributions[1].region: eu-west-1 is in partition aws, but the source region cn-north-1 is in aws-cn; AMIs cannot be copied between partitions"
                ])
    }

    /// Errors EC2 or the service would raise at distribution time.
    @Test func distributionTimeErrorsAreErrors() {
        let encryptedPublic = request(
            #""amiDistributionConfiguration": {"name": "p {{ imagebuilder:buildDate }}", "kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d", "launchPermission": {"userGroups": ["all"]}}, "s3ExportConfiguration": {"roleName": "vmimport", "diskImageFormat": "VMDK", "s3Bucket": "exports"}"#,
            region: "eu-west-1")
        #expect(
            findings(encryptedPublic, Self.context) == [
                // EC2 user guide, "Make your AMI publicly available": not with encrypted volumes.
                #"error distributions[0].amiDistributionConfiguration.launchPermission.userGroups[0]: "all" would make the AMI public, but its copy in eu-west-1 is encrypted with kmsKeyId; EC2 refuses public launch permission on AMIs with encrypted snapshots"#,
                // VM Import/Export user guide, "Exporting an instance": no encrypted EBS snapshots.
                "error distributions[0].s3ExportConfiguration: the AMI copy in eu-west-1 is encrypted with amiDistributionConfiguration.kmsKeyId, and VM Export refuses images with encrypted snapshots",
                "warning distributions: the source region us-east-1 is not listed: the build AMI stays there with none of these settings",
            ])
        let otherRegion = request(
            #""amiDistributionConfiguration": {"name": "k {{ imagebuilder:buildDate }}", "kmsKeyId": "arn:aws:kms:us-west-2:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"}, "licenseConfigurationArns": ["arn:aws:license-manager:us-west-2:123456789012:license-configuration:lic-0123456789abcdef0123456789abcdef"]"#
        )
        #expect(
            findings(otherRegion, Self.context) == [
                "error distributions[0].amiDistributionConfiguration.kmsKeyId: KMS key is in us-west-2, but this entry distributes to us-east-1; a KMS key is used only in its own region",
                "error distributions[0].licenseConfigurationArns[0]: license configuration is in us-west-2, but this entry distributes to us-east-1; a license configuration is used only in its own region",
            ])
        // EC2 CopyImage Name: letters, digits, ( ) [ ] space . / - ' @ _ only.
        #expect(
            findings(request(#""amiDistributionConfiguration": {"name": "app:{{ imagebuilder:buildDate }}"}"#), Self.context)
                == [
                    #"error distributions[0].amiDistributionConfiguration.name: expands to "app:2026-11-24T09-00-00Z": ':' is not allowed; EC2 AMI names take letters, digits and ( ) [ ] space . / - ' @ _"#
                ])
        #expect(
            findings(request(#""amiDistributionConfiguration": {"name": "app {{ imagebuilder:buildDate }} {{ imagebuilder:foo }}"}"#), Self.context)
                == [
                    "error distributions[0].amiDistributionConfiguration.name: {{ imagebuilder:foo }} is not an Image Builder variable; AMI names know {{ imagebuilder:buildDate }} and {{ imagebuilder:buildVersion }}"
                ])
        let twice = request(
            #""launchTemplateConfigurations": [{"launchTemplateId": "lt-0123456789abcdef0"}, {"launchTemplateId": "lt-0123456789abcdef0", "setDefaultVersion": false}], "ssmParameterConfigurations": [{"parameterName": "/a"}, {"parameterName": "/a"}]"#
        )
        #expect(
            findings(twice, Self.context) == [
                "error distributions[0].launchTemplateConfigurations[1]: launch template lt-0123456789abcdef0 in account 123456789012 is already at launchTemplateConfigurations[0]; each would make a new version and only the last would launch the AMI",
                "error distributions[0].ssmParameterConfigurations[1]: parameter /a in account 123456789012 is already at ssmParameterConfigurations[0]",
            ])
    }

    /// The owner in targetAccountIds gets one AMI, not a copy through its own role.
    @Test func ownerInTargetAccountsIsPlannedOnce() throws {
        let json = request(
            #""amiDistributionConfiguration": {"name": "o {{ imagebuilder:buildDate }}", "targetAccountIds": ["123456789012", "222222222222"], "kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"}"#,
            region: "eu-west-1")
        let outcome = DistributionPlanner.plan(document: json, context: Self.context)
        #expect(
            outcome.warnings.map(\.description).contains(
                "distributions[0].amiDistributionConfiguration.targetAccountIds[0]: 123456789012 is the owner account, which gets the region's AMI anyway; planned as one copy"
            ))
        let plan = try #require(outcome.plan)
        #expect(plan.tasks.map(\.id) == ["share-build-image:222222222222", "copy-image:eu-west-1", "copy-image:eu-west-1:222222222222"])
    }
}

extension FidelityTests {
    /// The region pattern of the issue, `^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$`, checked by hand.
    @Test(arguments: [
        ("us-east-1", true), ("us-gov-west-1", true), ("us-iso-east-1", true), ("us-isob-east-1", true),
        ("cn-north-1", true), ("eu-isoe-west-1", true), ("ap-southeast-10", true), ("us-east", false),
        ("US-east-1", false), ("use-east-1", false), ("us-gov-west-1a", false), ("us-isoxy-east-1", false),
        ("us-east-1;", false), ("us--1", false), ("", false), ("us-east-1\n", false),
    ])
    func regionNames(name: String, valid: Bool) {
        #expect(Partition.isRegionName(name) == valid)
    }

    /// Tag values are not names: a variable in one is applied as written, and said so.
    @Test func variablesInTagValuesAreStated() throws {
        let plan = try Self.plan(
            request(
                #""amiDistributionConfiguration": {"name": "t {{ imagebuilder:buildDate }}", "amiTags": {"Release": "{{ imagebuilder:buildVersion }}"}}"#,
                region: "eu-west-1"))
        #expect(plan.tasks.first?.parameter("TagSpecifications")?.displayText.contains(#""Value":"{{ imagebuilder:buildVersion }}""#) == true)
        #expect(
            plan.assumptions.contains(
                #"amiTags Release in eu-west-1 is applied as written, "{{ imagebuilder:buildVersion }}": Image Builder documents its {{ }} variables for AMI names, not for tags"#
            ))
    }
}

/// Found by review: each was accepted before.
@Suite("Context and patterns, whoever gives them")
struct ContextValidationTests {
    /// Without --account the owner is unknown; a target account must never be taken for it.
    @Test func anUnknownOwnerIsNoTargetAccount() throws {
        let json = request(
            #""amiDistributionConfiguration": {"name": "o {{ imagebuilder:buildDate }}", "targetAccountIds": ["111111111111", "222222222222"], "kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"}"#,
            region: "eu-west-1")
        let plan = try #require(DistributionPlanner.plan(document: json, context: PlanContext(sourceRegion: "us-east-1")).plan)
        #expect(plan.tasks.filter { $0.kind == .copyImage }.map(\.account) == ["<owner>", "111111111111", "222222222222"])
        #expect(
            plan.tasks.first { $0.id == "copy-image:eu-west-1:111111111111" }?.assumeRole
                == "arn:aws:iam::111111111111:role/EC2ImageBuilderDistributionCrossAccountRole")
    }

    /// The library checks the context as the command line does: a caller of
    /// `DistributionPlanner.plan` cannot get an unchecked value into a script.
    @Test(arguments: [
        (PlanContext(sourceRegion: "us-east-1$(touch X)"), "--source-region: \"us-east-1$(touch X)\" is not a region name"),
        (PlanContext(sourceRegion: "us-east-1", ownerAccount: "١٢٣٤٥٦"), "--account: the owner account \"١٢٣٤٥٦\" is not a 12-digit account id"),
        (PlanContext(sourceRegion: "us-east-1", recipeName: "web'$(id)"), "--recipe-name: \"web'$(id)\" is not an Image Builder recipe name"),
        (PlanContext(sourceRegion: "us-east-1", buildDate: "2026-11-24T09:00:00Z"), "--build-date: \"2026-11-24T09:00:00Z\" is not a build date"),
    ])
    func hostileContextIsRefused(context: PlanContext, message: String) {
        let outcome = DistributionPlanner.plan(
            document: request(#""amiDistributionConfiguration": {"name": "a {{ imagebuilder:buildDate }}"}"#), context: context)
        #expect(outcome.plan == nil)
        #expect(outcome.errors.contains { $0.message.hasPrefix(message) }, "\(outcome.errors)")
    }

    /// get-image's name and date become the default AMI name: both are checked, and the name
    /// they make must pass EC2's rule.
    @Test func getImageNameAndDateAreChecked() {
        let document = #"""
            {"image": {"arn": "arn:aws:imagebuilder:us-east-1:123456789012:image/web/1.0.0/1", "name": "bad,name'$(touch X)'", "dateCreated": "2026/11 $(id)",
              "distributionConfiguration": {"name": "web", "distributions": [{"region": "us-east-1", "amiDistributionConfiguration": {}}]}}}
            """#
        let problems = findings(document, PlanContext())
        #expect(
            problems.contains(
                #"error image.name: "bad,name'$(touch X)'" is not an Image Builder recipe name (letters, digits, '-', '_' and spaces, 3 to 128 characters)"#))
        #expect(
            problems.contains(
                #"error image.dateCreated: "2026/11 $(id)" is not a build date AMI names can hold (letters, digits, '-', '_' and '.', at most 64)"#))
        let tooLong = request(#""amiDistributionConfiguration": {}"#)
        var context = PlanContext(sourceRegion: "us-east-1", buildDate: "2026-11-24T09-00-00Z")
        context.recipeName = String(repeating: "r", count: 120)
        #expect(
            findings(tooLong, context).contains {
                $0.hasPrefix("error distributions[0].amiDistributionConfiguration: no name is given, so the AMI would be named")
                    && $0.hasSuffix("141 characters; EC2 allows 3 to 128")
            })
    }

    /// The service's patterns mean ASCII classes: `\d` is not every digit, `\w` not every letter.
    @Test func patternsAreASCII() {
        #expect(
            findings(request(#""amiDistributionConfiguration": {"name": "a {{ imagebuilder:buildDate }}"}"#, region: "eu-west-١")).contains {
                $0.hasPrefix(#"error distributions[0].region: "eu-west-١" does not match"#)
            })
        #expect(
            findings(request(#""s3ExportConfiguration": {"roleName": "vmimpôrt", "diskImageFormat": "RAW", "s3Bucket": "bucket"}"#)).contains {
                $0.hasPrefix(#"error distributions[0].s3ExportConfiguration.roleName: "vmimpôrt" does not match"#)
            })
    }
}
