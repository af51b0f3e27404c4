import ConfigDocument

/// Reads a configuration document of any supported shape into a checked model.
public enum ConfigurationLoader {
    /// The document shapes imgship recognises, by their top-level members.
    public enum InputForm: String, Sendable, Codable {
        /// `create-/update-distribution-configuration --cli-input-json`.
        case apiRequest = "api-request"
        /// `get-distribution-configuration`'s answer: `{"distributionConfiguration": {...}}`.
        case getDistributionConfiguration = "get-distribution-configuration"
        /// `get-image`'s answer: `{"image": {"platform", "distributionConfiguration"}}`.
        case getImage = "get-image"
        case cloudFormation = "cloudformation"
    }

    public struct Result: Sendable {
        public var form: InputForm?
        /// Nil when the document could not be read at all.
        public var configuration: DistributionConfiguration?
        /// The platform the document states (get-image), if any.
        public var platform: PlanContext.Platform?
        public var problems: [Problem]
    }

    /// Reads `text`, JSON or YAML, of any supported form. `resource` picks one distribution
    /// configuration of a CloudFormation template that has several.
    public static func load(_ text: String, resource: String? = nil) -> Result {
        let document: ConfigValue
        do {
            document = try DocumentReader.parse(text)
        } catch {
            return Result(form: nil, configuration: nil, platform: nil, problems: [error])
        }
        guard let members = document.members else {
            return Result(form: nil, configuration: nil, platform: nil,
                          problems: [Problem(.error, "", "expected an object at the top, found \(document.typeName)", at: document)])
        }
        let keys = Set(members.map(\.key))
        if keys.contains("Resources") || keys.contains("AWSTemplateFormatVersion") {
            return loadTemplate(document, resource: resource)
        }
        if let image = document["image"] {
            var problems: [Problem] = []
            var platform: PlanContext.Platform?
            if let text = image["platform"]?.string {
                platform = PlanContext.Platform(rawValue: text.lowercased())
                if platform == nil {
                    problems.append(Problem(.error, "image.platform", "\"\(text)\" is not one of \"Windows\", \"Linux\", \"macOS\"", at: image["platform"]))
                }
            }
            guard let configuration = image["distributionConfiguration"] else {
                problems.append(Problem(.error, "image", "has no distributionConfiguration: the image was not distributed", at: image))
                return Result(form: .getImage, configuration: nil, platform: platform, problems: problems)
            }
            var result = check(configuration, path: "image.distributionConfiguration", form: .getImage)
            result.platform = platform
            result.problems = (problems + result.problems).sorted()
            return result
        }
        if let configuration = document["distributionConfiguration"] {
            return check(configuration, path: "distributionConfiguration", form: .getDistributionConfiguration)
        }
        return check(document, path: "", form: .apiRequest)
    }

    private static func loadTemplate(_ template: ConfigValue, resource wanted: String?) -> Result {
        func failure(_ problem: Problem) -> Result {
            Result(form: .cloudFormation, configuration: nil, platform: nil, problems: [problem])
        }
        let resources: [CloudFormationTemplate.Resource]
        switch CloudFormationTemplate.resources(in: template) {
        case let .success(found): resources = found
        case let .failure(problem): return failure(problem)
        }
        let names = resources.map(\.logicalID).joined(separator: ", ")
        let chosen: CloudFormationTemplate.Resource
        if let wanted {
            guard let match = resources.first(where: { $0.logicalID == wanted }) else {
                return failure(Problem(.error, "Resources", "no \(CloudFormationTemplate.resourceType) resource named \(wanted); the template has \(names)"))
            }
            chosen = match
        } else if resources.count > 1 {
            return failure(Problem(.error, "Resources", "the template has \(resources.count) distribution configurations (\(names)); choose one with --resource"))
        } else {
            chosen = resources[0]
        }

        var validator = SchemaValidator(naming: .cloudFormation)
        let shape = Schema.configuration(for: .cloudFormation)
        var base = Path()
        for component in chosen.path.split(separator: ".") { base = base.member(String(component)) }
        validator.check(chosen.properties, shape, base)
        if let condition = chosen.condition {
            validator.appendProblem(Problem(.warning, "Resources.\(chosen.logicalID).Condition",
                                            "the resource exists only when condition \(condition) holds; planned as if it does"))
        }
        let properties = CloudFormationTemplate.apiSpelling(of: chosen.properties, shape)
        let configuration = properties.members == nil ? nil
            : DistributionConfiguration(properties, path: chosen.path, naming: .cloudFormation)
        return Result(form: .cloudFormation, configuration: configuration, platform: nil, problems: validator.problems.sorted())
    }

    private static func check(_ value: ConfigValue, path: String, form: InputForm) -> Result {
        var validator = SchemaValidator()
        var base = Path()
        for component in path.split(separator: ".") { base = base.member(String(component)) }
        validator.check(value, Schema.configuration, base)
        if form == .apiRequest && value["name"] == nil && value["distributionConfigurationArn"] == nil {
            validator.appendProblem(Problem(.error, path, "missing required field 'name' (or 'distributionConfigurationArn' for an update)", at: value))
        }
        let configuration = value.members == nil ? nil : DistributionConfiguration(value, path: path)
        return Result(form: form, configuration: configuration, platform: nil, problems: validator.problems.sorted())
    }
}
