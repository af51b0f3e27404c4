import Foundation
import TestSupport
import Testing

@testable import DistributionPlan

/// The `script` rendering run for real: the AWS CLI against moto_server (EC2, SSM, STS and ECR
/// emulated on loopback), then moto's state compared with what the plan's tasks say. Nothing
/// here names a fixture's AMIs or calls: every expectation is read from the `Plan`.
/// Skipped only on a developer machine without moto; in CI (`CI` set) a missing moto fails.
@Suite(
    "Plans as scripts against moto",
    .enabled(if: MotoServer.isInstalled || ProcessInfo.processInfo.environment["CI"] != nil, "needs moto_server and aws (bash tools/setup installs them)"))
struct MotoScriptTests {
    /// Calls moto 5.2.1 does not implement, which the stand-in `aws` answers as the service would
    /// (see Moto/aws_calls.py), after checking the arguments against botocore's model of the call
    /// as the AWS CLI does. Each is logged and checked below; no other call is touched.
    /// - `ec2 export-image`: moto has no ExportImage; the answer is a new export task id
    ///   (the same one again for a repeated `--client-token`).
    /// - `ec2 enable-fast-launch`: moto has no EnableFastLaunch.
    /// - `license-manager update-license-specifications-for-resource` and
    ///   `list-license-specifications-for-resource`: moto has no License Manager; the stand-in
    ///   keeps the associations, so the script's look-up before associating sees its first run.
    /// - `ec2 copy-image` run with another account's keys: moto looks the source AMI up in the
    ///   caller's own account, so a copy of an AMI the owner shared fails there. Emulated honestly:
    ///   the owner must have given the account launch permission on the AMI and create-volume
    ///   permission on its snapshots (as EC2 requires), then an AMI of the planned name,
    ///   description and tags is registered in that account and region, so the checks of the
    ///   launch templates and SSM parameters in that account still run.
    /// `docker` is a stand-in too (container distribution): it logs its calls.
    static let notImplementedByMoto = [
        "ec2 export-image", "ec2 enable-fast-launch", "license-manager update-license-specifications-for-resource",
        "license-manager list-license-specifications-for-resource",
    ]

    /// Logs every call (access key, then the arguments, separated by U+001F) to IMGSHIP_CALL_LOG;
    /// refuses `sts assume-role` into IMGSHIP_REFUSE_ACCOUNT as IAM would; answers the calls
    /// above; passes everything else to the real `aws`.
    static let standInAWS = """
        #!/bin/bash
        # Stand-in aws for the moto script tests (written by MotoScriptTests).
        { printf '%s' "${AWS_ACCESS_KEY_ID:-}"; printf '\\x1f%s' "$@"; printf '\\n'; } >> "$IMGSHIP_CALL_LOG"
        if [[ "${1:-} ${2:-}" == "sts assume-role" && -n "${IMGSHIP_REFUSE_ACCOUNT:-}" && "$*" == *":${IMGSHIP_REFUSE_ACCOUNT}:role/"* ]]; then
          echo >&2
          echo "An error occurred (AccessDenied) when calling the AssumeRole operation: User: arn:aws:iam::\(MotoWorld.ownerAccount):user/moto is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${IMGSHIP_REFUSE_ACCOUNT}:role/EC2ImageBuilderDistributionCrossAccountRole" >&2
          exit 255
        fi
        case "${1:-} ${2:-}" in
          \(notImplementedByMoto.map { "\"\($0)\"" }.joined(separator: "|")))
            exec python3 "$IMGSHIP_AWS_CALLS" emulate "$@" ;;
          "ec2 copy-image")
            if [[ -n "${AWS_ACCESS_KEY_ID:-}" && "$AWS_ACCESS_KEY_ID" != "$IMGSHIP_OWNER_KEY" ]]; then
              exec python3 "$IMGSHIP_AWS_CALLS" emulate "$@"
            fi ;;
        esac
        exec "$IMGSHIP_REAL_AWS" "$@"
        """

    /// Configurations whose scripts are byte for byte the same (a CloudFormation template and the
    /// API request it holds, a get-image response and its configuration) run once: the same
    /// script against the same moto proves nothing new, and each run costs seconds of AWS CLI.
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var sameScript: [String]
        var testDescription: String {
            sameScript.isEmpty ? name : "\(name) (same script: \(sameScript.joined(separator: ", ")))"
        }
    }

    static let cases = distinctScripts(PlanTests.validConfigurations)

    /// The documentation corpus's valid configurations (testdata/distribution/corpus/valid),
    /// each planned with the context its `.expect` gives.
    static let corpusCases = distinctScripts(FixtureCorpusTests.valid.map { "corpus/" + $0 })

    /// One case per distinct script; the configurations that render the same script are named.
    static func distinctScripts(_ names: [String]) -> [Case] {
        var cases: [Case] = []
        var caseOfScript: [String: Int] = [:]
        for name in names {
            // A configuration that does not plan still gets its case, which then fails.
            let script = (try? ScriptRenderer.render(PlanTests.plan(name))) ?? name
            if let index = caseOfScript[script] {
                cases[index].sameScript.append(name)
            } else {
                caseOfScript[script] = cases.count
                cases.append(Case(name: name, sameScript: []))
            }
        }
        return cases
    }

    /// A run's world: moto seeded with the build AMI and the configuration's launch templates,
    /// and the plan made with moto's template ids in place of the configuration's.
    struct Seeded {
        var world: MotoWorld
        var plan: Plan
        var script: String
        var buildImage: String
    }

    static func seed(_ name: String) throws -> Seeded {
        let world = try MotoWorld(standInAWS: standInAWS)
        let original = try PlanTests.plan(name)
        let owner = MotoWorld.ownerAccount
        var requests = [
            AWSRequest(
                account: owner, region: original.sourceRegion, service: "ec2", operation: "RegisterImage",
                params: [
                    "Name": .string("imgship-build-\(UUID().uuidString.prefix(8))"), "RootDeviceName": .string("/dev/xvda"),
                    "BlockDeviceMappings": .list([.object(["DeviceName": .string("/dev/xvda"), "Ebs": .object(["VolumeSize": .int(8)])])]),
                ])
        ]
        // The launch templates the plan names, where they live; moto gives them new ids.
        var templates: [(id: String, region: String, account: String)] = []
        for task in original.tasks {
            var id = task.string("LaunchTemplateId")
            if task.kind.rawValue == "enable-fast-launch" { id = task.value("LaunchTemplate")?.member("LaunchTemplateId")?.string }
            // A response's owner stands for moto's caller (see below).
            let account = task.account == original.context.ownerAccount ? owner : task.account
            guard let id, !templates.contains(where: { $0.id == id && $0.region == task.region && $0.account == account }) else { continue }
            templates.append((id, task.region, account))
            let data: [String: JSONValue] = ["InstanceType": .string("t3.micro")]
            requests.append(
                AWSRequest(
                    account: account, region: task.region, service: "ec2", operation: "CreateLaunchTemplate",
                    params: [
                        "LaunchTemplateName": .string("imgship-\(id)"), "LaunchTemplateData": .object(data),
                        "TagSpecifications": .list([
                            .object([
                                "ResourceType": .string("launch-template"),
                                "Tags": .list([.object(["Key": .string("CreatedBy"), "Value": .string("EC2 Image Builder")])]),
                            ])
                        ]),
                    ]))
        }
        let answers = try world.batch(requests)
        let build = try world.decode(answers[0], as: RegisteredImage.self, request: requests[0]).ImageId
        var replacing: [String: String] = [:]
        for (index, template) in templates.enumerated() {
            let created = try world.decode(answers[index + 1], as: CreatedTemplate.self, request: requests[index + 1])
            replacing[template.id] = created.LaunchTemplate.LaunchTemplateId
        }
        // The script checks it runs as the plan's owner, and moto's caller is 123456789012: a
        // response naming another owner in its ARN is planned as if that were the owner.
        if let stated = original.context.ownerAccount, stated != owner { replacing[stated] = owner }
        let plan = try PlanTests.plan(name, replacing: replacing)
        return Seeded(world: world, plan: plan, script: ScriptRenderer.render(plan), buildImage: build)
    }

    /// Runs the script as CI would run it by hand: `bash plan.sh BUILD_AMI_ID`, with
    /// CONTAINER_IMAGE set for container distribution.
    static func run(_ seeded: Seeded, extra: [String: String] = [:]) throws -> ProcessResult {
        try seeded.world.run(
            script: seeded.script, arguments: [seeded.buildImage],
            extra: ["CONTAINER_IMAGE": "imgship-test/app:build", "RECIPE_NAME": "imgship-recipe"].merging(extra) { $1 })
    }

    /// The AWS CLI refused no call: no parameter validation error, no usage error.
    static func expectNoRejectedCall(_ result: ProcessResult, _ context: String) {
        for marker in ["ParamValidation", "Parameter validation failed", "usage:", "Unknown options", "Invalid choice"] {
            #expect(!result.standardError.contains(marker), "\(context): the AWS CLI rejected a call: \(result.standardError)")
        }
    }

    /// Every valid configuration: the top-level ones and the documentation corpus's (once
    /// each; the reruns below use the top-level ones).
    @Test(arguments: cases + corpusCases)
    func scriptCarriesOutThePlan(_ testCase: Case) throws {
        let seeded = try Self.seed(testCase.name)
        let result = try Self.run(seeded)
        #expect(result.status == 0, "\(result.standardError)")
        Self.expectNoRejectedCall(result, testCase.name)
        let state = try MotoState.observe(seeded)
        try state.expectMatches(seeded)
    }

    /// A run that stops midway (the role of one target account refused), then a rerun once the
    /// role works: the rerun finishes the plan, and nothing the first run made is made twice.
    @Test(arguments: crossAccountCases.prefix(1))
    func rerunAfterAFailureFinishesThePlan(_ testCase: Case) throws {
        let seeded = try Self.seed(testCase.name)
        let refused = try #require(seeded.plan.tasks.last { $0.account != MotoWorld.ownerAccount }?.account)
        let first = try Self.run(seeded, extra: ["IMGSHIP_REFUSE_ACCOUNT": refused])
        #expect(first.status != 0)
        #expect(first.standardError.contains("not done: "))
        let second = try Self.run(seeded)
        #expect(second.status == 0, "\(second.standardError)")
        Self.expectNoRejectedCall(second, testCase.name + " (rerun)")
        // One AMI per copy task and one new version per template, as after a single run.
        try MotoState.observe(seeded).expectMatches(seeded)
    }

    /// A rerun after success changes nothing: copies are found by name, template versions
    /// that already launch the AMI and parameters that already hold it are left alone.
    @Test(arguments: cases)
    func secondRunChangesNothing(_ testCase: Case) throws {
        let seeded = try Self.seed(testCase.name)
        let first = try Self.run(seeded)
        #expect(first.status == 0, "\(first.standardError)")
        let before = try MotoState.observe(seeded)
        let exportsBefore = try seeded.world.emulatedCalls().filter { $0.operation == "ExportImage" }.compactMap { $0.response?["ExportImageTaskId"]?.string }
        let associationsBefore = try seeded.world.emulatedCalls().filter { $0.operation == "UpdateLicenseSpecificationsForResource" }.count
        let second = try Self.run(seeded)
        #expect(second.status == 0, "\(second.standardError)")
        Self.expectNoRejectedCall(second, testCase.name + " (second run)")
        let after = try MotoState.observe(seeded)
        try after.expectMatches(seeded)
        #expect(after.images == before.images, "the second run made other AMIs")
        #expect(after.templates == before.templates, "the second run made launch template versions")
        #expect(after.parameters == before.parameters, "the second run wrote SSM parameters again")
        let exportsAfter = try seeded.world.emulatedCalls().filter { $0.operation == "ExportImage" }.compactMap { $0.response?["ExportImageTaskId"]?.string }
        #expect(Set(exportsAfter) == Set(exportsBefore), "the second run started other exports")
        let associationsAfter = try seeded.world.emulatedCalls().filter { $0.operation == "UpdateLicenseSpecificationsForResource" }.count
        #expect(associationsAfter == associationsBefore, "the second run associated licenses again")
    }

    static let crossAccountCases = cases.filter { testCase in
        (try? PlanTests.plan(testCase.name))?.tasks.contains { $0.account != MotoWorld.ownerAccount } ?? false
    }

    /// IAM refuses the role in one target account: the script stops there, with an error, and
    /// makes no call after the refused AssumeRole.
    @Test(arguments: crossAccountCases)
    func refusedRoleStopsTheScript(_ testCase: Case) throws {
        let seeded = try Self.seed(testCase.name)
        let refused = try #require(seeded.plan.tasks.first { $0.account != MotoWorld.ownerAccount }?.account)
        let result = try Self.run(seeded, extra: ["IMGSHIP_REFUSE_ACCOUNT": refused])
        #expect(result.status != 0)
        #expect(!String(decoding: result.standardOutput, as: UTF8.self).contains("distribution done"))
        let calls = seeded.world.calls()
        let refusal = try #require(
            calls.firstIndex { $0.arguments.starts(with: ["sts", "assume-role"]) && $0.arguments.joined(separator: " ").contains(":\(refused):role/") })
        #expect(calls.count == refusal + 1, "calls after the refused AssumeRole: \(calls[(refusal + 1)...].map { $0.arguments.joined(separator: " ") })")
        #expect(result.standardError.contains("cannot assume arn:aws:iam::\(refused):role/EC2ImageBuilderDistributionCrossAccountRole"))
    }
}

// MARK: - What the script left in moto

/// moto's state for the plan's tasks, read back through the API.
struct MotoState {
    /// The AMI ids found for each copy task (task id to ids with the planned name).
    var images: [String: [String]] = [:]
    /// Launch template id and region to latest and default version numbers, and the latest's ImageId.
    var templates: [String: TemplateState] = [:]
    /// SSM parameter (account, region, name) to value and version.
    var parameters: [String: ParameterState] = [:]
    var launchPermissions: [String: [[String: String]]] = [:]
    var buildImage = ""

    struct TemplateState: Equatable {
        var latest: Int
        var defaultVersion: Int
        var latestImage: String?
    }

    struct ParameterState: Equatable {
        var value: String
        var version: Int
    }

    static func observe(_ seeded: MotoScriptTests.Seeded) throws -> MotoState {
        var state = MotoState()
        state.buildImage = seeded.buildImage
        let world = seeded.world
        let copies = seeded.plan.tasks.filter { $0.kind.rawValue == "copy-image" }
        let imageRequests = copies.map { task in
            AWSRequest(
                account: task.account, region: task.region, service: "ec2", operation: "DescribeImages",
                params: [
                    "Owners": .list([.string("self")]),
                    "Filters": .list([.object(["Name": .string("name"), "Values": .list([.string(state.resolve(task.value("Name"), plan: seeded.plan))])])]),
                ])
        }
        for (index, answer) in try world.batch(imageRequests).enumerated() {
            let images = try world.decode(answer, as: DescribedImages.self, request: imageRequests[index]).Images
            state.images[copies[index].id] = images.map(\.ImageId).sorted()
        }
        var requests: [AWSRequest] = []
        var readers: [(inout MotoState, Data, AWSRequest) throws -> Void] = []
        for task in seeded.plan.tasks {
            switch task.kind.rawValue {
            case "modify-image-attribute":
                let image = state.resolve(task.value("ImageId"), plan: seeded.plan)
                let key = task.id
                requests.append(
                    AWSRequest(
                        account: task.account, region: task.region, service: "ec2", operation: "DescribeImageAttribute",
                        params: ["ImageId": .string(image), "Attribute": .string("launchPermission")]))
                readers.append { state, data, request in
                    state.launchPermissions[key] = try world.decode(data, as: ImageLaunchPermissions.self, request: request).LaunchPermissions
                }
            case "create-launch-template-version":
                guard let id = task.string("LaunchTemplateId") else { continue }
                let key = "\(task.region) \(id)"
                requests.append(
                    AWSRequest(
                        account: task.account, region: task.region, service: "ec2", operation: "DescribeLaunchTemplates",
                        params: ["LaunchTemplateIds": .list([.string(id)])]))
                readers.append { state, data, request in
                    let template = try #require(try world.decode(data, as: DescribedTemplates.self, request: request).LaunchTemplates.first)
                    state.templates[key] = TemplateState(latest: template.LatestVersionNumber, defaultVersion: template.DefaultVersionNumber)
                }
                requests.append(
                    AWSRequest(
                        account: task.account, region: task.region, service: "ec2", operation: "DescribeLaunchTemplateVersions",
                        params: ["LaunchTemplateId": .string(id), "Versions": .list([.string("$Latest")])]))
                readers.append { state, data, request in
                    let version = try world.decode(data, as: DescribedTemplateVersions.self, request: request).LaunchTemplateVersions.first
                    state.templates[key]?.latestImage = version?.LaunchTemplateData.ImageId
                }
            case "put-ssm-parameter":
                guard let name = task.string("Name") else { continue }
                let key = "\(task.account) \(task.region) \(name)"
                requests.append(
                    AWSRequest(
                        account: task.account, region: task.region, service: "ssm", operation: "GetParameter",
                        params: ["Name": .string(name)]))
                readers.append { state, data, request in
                    let parameter = try world.decode(data, as: StoredParameter.self, request: request).Parameter
                    state.parameters[key] = ParameterState(value: parameter.Value, version: parameter.Version)
                }
            default:
                continue
            }
        }
        for (index, answer) in try world.batch(requests).enumerated() {
            try readers[index](&state, answer, requests[index])
        }
        return state
    }

    /// A plan value with its references (the build AMI, each copy's AMI) replaced by the ids
    /// found in moto.
    func resolve(_ value: PlanValue?, plan: Plan) -> String {
        switch value {
        case let .string(text)?: return text
        case .reference(.buildImage)?: return buildImage
        case .reference(.recipeName)?: return "imgship-recipe"  // RECIPE_NAME, as MotoScriptTests.run sets it
        case let .reference(.image(region, account))?:
            let owner = account ?? plan.context.owner
            let copy = plan.tasks.first { $0.kind == .copyImage && $0.region == region && $0.account == owner }
            return copy.flatMap { images[$0.id]?.first } ?? ""
        case let .joined(parts)?: return parts.map { resolve($0, plan: plan) }.joined()
        default: return ""
        }
    }

    func expectMatches(_ seeded: MotoScriptTests.Seeded) throws {
        let plan = seeded.plan
        let calls = seeded.world.calls()
        let emulated = try seeded.world.emulatedCalls()
        #expect(!emulated.contains { $0.error != nil }, "calls the stand-in refused: \(emulated.filter { $0.error != nil }.map(\.error))")
        for task in plan.tasks {
            let kind = task.kind.rawValue
            switch kind {
            case "copy-image":
                let name = resolve(task.value("Name"), plan: plan)
                #expect(!name.isEmpty, "\(task.id) has no Name to find its AMI by")
                #expect(images[task.id]?.count == 1, "\(task.id): AMIs named \"\(name)\" in \(task.account) \(task.region): \(images[task.id] ?? [])")
                // moto 5.2.1's CopyImage drops TagSpecifications (EC2 applies them), so the tags are
                // checked on the CopyImage call the script made.
                if let tags = task.value("TagSpecifications") {
                    let made = calls.filter {
                        $0.arguments.starts(with: ["ec2", "copy-image"]) && $0.arguments.option("--region") == task.region
                            && $0.arguments.option("--name") == name
                    }
                    #expect(!made.isEmpty, "\(task.id): no copy-image call")
                    for call in made {
                        #expect(call.arguments.option("--tag-specifications") == JSONRenderer.compact(tags), "\(task.id): \(call.arguments)")
                    }
                }
            case "modify-image-attribute":
                let wanted = task.value("LaunchPermission")?.member("Add")?.items ?? []
                let present = launchPermissions[task.id] ?? []
                for entry in wanted {
                    guard case let .object(members) = entry else { continue }
                    let expected = Dictionary(uniqueKeysWithValues: members.compactMap { member in member.value.string.map { (member.key, $0) } })
                    #expect(present.contains(expected), "\(task.id): \(expected) not among the launch permissions \(present)")
                }
            case "create-launch-template-version":
                let id = try #require(task.string("LaunchTemplateId"))
                let template = try #require(templates["\(task.region) \(id)"], "\(task.id): template not found")
                let image = resolve(task.value("LaunchTemplateData")?.member("ImageId"), plan: plan)
                #expect(template.latest == 2, "\(task.id): versions \(template.latest), one made by the script expected")
                #expect(template.latestImage == image, "\(task.id): the new version launches \(template.latestImage ?? "nothing"), not \(image)")
                let setsDefault = plan.tasks.contains {
                    $0.kind.rawValue == "set-default-launch-template-version" && $0.region == task.region
                        && $0.string("LaunchTemplateId") == id
                }
                #expect(template.defaultVersion == (setsDefault ? template.latest : 1), "\(task.id): default version \(template.defaultVersion)")
            case "put-ssm-parameter":
                let name = try #require(task.string("Name"))
                let value = resolve(task.value("Value"), plan: plan)
                #expect(
                    parameters["\(task.account) \(task.region) \(name)"]?.value == value,
                    "\(task.id): \(String(describing: parameters["\(task.account) \(task.region) \(name)"]))")
            case "export-image", "enable-fast-launch", "associate-licenses":
                let operation =
                    [
                        "export-image": "ExportImage", "enable-fast-launch": "EnableFastLaunch",
                        "associate-licenses": "UpdateLicenseSpecificationsForResource",
                    ][kind] ?? kind
                let key = kind == "associate-licenses" ? "ResourceArn" : "ImageId"
                let expected = resolve(task.value(key), plan: plan)
                let made = emulated.filter { $0.operation == operation && $0.region == task.region && $0.account == task.account }
                #expect(made.contains { $0.params[key]?.string == expected }, "\(task.id): no \(operation) with \(key) \(expected): \(made.map(\.params))")
            case "distribute-container":
                let repository = task.string("repositoryName") ?? ""
                var tags = task.value("tags")?.items.compactMap(\.string) ?? []
                if tags.isEmpty { tags = ["latest"] }
                let registry = "\(plan.context.owner).dkr.ecr.\(task.region).\(plan.partition.dnsSuffix)"
                for tag in tags {
                    #expect(seeded.world.dockerCalls().contains("docker push \(registry)/\(repository):\(tag)"), "\(task.id): no push of \(tag)")
                }
            default:
                // Kinds this harness does not know yet (share-build-image, ...) are checked by
                // their effects on the tasks that follow.
                continue
            }
        }
    }
}

// MARK: - Plan access, by key, tolerant of parameters moving

extension PlanTask {
    func value(_ key: String) -> PlanValue? { parameters.first { $0.key == key }?.value }
    func string(_ key: String) -> String? { value(key)?.string }
}

extension PlanValue {
    var string: String? { if case let .string(text) = self { text } else { nil } }
    var items: [PlanValue] { if case let .list(items) = self { items } else { [] } }
    func member(_ key: String) -> PlanValue? {
        if case let .object(members) = self { members.first { $0.key == key }?.value } else { nil }
    }
}

extension [String] {
    /// The word after `name`, as the AWS CLI reads `--name value`.
    func option(_ name: String) -> String? {
        guard let index = firstIndex(of: name), index + 1 < count else { return nil }
        return self[index + 1]
    }
}

// MARK: - API responses read by the tests (only the fields used)

// swiftlint:disable identifier_name
private struct RegisteredImage: Decodable { var ImageId: String }
private struct CreatedTemplate: Decodable {
    struct Template: Decodable { var LaunchTemplateId: String }
    var LaunchTemplate: Template
}
struct DescribedImages: Decodable {
    struct Image: Decodable { var ImageId: String }
    var Images: [Image]
}
struct ImageLaunchPermissions: Decodable { var LaunchPermissions: [[String: String]] }
struct DescribedTemplates: Decodable {
    struct Template: Decodable {
        var LaunchTemplateId: String
        var DefaultVersionNumber: Int
        var LatestVersionNumber: Int
    }
    var LaunchTemplates: [Template]
}
struct DescribedTemplateVersions: Decodable {
    struct Version: Decodable {
        struct Data: Decodable { var ImageId: String? }
        var VersionNumber: Int
        var LaunchTemplateData: Data
    }
    var LaunchTemplateVersions: [Version]
}
struct StoredParameter: Decodable {
    struct Parameter: Decodable {
        var Value: String
        var Version: Int
    }
    var Parameter: Parameter
}
