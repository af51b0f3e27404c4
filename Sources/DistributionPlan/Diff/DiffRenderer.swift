import ConfigDocument

/// Renders a `PlanDiff` for people (`text`) and for programs (`json`).
///
/// Text, in Terraform's manner: the context that changed, then the tasks grouped by region and
/// account (regions in the new plan's order, then those only the old plan has), each line
/// marked `+` added, `-` removed, `~` changed or moved, the changed fields indented under their
/// task; then prerequisites and assumptions added and removed; then the totals line
/// `Plan: 3 to add, 2 to change, 1 to remove.` Values are shown as JSON (strings quoted), so
/// no control character of a configuration reaches the terminal.
///
/// JSON schema (`schemaVersion` 1; keys always in this order, absent optional keys left out):
/// ```
/// {
///   "schemaVersion": 1,
///   "old": {"configurationName"?: string, "tasks": int},
///   "new": {"configurationName"?: string, "tasks": int},
///   "hasChanges": bool,                 // what --exit-code turns into 1
///   "totals": {"add": int, "change": int, "remove": int, "moved": int},
///   "context": [{"field": string, "old": string|null, "new": string|null}],
///       // field: configurationName | sourceRegion | ownerAccount | platform | partition
///       //        | buildImage.name | buildImage.description
///   "tasks": [{
///     "action": "added" | "removed" | "changed" | "moved",
///     "id": string,                     // the new plan's id (the old one's when removed)
///     "previousId"?: string,            // moved: the old plan's id
///     "kind": string,                   // a task kind of the plan schema (copy-image, ...)
///     "region": string,
///     "account": string,                // 12 digits, or "<owner>" when the owner is unknown
///     "previousAccount"?: string,       // moved between accounts
///     "assumeRole"?: string,
///     "summary": string,
///     "parameters"?: object,            // added and removed: the task's API parameters
///     "changes"?: [{                    // changed and moved
///       "path": string,                 // LaunchPermission.Add[], KmsKeyId,
///                                       // TagSpecifications[ResourceType=image].Tags[Key=Team],
///                                       // dependsOn[], assumeRole, account
///       "action": "added" | "removed" | "changed",
///       "topic": "launch-permission" | "kms-key" | "encryption" | "tags" | "name"
///              | "description" | "dependencies" | "role" | "account" | "parameter",
///       "old"?: any, "new"?: any        // JSON values; references as their placeholders
///     }]
///   }],
///   "prerequisites": [{"action": "added" | "removed", "account": string, "regions": [string],
///                      "requirement": string}],
///   "assumptions": [{"action": "added" | "removed", "text": string}],
///   "cost"?: {                          // when an estimate was asked for (PlanDiff.withCost)
///     "priceDate": string, "imageSizeGiB": int,
///     "old": Totals, "new": Totals, "delta": Totals
///       // Totals: {"snapshotGiB": int, "transferGiB": int, "s3GiB": int,
///       //          "monthlyCents": int, "oneTimeCents": int}  (USD cents, see CostRenderer)
///   }
/// }
/// ```
public enum DiffRenderer {
    public static let schemaVersion = 1

    /// ANSI SGR colours of the markers: green add, red remove, yellow change (ECMA-48).
    enum Colour: String {
        case green = "\u{1B}[32m"
        case red = "\u{1B}[31m"
        case yellow = "\u{1B}[33m"
        case bold = "\u{1B}[1m"
        static let reset = "\u{1B}[0m"
    }

    /// The diff for people. `color` adds ANSI colour to the markers and headings: the caller
    /// decides (standard output is a terminal and `NO_COLOR` is unset or empty, no-color.org).
    public static func text(_ diff: PlanDiff, color: Bool = false) -> String {
        func paint(_ text: String, _ colour: Colour) -> String {
            color ? colour.rawValue + text + Colour.reset : text
        }
        func marker(_ action: PlanDiff.Action) -> String {
            switch action {
            case .added: paint("+", .green)
            case .removed: paint("-", .red)
            case .changed, .moved: paint("~", .yellow)
            }
        }
        func fieldMarker(_ action: PlanDiff.FieldChange.Action) -> String {
            switch action {
            case .added: paint("+", .green)
            case .removed: paint("-", .red)
            case .changed: paint("~", .yellow)
            }
        }
        func show(_ text: String) -> String { TextRenderer.escapedForDisplay(text) }

        var out = ""
        let oldTitle = diff.oldName.map { "\"\(show($0))\"" } ?? "(unnamed)"
        let newTitle = diff.newName.map { "\"\(show($0))\"" } ?? "(unnamed)"
        out += "Plan diff for " + (oldTitle == newTitle ? newTitle : "\(oldTitle) -> \(newTitle)") + "\n"
        out +=
            "old plan: \(diff.oldTaskCount) \(diff.oldTaskCount == 1 ? "task" : "tasks"), new plan: \(diff.newTaskCount) \(diff.newTaskCount == 1 ? "task" : "tasks")\n"

        if !diff.context.isEmpty {
            out += "\n" + paint("Context", .bold) + "\n"
            for change in diff.context {
                out += "  \(paint("~", .yellow)) \(change.field): \(show(change.old ?? "(none)")) -> \(show(change.new ?? "(none)"))\n"
            }
        }

        var regions: [String] = []
        // Positions in diff.tasks, by region and account in first-seen order.
        var byRegion: [String: (accounts: [String], tasks: [String: [Int]])] = [:]
        for index in diff.tasks.indices {
            let region = diff.tasks[index].region, account = diff.tasks[index].account
            if byRegion[region] == nil {
                regions.append(region)
                byRegion[region] = ([], [:])
            }
            if byRegion[region]?.tasks[account] == nil { byRegion[region]?.accounts.append(account) }
            byRegion[region]?.tasks[account, default: []].append(index)
        }
        for region in regions {
            guard let group = byRegion[region] else { continue }
            out += "\n" + paint(region, .bold) + "\n"
            for account in group.accounts {
                out += "  \(account)\n"
                for index in group.tasks[account] ?? [] {
                    let task = diff.tasks[index]
                    var line = "    \(marker(task.action)) "
                    if let previous = task.previousID {
                        line += "\(show(previous)) -> \(show(task.id))"
                        if let account = task.previousAccount { line += " (moved from account \(account))" } else { line += " (moved)" }
                    } else {
                        line += show(task.id)
                    }
                    line += ": \(show(task.summary))"
                    if task.action == .added || task.action == .removed, let role = task.assumeRole { line += " (as \(role))" }
                    out += line + "\n"
                    for change in task.changes {
                        out += "        \(fieldMarker(change.action)) \(show(change.path)): "
                        switch change.action {
                        case .added: out += JSONRenderer.compact(change.new ?? .null)
                        case .removed: out += JSONRenderer.compact(change.old ?? .null)
                        case .changed: out += "\(JSONRenderer.compact(change.old ?? .null)) -> \(JSONRenderer.compact(change.new ?? .null))"
                        }
                        out += "\n"
                    }
                }
            }
        }

        if !diff.prerequisites.isEmpty {
            out += "\n" + paint("Prerequisites", .bold) + "\n"
            for item in diff.prerequisites {
                out += "  \(fieldMarker(item.action)) \(item.account) in \(item.regions.joined(separator: ", ")): \(show(item.requirement))\n"
            }
        }
        if !diff.assumptions.isEmpty {
            out += "\n" + paint("Assumptions", .bold) + "\n"
            for item in diff.assumptions {
                out += "  \(fieldMarker(item.action)) assumption: \(show(item.text))\n"
            }
        }
        if let cost = diff.cost {
            out += "\n" + CostRenderer.deltaText(cost, color: color)
        }
        out += "\n" + paint(totalsLine(diff), .bold) + "\n"
        return out
    }

    /// Terraform's summary line: `Plan: 3 to add, 2 to change, 1 to remove.`, with the pure
    /// moves after it when there are any; `No changes.` when nothing differs at all.
    public static func totalsLine(_ diff: PlanDiff) -> String {
        guard diff.hasChanges else { return "No changes. Both plans carry out the same tasks." }
        let totals = diff.totals
        var line = "Plan: \(totals.toAdd) to add, \(totals.toChange) to change, \(totals.toRemove) to remove."
        if totals.moved > 0 { line += " \(totals.moved) moved without change." }
        return line
    }

    /// The diff as JSON, in the schema of the type's description, ending in a line break.
    public static func json(_ diff: PlanDiff) -> String {
        func side(_ name: String?, _ count: Int) -> PlanValue {
            var members: [PlanValue.Member] = []
            if let name { members.append(.init("configurationName", .string(name))) }
            members.append(.init("tasks", .int(count)))
            return .object(members)
        }
        func optional(_ text: String?) -> PlanValue { text.map(PlanValue.string) ?? .null }
        var members: [PlanValue.Member] = [
            .init("schemaVersion", .int(schemaVersion)),
            .init("old", side(diff.oldName, diff.oldTaskCount)),
            .init("new", side(diff.newName, diff.newTaskCount)),
            .init("hasChanges", .bool(diff.hasChanges)),
            .init(
                "totals",
                .object([
                    .init("add", .int(diff.totals.toAdd)), .init("change", .int(diff.totals.toChange)),
                    .init("remove", .int(diff.totals.toRemove)), .init("moved", .int(diff.totals.moved)),
                ])),
            .init(
                "context",
                .list(
                    diff.context.map { change in
                        .object([.init("field", .string(change.field)), .init("old", optional(change.old)), .init("new", optional(change.new))])
                    })),
            .init("tasks", .list([])),
            .init(
                "prerequisites",
                .list(
                    diff.prerequisites.map { item in
                        .object([
                            .init("action", .string(item.action.rawValue)), .init("account", .string(item.account)),
                            .init("regions", .list(item.regions.map(PlanValue.string))), .init("requirement", .string(item.requirement)),
                        ])
                    })),
            .init(
                "assumptions",
                .list(
                    diff.assumptions.map { item in
                        .object([.init("action", .string(item.action.rawValue)), .init("text", .string(item.text))])
                    })),
        ]
        if let cost = diff.cost { members.append(.init("cost", CostRenderer.deltaJSON(cost))) }
        // The tasks made one at a time as they are written: a diff of two fleet plans holds
        // 50,000 of them, and a tree of them all would be built only to be thrown away.
        let output = members.map { member -> (key: String, value: JSONOutput) in
            guard member.key == "tasks" else { return (member.key, member.value.jsonOutput) }
            return (member.key, .generated(count: diff.tasks.count) { index in taskJSON(diff.tasks[index]).jsonOutput })
        }
        return JSONOutput.object(output).expandedEncoded()
    }

    static func taskJSON(_ task: PlanDiff.TaskChange) -> PlanValue {
        var members: [PlanValue.Member] = [.init("action", .string(task.action.rawValue)), .init("id", .string(task.id))]
        if let previous = task.previousID { members.append(.init("previousId", .string(previous))) }
        members += [.init("kind", .string(task.kind.rawValue)), .init("region", .string(task.region)), .init("account", .string(task.account))]
        if let previous = task.previousAccount { members.append(.init("previousAccount", .string(previous))) }
        if let role = task.assumeRole { members.append(.init("assumeRole", .string(role))) }
        members.append(.init("summary", .string(task.summary)))
        switch task.action {
        case .added, .removed:
            members.append(.init("parameters", .object(task.parameters)))
        case .changed, .moved:
            members.append(
                .init(
                    "changes",
                    .list(
                        task.changes.map { change in
                            var fields: [PlanValue.Member] = [
                                .init("path", .string(change.path)), .init("action", .string(change.action.rawValue)),
                                .init("topic", .string(change.topic.rawValue)),
                            ]
                            if let old = change.old { fields.append(.init("old", old)) }
                            if let new = change.new { fields.append(.init("new", new)) }
                            return .object(fields)
                        })))
        }
        return .object(members)
    }
}
