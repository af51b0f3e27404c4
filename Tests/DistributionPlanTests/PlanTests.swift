import ConfigDocument
import Foundation
import Testing

@testable import DistributionPlan

enum Repository {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let configurations = root.appendingPathComponent("testdata/distribution")
    static let goldens = root.appendingPathComponent("Tests/DistributionPlanTests/Fixtures")

    static func text(_ url: URL) throws -> String {
        try String(contentsOf: url, encoding: .utf8)
    }
}

/// The context every golden plan is made with.
let goldenContext = PlanContext(
    sourceRegion: "us-east-1", ownerAccount: "123456789012",
    buildDate: "2026-11-24T09-00-00Z", buildVersion: 3)

@Suite("Plans")
struct PlanTests {
    /// Files in testdata/distribution; `#Name` picks a resource of a CloudFormation template.
    static let validConfigurations = [
        "multi-region-cross-account-kms.json", "windows-fast-launch.json", "organization-sharing.json", "container.json",
        "s3-export-all-formats.json", "get-distribution-configuration-response.json", "get-image-response.json",
        "licenses-launch-templates.json", "cloudformation-template.json", "cloudformation-template.yaml",
        "cloudformation-two-configurations.yaml#FleetAmiDistribution", "cloudformation-two-configurations.yaml#FleetContainerDistribution",
    ]

    /// `replacing` rewrites the document's text first (old text to new), as the moto tests put the
    /// launch template ids moto made in place of the configuration's.
    /// Plans a file of testdata/distribution with the golden context, or, for `corpus/...`
    /// files, with the context (and resource) their `.expect` gives.
    static func plan(_ name: String, _ context: PlanContext? = nil, replacing: [String: String] = [:]) throws -> Plan {
        var resource: String?
        var context = context ?? goldenContext
        if name.hasPrefix("corpus/") {
            let expected = try FixtureCorpusTests.expectation(String(name.dropFirst("corpus/".count)))
            if context == goldenContext { context = FixtureCorpusTests.planContext(expected.context) }
            resource = expected.resource
        }
        if name.hasPrefix("windows-fast-launch") {
            // What the get-image form of the same configuration states about its image.
            context.platform = .windows
            context.recipeName = "windows-server-2022"
        }
        let parts = name.split(separator: "#").map(String.init)
        let file = parts[0].contains(".") ? parts[0] : parts[0] + ".json"
        var document = try Repository.text(Repository.configurations.appendingPathComponent(file))
        for (old, new) in replacing {
            document = document.replacing(old, with: new)
        }
        let outcome = DistributionPlanner.plan(document: document, context: context, resource: parts.count > 1 ? parts[1] : resource)
        #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        var plan = try #require(outcome.plan)
        if name.hasPrefix("windows-fast-launch") {
            // The get-image form states the recipe name; given here as --recipe-name gives it,
            // it draws the warning that it names nothing, which the stated form does not.
            plan.warnings.removeAll { $0.message.hasPrefix("--recipe-name names nothing") }
        }
        return plan
    }

    /// Other forms of one configuration share its golden files: the same plan, written once.
    static let sameConfigurationAs = [
        "cloudformation-template.json": "licenses-launch-templates.json",
        "cloudformation-template.yaml": "licenses-launch-templates.json",
        "get-distribution-configuration-response.json": "multi-region-cross-account-kms.json",
        "get-image-response.json": "windows-fast-launch.json",
    ]

    /// The golden files' name: `container.json` is `container`, `x.yaml#Resource` is `x-yaml-Resource`.
    static func goldenName(_ name: String) -> String {
        (sameConfigurationAs[name] ?? name).replacing(".json", with: "").replacing(".yaml", with: "-yaml").replacing("#", with: "-")
    }

    /// Compares with the golden file; UPDATE_GOLDENS=1 rewrites it instead.
    static func expectGolden(_ actual: String, _ file: String) throws {
        let url = Repository.goldens.appendingPathComponent(file)
        if ProcessInfo.processInfo.environment["UPDATE_GOLDENS"] == "1" {
            try actual.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try Repository.text(url)
        #expect(actual == expected, "\(file) differs from its golden; UPDATE_GOLDENS=1 swift test rewrites it after review")
    }

    @Test(arguments: validConfigurations)
    func goldenText(name: String) throws {
        try Self.expectGolden(TextRenderer.render(Self.plan(name)), Self.goldenName(name) + ".txt")
    }

    @Test(arguments: validConfigurations)
    func goldenJSON(name: String) throws {
        let json = JSONRenderer.render(try Self.plan(name))
        try Self.expectGolden(json, Self.goldenName(name) + ".json")
        // The rendering is real JSON with the documented top-level keys.
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(object?["schemaVersion"] as? Int == 1)
        #expect(
            Set(object?.keys.map { $0 } ?? []) == ["schemaVersion", "context", "totals", "buildImage", "tasks", "prerequisites", "assumptions", "warnings"])
    }

    @Test(arguments: validConfigurations)
    func goldenScript(name: String) throws {
        try Self.expectGolden(ScriptRenderer.render(Self.plan(name)), Self.goldenName(name) + ".sh")
    }

    /// A recipe name given for a configuration that names every AMI names nothing: the user
    /// is told, rather than left to think it shaped the plan. Unnamed AMIs take it silently.
    @Test func recipeNameThatNamesNothingWarns() throws {
        let named = try Repository.text(Repository.configurations.appendingPathComponent("multi-region-cross-account-kms.json"))
        var context = goldenContext
        context.recipeName = "web-app"
        let warning = "--recipe-name names nothing"
        let outcome = DistributionPlanner.plan(document: named, context: context)
        #expect(outcome.warnings.contains { $0.message.contains(warning) })
        #expect(try #require(outcome.plan).warnings.contains { $0.message.contains(warning) })
        #expect(!DistributionPlanner.plan(document: named, context: goldenContext).warnings.contains { $0.message.contains(warning) })

        let unnamed = #"{"name": "unnamed", "distributions": [{"region": "us-east-1", "amiDistributionConfiguration": {"description": "x"}}]}"#
        let planned = DistributionPlanner.plan(document: unnamed, context: context)
        #expect(!planned.warnings.contains { $0.message.contains(warning) })
        #expect(TextRenderer.render(try #require(planned.plan)).contains("web-app 2026-11-24T09-00-00Z"))
    }

    @Test func cloudFormationFormsPlanLikeTheRequest() throws {
        let request = try Self.plan("licenses-launch-templates.json")
        for template in ["cloudformation-template.json", "cloudformation-template.yaml"] {
            let plan = try Self.plan(template)
            #expect(plan.tasks == request.tasks, "\(template)")
            #expect(plan.prerequisites == request.prerequisites, "\(template)")
            #expect(JSONRenderer.render(plan) == JSONRenderer.render(request), "\(template)")
            #expect(ScriptRenderer.render(plan) == ScriptRenderer.render(request), "\(template)")
        }
    }

    @Test func responseFormsPlanLikeTheRequest() throws {
        let request = try Self.plan("multi-region-cross-account-kms.json")
        let response = try Self.plan("get-distribution-configuration-response.json")
        #expect(request.tasks == response.tasks)
        #expect(TextRenderer.render(request) == TextRenderer.render(response))
        #expect(JSONRenderer.render(request) == JSONRenderer.render(response))
    }

    @Test func getImageCarriesThePlatform() throws {
        let outcome = DistributionPlanner.plan(
            document: try Repository.text(Repository.configurations.appendingPathComponent("get-image-response.json")),
            context: goldenContext)
        #expect(outcome.form == .getImage)
        #expect(outcome.plan?.context.platform == .windows)
        #expect(outcome.plan?.tasks.filter { $0.kind == .enableFastLaunch }.count == 2)
        let windows = try Self.plan("windows-fast-launch.json")
        #expect(outcome.plan?.tasks == windows.tasks)
        #expect(outcome.plan.map(JSONRenderer.render) == JSONRenderer.render(windows))
    }

    @Test func tasksFollowTheWorkflowOrder() throws {
        let plan = try Self.plan("multi-region-cross-account-kms.json")
        let ids = plan.tasks.map(\.id)
        #expect(
            ids == [
                "tag-build-image:us-east-1",
                "share-build-image:222222222222",
                "share-build-image:333333333333",
                "modify-image-attribute:us-east-1",
                "put-ssm-parameter:us-east-1:123456789012:/images/web-app/latest",
                "copy-image:eu-west-1",
                "copy-image:eu-west-1:222222222222",
                "copy-image:eu-west-1:333333333333",
                "create-launch-template-version:eu-west-1:lt-0123456789abcdef0",
                "set-default-launch-template-version:eu-west-1:lt-0123456789abcdef0",
                "copy-image:ap-southeast-2",
                "export-image:ap-southeast-2",
            ])
        let byID = Dictionary(uniqueKeysWithValues: plan.tasks.map { ($0.id, $0) })
        #expect(byID["put-ssm-parameter:us-east-1:123456789012:/images/web-app/latest"]?.dependsOn == ["modify-image-attribute:us-east-1"])
        // A target account copies the build AMI shared with it, not the owner's copy.
        #expect(byID["copy-image:eu-west-1:333333333333"]?.dependsOn == ["share-build-image:333333333333"])
        let share = try #require(byID["share-build-image:333333333333"])
        #expect(share.region == "us-east-1" && share.account == "123456789012")
        #expect(share.parameter("ForCopiesIn") == .list([.string("eu-west-1")]))
        // The template lives in account 333333333333, so it gets that account's copy.
        let template = try #require(byID["create-launch-template-version:eu-west-1:lt-0123456789abcdef0"])
        #expect(template.account == "333333333333")
        #expect(template.assumeRole == "arn:aws:iam::333333333333:role/EC2ImageBuilderDistributionCrossAccountRole")
        #expect(template.dependsOn == ["copy-image:eu-west-1:333333333333"])
        #expect(template.parameter("LaunchTemplateData") == .object([.init("ImageId", .reference(.image(region: "eu-west-1", account: "333333333333")))]))
        #expect(byID["export-image:ap-southeast-2"]?.dependsOn == ["copy-image:ap-southeast-2"])
        // Every dependency names an earlier task.
        for (position, task) in plan.tasks.enumerated() {
            for dependency in task.dependsOn {
                #expect(ids[..<position].contains(dependency), "\(task.id) depends on \(dependency)")
            }
        }
        #expect(
            TextRenderer.headline(plan.totals)
                == "12 tasks: 4 AMI copies in 2 regions and 2 other accounts, 2 build AMI shares, 1 build AMI tagging, 1 launch permission change, 1 launch template version, 1 default version change, 1 SSM parameter, 1 S3 export"
        )
    }

    /// CopyImage's own parameters (EC2 API reference, CopyImage): no Region member (the
    /// endpoint is the region) and no RoleName (the role is how the call is made, a field of
    /// the task); a deterministic ClientToken.
    @Test func copiesCarryTheAPIParameters() throws {
        let plan = try Self.plan("multi-region-cross-account-kms.json")
        let copy = try #require(plan.tasks.first { $0.id == "copy-image:eu-west-1:222222222222" })
        #expect(copy.parameters.map(\.key) == ["SourceRegion", "SourceImageId", "Name", "Encrypted", "KmsKeyId", "ClientToken"])
        #expect(copy.parameter("Name") == .string("web-app 2026-11-24T09-00-00Z"))
        #expect(copy.assumeRole == "arn:aws:iam::222222222222:role/EC2ImageBuilderDistributionCrossAccountRole")
        let again = try Self.plan("multi-region-cross-account-kms.json")
        #expect(again.tasks.map { $0.parameter("ClientToken") } == plan.tasks.map { $0.parameter("ClientToken") })
        var other = goldenContext
        other.buildVersion = 4
        let next = try Self.plan("multi-region-cross-account-kms.json", other)
        let token = try #require(copy.parameter("ClientToken")?.displayText)
        #expect(token.count <= 64 && token.hasPrefix("imgship-"))
        #expect(next.tasks.first { $0.id == copy.id }?.parameter("ClientToken")?.displayText != token)
    }

    @Test func jsonEscapesWhatNeedsEscaping() throws {
        let json =
            #"{"name": "esc", "distributions": [{"region": "us-east-2", "amiDistributionConfiguration": {"name": "a {{ imagebuilder:buildDate }}", "description": "say \"hi\"\n\\ \t é"}}]}"#
        let plan = try #require(DistributionPlanner.plan(document: json, context: goldenContext).plan)
        let rendered = JSONRenderer.render(plan)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(rendered.utf8)) as? [String: Any])
        let task = try #require((object["tasks"] as? [[String: Any]])?.first)
        #expect((task["parameters"] as? [String: Any])?["Description"] as? String == "say \"hi\"\n\\ \t é")
    }

    @Test(arguments: ["duplicate-region", "missing-build-date", "fast-launch-template-both", "misspelled-keys", "empty-region", "malformed"])
    func brokenConfigurationsAreRefused(name: String) throws {
        let text = try Repository.text(Repository.configurations.appendingPathComponent("broken/\(name).json"))
        let outcome = DistributionPlanner.plan(document: text, context: PlanContext(sourceRegion: "us-east-1", platform: .windows))
        #expect(outcome.plan == nil)
        #expect(!outcome.errors.isEmpty)
        let first = try #require(outcome.errors.first)
        switch name {
        case "duplicate-region":
            #expect(first.description == "distributions[1].region: region us-east-1 is already listed at distributions[0]; give each region once")
        case "missing-build-date": #expect(first.path == "distributions[0].amiDistributionConfiguration.name")
        case "fast-launch-template-both":
            #expect(first.description == "distributions[0].fastLaunchConfigurations[0].launchTemplate: give launchTemplateId or launchTemplateName, not both")
        case "misspelled-keys": #expect(outcome.errors.count == 3)
        case "empty-region": #expect(first.path == "distributions[0]")
        default: #expect(first.line == 3 && first.column == 27 && first.message == "malformed JSON: unexpected '}', expected a key in double quotes")
        }
    }
}
