import ConfigDocument

/// The planner's front door: document text in, problems and (when there are no errors) a plan
/// out.
public enum DistributionPlanner {
    public struct Outcome: Sendable {
        public var form: ConfigurationLoader.InputForm?
        /// Errors and warnings, in document order.
        public var problems: [Problem]
        /// Nil when any error was found.
        public var plan: Plan?

        public var errors: [Problem] { problems.filter { $0.severity == .error } }
        public var warnings: [Problem] { problems.filter { $0.severity == .warning } }
    }

    /// `resource` picks one distribution configuration of a CloudFormation template.
    public static func plan(document text: String, context: PlanContext, resource: String? = nil) -> Outcome {
        let loaded = ConfigurationLoader.load(text, resource: resource)
        var context = context
        if context.platform == nil { context.platform = loaded.platform }
        guard let configuration = loaded.configuration else {
            return Outcome(form: loaded.form, problems: loaded.problems, plan: nil)
        }
        var problems = loaded.problems
        if context.sourceRegion == nil, let first = configuration.distributions.first {
            problems.append(Problem(.warning, "", "no --source-region given; assuming the first listed region, \(first.region)"))
        }
        problems += CrossFieldRules.check(configuration, context: context)
        problems.sort()
        guard !problems.contains(where: { $0.severity == .error }) else {
            return Outcome(form: loaded.form, problems: problems, plan: nil)
        }
        let plan = Planner.plan(configuration, context: context, warnings: problems.filter { $0.severity == .warning })
        return Outcome(form: loaded.form, problems: problems, plan: plan)
    }
}
