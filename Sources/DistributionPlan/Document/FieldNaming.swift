/// How a document spells the configuration's fields: the API's camelCase, or CloudFormation's
/// PascalCase with its one renamed block. Problems are reported in the document's own
/// spelling, so the path in a message is the one the user can search for in their file.
public enum FieldNaming: Sendable {
    case api
    case cloudFormation

    /// The document's name for an API member name.
    func name(_ apiName: String) -> String {
        switch self {
        case .api:
            return apiName
        case .cloudFormation:
            if apiName == "launchPermission" { return "LaunchPermissionConfiguration" }
            guard let first = apiName.first else { return apiName }
            return first.uppercased() + apiName.dropFirst()
        }
    }

    /// An API-spelled path (`distributions[0].amiDistributionConfiguration.name`) in the
    /// document's spelling. Only for paths of structure members: map keys are not renamed.
    func path(_ apiPath: String) -> String {
        guard self != .api else { return apiPath }
        return apiPath.split(separator: ".", omittingEmptySubsequences: false).map { component in
            let index = component.firstIndex(of: "[") ?? component.endIndex
            return name(String(component[..<index])) + component[index...]
        }.joined(separator: ".")
    }
}
