import ConfigDocument

/// Renders a plan as a bash script of AWS CLI commands that would carry it out, for people who
/// want to review every call or run a distribution by hand. imgship never runs it.
///
/// Safety rules, each enforced in one place here:
/// - every value is a `ShellWord`, quoted by `ShellWord.rendered`, the one quoting function;
///   values from the configuration are always literal text, never shell syntax, and only
///   the plan's typed references (`PlanReference`) become variables;
/// - comments go through `comment(_:)`, which keeps a value on its one line;
/// - ids the AWS CLI prints are checked against their pattern before anything uses them;
/// - `set -euo pipefail` with `inherit_errexit`, and cross-account calls run in a subshell
///   holding only the assumed role's credentials, so a failed assume-role stops the script
///   instead of running the call as the owner.
///
/// Reruns: copies look up an AMI with the planned name first, launch template versions look
/// at the latest version, SSM parameters at their value, licenses at their associations, and
/// CopyImage, CreateLaunchTemplateVersion and ExportImage carry the plan's client tokens. On
/// failure a trap prints which tasks completed and which did not.
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

/// A shell word made of literal text and variable references.
struct ShellWord {
    enum Segment {
        case literal(String)
        case variable(String)
    }

    var segments: [Segment]

    static func literal(_ text: String) -> ShellWord { ShellWord(segments: [.literal(text)]) }
    static func variable(_ name: String) -> ShellWord { ShellWord(segments: [.variable(name)]) }
    static func joined(_ segments: [Segment]) -> ShellWord { ShellWord(segments: segments) }

    private init(segments: [Segment]) { self.segments = segments }

    /// A plan value as one word: strings literal, references as variables, lists and objects
    /// as one-line JSON with the references inside its strings.
    init(_ value: PlanValue) {
        var builder = Builder()
        switch value {
        case let .string(text): builder.literal(text)
        case let .reference(reference): builder.variable(Script.variableName(reference))
        case let .joined(parts): builder.text(parts)
        default: builder.json(value)
        }
        segments = builder.segments
    }

    private struct Builder {
        var segments: [Segment] = []

        mutating func literal(_ text: String) {
            if case let .literal(last)? = segments.last {
                segments[segments.count - 1] = .literal(last + text)
            } else {
                segments.append(.literal(text))
            }
        }

        mutating func variable(_ name: String) { segments.append(.variable(name)) }

        mutating func text(_ parts: [PlanValue]) {
            for part in parts {
                if case let .reference(reference) = part { variable(Script.variableName(reference)) } else { literal(part.displayText) }
            }
        }

        /// JSON for a command-line argument. Referenced values are ids the script checked
        /// against their pattern, so they need no JSON escaping.
        mutating func json(_ value: PlanValue) {
            switch value {
            case let .string(text): literal(Self.jsonString(text))
            case .reference, .joined:
                literal("\"")
                text(value.referenceParts)
                literal("\"")
            case let .int(number): literal(String(number))
            case let .bool(flag): literal(flag ? "true" : "false")
            case .null: literal("null")
            case let .list(items):
                literal("[")
                for (index, item) in items.enumerated() {
                    if index > 0 { literal(",") }
                    json(item)
                }
                literal("]")
            case let .object(members):
                literal("{")
                for (index, member) in members.enumerated() {
                    if index > 0 { literal(",") }
                    literal(Self.jsonString(member.key) + ":")
                    json(member.value)
                }
                literal("}")
            }
        }

        static func jsonString(_ text: String) -> String {
            var bytes: [UInt8] = []
            appendJSONString(text, to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    var variables: [String] {
        segments.compactMap { if case let .variable(name) = $0 { name } else { nil } }
    }

    /// Bare when every byte is plainly safe, single-quoted literal text otherwise
    /// (`ShellQuoting.word`, the one quoting function), double-quoted when a variable is inside
    /// (where `"`, `\`, `$` and a backquote are escaped, so only the variables expand).
    var rendered: String {
        if segments.count == 1, case let .variable(name) = segments[0] { return "\"$\(name)\"" }
        guard !variables.isEmpty else {
            return ShellQuoting.word(segments.map { if case let .literal(text) = $0 { text } else { "" } }.joined())
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

extension PlanValue {
    /// The parts of a reference or joined value, for rendering inside one string.
    fileprivate var referenceParts: [PlanValue] {
        switch self {
        case let .joined(parts): parts
        default: [self]
        }
    }
}

private struct Script {
    let plan: Plan
    var text = ""
    /// AMI variables made by copies, in order, and whether the script has waited for them yet.
    private var copies: [(variable: String, region: String, account: String, waited: Bool)] = []
    private var copyIndex: [String: Int] = [:]
    private var copyOfTask: [String: String] = [:]
    private var lastRegion: String?

    /// Every reference a task parameter makes, for the header's checks.
    private let references: Set<PlanReference>

    init(plan: Plan) {
        self.plan = plan
        var references: Set<PlanReference> = []
        for task in plan.tasks {
            for parameter in task.parameters { references.formUnion(parameter.value.references) }
        }
        self.references = references
    }

    private var owner: String { plan.context.owner }
    private var hasAMIWork: Bool { plan.tasks.contains { $0.kind != .distributeContainer } }
    private var crossAccount: Bool { plan.tasks.contains { $0.assumeRole != nil } }
    private var containers: Bool { plan.tasks.contains { $0.kind == .distributeContainer } }

    /// Shell names for references: `BUILD_AMI`, `AMI_eu_west_1_222222222222`,
    /// `VERSION_eu_west_1_lt_0123...`, `EXPORT_ap_southeast_2`, `RECIPE_NAME`.
    static func variableName(_ reference: PlanReference) -> String {
        func name(_ text: String) -> String {
            String(
                decoding: text.utf8.map { byte in
                    switch byte {
                    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): byte
                    default: UInt8(ascii: "_")
                    }
                }, as: UTF8.self)
        }
        switch reference {
        case .buildImage: return "BUILD_AMI"
        case .recipeName: return "RECIPE_NAME"
        case let .image(region, account): return "AMI_" + name(region) + (account.map { "_" + name($0) } ?? "")
        case let .launchTemplateVersion(task): return "VERSION_" + name(String(task.split(separator: ":", maxSplits: 1).last ?? ""))
        case let .exportTask(region): return "EXPORT_" + name(region)
        }
    }

    private mutating func line(_ text: String = "") { self.text += text + "\n" }

    /// A comment line: the text escaped onto one line, so no value can end the comment.
    private mutating func comment(_ text: String) {
        line("# " + TextRenderer.escapedForDisplay(text))
    }

    private func quoted(_ text: String) -> String { ShellWord.literal(text).rendered }

    mutating func emitHeader() {
        let title = plan.configurationName.map { "\"\($0)\"" } ?? "an unnamed distribution configuration"
        line("#!/usr/bin/env bash")
        comment("Distribution plan for \(title), as AWS CLI commands; written by imgship plan, never run by it.")
        comment(
            "Source region \(plan.sourceRegion) (partition \(plan.partition.name)), platform \(plan.context.platform?.rawValue ?? "linux"), build \(plan.context.effectiveBuildDate) version \(plan.context.effectiveBuildVersion), plan \(plan.id)."
        )
        comment("\(TextRenderer.headline(plan.totals)).")
        for assumption in plan.assumptions { comment("assumption: \(assumption)") }
        comment("Review it, then run it with the owner account's credentials:")
        if hasAMIWork {
            comment("  bash \(fileName) ami-0123456789abcdef0   # the AMI Image Builder built in \(plan.sourceRegion)")
        } else {
            comment("  bash \(fileName)")
        }
        if references.contains(.recipeName) {
            comment("The recipe name is not in the plan: set RECIPE_NAME to it (AMI names are \"RECIPE_NAME build-date\").")
        }
        if containers {
            comment("Container distribution pushes CONTAINER_IMAGE, a local image reference, with docker.")
        }
        comment("A rerun after a failure picks up where it stopped: copies, template versions and parameters that")
        comment("are already there are reused, and CopyImage, CreateLaunchTemplateVersion and ExportImage carry client tokens.")
        line("set -euo pipefail")
        line("shopt -s inherit_errexit")
        line()
        line("# Stops unless VALUE (what the AWS CLI printed) matches PATTERN: nothing unexpected is used.")
        line("expect_id() {")
        line("  local pattern=$1 value=$2 what=$3")
        line("  if [[ ! $value =~ $pattern ]]; then")
        line("    echo \"$what: expected a value matching $pattern, got '$value'\" >&2")
        line("    return 1")
        line("  fi")
        line("}")
        line()
        if hasAMIWork {
            line("BUILD_AMI=\"${1:?usage: $0 BUILD_AMI_ID (the AMI Image Builder built in the source region)}\"")
            line("expect_id '^ami-[0-9a-f]{8,17}$' \"$BUILD_AMI\" 'the build AMI id'")
        }
        if references.contains(.recipeName) {
            line("RECIPE_NAME=\"${RECIPE_NAME:?set RECIPE_NAME to the image recipe name}\"")
            // The image recipe name pattern (Image Builder API, ImageRecipe.name).
            line("expect_id '^[-_A-Za-z0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z0-9]$' \"$RECIPE_NAME\" RECIPE_NAME")
        }
        if containers {
            line("CONTAINER_IMAGE=\"${CONTAINER_IMAGE:?set CONTAINER_IMAGE to the container image to distribute}\"")
        }
        // STS too is called in an explicit region, the source region: the global endpoint is
        // in us-east-1 and does not serve every partition (AWS STS user guide, "Manage AWS STS
        // in an AWS Region").
        line("CALLER_ACCOUNT=$(aws sts get-caller-identity --region \(quoted(plan.sourceRegion)) --query Account --output text)")
        line("expect_id '^[0-9]{12}$' \"$CALLER_ACCOUNT\" 'the caller account'")
        if plan.context.ownerAccount == nil {
            line("OWNER_ACCOUNT=$CALLER_ACCOUNT")
        } else {
            line("OWNER_ACCOUNT=\(quoted(owner))")
            line("if [[ \"$CALLER_ACCOUNT\" != \"$OWNER_ACCOUNT\" ]]; then")
            line("  echo \"run this with credentials of the owner account $OWNER_ACCOUNT, not $CALLER_ACCOUNT\" >&2")
            line("  exit 1")
            line("fi")
        }
        line()
        line("# What has run, for the report on failure.")
        line("TASKS=(")
        for task in plan.tasks { line("  \(quoted(task.id))") }
        line(")")
        line("COMPLETED=()")
        line("CURRENT=''")
        line("begin_task() { CURRENT=$1; echo \"imgship plan: $1\" >&2; }")
        line("end_task() { COMPLETED+=(\"$CURRENT\"); CURRENT=''; }")
        line("report() {")
        line("  local status=$? task done")
        line("  (( status != 0 )) || return 0")
        line("  echo \"stopped with status $status${CURRENT:+ in task $CURRENT}\" >&2")
        line("  echo \"completed: ${COMPLETED[*]:-none}\" >&2")
        line("  for task in \"${TASKS[@]}\"; do")
        line("    done=no")
        line("    [[ \" ${COMPLETED[*]} \" != *\" $task \"* ]] || done=yes")
        line("    [[ $done == yes ]] || echo \"not done: $task\" >&2")
        line("  done")
        line("  echo 'running the script again resumes: what is already there is reused' >&2")
        line("}")
        line("trap report EXIT")
        if crossAccount {
            line()
            line("# Runs a command in another account through the role Image Builder assumes there, in a")
            line("# subshell that holds only that role's credentials. Fails closed: no credentials, no command.")
            line("in_account() {")
            line("  local account=$1 role credentials key secret token")
            line("  shift")
            line("  expect_id '^[0-9]{12}$' \"$account\" 'the target account'")
            line("  role=\"arn:\(plan.partition.name):iam::${account}:role/\(Planner.crossAccountRole)\"")
            line(
                "  if ! credentials=$(aws sts assume-role --region \(quoted(plan.sourceRegion)) --role-arn \"$role\" --role-session-name imgship-distribution \\"
            )
            line("      --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text); then")
            line("    echo \"cannot assume $role; stopping before anything runs in account $account\" >&2")
            line("    return 1")
            line("  fi")
            line("  read -r key secret token <<<\"$credentials\"")
            line("  if [[ -z $key || -z $secret || -z $token || $key == None ]]; then")
            line("    echo \"assume-role $role gave no credentials; stopping\" >&2")
            line("    return 1")
            line("  fi")
            line("  (")
            line("    unset AWS_PROFILE AWS_DEFAULT_PROFILE")
            line("    export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_SESSION_TOKEN=$token")
            line("    \"$@\"")
            line("  )")
            line("}")
        }
        if plan.tasks.contains(where: { $0.kind == .shareBuildImage }) {
            line()
            line("# Launch permission on the build AMI and create-volume permission on its snapshots.")
            line("share_build_image() {")
            line("  local account=$1 snapshots snapshot")
            line(
                "  aws ec2 modify-image-attribute --region \(quoted(plan.sourceRegion)) --image-id \"$BUILD_AMI\" --launch-permission \"Add=[{UserId=${account}}]\""
            )
            line("  snapshots=$(aws ec2 describe-images --region \(quoted(plan.sourceRegion)) --image-ids \"$BUILD_AMI\" \\")
            line("    --query 'Images[0].BlockDeviceMappings[].Ebs.SnapshotId' --output text)")
            line("  for snapshot in $snapshots; do")
            line("    [[ $snapshot != None ]] || continue")
            line("    expect_id '^snap-[0-9a-f]+$' \"$snapshot\" 'a snapshot of the build AMI'")
            line("    aws ec2 modify-snapshot-attribute --region \(quoted(plan.sourceRegion)) --snapshot-id \"$snapshot\" \\")
            line("      --attribute createVolumePermission --operation-type add --user-ids \"$account\"")
            line("  done")
            line("}")
        }
        if plan.tasks.contains(where: { $0.kind == .copyImage }) {
            line()
            line("# The caller's AMI named NAME in REGION, pending or available, or nothing: a rerun reuses")
            line("# a copy made before (a failed one is not reused: it would stop every rerun).")
            line("find_image() {")
            line("  local region=$1 name=$2 found")
            line("  shift 2")
            line("  found=$(\"$@\" aws ec2 describe-images --region \"$region\" --owners self \\")
            line("    --filters \"Name=name,Values=$name\" 'Name=state,Values=pending,available' \\")
            line("    --query 'Images[0].ImageId' --output text)")
            line("  [[ $found == None ]] || printf '%s\\n' \"$found\"")
            line("}")
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
        if plan.tasks.contains(where: { $0.kind == .createLaunchTemplateVersion }) {
            line()
            line("# The latest version of a launch template if it already launches IMAGE, or nothing.")
            line("version_launching() {")
            line("  local region=$1 template=$2 image=$3 latest number launched")
            line("  shift 3")
            line("  latest=$(\"$@\" aws ec2 describe-launch-template-versions --region \"$region\" --launch-template-id \"$template\" \\")
            line("    --versions '$Latest' --query 'LaunchTemplateVersions[0].[VersionNumber,LaunchTemplateData.ImageId]' --output text)")
            line("  read -r number launched <<<\"$latest\"")
            line("  [[ $launched != \"$image\" ]] || printf '%s\\n' \"$number\"")
            line("}")
        }
        if plan.tasks.contains(where: { $0.kind == .putSSMParameter }) {
            line()
            line("# The value of an SSM parameter, or nothing when it does not exist (or cannot be read:")
            line("# then put-parameter fails and the script stops).")
            line("parameter_value() {")
            line("  local region=$1 name=$2")
            line("  shift 2")
            line("  \"$@\" aws ssm get-parameter --region \"$region\" --name \"$name\" --query Parameter.Value --output text 2>/dev/null || true")
            line("}")
        }
    }

    private var fileName: String {
        let base = (plan.configurationName ?? "distribution").map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") ? $0 : "-" }
        return String(base) + ".sh"
    }

    mutating func emit(_ task: PlanTask) {
        // Every copy this task depends on or whose AMI it names is waited for first.
        var needed = task.dependsOn.compactMap { copyOfTask[$0] }
        needed += task.parameters.flatMap(\.value.references).map(Script.variableName)
        if task.kind == .copyImage { needed.removeAll { $0 == "BUILD_AMI" } }
        for variable in needed {
            waitFor(variable)
        }
        if task.region != lastRegion {
            line()
            comment("---- \(task.region)\(task.region == plan.sourceRegion ? " (source region)" : "")")
            lastRegion = task.region
        }
        line()
        comment("\(task.id): \(task.summary)")
        if let role = task.assumeRole { comment("in account \(task.account), as \(role)") }
        line("begin_task \(quoted(task.id))")
        let inAccount: [ShellWord] = task.assumeRole == nil ? [] : [.literal("in_account"), .literal(task.account)]
        let region = ShellWord.literal(task.region)
        func word(_ key: String) -> ShellWord? { task.parameter(key).map(ShellWord.init) }
        func option(_ name: String, _ key: String) -> [ShellWord] { word(key).map { [.literal(name), $0] } ?? [] }
        func aws(_ service: String, _ operation: String) -> [ShellWord] {
            inAccount + [.literal("aws"), .literal(service), .literal(operation), .literal("--region"), region]
        }
        let output: (String) -> [ShellWord] = { [.literal("--query"), .literal($0), .literal("--output"), .literal("text")] }

        switch task.kind {
        case .shareBuildImage:
            command([.literal("share_build_image"), .literal(task.parameter("LaunchPermission").flatMap(Self.firstUserID) ?? task.account)])
        case .tagBuildImage:
            command(aws("ec2", "create-tags") + [.literal("--resources"), .variable("BUILD_AMI")] + option("--tags", "Tags"))
        case .copyImage:
            let variable = Script.variableName(.image(region: task.region, account: task.account == owner ? nil : task.account))
            let name = word("Name") ?? .literal("")
            capture(variable, [.literal("find_image"), region, name] + inAccount)
            line("if [[ -z $\(variable) ]]; then")
            var words = aws("ec2", "copy-image")
            words += option("--source-region", "SourceRegion") + option("--source-image-id", "SourceImageId")
            words += option("--name", "Name") + option("--description", "Description")
            if task.parameter("Encrypted") == .bool(true) { words.append(.literal("--encrypted")) }
            words += option("--kms-key-id", "KmsKeyId") + option("--tag-specifications", "TagSpecifications")
            words += option("--client-token", "ClientToken") + output("ImageId")
            capture(variable, words, indent: "  ")
            line("fi")
            line("expect_id '^ami-[0-9a-f]{8,17}$' \"$\(variable)\" \(quoted(task.id))")
            line("printf '%s: %s\\n' \(quoted(task.id)) \"$\(variable)\"")
            copyIndex[variable] = copies.count
            copies.append((variable, task.region, task.account, false))
            copyOfTask[task.id] = variable
        case .modifyImageAttribute:
            command(aws("ec2", "modify-image-attribute") + option("--image-id", "ImageId") + option("--launch-permission", "LaunchPermission"))
        case .associateLicenses:
            let resource = word("ResourceArn") ?? .literal("")
            var licenses: [String] = []
            if case let .list(items)? = task.parameter("AddLicenseSpecifications") {
                for case let .object(members) in items {
                    for case let .string(arn) in members.map(\.value) { licenses.append(arn) }
                }
            }
            // Only the licenses not associated yet: a rerun adds nothing twice.
            capture(
                "associated",
                aws("license-manager", "list-license-specifications-for-resource") + [.literal("--resource-arn"), resource]
                    + output("LicenseSpecifications[].LicenseConfigurationArn"))
            line("missing=()")
            line("for license in \(licenses.map { quoted($0) }.joined(separator: " ")); do")
            // The ARNs matched License Manager's pattern, so they need no JSON escaping.
            line("  [[ $'\\t'\"$associated\"$'\\t' == *$'\\t'\"$license\"$'\\t'* ]] || missing+=(\"{\\\"LicenseConfigurationArn\\\":\\\"$license\\\"}\")")
            line("done")
            line("if (( ${#missing[@]} > 0 )); then")
            line(
                "  "
                    + (aws("license-manager", "update-license-specifications-for-resource") + [.literal("--resource-arn"), resource]).map(\.rendered).joined(
                        separator: " ")
                    + " --add-license-specifications \"[$(IFS=,; echo \"${missing[*]}\")]\"")
            line("fi")
        case .createLaunchTemplateVersion:
            let variable = Script.variableName(.launchTemplateVersion(task: task.id))
            let image: ShellWord = {
                if case let .object(members)? = task.parameter("LaunchTemplateData"), let value = members.first(where: { $0.key == "ImageId" })?.value {
                    return ShellWord(value)
                }
                return .literal("")
            }()
            capture(variable, [.literal("version_launching"), region, word("LaunchTemplateId") ?? .literal(""), image] + inAccount)
            line("if [[ -z $\(variable) ]]; then")
            capture(
                variable,
                aws("ec2", "create-launch-template-version") + option("--launch-template-id", "LaunchTemplateId")
                    + option("--source-version", "SourceVersion") + option("--launch-template-data", "LaunchTemplateData")
                    + option("--client-token", "ClientToken") + output("LaunchTemplateVersion.VersionNumber"), indent: "  ")
            line("fi")
            line("expect_id '^[0-9]+$' \"$\(variable)\" \(quoted(task.id))")
            line("printf '%s: version %s\\n' \(quoted(task.id)) \"$\(variable)\"")
        case .setDefaultLaunchTemplateVersion:
            command(aws("ec2", "modify-launch-template") + option("--launch-template-id", "LaunchTemplateId") + option("--default-version", "DefaultVersion"))
        case .putSSMParameter:
            let name = word("Name") ?? .literal("")
            let value = word("Value") ?? .literal("")
            line(
                "if [[ \"$(" + ([.literal("parameter_value"), region, name] + inAccount).map(\.rendered).joined(separator: " ")
                    + ")\" != \(value.rendered) ]]; then")
            var words = aws("ssm", "put-parameter") + option("--name", "Name") + option("--value", "Value") + option("--type", "Type")
            if task.parameter("Overwrite") == .bool(true) { words.append(.literal("--overwrite")) }
            words += option("--data-type", "DataType")
            line("  " + words.map(\.rendered).joined(separator: " ") + " > /dev/null")
            line("fi")
        case .enableFastLaunch:
            var words = aws("ec2", "enable-fast-launch") + option("--image-id", "ImageId") + option("--resource-type", "ResourceType")
            words += option("--snapshot-configuration", "SnapshotConfiguration") + option("--launch-template", "LaunchTemplate")
            words += option("--max-parallel-launches", "MaxParallelLaunches")
            command(words + [.literal(">"), .literal("/dev/null")], raw: [words.count])
        case .exportImage:
            let variable = Script.variableName(.exportTask(region: task.region))
            capture(
                variable,
                aws("ec2", "export-image") + option("--image-id", "ImageId") + option("--disk-image-format", "DiskImageFormat")
                    + option("--s3-export-location", "S3ExportLocation") + option("--role-name", "RoleName")
                    + option("--client-token", "ClientToken") + output("ExportImageTaskId"))
            line("expect_id '^export-ami-[0-9a-z]+$' \"$\(variable)\" \(quoted(task.id))")
            line(
                "printf '%s: export task %s (aws ec2 describe-export-image-tasks --region %s --export-image-task-ids %s)\\n' \(quoted(task.id)) \"$\(variable)\" \(region.rendered) \"$\(variable)\""
            )
        case .distributeContainer:
            let repository = word("repositoryName")?.rendered ?? "''"
            let registry = ShellWord.joined([.variable("OWNER_ACCOUNT"), .literal(".dkr.ecr.\(task.region).\(plan.partition.dnsSuffix)")])
            line("registry=\(registry.rendered)")
            line("aws ecr get-login-password --region \(region.rendered) | docker login --username AWS --password-stdin \"$registry\"")
            var tags: [String] = []
            if case let .list(items)? = task.parameter("tags") {
                tags = items.compactMap { if case let .string(tag) = $0 { tag } else { nil } }
            }
            for tag in tags.isEmpty ? ["latest"] : tags {
                let target = "\"$registry\"/" + repository + ":" + quoted(tag)
                line("docker tag \"$CONTAINER_IMAGE\" \(target)")
                line("docker push \(target)")
            }
        }
        line("end_task")
    }

    private static func firstUserID(_ value: PlanValue) -> String? {
        guard case let .object(members) = value, case let .list(items)? = members.first?.value,
            case let .object(entry)? = items.first, case let .string(account)? = entry.first?.value
        else { return nil }
        return account
    }

    private mutating func waitFor(_ variable: String) {
        guard let index = copyIndex[variable], !copies[index].waited else { return }
        copies[index].waited = true
        let copy = copies[index]
        let account = copy.account == owner ? "" : " in_account \(quoted(copy.account))"
        line("wait_for_image \(quoted(copy.region)) \"$\(variable)\"\(account)")
    }

    /// One command line; words at the positions in `raw` are shell syntax written here
    /// (a redirection), never values.
    private mutating func command(_ words: [ShellWord], raw: Set<Int> = []) {
        line(
            words.enumerated().map { index, word in
                if raw.contains(index), case let .literal(text)? = word.segments.first { return text }
                return word.rendered
            }.joined(separator: " "))
    }

    private mutating func capture(_ variable: String, _ words: [ShellWord], indent: String = "") {
        line("\(indent)\(variable)=$(\(words.map(\.rendered).joined(separator: " ")))")
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
