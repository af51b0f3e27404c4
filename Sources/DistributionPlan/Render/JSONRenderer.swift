import ConfigDocument

/// Renders a plan as JSON with a fixed key order and `schemaVersion`, documented in docs/plan.md ("The JSON plan").
/// Built as values and written by the one JSON writer (`JSONWriter`), so key order follows the
/// plan, not a hash.
public enum JSONRenderer {
    public static let schemaVersion = 1

    public static func render(_ plan: Plan) -> String {
        render(plan, adding: [])
    }

    /// `adding`: members after the plan's own (`pipeline`, `cost`).
    public static func render(_ plan: Plan, adding extra: [PlanValue.Member]) -> String {
        var context: [PlanValue.Member] = [
            .init("sourceRegion", .string(plan.sourceRegion)),
            .init("ownerAccount", .string(plan.display(account: plan.context.owner))),
            .init("platform", .string(plan.context.platform?.rawValue ?? "linux")),
            .init("buildDate", .string(plan.context.effectiveBuildDate)),
            .init("buildVersion", .int(plan.context.effectiveBuildVersion)),
            .init("partition", .string(plan.partition.name)),
            .init("planId", .string(plan.id)),
        ]
        if let recipe = plan.context.recipeName { context.append(.init("recipeName", .string(recipe))) }
        if let name = plan.configurationName { context.insert(.init("configurationName", .string(name)), at: 0) }
        var byKind: [PlanValue.Member] = []
        for kind in TaskKind.allCases {
            if let count = plan.totals.byKind[kind] { byKind.append(.init(kind.rawValue, .int(count))) }
        }
        let document = PlanValue.object(
            [
                .init("schemaVersion", .int(schemaVersion)),
                .init("context", .object(context)),
                .init(
                    "totals",
                    .object([
                        .init("tasks", .int(plan.totals.tasks)),
                        .init("copyRegions", .int(plan.totals.copyRegions)),
                        .init("copyAccounts", .int(plan.totals.copyAccounts)),
                        .init("byKind", .object(byKind)),
                    ])),
                .init(
                    "buildImage",
                    plan.buildImage.map { image in
                        var members: [PlanValue.Member] = [.init("region", .string(image.region)), .init("name", image.name)]
                        if let description = image.description { members.append(.init("description", .string(description))) }
                        return .object(members)
                    } ?? .null),
                // Written one at a time (below).
                .init("tasks", .list([])),
                .init(
                    "prerequisites",
                    .list(
                        plan.prerequisites.map { item in
                            .object([
                                .init("account", .string(plan.display(account: item.account))),
                                .init("regions", .list(item.regions.map(PlanValue.string))),
                                .init("requirement", .string(item.requirement)),
                            ])
                        })),
                .init("assumptions", .list(plan.assumptions.map(PlanValue.string))),
                .init(
                    "warnings",
                    .list(
                        plan.warnings.map { warning in
                            .object([.init("path", .string(warning.path)), .init("message", .string(warning.message))])
                        })),
            ] + extra)
        guard case var .object(members) = document.jsonOutput, let tasks = members.firstIndex(where: { $0.key == "tasks" }) else {
            preconditionFailure("the plan document is an object with tasks")
        }
        members[tasks].value = .generated(count: plan.tasks.count) { index in taskValue(plan.tasks[index], in: plan).jsonOutput }
        return JSONOutput.object(members).expandedEncoded()
    }

    /// One task of `tasks[]`.
    static func taskValue(_ task: PlanTask, in plan: Plan) -> PlanValue {
        var members: [PlanValue.Member] = [
            .init("id", .string(task.id)),
            .init("kind", .string(task.kind.rawValue)),
            .init("region", .string(task.region)),
            .init("account", .string(plan.display(account: task.account))),
            .init("apiCall", .string(task.kind.apiCall)),
        ]
        if let role = task.assumeRole { members.append(.init("assumeRole", .string(role))) }
        members += [
            .init("parameters", .object(task.parameters)),
            .init("dependsOn", .list(task.dependsOn.map(PlanValue.string))),
            .init("summary", .string(task.summary)),
        ]
        return .object(members)
    }

    /// One value as JSON on one line, for command-line arguments.
    static func compact(_ value: PlanValue) -> String {
        value.jsonOutput.encoded()
    }
}

extension PlanValue {
    /// The value for the JSON writer: references as their placeholders (`{{ami:build}}`).
    public var jsonOutput: JSONOutput {
        switch self {
        case let .string(text): .string(text)
        case .reference, .joined: .string(displayText)
        case let .int(number): .integer(number)
        case let .bool(flag): .bool(flag)
        case .null: .null
        case let .list(items): .array(items.map(\.jsonOutput))
        case let .object(members): .object(members.map { ($0.key, $0.value.jsonOutput) })
        }
    }
}
