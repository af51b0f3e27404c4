import ConfigDocument
import Foundation

/// The review of each distribution configuration in a Terraform plan or state, under its
/// resource address: `imgship plan tfplan.json` plans each one as it would be after apply,
/// `imgship plan diff tfplan.json` diffs each one's before against its after.
public struct TerraformReview: Sendable {
    public struct Entry: Sendable {
        public var resource: TerraformPlan.Resource
        /// The review of the configuration before the change; nil when it does not exist yet.
        public var before: PlanReview?
        /// The review after the change; nil when Terraform deletes it.
        public var after: PlanReview?

        /// Every problem of both sides, each once.
        public var problems: [Problem] {
            var seen: [Problem] = []
            for problem in (before?.problems ?? []) + (after?.problems ?? []) where !seen.contains(problem) { seen.append(problem) }
            return seen
        }

        /// The line that introduces the entry: `# ADDRESS: update`.
        public var heading: String { "# \(resource.address): \(resource.action)" }
    }

    public var entries: [Entry]

    /// Reviews each resource of `config` (a Terraform document) with `context` and `inputs`;
    /// `before` also reviews the side before the change (for a diff).
    public static func make(config: NamedDocument, resources: [TerraformPlan.Resource], context: PlanContext, inputs: PlanReview.Inputs, before: Bool)
        -> TerraformReview
    {
        TerraformReview(
            entries: resources.map { resource in
                func review(_ selector: String) -> PlanReview {
                    var inputs = inputs
                    inputs.resource = selector
                    return PlanReview.make(config: config, context: context, inputs: inputs)
                }
                return Entry(
                    resource: resource,
                    before: before && resource.before != nil ? review("before:\(resource.address)") : nil,
                    after: resource.after != nil ? review(resource.address) : nil)
            })
    }
}
