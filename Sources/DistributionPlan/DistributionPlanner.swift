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
        /// The configuration as read, when it could be read (the pipeline checks look at it).
        public var configuration: DistributionConfiguration?

        public var errors: [Problem] { problems.filter { $0.severity == .error } }
        public var warnings: [Problem] { problems.filter { $0.severity == .warning } }
    }

    /// `resource` picks one distribution configuration of a CloudFormation template.
    public static func plan(document text: String, context: PlanContext, resource: String? = nil) -> Outcome {
        let loaded = ConfigurationLoader.load(text, resource: resource)
        var problems = loaded.problems
        let given = context
        let context = merge(given, loaded.stated, problems: &problems)
        guard let configuration = loaded.configuration else {
            return Outcome(form: loaded.form, problems: problems.sorted(), plan: nil)
        }
        if context.sourceRegion == nil, let first = configuration.distributions.first {
            problems.append(Problem(.warning, "", "no --source-region given; assuming the first listed region, \(first.region)"))
        }
        problems += CrossFieldRules.check(configuration, context: context)
        problems.sort()
        guard !problems.contains(where: { $0.severity == .error }) else {
            return Outcome(form: loaded.form, problems: problems, plan: nil, configuration: configuration)
        }
        let (plan, found) = Planner.planFindingWarnings(
            configuration, context: context, warnings: problems.filter { $0.severity == .warning }, recipeNameGiven: given.recipeName != nil)
        // The planner's own warnings (found while expanding) are the user's problems too.
        problems += found
        return Outcome(form: loaded.form, problems: problems, plan: plan, configuration: configuration)
    }

    /// The command line's context completed by what the document states. A flag that
    /// contradicts the document is an error: the plan would describe an image that is not the
    /// one the response is about.
    static func merge(_ given: PlanContext, _ stated: ConfigurationLoader.StatedContext, problems: inout [Problem]) -> PlanContext {
        var context = given
        func take<Value>(_ flag: String, _ value: inout Value?, _ fact: ConfigurationLoader.Stated<Value>?, show: (Value) -> String) {
            guard let fact else { return }
            if let current = value, current != fact.value {
                problems.append(
                    Problem(
                        .error, fact.path, "says \(show(fact.value)), but \(flag) says \(show(current)); leave the flag out or plan the right document",
                        at: fact.at))
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
        // Every value of the context reaches the script: each is checked here, whoever gave it
        // (the command line checks its flags too, to answer with a usage error).
        func refuse<Value>(_ fact: ConfigurationLoader.Stated<Value>?, _ flag: String, _ message: String) {
            problems.append(Problem(.error, fact?.path ?? "", (fact == nil ? "\(flag): " : "") + message, at: fact?.at))
        }
        if let region = context.sourceRegion, !Partition.isRegionName(region) {
            refuse(stated.sourceRegion, "--source-region", "\"\(region)\" is not a region name (\(Partition.regionPattern))")
            context.sourceRegion = nil
        }
        if let account = context.ownerAccount, !isAccountID(account) {
            refuse(stated.ownerAccount, "--account", "the owner account \"\(account)\" is not a 12-digit account id")
            context.ownerAccount = nil
        }
        if let recipe = context.recipeName, !isRecipeName(recipe) {
            refuse(
                stated.recipeName, "--recipe-name",
                "\"\(recipe)\" is not an Image Builder recipe name (letters, digits, '-', '_' and spaces, 3 to 128 characters)")
            context.recipeName = nil
        }
        if let date = context.buildDate, !isBuildDate(date) {
            refuse(stated.buildDate, "--build-date", "\"\(date)\" is not a build date AMI names can hold (letters, digits, '-', '_' and '.', at most 64)")
            context.buildDate = nil
        }
        if let version = context.buildVersion, version < 1 {
            refuse(stated.buildVersion, "--build-version", "\(version) is not a build version (1 or more)")
            context.buildVersion = nil
        }
        return context
    }

    private static func ascii(_ text: String, _ allowed: (UInt8) -> Bool) -> Bool {
        text.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || allowed(byte)
        }
    }

    /// Twelve ASCII digits (Unicode digits such as `١` are not account ids).
    public static func isAccountID(_ text: String) -> Bool {
        text.utf8.count == 12 && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// Image Builder's recipe name pattern (API reference, ImageRecipe.name):
    /// `^[-_A-Za-z-0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z-0-9]$`.
    public static func isRecipeName(_ text: String) -> Bool {
        let count = text.utf8.count
        return count >= 3 && count <= 128 && text.first != " " && text.last != " "
            && ascii(text) { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: " ") }
    }

    /// What `{{ imagebuilder:buildDate }}` may stand for: it ends up in AMI names, which allow
    /// no `:`, so letters, digits, `-`, `_` and `.`.
    public static func isBuildDate(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && ascii(text) { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }
}
