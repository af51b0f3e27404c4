import ConfigDocument

/// What changes between two plans of a distribution: the tasks added, removed and changed,
/// keyed by their stable ids (`copy-image:eu-west-1:222222222222`), with each change spelled
/// out field by field, the plan prerequisites and assumptions added and removed, and the
/// context (name, source region, owner, build AMI) that differs.
///
/// Tasks whose id changed while the task stayed the same are recognised as moved rather than
/// removed and added, where the ids allow it:
/// - `enable-fast-launch:REGION:INDEX` is positional: a fast launch setting that only moved in
///   its list keeps its content and is matched by content;
/// - `put-ssm-parameter:REGION:ACCOUNT:NAME`: the same account and value under another name
///   (a parameter written in another account, `amiAccountId` changed, is another resource:
///   the old one stays, stale, in the old account, so it is a remove and an add);
/// - `create-launch-template-version` / `set-default-launch-template-version`: the same
///   account and settings with another `launchTemplateId`.
///
/// `ClientToken` is derived from the plan id, the task id and the build, so it is never
/// compared: two plans of one configuration under another name would otherwise differ in
/// every copy.
public struct PlanDiff: Sendable {
    /// What happened to one task.
    public enum Action: String, Sendable, Codable {
        /// Only in the new plan.
        case added
        /// Only in the old plan.
        case removed
        /// In both under the same id, with different parameters, dependencies or role.
        case changed
        /// In both under different ids (see the type's description); `changes` may be empty.
        case moved
    }

    /// One task that differs between the plans.
    public struct TaskChange: Sendable, Equatable {
        public var action: Action
        /// The task's id in the new plan (in the old one when removed).
        public var id: String
        /// The old plan's id of a moved task.
        public var previousID: String?
        public var kind: TaskKind
        public var region: String
        /// The account whose resources the task changes, as plans show it (`<owner>` for an
        /// unknown owner).
        public var account: String
        /// The old plan's account of a task moved between accounts.
        public var previousAccount: String?
        /// The task's one-line summary (the new plan's, the old one's when removed).
        public var summary: String
        public var assumeRole: String?
        /// The whole parameter set of an added or removed task; empty for changed and moved
        /// ones, whose `changes` say what differs.
        public var parameters: [PlanValue.Member]
        /// Field-by-field differences of a changed or moved task, in parameter order, then
        /// dependencies, then the role.
        public var changes: [FieldChange]
    }

    /// One difference inside a task.
    public struct FieldChange: Sendable, Equatable {
        public enum Action: String, Sendable, Codable {
            case added, removed, changed
        }

        /// What a change is about, so a reviewer (or a CI rule) can pick out the risky ones.
        public enum Topic: String, Sendable, Codable {
            /// `LaunchPermission` / `CreateVolumePermission` entries: who may launch the AMI.
            case launchPermission = "launch-permission"
            /// `KmsKeyId`: which key encrypts a copy.
            case kmsKey = "kms-key"
            /// `Encrypted`.
            case encryption
            /// `Tags` and `TagSpecifications` entries.
            case tags
            /// The AMI name or the SSM parameter name.
            case name
            case description
            /// The task's `dependsOn`.
            case dependencies
            /// The IAM role the task runs as (cross-account work).
            case role
            /// The account the task runs in.
            case account
            /// Any other API parameter.
            case parameter
        }

        /// Where the difference is: API parameter names joined with `.`; list entries as `[]`,
        /// entries of tag lists and tag specifications by their key:
        /// `TagSpecifications[ResourceType=image].Tags[Key=Team]`, `LaunchPermission.Add[]`,
        /// `dependsOn[]`, `assumeRole`, `account`.
        public var path: String
        public var action: Action
        public var topic: Topic
        /// The old value (nil when added).
        public var old: PlanValue?
        /// The new value (nil when removed).
        public var new: PlanValue?
    }

    /// A plan prerequisite that one plan lists and the other does not, for the regions given.
    public struct PrerequisiteChange: Sendable, Equatable {
        /// `added` or `removed`.
        public var action: FieldChange.Action
        public var account: String
        public var regions: [String]
        public var requirement: String
    }

    /// A fact of the plan's context that differs: `configurationName`, `sourceRegion`,
    /// `ownerAccount`, `platform`, `partition`, `buildImage.name`, `buildImage.description`.
    public struct ContextChange: Sendable, Equatable {
        public var field: String
        /// Nil when the old plan has none.
        public var old: String?
        /// Nil when the new plan has none.
        public var new: String?
    }

    /// An assumption one plan makes and the other does not.
    public struct AssumptionChange: Sendable, Equatable {
        /// `added` or `removed`.
        public var action: FieldChange.Action
        public var text: String
    }

    /// Terraform's counts: tasks to add, to change (changed tasks and moved ones that also
    /// differ), to remove; moves that change nothing are counted apart.
    public struct Totals: Sendable, Equatable {
        public var toAdd = 0
        public var toChange = 0
        public var toRemove = 0
        /// Tasks whose id changed and nothing else.
        public var moved = 0
    }

    /// The old plan's name (nil: unnamed).
    public var oldName: String?
    public var newName: String?
    public var context: [ContextChange]
    /// Tasks in the new plan's order, then removed tasks in the old plan's order.
    public var tasks: [TaskChange]
    public var prerequisites: [PrerequisiteChange]
    public var assumptions: [AssumptionChange]
    public var totals: Totals
    /// The cost difference, when the caller asked for one (`withCost`).
    public var cost: CostDelta?
    /// Task counts of both plans, for the headline.
    public var oldTaskCount: Int
    public var newTaskCount: Int

    /// True when anything at all differs: a task, a prerequisite, an assumption or the context.
    public var hasChanges: Bool {
        !tasks.isEmpty || !prerequisites.isEmpty || !assumptions.isEmpty || !context.isEmpty
    }

    /// The exit status of `plan diff --exit-code`, as `git diff --exit-code` uses it: 0 when
    /// nothing differs, 1 when something does. Errors (a plan that could not be made) are
    /// `errorExitCode`, the caller's to return.
    public var exitCode: Int32 { hasChanges ? 1 : 0 }

    /// The exit status for a diff that could not be made (a document with errors).
    public static let errorExitCode: Int32 = 2

    /// Compares two plans; see the type's description for how tasks are matched.
    public static func compare(old: Plan, new: Plan) -> PlanDiff {
        var matcher = TaskMatcher(old: old.tasks, new: new.tasks)
        matcher.match()
        var tasks: [TaskChange] = []
        var totals = Totals()
        let idMap = matcher.renamed
        for (newIndex, task) in new.tasks.enumerated() {
            guard let oldIndex = matcher.oldFor[newIndex] else {
                tasks.append(
                    TaskChange(
                        action: .added, id: task.id, kind: task.kind, region: task.region,
                        account: new.display(account: task.account), summary: task.summary,
                        assumeRole: task.assumeRole, parameters: task.parameters, changes: []))
                totals.toAdd += 1
                continue
            }
            let before = old.tasks[oldIndex]
            let changes = FieldComparison.changes(
                old: before, new: task, idMap: idMap,
                oldAccount: old.display(account: before.account),
                newAccount: new.display(account: task.account))
            let moved = before.id != task.id
            guard moved || !changes.isEmpty else { continue }
            if changes.isEmpty { totals.moved += 1 } else { totals.toChange += 1 }
            tasks.append(
                TaskChange(
                    action: moved ? .moved : .changed, id: task.id, previousID: moved ? before.id : nil,
                    kind: task.kind, region: task.region, account: new.display(account: task.account),
                    previousAccount: before.account == task.account ? nil : old.display(account: before.account),
                    summary: task.summary, assumeRole: task.assumeRole, parameters: [], changes: changes))
        }
        for (oldIndex, task) in old.tasks.enumerated() where !matcher.oldMatched[oldIndex] {
            tasks.append(
                TaskChange(
                    action: .removed, id: task.id, kind: task.kind, region: task.region,
                    account: old.display(account: task.account), summary: task.summary,
                    assumeRole: task.assumeRole, parameters: task.parameters, changes: []))
            totals.toRemove += 1
        }
        return PlanDiff(
            oldName: old.configurationName, newName: new.configurationName,
            context: contextChanges(old, new), tasks: tasks,
            prerequisites: prerequisiteChanges(old, new), assumptions: assumptionChanges(old, new),
            totals: totals, cost: nil, oldTaskCount: old.tasks.count, newTaskCount: new.tasks.count)
    }

    static func contextChanges(_ old: Plan, _ new: Plan) -> [ContextChange] {
        let facts: [(String, (Plan) -> String?)] = [
            ("configurationName", { $0.configurationName }),
            ("sourceRegion", { $0.sourceRegion }),
            ("ownerAccount", { $0.display(account: $0.context.owner) }),
            ("platform", { $0.context.platform?.rawValue ?? "linux" }),
            ("partition", { $0.partition.name }),
            ("buildImage.name", { $0.buildImage?.name.displayText }),
            ("buildImage.description", { $0.buildImage?.description }),
        ]
        return facts.compactMap { field, value in
            let before = value(old), after = value(new)
            return before == after ? nil : ContextChange(field: field, old: before, new: after)
        }
    }

    /// Prerequisites are keyed by account and requirement; a requirement both plans list for
    /// different regions shows as added for the new regions and removed for the dropped ones.
    static func prerequisiteChanges(_ old: Plan, _ new: Plan) -> [PrerequisiteChange] {
        func key(_ item: Prerequisite) -> String { item.account + "\u{0}" + item.requirement }
        let oldByKey = Dictionary(old.prerequisites.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
        let newByKey = Dictionary(new.prerequisites.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
        var changes: [PrerequisiteChange] = []
        for item in new.prerequisites {
            let before = Set(oldByKey[key(item)]?.regions ?? [])
            let added = item.regions.filter { !before.contains($0) }
            if !added.isEmpty {
                changes.append(PrerequisiteChange(action: .added, account: new.display(account: item.account), regions: added, requirement: item.requirement))
            }
        }
        for item in old.prerequisites {
            let after = Set(newByKey[key(item)]?.regions ?? [])
            let removed = item.regions.filter { !after.contains($0) }
            if !removed.isEmpty {
                changes.append(
                    PrerequisiteChange(action: .removed, account: old.display(account: item.account), regions: removed, requirement: item.requirement))
            }
        }
        return changes
    }

    static func assumptionChanges(_ old: Plan, _ new: Plan) -> [AssumptionChange] {
        let before = Set(old.assumptions), after = Set(new.assumptions)
        return new.assumptions.filter { !before.contains($0) }.map { AssumptionChange(action: .added, text: $0) }
            + old.assumptions.filter { !after.contains($0) }.map { AssumptionChange(action: .removed, text: $0) }
    }
}

/// Pairs the tasks of two plans: by content for positional ids, then by id, then by the
/// rename rules of `PlanDiff`.
struct TaskMatcher {
    let old: [PlanTask]
    let new: [PlanTask]
    /// For each new task, the index of its old counterpart.
    var oldFor: [Int?]
    var oldMatched: [Bool]

    init(old: [PlanTask], new: [PlanTask]) {
        self.old = old
        self.new = new
        oldFor = Array(repeating: nil, count: new.count)
        oldMatched = Array(repeating: false, count: old.count)
    }

    /// Old id to new id, for every pair whose id differs.
    var renamed: [String: String] {
        var map: [String: String] = [:]
        for newIndex in oldFor.indices {
            if let oldIndex = oldFor[newIndex], old[oldIndex].id != new[newIndex].id { map[old[oldIndex].id] = new[newIndex].id }
        }
        return map
    }

    mutating func pair(_ oldIndex: Int, _ newIndex: Int) {
        oldFor[newIndex] = oldIndex
        oldMatched[oldIndex] = true
    }

    mutating func match() {
        // Indices rather than tasks in the loops: a plan can hold 50,000 tasks, and copying each
        // one retains its arrays and strings.
        var oldByID: [String: Int] = [:]
        oldByID.reserveCapacity(old.count)
        for index in old.indices where oldByID[old[index].id] == nil { oldByID[old[index].id] = index }

        // 1. Positional ids: a fast launch setting that only moved in its region's list keeps
        //    its content. Same id and same content first, then same content under another id.
        let positional: Set<TaskKind> = [.enableFastLaunch]
        var oldByContent: [String: [Int]] = [:]
        for index in old.indices where positional.contains(old[index].kind) {
            oldByContent[Self.contentKey(old[index], ignoring: []), default: []].append(index)
        }
        if !oldByContent.isEmpty {
            var pending: [(Int, String)] = []
            for index in new.indices where positional.contains(new[index].kind) {
                let key = Self.contentKey(new[index], ignoring: [])
                if let same = oldByID[new[index].id], !oldMatched[same], Self.contentKey(old[same], ignoring: []) == key {
                    pair(same, index)
                } else {
                    pending.append((index, key))
                }
            }
            for (index, key) in pending {
                if let candidate = oldByContent[key]?.first(where: { !oldMatched[$0] }) { pair(candidate, index) }
            }
        }

        // 2. The same id.
        for index in new.indices where oldFor[index] == nil {
            if let same = oldByID[new[index].id], !oldMatched[same] { pair(same, index) }
        }

        // 3. Renames and moves among what is left, for the kinds that have rules, by kind and
        //    region (a copy into another account is another copy: never a move).
        struct Group: Hashable { var kind: TaskKind; var region: String }
        let renamable: Set<TaskKind> = [.putSSMParameter, .createLaunchTemplateVersion, .setDefaultLaunchTemplateVersion, .enableFastLaunch]
        var leftOld: [Group: [Int]] = [:]
        for index in old.indices where !oldMatched[index] && renamable.contains(old[index].kind) {
            leftOld[Group(kind: old[index].kind, region: old[index].region), default: []].append(index)
        }
        guard !leftOld.isEmpty else { return }
        for index in new.indices where oldFor[index] == nil {
            guard let candidates = leftOld[Group(kind: new[index].kind, region: new[index].region)] else { continue }
            // Never across accounts: an SSM parameter written in another account is another
            // parameter, and the old one stays, stale, in the old account.
            let found = candidates.first { !oldMatched[$0] && Self.sameTaskRenamed(old[$0], new[index]) }
            if let found { pair(found, index) }
        }
    }

    /// Tasks that do the same work in the same region and account under another name: an SSM
    /// parameter renamed, a launch template replaced by another, a fast launch setting moved
    /// and changed (same launch template).
    static func sameTaskRenamed(_ old: PlanTask, _ new: PlanTask) -> Bool {
        guard old.region == new.region, old.account == new.account else { return false }
        switch new.kind {
        case .putSSMParameter:
            return contentKey(old, ignoring: ["Name"]) == contentKey(new, ignoring: ["Name"])
        case .createLaunchTemplateVersion, .setDefaultLaunchTemplateVersion:
            let ignored: Set<String> = ["LaunchTemplateId", "DefaultVersion"]
            return contentKey(old, ignoring: ignored) == contentKey(new, ignoring: ignored)
        case .enableFastLaunch:
            return old.parameter("LaunchTemplate") != nil && old.parameter("LaunchTemplate") == new.parameter("LaunchTemplate")
        default:
            return false
        }
    }

    /// Kind, region, account and parameters (without `ClientToken` and `ignored`) as one
    /// string, for matching by content.
    static func contentKey(_ task: PlanTask, ignoring ignored: Set<String>) -> String {
        let members = task.parameters.filter { $0.key != "ClientToken" && !ignored.contains($0.key) }
        return [task.kind.rawValue, task.region, task.account, JSONRenderer.compact(.object(members))].joined(separator: "\u{0}")
    }
}

/// Field-by-field comparison of two versions of a task.
enum FieldComparison {
    typealias Change = PlanDiff.FieldChange

    static func changes(old: PlanTask, new: PlanTask, idMap: [String: String], oldAccount: String, newAccount: String) -> [Change] {
        if idMap.isEmpty, oldAccount == newAccount, old.assumeRole == new.assumeRole, old.dependsOn == new.dependsOn,
            sameParameters(old.parameters, new.parameters)
        {
            return []
        }
        var changes: [Change] = []
        if oldAccount != newAccount {
            changes.append(Change(path: "account", action: .changed, topic: .account, old: .string(oldAccount), new: .string(newAccount)))
        }
        let oldParameters = old.parameters.filter { $0.key != "ClientToken" }.map { member in
            idMap.isEmpty ? member : PlanValue.Member(member.key, renaming(member.value, idMap))
        }
        let newParameters = new.parameters.filter { $0.key != "ClientToken" }
        if oldParameters != newParameters {
            compare(.object(oldParameters), .object(newParameters), path: "", into: &changes)
        }
        let oldDependencies = idMap.isEmpty ? old.dependsOn : old.dependsOn.map { idMap[$0] ?? $0 }
        if oldDependencies != new.dependsOn {
            let before = Set(oldDependencies), after = Set(new.dependsOn)
            for id in new.dependsOn where !before.contains(id) {
                changes.append(Change(path: "dependsOn[]", action: .added, topic: .dependencies, old: nil, new: .string(id)))
            }
            for id in oldDependencies where !after.contains(id) {
                changes.append(Change(path: "dependsOn[]", action: .removed, topic: .dependencies, old: .string(id), new: nil))
            }
        }
        if old.assumeRole != new.assumeRole {
            let action: Change.Action = old.assumeRole == nil ? .added : new.assumeRole == nil ? .removed : .changed
            changes.append(
                Change(
                    path: "assumeRole", action: action, topic: .role,
                    old: old.assumeRole.map(PlanValue.string), new: new.assumeRole.map(PlanValue.string)))
        }
        return changes
    }

    /// Parameters equal but for `ClientToken`, compared in place: most tasks of two plans of
    /// one fleet are the same, and this spares copying their parameters.
    static func sameParameters(_ old: [PlanValue.Member], _ new: [PlanValue.Member]) -> Bool {
        var oldIndex = 0, newIndex = 0
        while true {
            while oldIndex < old.count, old[oldIndex].key == "ClientToken" { oldIndex += 1 }
            while newIndex < new.count, new[newIndex].key == "ClientToken" { newIndex += 1 }
            if oldIndex == old.count || newIndex == new.count { return oldIndex == old.count && newIndex == new.count }
            if old[oldIndex] != new[newIndex] { return false }
            oldIndex += 1
            newIndex += 1
        }
    }

    /// `value` with the task ids inside its references renamed as the new plan names them.
    static func renaming(_ value: PlanValue, _ idMap: [String: String]) -> PlanValue {
        switch value {
        case let .reference(.launchTemplateVersion(task)): .reference(.launchTemplateVersion(task: idMap[task] ?? task))
        case let .joined(parts): .joined(parts.map { renaming($0, idMap) })
        case let .list(items): .list(items.map { renaming($0, idMap) })
        case let .object(members): .object(members.map { PlanValue.Member($0.key, renaming($0.value, idMap)) })
        default: value
        }
    }

    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : path + "." + key
    }

    /// Walks both values once: objects member by member, lists as sets, anything else by
    /// equality. (Checking whole subtrees for equality at every level would compare the same
    /// leaves once per level: 50,000 changed tasks make that show.)
    static func compare(_ old: PlanValue, _ new: PlanValue, path: String, into changes: inout [Change]) {
        switch (old, new) {
        case let (.object(before), .object(after)):
            // Members are usually in the same order on both sides; otherwise they are found by
            // key through a table, so objects of thousands of members stay linear.
            let inOrder = before.count == after.count && zip(before, after).allSatisfy { $0.key == $1.key }
            let afterByKey = inOrder ? [:] : Dictionary(after.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { first, _ in first })
            var matched = Set<String>()
            for (index, member) in before.enumerated() {
                let memberPath = join(path, member.key)
                if let position = inOrder ? index : afterByKey[member.key] {
                    matched.insert(member.key)
                    compare(member.value, after[position].value, path: memberPath, into: &changes)
                } else {
                    changes.append(change(memberPath, .removed, old: member.value, new: nil))
                }
            }
            for member in after where !inOrder && !matched.contains(member.key) {
                changes.append(change(join(path, member.key), .added, old: nil, new: member.value))
            }
        case let (.list(before), .list(after)):
            if before != after { compareLists(before, after, path: path, into: &changes) }
        default:
            if old != new { changes.append(change(path, .changed, old: old, new: new)) }
        }
    }

    /// The member that identifies an entry of a list of objects, when every entry has it:
    /// `Key` of EC2 tags, `ResourceType` of tag specifications.
    static func identity(of before: [PlanValue], _ after: [PlanValue]) -> String? {
        for key in ["Key", "ResourceType"] {
            func has(_ item: PlanValue) -> Bool {
                if case let .object(members) = item { return members.contains { $0.key == key } }
                return false
            }
            if before.allSatisfy(has), after.allSatisfy(has) { return key }
        }
        return nil
    }

    static func member(_ key: String, of value: PlanValue) -> PlanValue? {
        if case let .object(members) = value { return members.first { $0.key == key }?.value }
        return nil
    }

    /// Lists are compared as sets (Image Builder applies them as sets: launch permissions,
    /// target accounts, tags); entries with an identity member are matched by it.
    static func compareLists(_ before: [PlanValue], _ after: [PlanValue], path: String, into changes: inout [Change]) {
        if !before.isEmpty || !after.isEmpty, let key = identity(of: before, after) {
            func name(_ item: PlanValue) -> String { member(key, of: item)?.displayText ?? "" }
            // By name through tables: a list of thousands of entries stays linear.
            let afterByName = Dictionary(after.map { (name($0), $0) }, uniquingKeysWith: { first, _ in first })
            let beforeNames = Set(before.map(name))
            for item in before {
                let itemPath = "\(path)[\(key)=\(name(item))]"
                if let match = afterByName[name(item)] {
                    // A tag is shown as its value; a tag specification member by member.
                    if key == "Key", let oldValue = member("Value", of: item), let newValue = member("Value", of: match) {
                        if oldValue != newValue { changes.append(change(itemPath, .changed, old: oldValue, new: newValue)) }
                    } else {
                        compare(item, match, path: itemPath, into: &changes)
                    }
                } else {
                    changes.append(change(itemPath, .removed, old: key == "Key" ? member("Value", of: item) ?? item : item, new: nil))
                }
            }
            for item in after where !beforeNames.contains(name(item)) {
                changes.append(change("\(path)[\(key)=\(name(item))]", .added, old: nil, new: key == "Key" ? member("Value", of: item) ?? item : item))
            }
            return
        }
        // As multisets, through counts, so 1,536 accounts a side stay linear: an entry of
        // `after` is added once its copies outnumber `before`'s, and the copies of `before`
        // past the number `after` holds are removed (the first ones are the ones kept).
        var beforeCounts: [PlanValue: Int] = [:]
        var afterCounts: [PlanValue: Int] = [:]
        for item in before { beforeCounts[item, default: 0] += 1 }
        var added: [PlanValue] = []
        for item in after {
            afterCounts[item, default: 0] += 1
            if afterCounts[item, default: 0] > beforeCounts[item, default: 0] { added.append(item) }
        }
        var removed: [PlanValue] = []
        var seen: [PlanValue: Int] = [:]
        for item in before {
            seen[item, default: 0] += 1
            if seen[item, default: 0] > afterCounts[item, default: 0] { removed.append(item) }
        }
        for item in added { changes.append(change(path + "[]", .added, old: nil, new: item)) }
        for item in removed { changes.append(change(path + "[]", .removed, old: item, new: nil)) }
    }

    static func change(_ path: String, _ action: Change.Action, old: PlanValue?, new: PlanValue?) -> Change {
        Change(path: path, action: action, topic: topic(of: path), old: old, new: new)
    }

    /// The topic of a parameter path, by the API member names it goes through.
    static func topic(of path: String) -> Change.Topic {
        var last = Substring(path)
        if let dot = last.lastIndex(of: ".") { last = last[last.index(after: dot)...] }
        if let bracket = last.firstIndex(of: "[") { last = last[..<bracket] }
        if path.hasPrefix("LaunchPermission") || path.hasPrefix("CreateVolumePermission") { return .launchPermission }
        if last == "KmsKeyId" { return .kmsKey }
        if last == "Encrypted" { return .encryption }
        if path.hasPrefix("Tags") || path.hasPrefix("TagSpecifications") { return .tags }
        if last == "Name" { return .name }
        if last == "Description" || last == "description" { return .description }
        return .parameter
    }
}
