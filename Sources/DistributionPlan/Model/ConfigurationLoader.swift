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
        /// `terraform show -json`, a plan or a state (`TerraformPlan`).
        case terraform
    }

    public struct Result: Sendable {
        public var form: InputForm?
        /// Nil when the document could not be read at all.
        public var configuration: DistributionConfiguration?
        /// What the document states about the build (get-image, ARNs of responses).
        public var stated = StatedContext()
        public var problems: [Problem]

        /// The platform the document states (get-image), if any.
        public var platform: PlanContext.Platform? { stated.platform?.value }
    }

    /// A fact a document states, with where it says it.
    public struct Stated<Value: Sendable & Equatable>: Sendable, Equatable {
        public var value: Value
        /// The JSON path of the field it comes from.
        public var path: String
        var at: ConfigValue?
    }

    /// The context a response carries: get-image's ARN gives the build region, the owner and
    /// the build version, its `name` the recipe's name, its `dateCreated` the build date; a
    /// get-distribution-configuration ARN gives the owner.
    public struct StatedContext: Sendable, Equatable {
        public var platform: Stated<PlanContext.Platform>?
        public var ownerAccount: Stated<String>?
        public var sourceRegion: Stated<String>?
        public var recipeName: Stated<String>?
        public var buildVersion: Stated<Int>?
        public var buildDate: Stated<String>?
    }

    /// Reads `text`, JSON or YAML, of any supported form. `resource` picks one distribution
    /// configuration of a CloudFormation template that has several.
    public static func load(_ text: String, resource: String? = nil) -> Result {
        let document: ConfigValue
        do {
            document = try DocumentReader.parse(text)
        } catch {
            return Result(form: nil, configuration: nil, problems: [error])
        }
        guard let members = document.members else {
            return Result(
                form: nil, configuration: nil,
                problems: [Problem(.error, "", "expected an object at the top, found \(document.typeName)", at: document)])
        }
        if members.contains(where: { $0.key == "Resources" || $0.key == "AWSTemplateFormatVersion" }) {
            return loadTemplate(document, resource: resource)
        }
        if TerraformPlan.recognises(document) {
            return loadTerraform(document, resource: resource)
        }
        if let image = document["image"] {
            var problems: [Problem] = []
            var stated = StatedContext()
            if let platformValue = image["platform"], let text = platformValue.string {
                if let platform = PlanContext.Platform(rawValue: text.lowercased()) {
                    stated.platform = Stated(value: platform, path: "image.platform", at: platformValue)
                } else {
                    problems.append(Problem(.error, "image.platform", "\"\(text)\" is not one of \"Windows\", \"Linux\", \"macOS\"", at: platformValue))
                }
            }
            // arn:aws:imagebuilder:REGION:ACCOUNT:image/NAME/x.y.z/BUILD (Image Builder API, Image.arn)
            if let arnValue = image["arn"], let text = arnValue.string {
                if let arn = ARN(text), arn.service == "imagebuilder", arn.resource.hasPrefix("image/") {
                    stated.sourceRegion = Stated(value: arn.region, path: "image.arn", at: arnValue)
                    stated.ownerAccount = Stated(value: arn.account, path: "image.arn", at: arnValue)
                    let parts = arn.resource.split(separator: "/")
                    if parts.count == 4, let build = Int(parts[3]) {
                        stated.buildVersion = Stated(value: build, path: "image.arn", at: arnValue)
                    }
                } else {
                    problems.append(
                        Problem(
                            .error, "image.arn",
                            "\"\(text)\" is not an Image Builder image ARN (arn:PARTITION:imagebuilder:REGION:ACCOUNT:image/NAME/VERSION/BUILD)", at: arnValue))
                }
            }
            if let nameValue = image["name"], let name = nameValue.string {
                stated.recipeName = Stated(value: name, path: "image.name", at: nameValue)
            }
            // Image Builder writes dates as 2026-11-24T09:00:00.000Z; AMI names allow no colon,
            // and {{ imagebuilder:buildDate }} is that date with dashes for colons.
            if let dateValue = image["dateCreated"], let date = dateValue.string {
                stated.buildDate = Stated(value: date.replacing(":", with: "-"), path: "image.dateCreated", at: dateValue)
            }
            guard let configuration = image["distributionConfiguration"] else {
                problems.append(Problem(.error, "image", "has no distributionConfiguration: the image was not distributed", at: image))
                return Result(form: .getImage, configuration: nil, stated: stated, problems: problems)
            }
            var result = check(configuration, path: "image.distributionConfiguration", form: .getImage)
            if stated.ownerAccount == nil { stated.ownerAccount = result.stated.ownerAccount }
            if stated.sourceRegion == nil { stated.sourceRegion = result.stated.sourceRegion }
            result.stated = stated
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
            Result(form: .cloudFormation, configuration: nil, problems: [problem])
        }
        let resources: [CloudFormationTemplate.Resource]
        switch CloudFormationTemplate.resources(in: template) {
        case let .success(found): resources = found
        case let .failure(problem): return failure(problem)
        }
        let chosen: CloudFormationTemplate.Resource
        switch choose(
            resources, named: wanted, name: \.logicalID, path: "Resources",
            missing: { "no \(CloudFormationTemplate.resourceType) resource named \($0); the template has \($1)" },
            several: { "the template has \($0) distribution configurations (\($1)); choose one with --resource" })
        {
        case let .success(found): chosen = found
        case let .failure(problem): return failure(problem)
        }

        var validator = SchemaValidator(naming: .cloudFormation)
        let shape = Schema.configuration(for: .cloudFormation)
        var base = Path()
        for component in chosen.path.split(separator: ".") { base = base.member(String(component)) }
        validator.check(chosen.properties, shape, base)
        if let condition = chosen.condition {
            validator.appendProblem(
                Problem(
                    .warning, "Resources.\(chosen.logicalID).Condition",
                    "the resource exists only when condition \(condition) holds; planned as if it does"))
        }
        let properties = CloudFormationTemplate.apiSpelling(of: chosen.properties, shape)
        let configuration =
            properties.members == nil
            ? nil
            : DistributionConfiguration(properties, path: chosen.path, naming: .cloudFormation)
        return Result(form: .cloudFormation, configuration: configuration, problems: validator.problems.sorted())
    }

    /// A Terraform plan or state: `resource` is a resource address, `before:ADDRESS` for the
    /// configuration as it is (a plan's `change.before`); without one, the only distribution
    /// configuration, as it would be after apply.
    private static func loadTerraform(_ document: ConfigValue, resource wanted: String?) -> Result {
        func failure(_ problem: Problem) -> Result { Result(form: .terraform, configuration: nil, problems: [problem]) }
        let resources: [TerraformPlan.Resource]
        switch TerraformPlan.resources(in: document) {
        case let .success(found): resources = found
        case let .failure(problem): return failure(problem)
        }
        var address = wanted
        let before = wanted?.hasPrefix("before:") == true
        if before { address = wanted.map { String($0.dropFirst("before:".count)) } }
        let chosen: TerraformPlan.Resource
        switch choose(
            resources, named: address, name: \.address, path: "",
            missing: { "no \(TerraformPlan.distributionType) at \($0); the document has \($1)" },
            several: { "the document has \($0) distribution configurations (\($1)); choose one with --resource ADDRESS" })
        {
        case let .success(found): chosen = found
        case let .failure(problem): return failure(problem)
        }
        guard let value = before ? chosen.before : chosen.after else {
            return failure(
                Problem(
                    .error, chosen.address,
                    before
                        ? "does not exist before this plan (Terraform will \(chosen.action) it)"
                        : "will not exist after this plan (Terraform will \(chosen.action) it)"))
        }
        var result = check(value, path: chosen.address, form: .terraform)
        if !before, var configuration = result.configuration {
            // The rules must tell a key known only after apply from no key at all.
            let unknown = Set(chosen.unknown.map { "\(chosen.address).\($0)" })
            for index in configuration.distributions.indices
            where unknown.contains("\(configuration.distributions[index].path).amiDistributionConfiguration.kmsKeyId") {
                configuration.distributions[index].ami?.kmsKeyKnownAfterApply = true
            }
            result.configuration = configuration
        }
        if !before {
            for path in chosen.unknown {
                result.problems.append(
                    Problem(.warning, "\(chosen.address).\(path)", "known only after apply (after_unknown): left out of the plan, not guessed"))
            }
        }
        for path in chosen.sensitive {
            result.problems.append(
                Problem(
                    .warning, path.isEmpty ? chosen.address : "\(chosen.address).\(path)",
                    "sensitive: planned and shown as \(TerraformPlan.sensitivePlaceholder), never printed"))
        }
        return result
    }

    /// The item named `wanted`, or the only one; `missing(wanted, names)` and
    /// `several(count, names)` word the problem otherwise. `items` is not empty.
    private static func choose<Item>(
        _ items: [Item], named wanted: String?, name: (Item) -> String, path: String, missing: (String, String) -> String,
        several: (Int, String) -> String
    ) -> Swift.Result<Item, Problem> {
        let names = items.map(name).joined(separator: ", ")
        if let wanted {
            guard let match = items.first(where: { name($0) == wanted }) else { return .failure(Problem(.error, path, missing(wanted, names))) }
            return .success(match)
        }
        guard items.count == 1, let only = items.first else { return .failure(Problem(.error, path, several(items.count, names))) }
        return .success(only)
    }

    private static func check(_ value: ConfigValue, path: String, form: InputForm) -> Result {
        var validator = SchemaValidator(isResponse: form != .apiRequest && form != .terraform)
        var base = Path()
        for component in path.split(separator: ".") { base = base.member(String(component)) }
        validator.check(value, Schema.configuration, base)
        func at(_ field: String) -> String { path.isEmpty ? field : path + "." + field }
        if form == .apiRequest || form == .terraform {
            // CreateDistributionConfiguration and UpdateDistributionConfiguration take none of
            // the members the service writes (Image Builder API reference; timeoutMinutes:
            // "You can't set this property when you create or update").
            for field in ["arn", "timeoutMinutes", "dateCreated", "dateUpdated"] {
                if let member = value[field] {
                    validator.appendProblem(
                        Problem(
                            .error, at(field), "is written by the service in get-distribution-configuration's answer; a create or update request cannot set it",
                            at: member))
                }
            }
            if value["distributionConfigurationArn"] != nil {
                // UpdateDistributionConfigurationRequest has neither member (API model 2019-12-02).
                for field in ["name", "tags"] {
                    if let member = value[field] {
                        validator.appendProblem(
                            Problem(
                                .error, at(field),
                                "the update form (distributionConfigurationArn) takes no '\(field)': a configuration's name and tags cannot be changed by an update",
                                at: member))
                    }
                }
            } else if value["name"] == nil {
                validator.appendProblem(Problem(.error, path, "missing required field 'name' (or 'distributionConfigurationArn' for an update)", at: value))
            }
        }
        var stated = StatedContext()
        for field in ["arn", "distributionConfigurationArn"] {
            guard let arnValue = value[field], let text = arnValue.string else { continue }
            // arn:aws:imagebuilder:REGION:ACCOUNT:distribution-configuration/NAME
            if let arn = ARN(text), arn.service == "imagebuilder", arn.resource.hasPrefix("distribution-configuration/"),
                DistributionPlanner.isAccountID(arn.account)
            {
                stated.ownerAccount = Stated(value: arn.account, path: at(field), at: arnValue)
                // A configuration is a regional resource, used by pipelines of its own region:
                // the image is built there (Image Builder user guide, "Region 1 is the source").
                stated.sourceRegion = Stated(value: arn.region, path: at(field), at: arnValue)
            } else {
                validator.appendProblem(
                    Problem(
                        .error, at(field),
                        "\"\(text)\" is not a distribution configuration ARN (arn:PARTITION:imagebuilder:REGION:ACCOUNT:distribution-configuration/NAME)",
                        at: arnValue))
            }
        }
        let configuration = value.members == nil ? nil : DistributionConfiguration(value, path: path)
        return Result(form: form, configuration: configuration, stated: stated, problems: validator.problems.sorted())
    }
}
