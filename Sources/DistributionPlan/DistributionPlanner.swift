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
        var problems = loaded.problems
        let context = merge(context, loaded.stated, problems: &problems)
        guard let configuration = loaded.configuration else {
            return Outcome(form: loaded.form, problems: problems.sorted(), plan: nil)
        }
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

    /// The command line's context completed by what the document states. A flag that
    /// contradicts the document is an error: the plan would describe an image that is not the
    /// one the response is about.
    static func merge(_ given: PlanContext, _ stated: ConfigurationLoader.StatedContext, problems: inout [Problem]) -> PlanContext {
        var context = given
        func take<Value>(_ flag: String, _ value: inout Value?, _ fact: ConfigurationLoader.Stated<Value>?, show: (Value) -> String) {
            guard let fact else { return }
            if let current = value, current != fact.value {
                problems.append(Problem(.error, fact.path, "says \(show(fact.value)), but \(flag) says \(show(current)); leave the flag out or plan the right document", at: fact.at))
            } else {
                value = fact.value
            }
        }
        take("--platform", &context.platform, stated.platform) { $0.rawValue }
        take("--account", &context.ownerAccount, stated.ownerAccount) { $0 }
        take("--source-region", &context.sourceRegion, stated.sourceRegion) { $0 }
        take("--build-version", &context.buildVersion, stated.buildVersion) { String($0) }
        take("--build-date", &context.buildDate, stated.buildDate) { $0 }
        take("--recipe-name", &context.recipeName, stated.recipeName) { $0 }
        if let region = stated.sourceRegion, !Partition.isRegionName(region.value) {
            problems.append(Problem(.error, region.path, "\"\(region.value)\" is not a region name (\(Partition.regionPattern))", at: region.at))
            context.sourceRegion = nil
        }
        if let account = context.ownerAccount, account.utf8.count != 12 || !account.allSatisfy(\.isNumber) {
            problems.append(Problem(.error, stated.ownerAccount?.path ?? "", "the owner account \"\(account)\" is not a 12-digit account id", at: stated.ownerAccount?.at))
            context.ownerAccount = nil
        }
        return context
    }
}
