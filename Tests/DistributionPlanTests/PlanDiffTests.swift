import ConfigDocument
import Foundation
import Testing

@testable import DistributionPlan

/// Pairs of configurations under testdata/distribution/diff/NAME/ (old.* and new.*, any input
/// form), diffed with the golden context; goldens in Fixtures/diff/NAME.txt and NAME.json.
@Suite("Plan diffs")
struct PlanDiffTests {
    static let pairs = [
        "launch-permission", "kms-key", "ami-tags", "target-accounts", "regions", "s3-export", "same-across-forms",
        "ssm-parameters", "launch-templates", "renamed-configuration", "fast-launch", "template-against-request",
    ]

    static let directory = Repository.configurations.appendingPathComponent("diff")

    static func plan(_ pair: String, _ side: String) throws -> Plan {
        let folder = directory.appendingPathComponent(pair)
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().first { $0.hasPrefix(side + ".") })
        var context = goldenContext
        if pair == "fast-launch" { context.platform = .windows }
        let outcome = DistributionPlanner.plan(document: try Repository.text(folder.appendingPathComponent(file)), context: context)
        #expect(outcome.errors.isEmpty, "\(pair)/\(file): \(outcome.errors)")
        return try #require(outcome.plan)
    }

    static func diff(_ pair: String) throws -> PlanDiff {
        PlanDiff.compare(old: try plan(pair, "old"), new: try plan(pair, "new"))
    }

    @Test(arguments: pairs)
    func goldenText(pair: String) throws {
        try PlanTests.expectGolden(DiffRenderer.text(Self.diff(pair)), "diff/\(pair).txt")
    }

    @Test(arguments: pairs)
    func goldenJSON(pair: String) throws {
        let json = DiffRenderer.json(try Self.diff(pair))
        try PlanTests.expectGolden(json, "diff/\(pair).json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["schemaVersion"] as? Int == 1)
        #expect(Set(object.keys) == ["schemaVersion", "old", "new", "hasChanges", "totals", "context", "tasks", "prerequisites", "assumptions"])
    }

    @Test func aPlanAgainstItselfHasNoChanges() throws {
        let plan = try PlanTests.plan("multi-region-cross-account-kms.json")
        let diff = PlanDiff.compare(old: plan, new: plan)
        #expect(!diff.hasChanges)
        #expect(diff.exitCode == 0)
        #expect(DiffRenderer.totalsLine(diff) == "No changes. Both plans carry out the same tasks.")
    }

    @Test func sameConfigurationInAnotherFormHasNoChanges() throws {
        let diff = try Self.diff("same-across-forms")
        #expect(!diff.hasChanges && diff.exitCode == 0)
    }

    @Test func launchPermissionAccountsAddedAndRemoved() throws {
        let diff = try Self.diff("launch-permission")
        #expect(diff.exitCode == 1)
        let task = try #require(diff.tasks.first { $0.id == "modify-image-attribute:us-east-1" })
        #expect(task.action == .changed)
        #expect(
            task.changes.contains(
                .init(
                    path: "LaunchPermission.Add[]", action: .added, topic: .launchPermission,
                    old: nil, new: .object([.init("UserId", .string("444444444444"))]))))
        #expect(
            task.changes.contains(
                .init(
                    path: "LaunchPermission.Add[]", action: .removed, topic: .launchPermission,
                    old: .object([.init("UserId", .string("222222222222"))]), new: nil)))
        #expect(
            task.changes.contains {
                $0.action == .added && $0.new == .object([.init("OrganizationArn", .string("arn:aws:organizations::123456789012:organization/o-abcdefghij"))])
            })
        #expect(diff.totals == .init(toAdd: 0, toChange: 1, toRemove: 0, moved: 0))
    }

    @Test func kmsKeyChangeIsOneFieldOfEachCopy() throws {
        let diff = try Self.diff("kms-key")
        #expect(diff.totals.toChange == 3)
        #expect(diff.tasks.map(\.id) == ["copy-image:eu-west-1", "copy-image:eu-west-1:222222222222", "copy-image:eu-west-1:333333333333"])
        for task in diff.tasks {
            #expect(task.changes.map(\.topic) == [.kmsKey])
            #expect(task.changes.first?.action == .changed)
        }
        #expect(diff.prerequisites.filter { $0.action == .added }.count == diff.prerequisites.filter { $0.action == .removed }.count)
        #expect(DiffRenderer.totalsLine(diff) == "Plan: 0 to add, 3 to change, 0 to remove.")
    }

    @Test func tagsAreComparedByKey() throws {
        let diff = try Self.diff("ami-tags")
        let task = try #require(diff.tasks.first { $0.id == "tag-build-image:us-east-1" })
        #expect(task.changes.map(\.path) == ["Tags[Key=Team]", "Tags[Key=CostCenter]", "Tags[Key=Release]"])
        #expect(task.changes[0] == .init(path: "Tags[Key=Team]", action: .changed, topic: .tags, old: .string("platform"), new: .string("images")))
        #expect(task.changes.map(\.action) == [.changed, .removed, .added])
    }

    @Test func targetAccountsAddAndRemoveCopiesAndShares() throws {
        let diff = try Self.diff("target-accounts")
        let added = diff.tasks.filter { $0.action == .added }.map(\.id)
        let removed = diff.tasks.filter { $0.action == .removed }.map(\.id)
        #expect(added == ["share-build-image:444444444444", "copy-image:eu-west-1:444444444444"])
        // The build AMI is shared only with accounts that copy it.
        #expect(removed == ["share-build-image:222222222222", "copy-image:eu-west-1:222222222222"])
        #expect(DiffRenderer.totalsLine(diff) == "Plan: 2 to add, 0 to change, 2 to remove.")
    }

    /// A rename in one account is a move; a parameter written in another account is a remove
    /// and an add: the old parameter stays, stale, in the old account (docs/plan.md, "plan
    /// diff": a move is a task whose work did not change).
    @Test func renamedSSMParameterMovesButAnotherAccountsIsRemoveAndAdd() throws {
        let diff = try Self.diff("ssm-parameters")
        let renamed = try #require(diff.tasks.first { $0.previousID == "put-ssm-parameter:us-east-1:123456789012:/golden/sql-server/latest" })
        #expect(renamed.action == .moved && renamed.id == "put-ssm-parameter:us-east-1:123456789012:/golden/sql-server/current")
        #expect(renamed.changes.map(\.path) == ["Name"])
        #expect(!diff.tasks.contains { $0.previousID == "put-ssm-parameter:us-east-1:444455556666:/shared/sql-server/latest" })
        #expect(diff.tasks.contains { $0.action == .removed && $0.id == "put-ssm-parameter:us-east-1:444455556666:/shared/sql-server/latest" })
        #expect(diff.tasks.contains { $0.action == .added && $0.id == "put-ssm-parameter:us-east-1:123456789012:/shared/sql-server/latest" })
        #expect(diff.totals.toAdd == 1 && diff.totals.toRemove == 1)
    }

    @Test func replacedLaunchTemplateIsAMove() throws {
        let diff = try Self.diff("launch-templates")
        let create = try #require(diff.tasks.first { $0.id == "create-launch-template-version:us-east-1:lt-0bbbbccccddddeeee" })
        #expect(create.action == .moved && create.previousID == "create-launch-template-version:us-east-1:lt-0aaaabbbbccccdddd")
        #expect(create.changes.map(\.path) == ["LaunchTemplateId"])
        let setDefault = try #require(diff.tasks.first { $0.id == "set-default-launch-template-version:us-east-1:lt-0bbbbccccddddeeee" })
        // Its reference to the create task follows the rename, so only the template id differs.
        #expect(setDefault.changes.map(\.path) == ["LaunchTemplateId"])
        #expect(diff.tasks.contains { $0.action == .removed && $0.id == "set-default-launch-template-version:us-east-1:lt-0eeeeffff00001111" })
    }

    @Test func reorderedFastLaunchSettingsAreMatchedByContent() throws {
        let diff = try Self.diff("fast-launch")
        let moved = try #require(diff.tasks.first { $0.action == .moved })
        #expect(moved.previousID == "enable-fast-launch:us-west-2:0" && moved.id == "enable-fast-launch:us-west-2:1")
        #expect(moved.changes.isEmpty)
        #expect(diff.tasks.contains { $0.action == .added && $0.id == "enable-fast-launch:us-west-2:0" })
        let count = try #require(diff.tasks.first { $0.id == "enable-fast-launch:us-east-1:0" })
        #expect(count.changes == [.init(path: "SnapshotConfiguration.TargetResourceCount", action: .changed, topic: .parameter, old: .int(10), new: .int(20))])
        #expect(DiffRenderer.totalsLine(diff) == "Plan: 1 to add, 1 to change, 0 to remove. 1 moved without change.")
    }

    @Test func clientTokensAreNotCompared() throws {
        let diff = try Self.diff("renamed-configuration")
        #expect(diff.context.map(\.field) == ["configurationName", "buildImage.description"])
        #expect(diff.tasks.allSatisfy { task in task.changes.allSatisfy { $0.path != "ClientToken" } })
        #expect(diff.tasks.map(\.id) == ["copy-image:us-east-1:444455556666"])
    }

    @Test func colourIsOnlyAddedWhenAsked() throws {
        let diff = try Self.diff("target-accounts")
        let plain = DiffRenderer.text(diff)
        let coloured = DiffRenderer.text(diff, color: true)
        #expect(!plain.contains("\u{1B}"))
        #expect(coloured.contains("\u{1B}[32m+\u{1B}[0m"))
        #expect(coloured.contains("\u{1B}[31m-\u{1B}[0m"))
        #expect(coloured.replacing(/\x{1B}\[[0-9;]*m/, with: "") == plain)
    }

    @Test func controlCharactersInValuesAreEscaped() throws {
        let old =
            #"{"name": "esc", "distributions": [{"region": "us-east-1", "amiDistributionConfiguration": {"name": "a {{ imagebuilder:buildDate }}", "amiTags": {"Note": "one"}}}]}"#
        let new =
            #"{"name": "esc", "distributions": [{"region": "us-east-1", "amiDistributionConfiguration": {"name": "a {{ imagebuilder:buildDate }}", "amiTags": {"Note": "two\n\tthree"}}}]}"#
        let diff = PlanDiff.compare(
            old: try #require(DistributionPlanner.plan(document: old, context: goldenContext).plan),
            new: try #require(DistributionPlanner.plan(document: new, context: goldenContext).plan))
        let text = DiffRenderer.text(diff)
        #expect(!text.contains("\t"))
        #expect(text.contains(#"~ Tags[Key=Note]: "one" -> "two\n\tthree""#))
    }
}

/// plan diff stays linear in what it compares: shapes that were quadratic (40,000
/// problems a side; lists of thousands of entries in another order; objects of thousands of
/// members in another order) finish well inside the 20 s budget, with the right answer. With
/// the list searches these took minutes.
@Suite("Plan diff, linear")
struct PlanDiffScaleTests {
    static let budget: Duration = .seconds(10)

    @Test func problemsOfBothSidesAreDeduplicatedInOrder() {
        let old = (0..<60_000).map { Problem(.error, "distributions[\($0)].region", "unknown region") }
        let new = old.reversed() + [Problem(.warning, "", "only new")]
        let clock = ContinuousClock()
        var unique: [Problem] = []
        let elapsed = clock.measure { unique = Problem.unique(old + new) }
        #expect(unique == old + [Problem(.warning, "", "only new")])
        #expect(elapsed < Self.budget, "\(elapsed)")
    }

    @Test func listsInAnotherOrderAreEqualAsMultisets() {
        let accounts = (0..<60_000).map { PlanValue.string(String(200_000_000_000 + $0)) }
        var changes: [PlanDiff.FieldChange] = []
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            FieldComparison.compare(.list(accounts), .list(accounts.reversed()), path: "UserIds", into: &changes)
            // A repeated entry counts: one copy added, and the dropped account removed.
            FieldComparison.compare(.list(accounts), .list(Array(accounts.dropFirst()) + [accounts[5]]), path: "UserIds", into: &changes)
        }
        #expect(changes.map { "\($0.action) \($0.new?.displayText ?? $0.old?.displayText ?? "")" } == ["added 200000000005", "removed 200000000000"])
        #expect(elapsed < Self.budget, "\(elapsed)")
    }

    @Test func objectsAndTagsInAnotherOrderAreMatchedByKey() {
        let members = (0..<60_000).map { PlanValue.Member("Key\($0)", .int($0)) }
        let tags = (0..<60_000).map { PlanValue.object([.init("Key", .string("tag\($0)")), .init("Value", .string("v"))]) }
        var changes: [PlanDiff.FieldChange] = []
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            FieldComparison.compare(
                .object(members), .object(members.reversed().map { $0.key == "Key7" ? .init("Key7", .int(8)) : $0 }), path: "", into: &changes)
            FieldComparison.compare(.list(tags), .list(tags.reversed()), path: "Tags", into: &changes)
        }
        #expect(changes.map(\.path) == ["Key7"])
        #expect(elapsed < Self.budget, "\(elapsed)")
    }
}
