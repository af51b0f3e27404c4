/// Renders a plan as a bash script of AWS CLI commands that would carry it out, for people who
/// want to review every call or run a distribution by hand. imgship never runs it.
///
/// AMI ids and launch template versions are captured in variables as the commands that make
/// them run; a task that uses an AMI copy waits until the copy is available, as the service
/// does between workflow steps.
public enum ScriptRenderer {
    public static func render(_ plan: Plan) -> String {
        var script = Script(plan: plan)
        script.emitHeader()
        for task in plan.tasks {
            script.emit(task)
        }
        script.emitFooter()
        return script.text
    }
}

/// A shell word made of literal text and variable references, quoted when rendered.
private struct Word {
    enum Segment {
        case literal(String)
        case variable(String)
    }

    var segments: [Segment]

    static func literal(_ text: String) -> Word { Word(segments: [.literal(text)]) }
    static func variable(_ name: String) -> Word { Word(segments: [.variable(name)]) }

    /// Plan text with its `{{ami:...}}` and `{{version:...}}` references as variables.
    init(planText text: String) {
        // Most words have no reference; plans of 46,000 copies render in about a second.
        guard text.utf8.contains(UInt8(ascii: "{")) else {
            segments = [.literal(text)]
            return
        }
        let bytes = Array(text.utf8)
        var segments: [Segment] = []
        var literalStart = 0
        var index = 0
        while index + 1 < bytes.count {
            guard bytes[index] == UInt8(ascii: "{"), bytes[index + 1] == UInt8(ascii: "{"),
                  Self.hasReferencePrefix(bytes, at: index + 2),
                  let close = Self.closing(bytes, from: index + 2) else {
                index += 1
                continue
            }
            if index > literalStart { segments.append(.literal(String(decoding: bytes[literalStart..<index], as: UTF8.self))) }
            segments.append(.variable(Script.variableName(String(decoding: bytes[index..<close], as: UTF8.self))))
            index = close
            literalStart = close
        }
        if literalStart < bytes.count || segments.isEmpty {
            segments.append(.literal(String(decoding: bytes[literalStart...], as: UTF8.self)))
        }
        self.segments = segments
    }

    private static func hasReferencePrefix(_ bytes: [UInt8], at index: Int) -> Bool {
        ["ami:", "version:"].contains { prefix in
            let utf8 = Array(prefix.utf8)
            return index + utf8.count <= bytes.count && bytes[index..<index + utf8.count].elementsEqual(utf8)
        }
    }

    /// The index just past the `}}` that closes a reference, if any.
    private static func closing(_ bytes: [UInt8], from index: Int) -> Int? {
        var position = index
        while position + 1 < bytes.count {
            if bytes[position] == UInt8(ascii: "}") && bytes[position + 1] == UInt8(ascii: "}") { return position + 2 }
            position += 1
        }
        return nil
    }

    private init(segments: [Segment]) { self.segments = segments }

    var variables: [String] {
        segments.compactMap { if case let .variable(name) = $0 { name } else { nil } }
    }

    /// Bare when safe, single-quoted literals, double-quoted when a variable is inside.
    var rendered: String {
        if segments.count == 1, case let .variable(name) = segments[0] { return "\"$\(name)\"" }
        guard !variables.isEmpty else {
            let text = segments.map { if case let .literal(text) = $0 { text } else { "" } }.joined()
            let safe = !text.isEmpty && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
                default: "_./:=@,+-%".utf8.contains(byte)
                }
            }
            return safe ? text : "'" + text.replacing("'", with: "'\\''") + "'"
        }
        var out = "\""
        for segment in segments {
            switch segment {
            case let .variable(name): out += "${\(name)}"
            case let .literal(text):
                for character in text {
                    if "\"\\$`".contains(character) { out.append("\\") }
                    out.append(character)
                }
            }
        }
        return out + "\""
    }
}

private struct Script {
    let plan: Plan
    var text = ""
    /// AMI variables made by copies, in order, and whether the script has waited for them yet.
    private var copies: [(variable: String, region: String, account: String, waited: Bool)] = []
    private var copyIndex: [String: Int] = [:]
    private var copyOfTask: [String: String] = [:]
    private var sharedBuildImageWith: Set<String> = []

    init(plan: Plan) { self.plan = plan }

    private var owner: String { plan.context.owner }
    private var hasAMIWork: Bool { plan.tasks.contains { $0.kind != .distributeContainer } }
    private var crossAccount: Bool { plan.tasks.contains { $0.account != owner } }
    private var containers: Bool { plan.tasks.contains { $0.kind == .distributeContainer } }

    /// `{{ami:build}}` is BUILD_AMI, `{{ami:eu-west-1:222222222222}}` AMI_eu_west_1_222222222222,
    /// `{{version:create-launch-template-version:...}}` VERSION_..., all valid shell names.
    static func variableName(_ reference: String) -> String {
        let inner = reference.dropFirst(2).dropLast(2)
        if inner == "ami:build" { return "BUILD_AMI" }
        let parts = inner.split(separator: ":", maxSplits: 1)
        let prefix = parts[0] == "ami" ? "AMI" : "VERSION"
        var rest = String(parts.count > 1 ? parts[1] : "")
        if prefix == "VERSION" { rest = String(rest.split(separator: ":", maxSplits: 1).last ?? "") }
        return prefix + "_" + String(rest.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    private mutating func line(_ text: String = "") { self.text += text + "\n" }

    mutating func emitHeader() {
        let title = plan.configurationName.map { "\"\($0)\"" } ?? "an unnamed distribution configuration"
        line("#!/usr/bin/env bash")
        line("# Distribution plan for \(title), as AWS CLI commands; written by imgship plan, never run by it.")
        line("# Source region \(plan.sourceRegion), platform \(plan.context.platform?.rawValue ?? "linux"), build \(plan.context.buildDate) version \(plan.context.buildVersion).")
        line("# \(TextRenderer.headline(plan.totals)).")
        line("# Review it, then run it with the owner account's credentials:")
        if hasAMIWork {
            line("#   bash \(fileName) ami-0123456789abcdef0   # the AMI Image Builder built in \(plan.sourceRegion)")
        } else {
            line("#   bash \(fileName)")
        }
        if containers {
            line("# Container distribution pushes CONTAINER_IMAGE, a local image reference, with docker.")
        }
        line("set -euo pipefail")
        line()
        if hasAMIWork {
            line("BUILD_AMI=\"${1:?usage: $0 BUILD_AMI_ID (the AMI built in \(plan.sourceRegion))}\"")
        }
        if containers {
            line("CONTAINER_IMAGE=\"${CONTAINER_IMAGE:?set CONTAINER_IMAGE to the container image to distribute}\"")
        }
        line("CALLER_ACCOUNT=$(aws sts get-caller-identity --query Account --output text)")
        if plan.context.ownerAccount == nil {
            line("OWNER_ACCOUNT=$CALLER_ACCOUNT")
        } else {
            line("OWNER_ACCOUNT=\(owner)")
            line("if [[ \"$CALLER_ACCOUNT\" != \"$OWNER_ACCOUNT\" ]]; then")
            line("  echo \"run this with credentials of the owner account $OWNER_ACCOUNT, not $CALLER_ACCOUNT\" >&2")
            line("  exit 1")
            line("fi")
        }
        if crossAccount {
            line()
            line("# Runs a command in another account through the role Image Builder assumes there.")
            line("in_account() {")
            line("  local account=$1 credentials key secret token")
            line("  shift")
            line("  credentials=$(aws sts assume-role --role-arn \"arn:aws:iam::${account}:role/\(Planner.crossAccountRole)\" \\")
            line("    --role-session-name imgship-distribution --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)")
            line("  read -r key secret token <<<\"$credentials\"")
            line("  AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_SESSION_TOKEN=$token \"$@\"")
            line("}")
            line()
            line("# A target account copies the build AMI itself, so it needs launch permission on the AMI")
            line("# and create-volume permission on its snapshots.")
            line("share_build_image() {")
            line("  local account=$1 snapshot")
            line("  aws ec2 modify-image-attribute --region \(plan.sourceRegion) --image-id \"$BUILD_AMI\" --launch-permission \"Add=[{UserId=${account}}]\"")
            line("  for snapshot in $(aws ec2 describe-images --region \(plan.sourceRegion) --image-ids \"$BUILD_AMI\" \\")
            line("      --query 'Images[0].BlockDeviceMappings[].Ebs.SnapshotId' --output text); do")
            line("    aws ec2 modify-snapshot-attribute --region \(plan.sourceRegion) --snapshot-id \"$snapshot\" \\")
            line("      --attribute createVolumePermission --operation-type add --user-ids \"$account\"")
            line("  done")
            line("}")
        }
        if plan.tasks.contains(where: { $0.kind == .copyImage }) {
            line()
            line("# `aws ec2 wait image-available` gives up after 10 minutes; copies of large AMIs take longer.")
            line("wait_for_image() {")
            line("  local region=$1 image=$2 state")
            line("  shift 2")
            line("  until \"$@\" aws ec2 wait image-available --region \"$region\" --image-ids \"$image\"; do")
            line("    state=$(\"$@\" aws ec2 describe-images --region \"$region\" --image-ids \"$image\" --query 'Images[0].State' --output text)")
            line("    if [[ \"$state\" != pending ]]; then")
            line("      echo \"$image in $region is $state, not available\" >&2")
            line("      return 1")
            line("    fi")
            line("  done")
            line("}")
        }
    }

    private var fileName: String {
        let base = (plan.configurationName ?? "distribution").map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" }
        return String(base) + ".sh"
    }

    mutating func emit(_ task: PlanTask) {
        // Every copy this task depends on or whose AMI it names is waited for first.
        var needed = task.dependsOn.compactMap { copyOfTask[$0] }
        needed += task.parameters.flatMap { Word(planText: JSONRenderer.compact($0.value)).variables }
        for variable in needed {
            waitFor(variable)
        }
        if task.region != lastRegion {
            line()
            line("# ---- \(task.region)\(task.region == plan.sourceRegion ? " (source region)" : "")")
            lastRegion = task.region
        }
        line()
        line("# \(task.id): \(task.summary)")
        let inAccount: [Word] = task.account == owner ? [] : [.literal("in_account"), .literal(task.account)]
        let region = Word.literal(task.region)
        func value(_ key: String) -> PlanValue? { task.parameters.first { $0.key == key }?.value }
        func string(_ key: String) -> Word? {
            if case let .string(text)? = value(key) { Word(planText: text) } else { nil }
        }
        func json(_ key: String) -> Word? { value(key).map { Word(planText: JSONRenderer.compact($0)) } }
        func option(_ name: String, _ word: Word?) -> [Word] { word.map { [.literal(name), $0] } ?? [] }

        switch task.kind {
        case .copyImage:
            let variable = Script.variableName(task.account == owner ? Planner.image(in: task.region)
                                                                     : Planner.image(in: task.region, account: task.account))
            if task.account != owner && !sharedBuildImageWith.contains(task.account) {
                sharedBuildImageWith.insert(task.account)
                command([.literal("share_build_image"), .literal(task.account)])
            }
            var words = inAccount + [.literal("aws"), .literal("ec2"), .literal("copy-image"), .literal("--region"), region]
            words += option("--source-region", string("SourceRegion")) + option("--source-image-id", string("SourceImageId"))
            words += option("--name", string("Name")) + option("--description", string("Description"))
            if value("Encrypted") == .bool(true) { words.append(.literal("--encrypted")) }
            words += option("--kms-key-id", string("KmsKeyId")) + option("--tag-specifications", json("TagSpecifications"))
            words += [.literal("--query"), .literal("ImageId"), .literal("--output"), .literal("text")]
            capture(variable, words)
            line("echo \"\(task.id): $\(variable)\"")
            copyIndex[variable] = copies.count
            copies.append((variable, task.region, task.account, false))
            copyOfTask[task.id] = variable
        case .modifyImageAttribute:
            command(inAccount + [.literal("aws"), .literal("ec2"), .literal("modify-image-attribute"), .literal("--region"), region]
                    + option("--image-id", string("ImageId")) + option("--launch-permission", json("LaunchPermission")))
        case .associateLicenses:
            command(inAccount + [.literal("aws"), .literal("license-manager"), .literal("update-license-specifications-for-resource"),
                                 .literal("--region"), region]
                    + option("--resource-arn", string("ResourceArn")) + option("--add-license-specifications", json("AddLicenseSpecifications")))
        case .createLaunchTemplateVersion:
            let variable = Script.variableName("{{version:\(task.id)}}")
            capture(variable, inAccount + [.literal("aws"), .literal("ec2"), .literal("create-launch-template-version"), .literal("--region"), region]
                    + option("--launch-template-id", string("LaunchTemplateId")) + option("--source-version", string("SourceVersion"))
                    + option("--launch-template-data", json("LaunchTemplateData"))
                    + [.literal("--query"), .literal("LaunchTemplateVersion.VersionNumber"), .literal("--output"), .literal("text")])
            line("echo \"\(task.id): version $\(variable)\"")
        case .setDefaultLaunchTemplateVersion:
            command(inAccount + [.literal("aws"), .literal("ec2"), .literal("modify-launch-template"), .literal("--region"), region]
                    + option("--launch-template-id", string("LaunchTemplateId")) + option("--default-version", string("DefaultVersion")))
        case .putSSMParameter:
            var words = inAccount + [.literal("aws"), .literal("ssm"), .literal("put-parameter"), .literal("--region"), region]
            words += option("--name", string("Name")) + option("--value", string("Value")) + option("--type", string("Type"))
            if value("Overwrite") == .bool(true) { words.append(.literal("--overwrite")) }
            words += option("--data-type", string("DataType"))
            command(words)
        case .enableFastLaunch:
            var words = inAccount + [.literal("aws"), .literal("ec2"), .literal("enable-fast-launch"), .literal("--region"), region]
            words += option("--image-id", string("ImageId")) + option("--resource-type", string("ResourceType"))
            words += option("--snapshot-configuration", json("SnapshotConfiguration")) + option("--launch-template", json("LaunchTemplate"))
            if case let .int(count)? = value("MaxParallelLaunches") { words += [.literal("--max-parallel-launches"), .literal(String(count))] }
            command(words)
        case .exportImage:
            let variable = "EXPORT_" + String(task.region.map { $0.isLetter || $0.isNumber ? $0 : "_" })
            capture(variable, inAccount + [.literal("aws"), .literal("ec2"), .literal("export-image"), .literal("--region"), region]
                    + option("--image-id", string("ImageId")) + option("--disk-image-format", string("DiskImageFormat"))
                    + option("--s3-export-location", json("S3ExportLocation")) + option("--role-name", string("RoleName"))
                    + [.literal("--query"), .literal("ExportImageTaskId"), .literal("--output"), .literal("text")])
            line("echo \"\(task.id): export task $\(variable) (aws ec2 describe-export-image-tasks --region \(task.region) --export-image-task-ids $\(variable))\"")
        case .distributeContainer:
            let repository = string("repositoryName").map(\.rendered) ?? "''"
            line("registry=\"${OWNER_ACCOUNT}.dkr.ecr.\(task.region).amazonaws.com\"")
            line("aws ecr get-login-password --region \(task.region) | docker login --username AWS --password-stdin \"$registry\"")
            var tags: [String] = []
            if case let .list(items)? = value("tags") {
                tags = items.compactMap { if case let .string(tag) = $0 { tag } else { nil } }
            }
            for tag in tags.isEmpty ? ["latest"] : tags {
                let target = "\"$registry\"/" + repository + ":" + Word.literal(tag).rendered
                line("docker tag \"$CONTAINER_IMAGE\" \(target)")
                line("docker push \(target)")
            }
        }
    }

    private var lastRegion: String?

    private mutating func waitFor(_ variable: String) {
        guard let index = copyIndex[variable], !copies[index].waited else { return }
        copies[index].waited = true
        let copy = copies[index]
        let account = copy.account == owner ? "" : " in_account \(copy.account)"
        line("wait_for_image \(copy.region) \"$\(variable)\"\(account)")
    }

    private mutating func command(_ words: [Word]) {
        line(words.map(\.rendered).joined(separator: " "))
    }

    private mutating func capture(_ variable: String, _ words: [Word]) {
        line("\(variable)=$(\(words.map(\.rendered).joined(separator: " ")))")
    }

    mutating func emitFooter() {
        let pending = copies.filter { !$0.waited }
        if !pending.isEmpty {
            line()
            line("# The plan is done when every copy is available.")
            for copy in pending { waitFor(copy.variable) }
        }
        line()
        line("echo \"distribution done\"")
    }
}
