import ConfigDocument

/// Renders a plan as JSON with a fixed key order and `schemaVersion`, documented in README.
/// Written by hand rather than through JSONEncoder so key order follows the plan, not a hash.
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
        let document = PlanValue.object([
            .init("schemaVersion", .int(schemaVersion)),
            .init("context", .object(context)),
            .init("totals", .object([
                .init("tasks", .int(plan.totals.tasks)),
                .init("copyRegions", .int(plan.totals.copyRegions)),
                .init("copyAccounts", .int(plan.totals.copyAccounts)),
                .init("byKind", .object(byKind)),
            ])),
            .init("buildImage", plan.buildImage.map { image in
                var members: [PlanValue.Member] = [.init("region", .string(image.region)), .init("name", image.name)]
                if let description = image.description { members.append(.init("description", .string(description))) }
                return .object(members)
            } ?? .null),
            .init("tasks", .list(plan.tasks.map { task in
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
            })),
            .init("prerequisites", .list(plan.prerequisites.map { item in
                .object([
                    .init("account", .string(plan.display(account: item.account))),
                    .init("regions", .list(item.regions.map(PlanValue.string))),
                    .init("requirement", .string(item.requirement)),
                ])
            })),
            .init("assumptions", .list(plan.assumptions.map(PlanValue.string))),
            .init("warnings", .list(plan.warnings.map { warning in
                .object([.init("path", .string(warning.path)), .init("message", .string(warning.message))])
            })),
        ] + extra)
        var writer = Writer()
        writer.write(document, indent: 0)
        writer.bytes.append(UInt8(ascii: "\n"))
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// One value as JSON on one line, for command-line arguments.
    static func compact(_ value: PlanValue) -> String {
        var writer = Writer()
        writer.compact = true
        writer.write(value, indent: 0)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// Appends to one byte buffer: plans of tens of thousands of tasks render in well under a
    /// second this way, where string concatenation took over one.
    private struct Writer {
        var bytes: [UInt8] = []
        /// One line, no spaces: for command-line arguments.
        var compact = false
        private var pads: [[UInt8]] = [[]]

        private mutating func pad(_ level: Int) -> [UInt8] {
            if compact { return [] }
            while pads.count <= level { pads.append(pads[pads.count - 1] + [0x20, 0x20]) }
            return pads[level]
        }

        mutating func write(_ value: PlanValue, indent: Int) {
            switch value {
            case let .string(text): appendJSONString(text, to: &bytes)
            case .reference, .joined: appendJSONString(value.displayText, to: &bytes)
            case let .int(number): bytes.append(contentsOf: String(number).utf8)
            case let .bool(flag): bytes.append(contentsOf: (flag ? "true" : "false").utf8)
            case .null: bytes.append(contentsOf: "null".utf8)
            case let .list(items):
                if items.isEmpty { bytes.append(contentsOf: "[]".utf8); return }
                bytes.append(contentsOf: compact ? "[".utf8 : "[\n".utf8)
                let inner = pad(indent + 1)
                for (index, item) in items.enumerated() {
                    bytes.append(contentsOf: inner)
                    write(item, indent: indent + 1)
                    separate(last: index + 1 == items.count)
                }
                bytes.append(contentsOf: pad(indent))
                bytes.append(UInt8(ascii: "]"))
            case let .object(members):
                if members.isEmpty { bytes.append(contentsOf: "{}".utf8); return }
                bytes.append(contentsOf: compact ? "{".utf8 : "{\n".utf8)
                let inner = pad(indent + 1)
                for (index, member) in members.enumerated() {
                    bytes.append(contentsOf: inner)
                    appendJSONString(member.key, to: &bytes)
                    bytes.append(contentsOf: compact ? ":".utf8 : ": ".utf8)
                    write(member.value, indent: indent + 1)
                    separate(last: index + 1 == members.count)
                }
                bytes.append(contentsOf: pad(indent))
                bytes.append(UInt8(ascii: "}"))
            }
        }

        private mutating func separate(last: Bool) {
            switch (compact, last) {
            case (true, true): break
            case (true, false): bytes.append(UInt8(ascii: ","))
            case (false, true): bytes.append(contentsOf: "\n".utf8)
            case (false, false): bytes.append(contentsOf: ",\n".utf8)
            }
        }
    }
}
