import ConfigDocument
import Foundation
import TestSupport
import Testing

@testable import DistributionPlan

/// What a corpus fixture (`testdata/distribution/corpus/{valid,broken}/NAME.{json,yaml}`) is
/// expected to give, read from its sidecar `NAME.expect` (JSON). Every expectation names the
/// documentation it follows in `source`; `knownIssue` marks a fixture where imgship does not
/// yet do what that documentation says.
struct CorpusExpectation: Decodable {
    /// The plan context; the same names as the `imgship plan` flags.
    struct Context: Decodable {
        var sourceRegion: String?
        var account: String?
        var platform: String?
        var recipeName: String?
        var buildDate: String?
        var buildVersion: Int?
    }

    /// One fact about one task: a parameter (a dotted path into objects, compared as its
    /// display text), the account it runs in, the role it assumes, its dependencies.
    struct Check: Decodable {
        var task: String
        var parameter: String?
        var equals: String?
        var contains: String?
        var account: String?
        var assumeRole: String?
        var noAssumeRole: Bool?
        var dependsOn: [String]?
    }

    struct Totals: Decodable {
        var tasks: Int?
        var copyRegions: Int?
        var copyAccounts: Int?
    }

    var source: String
    var context: Context?
    /// The logical id of the resource to plan in a template with several.
    var resource: String?
    /// The input form imgship should recognise (`ConfigurationLoader.InputForm` raw value).
    var form: String?
    var knownIssue: String?

    // Broken fixtures.
    /// Lines as `findings()` prints them (`error PATH: MESSAGE`); each must be among them.
    var errors: [String]?
    /// Paths that must carry an error, whatever its message.
    var errorAt: [String]?

    // Valid fixtures.
    /// Every task id, in plan order.
    var taskIds: [String]?
    /// Substrings, each found in some warning line (`warning PATH: MESSAGE`).
    var warnings: [String]?
    var noWarnings: Bool?
    /// Substrings, each found in some assumption of the plan.
    var assumptions: [String]?
    var absentAssumptions: [String]?
    var checks: [Check]?
    /// The build AMI's name as the plan shows it (references as placeholders).
    var buildImageName: String?
    /// What the plan's context is after the document's own statements are merged in.
    var contextAfter: Context?
    /// Substrings, each found in some prerequisite's requirement.
    var prerequisites: [String]?
    var scriptContains: [String]?
    var scriptLacks: [String]?
    var totals: Totals?
}

@Suite("Fixture corpus")
struct FixtureCorpusTests {
    static let corpus = Repository.configurations.appendingPathComponent("corpus")

    /// `valid/NAME.json`, ... : every configuration file of a corpus folder, sorted.
    static func fixtures(_ folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: corpus.appendingPathComponent(folder).path)) ?? []
        return names.filter { !$0.hasSuffix(".expect") && !$0.hasPrefix(".") }.sorted().map { "\(folder)/\($0)" }
    }

    static let valid = fixtures("valid")
    static let broken = fixtures("broken")

    static func expectation(_ fixture: String) throws -> CorpusExpectation {
        let url = corpus.appendingPathComponent(fixture).deletingPathExtension().appendingPathExtension("expect")
        return try JSONDecoder().decode(CorpusExpectation.self, from: Data(contentsOf: url))
    }

    static func planContext(_ context: CorpusExpectation.Context?) -> PlanContext {
        guard let context else { return PlanContext() }
        let platform = context.platform.flatMap(PlanContext.Platform.init(rawValue:))
        #expect(platform?.rawValue == context.platform, "unknown platform in the expectation")
        return PlanContext(
            sourceRegion: context.sourceRegion, ownerAccount: context.account, platform: platform,
            buildDate: context.buildDate, buildVersion: context.buildVersion, recipeName: context.recipeName)
    }

    /// Plans the fixture with its expectation's context.
    static func outcome(_ fixture: String, _ expected: CorpusExpectation) throws -> DistributionPlanner.Outcome {
        let text = try Repository.text(corpus.appendingPathComponent(fixture))
        return DistributionPlanner.plan(document: text, context: planContext(expected.context), resource: expected.resource)
    }

    /// Problems as `findings()` prints them.
    static func lines(_ problems: [Problem]) -> [String] {
        problems.map { "\($0.severity.rawValue) \($0)" }
    }

    /// A parameter by dotted path: `LaunchTemplate.Version` is the `Version` member of the
    /// `LaunchTemplate` object.
    static func parameter(_ task: PlanTask, _ path: String) -> PlanValue? {
        var keys = path.split(separator: ".").map(String.init)
        var current = task.parameter(keys.removeFirst())
        for key in keys {
            guard case let .object(members)? = current else { return nil }
            current = members.first { $0.key == key }?.value
        }
        return current
    }

    /// Runs `body`, as a known issue when the expectation names one: the documented behaviour
    /// is asserted, and the test starts failing once imgship does what the documentation says.
    static func checking(_ expected: CorpusExpectation, _ body: () throws -> Void) rethrows {
        if let issue = expected.knownIssue {
            withKnownIssue(Comment(rawValue: issue)) { try body() }
        } else {
            try body()
        }
    }

    @Test func everyFixtureHasAnExpectationAndASource() throws {
        #expect(Self.valid.count >= 12, "\(Self.valid)")
        #expect(Self.broken.count >= 15, "\(Self.broken)")
        for fixture in Self.valid + Self.broken {
            let expected = try Self.expectation(fixture)
            #expect(expected.source.contains("http"), "\(fixture): the source names no documentation page")
        }
        for folder in ["valid", "broken"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.appendingPathComponent(folder).path)
            for name in names where name.hasSuffix(".expect") {
                let stem = String(name.dropLast(".expect".count))
                #expect(names.contains { $0 != name && $0.hasPrefix(stem + ".") }, "\(folder)/\(name) has no fixture")
            }
        }
    }

    @Test(arguments: valid)
    func validFixturePlansAsDocumented(fixture: String) throws {
        let expected = try Self.expectation(fixture)
        let outcome = try Self.outcome(fixture, expected)
        try Self.checking(expected) {
            let problems = Self.lines(outcome.problems)
            #expect(outcome.errors.isEmpty, "\(problems)")
            if let form = expected.form { #expect(outcome.form?.rawValue == form) }
            let plan = try #require(outcome.plan)
            let warningLines = problems.filter { $0.hasPrefix("warning ") }
            if expected.noWarnings == true { #expect(warningLines.isEmpty, "\(warningLines)") }
            for warning in expected.warnings ?? [] {
                #expect(warningLines.contains { $0.contains(warning) }, "no warning contains \(warning): \(warningLines)")
            }
            if let ids = expected.taskIds { #expect(plan.tasks.map(\.id) == ids) }
            for assumption in expected.assumptions ?? [] {
                #expect(plan.assumptions.contains { $0.contains(assumption) }, "no assumption contains \(assumption): \(plan.assumptions)")
            }
            for assumption in expected.absentAssumptions ?? [] {
                #expect(!plan.assumptions.contains { $0.contains(assumption) }, "an assumption contains \(assumption)")
            }
            if let name = expected.buildImageName { #expect(plan.buildImage?.name.displayText == name) }
            for requirement in expected.prerequisites ?? [] {
                #expect(plan.prerequisites.contains { $0.requirement.contains(requirement) }, "no prerequisite contains \(requirement)")
            }
            if let after = expected.contextAfter {
                if let region = after.sourceRegion { #expect(plan.sourceRegion == region) }
                if let account = after.account { #expect(plan.context.ownerAccount == account) }
                if let platform = after.platform { #expect(plan.context.platform?.rawValue == platform) }
                if let version = after.buildVersion { #expect(plan.context.buildVersion == version) }
                if let recipe = after.recipeName { #expect(plan.context.recipeName == recipe) }
            }
            if let totals = expected.totals {
                if let tasks = totals.tasks { #expect(plan.totals.tasks == tasks) }
                if let regions = totals.copyRegions { #expect(plan.totals.copyRegions == regions) }
                if let accounts = totals.copyAccounts { #expect(plan.totals.copyAccounts == accounts) }
            }
            for check in expected.checks ?? [] {
                guard let task = plan.tasks.first(where: { $0.id == check.task }) else {
                    Issue.record("no task \(check.task)")
                    continue
                }
                if let path = check.parameter {
                    let shown = Self.parameter(task, path)?.displayText
                    if let value = check.equals { #expect(shown == value, "\(check.task) \(path)") }
                    if let part = check.contains { #expect(shown?.contains(part) == true, "\(check.task) \(path): \(shown ?? "absent")") }
                }
                if let account = check.account { #expect(task.account == account, "\(check.task) account") }
                if let role = check.assumeRole { #expect(task.assumeRole == role, "\(check.task) role") }
                if check.noAssumeRole == true { #expect(task.assumeRole == nil, "\(check.task) role") }
                if let dependencies = check.dependsOn { #expect(task.dependsOn == dependencies, "\(check.task) dependencies") }
            }

            // The script of every valid plan is bash, and carries the partition's names.
            let script = ScriptRenderer.render(plan)
            let folder = try TemporaryFolder()
            try script.write(toFile: folder.file("plan.sh"), atomically: true, encoding: .utf8)
            let result = try runProcess("/bin/bash", ["-n", folder.file("plan.sh")])
            #expect(result.status == 0, "\(result.standardError)")
            for text in expected.scriptContains ?? [] { #expect(script.contains(text), "the script lacks \(text)") }
            for text in expected.scriptLacks ?? [] { #expect(!script.contains(text), "the script contains \(text)") }
        }
    }

    @Test(arguments: broken)
    func brokenFixtureIsRefusedAsDocumented(fixture: String) throws {
        let expected = try Self.expectation(fixture)
        #expect(expected.errors != nil || expected.errorAt != nil, "\(fixture) expects no error")
        let outcome = try Self.outcome(fixture, expected)
        Self.checking(expected) {
            let problems = Self.lines(outcome.problems)
            #expect(outcome.plan == nil, "\(fixture) was planned")
            for error in expected.errors ?? [] {
                #expect(problems.contains(error), "missing: \(error)\nfound: \(problems)")
            }
            for path in expected.errorAt ?? [] {
                #expect(outcome.errors.contains { $0.path == path }, "no error at \(path): \(problems)")
            }
            for warning in expected.warnings ?? [] {
                #expect(problems.contains { $0.hasPrefix("warning ") && $0.contains(warning) }, "no warning contains \(warning)")
            }
        }
    }
}
