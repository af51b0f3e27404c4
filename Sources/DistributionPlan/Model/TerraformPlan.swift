import ConfigDocument

/// The `aws_imagebuilder_distribution_configuration` resources of what `terraform show -json`
/// prints, in the API's spelling.
///
/// Format: HashiCorp, "JSON Output Format" (developer.hashicorp.com/terraform/internals/
/// json-format). A plan has `format_version` and `resource_changes[]`, each with `address`,
/// `type`, `change.actions` (`["create"]`, `["update"]`, `["delete"]`, `["no-op"]`,
/// `["delete", "create"]` or `["create", "delete"]` for a replace), `change.before` and
/// `change.after` (the attribute values, null when absent), `change.after_unknown` (`true` at
/// each value known only after apply) and `change.before_sensitive` / `after_sensitive` (`true`
/// at each sensitive value). A state has `values.root_module.resources[]` (with `values` and
/// `sensitive_values`) and nested `child_modules[]`. Only major version 1 is read, as the page
/// asks of consumers ("Reject any input which reports an unsupported major version").
///
/// Attribute names: terraform-provider-aws, `internal/service/imagebuilder/
/// distribution_configuration.go` (the resource schema; read at commits 05da6ddd and
/// f9023928, provider v4/v5), and the provider schema dump of the v6 series for the blocks
/// added later (`fast_launch_configuration`, `s3_export_configuration`,
/// `ssm_parameter_configuration`, `launch_template_configuration.account_id`). snake_case
/// names become the API's camelCase; the exceptions are listed in `renamed`. Nested blocks
/// with `MaxItems: 1` (`ami_distribution_configuration`, `launch_permission`, ...) are lists
/// of one object in the JSON and objects in the API.
public enum TerraformPlan {
    public static let distributionType = "aws_imagebuilder_distribution_configuration"

    /// One distribution configuration of the plan or state.
    public struct Resource: Sendable {
        /// `module.images.aws_imagebuilder_distribution_configuration.main`.
        public var address: String
        /// Terraform's actions (`["update"]`); `["no-op"]` for a state's resources.
        public var actions: [String]
        /// The configuration as it is and as it would be, in the API's spelling; nil when the
        /// side does not exist (a create's before, a delete's after).
        public var before: ConfigValue?
        public var after: ConfigValue?
        /// The paths (API spelling) of values Terraform knows only after apply; they are left
        /// out of the planned configuration, never guessed.
        public var unknown: [String]
        /// The paths of sensitive values, replaced by `sensitivePlaceholder`.
        public var sensitive: [String]

        /// `create`, `update`, `replace`, `delete`, `no-op` (Terraform's words).
        public var action: String {
            if actions.contains("delete") && actions.contains("create") { return "replace" }
            return actions.first ?? "no-op"
        }
    }

    /// What stands in for a sensitive value: it is never printed.
    public static let sensitivePlaceholder = "(sensitive)"

    /// Whether `document` is `terraform show -json` output.
    static func recognises(_ document: ConfigValue) -> Bool {
        document["format_version"] != nil && (document["resource_changes"] != nil || document["planned_values"] != nil || document["values"] != nil)
            || document["terraform_version"] != nil
    }

    /// The distribution configurations in document order, or the problem that stops reading.
    public static func resources(in document: ConfigValue) -> Result<[Resource], Problem> {
        if let version = document["format_version"] {
            guard let text = version.string, text.split(separator: ".").first == "1" else {
                return .failure(
                    Problem(
                        .error, "format_version",
                        "\(version.scalarText ?? version.typeName) is not a format imgship reads: Terraform's JSON output format 1.x (a new major version may change its meaning)",
                        at: version))
            }
        }
        var found: [Resource] = []
        if let changes = document["resource_changes"] {
            guard let items = changes.array else {
                return .failure(Problem(.error, "resource_changes", "expected a list, found \(changes.typeName)", at: changes))
            }
            for (index, item) in items.enumerated() where item["type"]?.string == distributionType && item["mode"]?.string != "data" {
                let address = item["address"]?.string ?? "resource_changes[\(index)]"
                guard let change = item["change"], let actions = change["actions"]?.array?.compactMap(\.string), !actions.isEmpty else {
                    return .failure(
                        Problem(.error, "resource_changes[\(index)].change", "\(address): expected change.actions, a list of Terraform actions", at: item))
                }
                var unknown: [String] = []
                var sensitive: [String] = []
                let before = change["before"].flatMap {
                    translate(distribution: $0, unknown: nil, sensitive: change["before_sensitive"], unknownPaths: &unknown, sensitivePaths: &sensitive)
                }
                var afterUnknown: [String] = []
                let after = change["after"].flatMap {
                    translate(
                        distribution: $0, unknown: change["after_unknown"], sensitive: change["after_sensitive"], unknownPaths: &afterUnknown,
                        sensitivePaths: &sensitive)
                }
                found.append(
                    Resource(
                        address: address, actions: actions, before: before, after: after, unknown: afterUnknown + unknown,
                        sensitive: Array(Set(sensitive)).sorted()))
            }
        } else if let values = document["values"], let root = values["root_module"] {
            func walk(_ module: ConfigValue) {
                for item in module["resources"]?.array ?? [] where item["type"]?.string == distributionType && item["mode"]?.string != "data" {
                    var unknown: [String] = []
                    var sensitive: [String] = []
                    let state = item["values"].flatMap {
                        translate(distribution: $0, unknown: nil, sensitive: item["sensitive_values"], unknownPaths: &unknown, sensitivePaths: &sensitive)
                    }
                    found.append(
                        Resource(
                            address: item["address"]?.string ?? "\(distributionType)", actions: ["no-op"], before: state, after: state, unknown: [],
                            sensitive: sensitive))
                }
                for child in module["child_modules"]?.array ?? [] { walk(child) }
            }
            walk(root)
        }
        if found.isEmpty {
            return .failure(
                Problem(.error, "", "the Terraform \(document["resource_changes"] != nil ? "plan" : "state") has no \(distributionType) resource", at: document)
            )
        }
        return .success(found)
    }

    /// Members whose API name is not the camelCase of the Terraform name.
    static let renamed: [String: String] = [
        "distribution": "distributions",
        // aws_imagebuilder_image_recipe: block_device_mapping and component are repeated
        // blocks, the API's blockDeviceMappings and components; a component's parameter
        // blocks are its parameters.
        "block_device_mapping": "blockDeviceMappings",
        "component": "components",
        "parameter": "parameters",
        "launch_template_configuration": "launchTemplateConfigurations",
        "fast_launch_configuration": "fastLaunchConfigurations",
        "ssm_parameter_configuration": "ssmParameterConfigurations",
        // launch_template_configuration.default (provider: "Default: true") is setDefaultVersion.
        "default": "setDefaultVersion",
    ]

    /// Blocks that are lists of at most one object in Terraform and one object in the API.
    static let singleBlocks: Set<String> = [
        "ami_distribution_configuration", "container_distribution_configuration", "launch_permission", "target_repository",
        "s3_export_configuration", "launch_template", "snapshot_configuration",
        // The pipeline, recipe and infrastructure resources' MaxItems 1 blocks.
        "schedule", "ebs", "placement", "systems_manager_agent", "image_tests_configuration", "image_scanning_configuration",
        "ecr_configuration", "instance_metadata_options", "logging", "s3_logs",
    ]

    /// Attributes the provider computes or keeps for itself; the API request has none of them.
    /// `tags_all` is `tags` with the provider's default tags, which imgship does not see: the
    /// configuration's own `tags` are planned.
    static let computed: Set<String> = [
        "arn", "id", "date_created", "date_updated", "region", "tags_all", "date_last_run", "date_next_run", "owner",
    ]

    static func camelCase(_ name: String) -> String {
        if let renamed = renamed[name] { return renamed }
        let parts = name.split(separator: "_")
        guard let first = parts.first else { return name }
        return String(first) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// The top-level attributes as an API request (`name`, `description`, `distributions`,
    /// `tags`), nil when `attributes` is null.
    static func translate(
        distribution attributes: ConfigValue, unknown: ConfigValue?, sensitive: ConfigValue?, unknownPaths: inout [String],
        sensitivePaths: inout [String]
    ) -> ConfigValue? {
        guard attributes.members != nil else { return nil }
        return translate(attributes, unknown: unknown, sensitive: sensitive, path: "", top: true, unknownPaths: &unknownPaths, sensitivePaths: &sensitivePaths)
    }

    static func translate(
        _ value: ConfigValue, unknown: ConfigValue?, sensitive: ConfigValue?, path: String, top: Bool, unknownPaths: inout [String],
        sensitivePaths: inout [String]
    ) -> ConfigValue? {
        if sensitive?.bool == true {
            sensitivePaths.append(path)
            // A sensitive block or list keeps its shape only as the placeholder's scalar.
            return ConfigValue(.string(sensitivePlaceholder), line: value.line, column: value.column)
        }
        if unknown?.bool == true {
            unknownPaths.append(path)
            return nil
        }
        switch value.kind {
        case .null:
            return nil
        case let .string(text):
            // The provider sends no empty optional string (`v != ""` in its expanders).
            return text.isEmpty ? nil : value
        case let .object(members):
            var translated: [(key: String, value: ConfigValue)] = []
            for (key, member) in members {
                if top && computed.contains(key) { continue }
                // ami_tags and tags are maps: their keys are the user's, not attribute names.
                let isMap = path.hasSuffix("amiTags") || path == "tags" || path == "resourceTags"
                let name = isMap ? key : camelCase(key)
                let childPath = path.isEmpty ? name : "\(path).\(name)"
                var child = member
                var childUnknown = unknown?[key]
                var childSensitive = sensitive?[key]
                if !isMap, singleBlocks.contains(key) {
                    guard let items = member.array else { continue }
                    guard let first = items.first else { continue }
                    child = first
                    childUnknown = childUnknown?.array?.first ?? childUnknown
                    childSensitive = childSensitive?.array?.first ?? childSensitive
                }
                if let result = translate(
                    child, unknown: childUnknown, sensitive: childSensitive, path: childPath, top: false, unknownPaths: &unknownPaths,
                    sensitivePaths: &sensitivePaths)
                {
                    // Empty sets, lists and maps are what the JSON shows for an absent block or
                    // attribute; the provider sends none of them.
                    if result.array?.isEmpty == true || (result.members?.isEmpty == true && (name == "tags" || name == "amiTags" || name == "resourceTags")) {
                        continue
                    }
                    translated.append((name, result))
                } else if childUnknown?.bool == true {
                    if !unknownPaths.contains(where: { $0.hasPrefix(childPath) }) { unknownPaths.append(childPath) }
                }
            }
            // After omits values known only after apply; after_unknown marks them.
            if case let .object(marks)? = unknown?.kind {
                for (key, mark) in marks where value[key] == nil && !(top && computed.contains(key)) {
                    guard mark.bool == true else { continue }
                    let childPath = path.isEmpty ? camelCase(key) : "\(path).\(camelCase(key))"
                    if !unknownPaths.contains(where: { $0.hasPrefix(childPath) }) { unknownPaths.append(childPath) }
                }
            }
            var result = value
            result.kind = .object(ObjectMembers(translated))
            return result
        case let .array(items):
            var translated: [ConfigValue] = []
            for (index, item) in items.enumerated() {
                if let result = translate(
                    item, unknown: unknown?.array?[safe: index], sensitive: sensitive?.array?[safe: index], path: "\(path)[\(index)]", top: false,
                    unknownPaths: &unknownPaths, sensitivePaths: &sensitivePaths)
                {
                    translated.append(result)
                }
            }
            var result = value
            result.kind = .array(translated)
            return result
        default:
            return value
        }
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? {
        indices.contains(index) ? self[index] : nil
    }
}

extension TerraformPlan {
    /// The distribution configurations of `text` when it is `terraform show -json` output with
    /// at least one; nil for any other document (the loader reports its problems).
    public static func resources(inDocument text: String) -> [Resource]? {
        guard text.contains("format_version") || text.contains("terraform_version"), let document = try? DocumentReader.parse(text),
            recognises(document), case let .success(found) = resources(in: document)
        else { return nil }
        return found
    }
}
