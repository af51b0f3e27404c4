import ConfigDocument

/// The `AWS::ImageBuilder::DistributionConfiguration` resources of a CloudFormation template
/// (JSON or YAML), and the translation of their PascalCase `Properties` into the API's
/// spelling once they have been checked in their own.
enum CloudFormationTemplate {
    static let resourceType = "AWS::ImageBuilder::DistributionConfiguration"

    struct Resource {
        var logicalID: String
        /// `Resources.<logicalID>.Properties`, the prefix of every problem's path.
        var path: String
        var properties: ConfigValue
        var condition: String?
    }

    /// The distribution configuration resources in template order, or the problem that stops
    /// reading the template.
    static func resources(in template: ConfigValue) -> Result<[Resource], Problem> {
        guard let resources = template["Resources"] else {
            return .failure(Problem(.error, "", "a CloudFormation template needs a Resources section", at: template))
        }
        guard let entries = resources.members else {
            return .failure(Problem(.error, "Resources", "expected an object of resources, found \(resources.typeName)", at: resources))
        }
        var found: [Resource] = []
        for (logicalID, resource) in entries where resource["Type"]?.string == resourceType {
            let path = "Resources.\(logicalID).Properties"
            guard let properties = resource["Properties"] else {
                return .failure(Problem(.error, "Resources.\(logicalID)", "missing Properties: Name and Distributions are required", at: resource))
            }
            found.append(Resource(logicalID: logicalID, path: path, properties: properties, condition: resource["Condition"]?.string))
        }
        if found.isEmpty {
            let types = Set(entries.compactMap { $0.value["Type"]?.string }).sorted()
            let seen = types.isEmpty ? "" : " (it has \(types.joined(separator: ", ")))"
            return .failure(Problem(.error, "Resources", "the template has no \(resourceType) resource\(seen)", at: resources))
        }
        return .success(found)
    }

    /// The checked properties in the API's spelling and types: keys renamed through the schema,
    /// scalars converted as CloudFormation converts them, unknown keys (already reported)
    /// dropped. Positions are kept, so later findings still name a line.
    static func apiSpelling(of value: ConfigValue, _ shape: Shape) -> ConfigValue {
        let value = SchemaValidator.coerced(value, to: shape)
        var translated = value
        switch (shape, value.kind) {
        case let (.structure(_, members, _), .object(fields)):
            translated.kind = .object(
                ObjectMembers(
                    fields.compactMap { key, field in
                        members.first { FieldNaming.cloudFormation.name($0.name) == key }.map { member in
                            (key: member.name, value: apiSpelling(of: field, member.shape))
                        }
                    }))
        case let (.list(item, _, _), .array(items)):
            translated.kind = .array(items.map { apiSpelling(of: $0, item) })
        case let (.map(valueShape, _, _, _, _), .object(fields)):
            translated.kind = .object(ObjectMembers(fields.map { (key: $0.key, value: apiSpelling(of: $0.value, valueShape)) }))
        default:
            break
        }
        return translated
    }
}
