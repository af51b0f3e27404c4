import ConfigDocument

/// The pipeline, recipe and infrastructure resources of a Terraform plan or state that build
/// the image a distribution configuration distributes, read as `--pipeline`, `--recipe` and
/// `--infrastructure` are.
///
/// Attribute names: terraform-provider-aws, `internal/service/imagebuilder/image_pipeline.go`
/// (read at commit b7331350), `image_recipe.go` (commit 32773292) and
/// `infrastructure_configuration.go` (commit af55dfb9): snake_case becomes the API's
/// camelCase, `block_device_mapping` is `blockDeviceMappings`, `component` is `components`,
/// MaxItems 1 blocks (`schedule`, `ebs`, `placement`, ...) are objects. The recipe's `ebs`
/// keeps `delete_on_termination` and `encrypted` as strings ("true", "false" or "" for
/// unset) and `no_device` as a bool (true is the API's `noDevice: ""`); its expanders send no
/// zero `iops`, `throughput` or `volume_size` and no empty string. `version` is the recipe's
/// semantic version, as get-image-recipe's `version`. `platform` is computed by the provider
/// (from the recipe's parent image): known only after apply when the resource is created.
/// The `placement` block of the infrastructure configuration is the provider's for the
/// 2024-10-22 API change (v5.7x and later), mapped the same way.
///
/// A pipeline belongs to a distribution configuration when its `distribution_configuration_arn`
/// is that configuration's ARN, or, in a plan, when the expression that sets it references the
/// configuration's address (`configuration.root_module`, `module_calls`, each expression's
/// `references`: HashiCorp, "JSON Output Format", "Expression Representation"). The pipeline's
/// recipe and infrastructure are found the same way from `image_recipe_arn` and
/// `infrastructure_configuration_arn`.
extension TerraformPlan {
    /// One pipeline, recipe or infrastructure resource.
    public struct SideResource: Sendable {
        public enum Kind: String, Sendable, CaseIterable {
            case pipeline = "aws_imagebuilder_image_pipeline"
            case recipe = "aws_imagebuilder_image_recipe"
            case infrastructure = "aws_imagebuilder_infrastructure_configuration"

            /// The member a get-* answer holds the resource under, which the pipeline reader reads.
            public var responseMember: String {
                switch self {
                case .pipeline: "imagePipeline"
                case .recipe: "imageRecipe"
                case .infrastructure: "infrastructureConfiguration"
                }
            }

            /// The attribute of a pipeline that names a resource of this kind.
            var pipelineAttribute: String {
                switch self {
                case .pipeline: "distribution_configuration_arn"
                case .recipe: "image_recipe_arn"
                case .infrastructure: "infrastructure_configuration_arn"
                }
            }
        }

        public var kind: Kind
        public var address: String
        /// Terraform's action on it (`create`, `update`, `replace`, `delete`, `no-op`).
        public var action: String
        /// The resource as a get-* answer would hold it (`{"imagePipeline": {...}}`), in the
        /// API's spelling, on the side asked for; nil when it does not exist on that side.
        public var document: ConfigValue?
        /// The API paths of its values known only after apply on that side.
        public var unknown: [String]
    }

    /// A resource of any of the four types, as read for linking.
    struct Linkable {
        var type: String
        var address: String
        var actions: [String]
        var before: ConfigValue?
        var after: ConfigValue?
        var afterUnknown: ConfigValue?
    }

    /// The pipeline that distributes with the configuration at `address` (`before` for the side
    /// before the change), with its recipe and infrastructure when the document holds them; an
    /// empty list when no pipeline of the document references the configuration. Problems: a
    /// second pipeline referencing the same configuration is named in a warning.
    public static func sideResources(in document: ConfigValue, distribution address: String, before: Bool) -> (
        resources: [SideResource], problems: [Problem]
    ) {
        let all = linkables(in: document)
        guard let distribution = all.first(where: { $0.type == distributionType && $0.address == address }) else { return ([], []) }
        let references = configurationReferences(in: document)
        func values(_ item: Linkable) -> ConfigValue? { before ? item.before : item.after }
        func arn(_ item: Linkable) -> String? { (values(item) ?? item.before)?["arn"]?.string }
        /// Whether `holder`'s `attribute` names `target`: the same ARN, or (after the change)
        /// an expression referencing its address.
        func names(_ holder: Linkable, _ attribute: String, _ target: Linkable) -> Bool {
            if let value = values(holder)?[attribute]?.string, !value.isEmpty, let targetARN = arn(target), value == targetARN { return true }
            guard !before else { return false }
            let base = unindexed(target.address)
            return (references[unindexed(holder.address)]?[attribute] ?? []).contains { $0 == base || $0.hasPrefix(base + ".") || $0.hasPrefix(base + "[") }
        }
        let pipelines = all.filter { $0.type == SideResource.Kind.pipeline.rawValue && values($0) != nil }
            .filter { names($0, SideResource.Kind.pipeline.pipelineAttribute, distribution) }
        guard let pipeline = pipelines.first else { return ([], []) }
        var problems: [Problem] = []
        if pipelines.count > 1 {
            problems.append(
                Problem(
                    .warning, address,
                    "\(pipelines.count) pipelines distribute with it (\(pipelines.map(\.address).joined(separator: ", "))); the first, \(pipeline.address), is read"
                ))
        }
        var found = [side(pipeline, .pipeline, before: before)]
        for kind in [SideResource.Kind.recipe, .infrastructure] {
            if let item = all.first(where: { $0.type == kind.rawValue && values($0) != nil && names(pipeline, kind.pipelineAttribute, $0) }) {
                found.append(side(item, kind, before: before))
            }
        }
        return (found, problems)
    }

    /// `module.x["a"].aws_y.z[0]` without its instance keys: the configuration has none.
    static func unindexed(_ address: String) -> String {
        var result = ""
        var depth = 0
        for character in address {
            if character == "[" { depth += 1 } else if character == "]" { depth -= 1 } else if depth == 0 { result.append(character) }
        }
        return result
    }

    static func linkables(in document: ConfigValue) -> [Linkable] {
        let types = Set([distributionType] + SideResource.Kind.allCases.map(\.rawValue))
        var found: [Linkable] = []
        if let changes = document["resource_changes"]?.array {
            for item in changes {
                guard let type = item["type"]?.string, types.contains(type), item["mode"]?.string != "data", let address = item["address"]?.string,
                    let change = item["change"]
                else { continue }
                func side(_ key: String) -> ConfigValue? {
                    guard let value = change[key], value.members != nil else { return nil }
                    return value
                }
                found.append(
                    Linkable(
                        type: type, address: address, actions: change["actions"]?.array?.compactMap(\.string) ?? [], before: side("before"),
                        after: side("after"), afterUnknown: change["after_unknown"]))
            }
        } else if let root = document["values"]?["root_module"] {
            func walk(_ module: ConfigValue) {
                for item in module["resources"]?.array ?? [] {
                    guard let type = item["type"]?.string, types.contains(type), item["mode"]?.string != "data", let address = item["address"]?.string
                    else { continue }
                    found.append(Linkable(type: type, address: address, actions: ["no-op"], before: item["values"], after: item["values"], afterUnknown: nil))
                }
                for child in module["child_modules"]?.array ?? [] { walk(child) }
            }
            walk(root)
        }
        return found
    }

    /// For each resource of the plan's configuration (address without instance keys), each
    /// attribute's references, as full addresses.
    static func configurationReferences(in document: ConfigValue) -> [String: [String: [String]]] {
        var result: [String: [String: [String]]] = [:]
        func walk(_ module: ConfigValue, prefix: String, depth: Int) {
            // Modules nest as deep as the configuration does; 64 is far past any real one and
            // keeps a hostile document from recursing without end.
            guard depth < 64 else { return }
            for resource in module["resources"]?.array ?? [] {
                guard let address = resource["address"]?.string, let expressions = resource["expressions"]?.members else { continue }
                var attributes: [String: [String]] = [:]
                for (attribute, expression) in expressions {
                    let references = (expression["references"]?.array ?? []).compactMap(\.string)
                    // A reference to a module's output leaves the module: not followed.
                    attributes[attribute] = references.filter { !$0.hasPrefix("module.") && !$0.hasPrefix("var.") }.map { prefix + $0 }
                }
                result[prefix + address] = attributes
            }
            for (name, call) in module["module_calls"]?.members ?? [] {
                if let child = call["module"] { walk(child, prefix: "\(prefix)module.\(name).", depth: depth + 1) }
            }
        }
        if let root = document["configuration"]?["root_module"] { walk(root, prefix: "", depth: 0) }
        return result
    }

    /// The resource in the API's spelling, as the get-* answer its kind has.
    static func side(_ item: Linkable, _ kind: SideResource.Kind, before: Bool) -> SideResource {
        var unknown: [String] = []
        var sensitive: [String] = []
        let action: String = {
            if item.actions.contains("delete") && item.actions.contains("create") { return "replace" }
            return item.actions.first ?? "no-op"
        }()
        guard let values = before ? item.before : item.after,
            var translated = translate(
                values, unknown: before ? nil : item.afterUnknown, sensitive: nil, path: "", top: true, unknownPaths: &unknown, sensitivePaths: &sensitive)
        else { return SideResource(kind: kind, address: item.address, action: action, document: nil, unknown: []) }
        // The ARNs that link the resources are read from the Terraform document itself; an
        // unknown one is resolved through the configuration's references, not a value to name.
        let links: Set<String> = ["distributionConfigurationArn", "imageRecipeArn", "infrastructureConfigurationArn", "containerRecipeArn"]
        unknown.removeAll { links.contains($0) }
        if kind == .recipe { translated = recipeValues(translated) }
        let document = ConfigValue(.object([(kind.responseMember, translated)]), line: values.line, column: values.column)
        return SideResource(kind: kind, address: item.address, action: action, document: document, unknown: unknown)
    }

    /// A recipe's block device mappings in the API's types: the provider's string booleans
    /// become booleans, `no_device = true` becomes `noDevice: ""`, and the zero sizes and
    /// rates its expanders leave out are left out (image_recipe.go,
    /// expandEBSInstanceBlockDeviceSpecification and expandInstanceBlockDeviceMapping).
    static func recipeValues(_ recipe: ConfigValue) -> ConfigValue {
        guard case let .object(stored) = recipe.kind,
            case var members = Array(stored),
            let index = members.firstIndex(where: { $0.key == "blockDeviceMappings" }),
            case let .array(mappings) = members[index].value.kind
        else { return recipe }
        let converted = mappings.map { mapping -> ConfigValue in
            guard case let .object(fields) = mapping.kind else { return mapping }
            var result: [(key: String, value: ConfigValue)] = []
            for (key, value) in fields {
                switch key {
                case "noDevice":
                    if value.bool == true { result.append((key, ConfigValue(.string(""), line: value.line, column: value.column))) }
                case "ebs":
                    guard case let .object(ebsFields) = value.kind else {
                        result.append((key, value))
                        continue
                    }
                    var ebs: [(key: String, value: ConfigValue)] = []
                    for (name, field) in ebsFields {
                        if name == "deleteOnTermination" || name == "encrypted", case let .string(text) = field.kind {
                            // Validated by the provider as a nullable boolean: "true"/"false"/"".
                            if let flag = Bool(text) { ebs.append((name, ConfigValue(.bool(flag), line: field.line, column: field.column))) }
                            if text.isEmpty || Bool(text) != nil { continue }
                        }
                        if ["iops", "throughput", "volumeSize"].contains(name), field.int == 0 { continue }
                        ebs.append((name, field))
                    }
                    var copy = value
                    copy.kind = .object(ObjectMembers(ebs))
                    result.append((key, copy))
                default:
                    result.append((key, value))
                }
            }
            var copy = mapping
            copy.kind = .object(ObjectMembers(result))
            return copy
        }
        var list = members[index].value
        list.kind = .array(converted)
        members[index].value = list
        var copy = recipe
        copy.kind = .object(ObjectMembers(members))
        return copy
    }
}
