import ConfigDocument
import Foundation
import Testing

@testable import DistributionPlan

@Suite("Pipeline schedules")
struct ScheduleTests {
    static func date(_ text: String) -> Date {
        // 2026-03-07T12:00Z
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        guard let date = formatter.date(from: text) else {
            Issue.record("\(text) is not an ISO 8601 date")
            return .distantPast
        }
        return date
    }

    static func schedule(_ expression: String, _ zone: String? = nil) throws -> Schedule {
        let (schedule, problems) = Schedule.parse(expression, timezone: zone)
        #expect(problems.isEmpty, "\(problems)")
        return try #require(schedule)
    }

    @Test(arguments: [
        "cron(0 0 * * ? *)", "cron(30 2 ? * * *)", "cron(0/15 8-17 ? * MON-FRI *)", "cron(0 9 L * ? *)", "cron(0 9 LW * ? *)",
        "cron(0 9 15W * ? *)", "cron(0 10 ? * 6#3 *)", "cron(0 10 ? * FRI#2 *)", "cron(0 10 ? * 5L *)", "cron(0 0 1,15 jan,jul ? 2026-2030)",
        "0 0 * * ? *",
    ])
    func accepted(expression: String) throws {
        let (schedule, problems) = Schedule.parse(expression)
        #expect(schedule != nil)
        #expect(problems.allSatisfy { $0.severity == .warning }, "\(problems)")
    }

    /// The console's bare form is read, but the API takes cron(...) (Image Builder user guide,
    /// "Use cron expressions"; API Schedule.scheduleExpression): a warning saying so.
    @Test func bareFormIsWarnedAbout() throws {
        let (schedule, problems) = Schedule.parse("0 10 * * ? *")
        #expect(schedule != nil)
        #expect(
            problems.map(\.description) == [
                #"schedule.scheduleExpression: "0 10 * * ? *" is the console's bare form; the API takes cron(0 10 * * ? *) (Image Builder user guide, "Use cron expressions"; no document says the service accepts the bare form): write cron(0 10 * * ? *)"#
            ])
        #expect(problems.first?.severity == .warning)
        #expect(Schedule.parse("cron(0 10 * * ? *)").problems.isEmpty)
    }

    /// Image Builder user guide, "Use cron expressions", wildcard L: in day-of-week it is
    /// "Sunday", the last day of the week (not Quartz's Saturday).
    @Test func bareLInDayOfWeekIsSunday() throws {
        let starts = try Self.schedule("cron(0 9 ? 3 L 2026)").nextStarts(after: Self.date("2026-03-01T12:00:00Z"), count: 2)
        // 2026-03-08 and 2026-03-15 are Sundays.
        #expect(starts.map(\.utc) == ["2026-03-08T09:00Z", "2026-03-15T09:00Z"])
    }

    /// The user guide's table lists `, - * ? L #` for day-of-week and names sun-sat in lower
    /// case: `sat#2` and lists mixing values, `#` and `L` are accepted.
    @Test func documentedDayOfWeekFormsAreAccepted() throws {
        let start = Self.date("2026-01-01T00:00:00Z")
        // The second Saturday of January 2026 is the 10th.
        #expect(try Self.schedule("cron(0 10 ? 1 sat#2 2026)").nextStarts(after: start, count: 1).map(\.utc) == ["2026-01-10T10:00Z"])
        // Mondays and the second Friday (the 9th) of January 2026: 5, 9, 12.
        #expect(
            try Self.schedule("cron(0 10 ? 1 MON,FRI#2 2026)").nextStarts(after: start, count: 3).map(\.utc) == [
                "2026-01-05T10:00Z", "2026-01-09T10:00Z", "2026-01-12T10:00Z",
            ])
        // The last Friday (30th) and the first Monday (5th) of January 2026.
        #expect(
            try Self.schedule("cron(0 10 ? 1 6L,2#1 2026)").nextStarts(after: start, count: 2).map(\.utc) == ["2026-01-05T10:00Z", "2026-01-30T10:00Z"])
    }

    /// Forms the user guide does not show are refused naming the field and its rule.
    @Test(arguments: [
        ("cron(0 0 1,15W * ? *)", #"day "1,15W": L and W stand alone in the Day field (L, LW or NW for one day N), not in a list"#),
        ("cron(0 0 ? * MON,FRI#9 *)", #"week number after # "9" is not in 1-5"#),
        ("cron(0 0 ? * MON,,FRI *)", #"day-of-week field "MON,,FRI" has an empty list item"#),
    ])
    func undocumentedFormsAreRefusedWithTheRule(expression: String, message: String) {
        let (schedule, problems) = Schedule.parse(expression)
        #expect(schedule == nil)
        #expect(problems.first?.message.hasSuffix(message) == true, "\(problems)")
    }

    /// February 30 never comes: a warning, with the reason, not a silent empty list.
    @Test func neverFiringScheduleIsWarnedAbout() throws {
        let (schedule, problems) = Schedule.parse("cron(0 0 30 2 ? *)")
        #expect(schedule != nil)
        #expect(problems.map(\.message) == [#""cron(0 0 30 2 ? *)" never starts the pipeline: day 30 does not exist in FEB"#])
        // Feb 29 fires in leap years only; with no leap year among its years it never does.
        #expect(Schedule.parse("cron(0 0 29 2 ? *)").problems.isEmpty)
        #expect(
            Schedule.parse("cron(0 0 29 2 ? 2027)").problems.map(\.message) == [
                #""cron(0 0 29 2 ? 2027)" never starts the pipeline: day 29 does not exist in FEB"#
            ])
        // Years that have all passed: no start in the search window, said in the pipeline's own file.
        let documents = PipelineDocuments.load(
            [NamedDocument(name: "p.json", text: #"{"imagePipeline": {"name": "old", "schedule": {"scheduleExpression": "cron(0 0 1 1 ? 2020)"}}}"#)],
            now: Self.date("2026-03-07T12:00:00Z"))
        #expect(
            documents.problems.map { "\($0.file ?? "-"): \($0)" } == [
                #"p.json: imagePipeline.schedule.scheduleExpression: "cron(0 0 1 1 ? 2020)" has no start in the 30 years after 2026-03-07T12:00Z that imgship searches: the pipeline would not run on schedule"#
            ])
    }

    /// The repeated-hour rule is imgship's assumption, and the header says so for zones with
    /// daylight saving time (and not for UTC).
    @Test func daylightSavingRuleIsStatedAsAnAssumption() {
        let now = Self.date("2026-03-07T12:00:00Z")
        let zoned = PipelineDocuments.load(
            pipeline: #"{"imagePipeline": {"name": "la", "schedule": {"scheduleExpression": "cron(30 1 * * ? *)", "timezone": "America/Los_Angeles"}}}"#)
        #expect(zoned.summary(now: now).lines.contains("schedule assumption: \(Schedule.daylightSavingAssumption)"))
        let utc = PipelineDocuments.load(pipeline: #"{"imagePipeline": {"name": "u", "schedule": {"scheduleExpression": "cron(30 1 * * ? *)"}}}"#)
        #expect(!utc.summary(now: now).lines.contains { $0.hasPrefix("schedule assumption") })
    }

    @Test(arguments: [
        ("rate(1 day)", "rate expressions are EventBridge's"),
        ("cron(0 0 * * *)", "expected six fields"),
        ("cron(0 0 * * * *)", "both given"),
        ("cron(0 0 ? * ? *)", "both ?"),
        ("cron(60 0 * * ? *)", "minute \"60\" is not in 0-59"),
        ("cron(0 24 * * ? *)", "hour \"24\" is not in 0-23"),
        ("cron(0 0 32 * ? *)", "day \"32\" is not in 1-31"),
        ("cron(0 0 ? * 6#6 *)", "week number after # \"6\" is not in 1-5"),
        ("cron(0 0 ? * 8 *)", "day-of-week \"8\" is not in 1-7 or SUN-SAT"),
        ("cron(0 0 * 13 ? *)", "month \"13\" is not in 1-12 or JAN-DEC"),
        ("cron(0 0 * * ? 2200)", "year \"2200\" is not in 1970-2199"),
        ("cron(0 10-5 * * ? *)", "runs backwards"),
        ("cron(0  0 * * ? *)", "single spaces"),
        ("cron(0 0 * * ? *", "not closed"),
    ])
    func refused(expression: String, message: String) {
        let (schedule, problems) = Schedule.parse(expression)
        #expect(schedule == nil)
        #expect(problems.first?.path == "schedule.scheduleExpression")
        #expect(problems.first?.message.contains(message) == true, "\(problems)")
    }

    @Test func timeZoneAndStartCondition() {
        #expect(Schedule.parse("cron(0 0 * * ? *)", timezone: "Mars/Olympus").problems.map(\.path) == ["schedule.timezone"])
        #expect(Schedule.parse("cron(0 0 * * ? *)", timezone: "PST 8").problems.first?.message.contains("not an IANA time zone name") == true)
        let condition = Schedule.parse("cron(0 0 * * ? *)", startCondition: "ALWAYS")
        #expect(condition.problems.map(\.path) == ["schedule.pipelineExecutionStartCondition"])
        #expect(Schedule.parse("cron(0 0 * * ? *)").schedule?.startCondition == .expressionMatchAndDependencyUpdatesAvailable)
        #expect(Schedule.parse("cron(0 0 * * ? *)").schedule?.timeZoneName == "UTC")
        #expect(Schedule.parse("cron(0 0 * * ? *)").schedule?.timeZone.secondsFromGMT() == 0)
    }

    /// 2026-03-08 is the spring-forward day in America/Los_Angeles (02:00 PST -> 03:00 PDT):
    /// a 02:30 daily schedule does not run that day.
    @Test func springForwardInLosAngelesSkipsTheMissingTime() throws {
        let schedule = try Self.schedule("cron(30 2 * * ? *)", "America/Los_Angeles")
        let starts = schedule.nextStarts(after: Self.date("2026-03-06T00:00:00Z"), count: 3)
        #expect(starts.map(\.local) == ["2026-03-06 02:30 -08:00", "2026-03-07 02:30 -08:00", "2026-03-09 02:30 -07:00"])
        #expect(starts.map(\.utc) == ["2026-03-06T10:30Z", "2026-03-07T10:30Z", "2026-03-09T09:30Z"])
    }

    /// 2026-11-01 is the fall-back day in America/Los_Angeles (02:00 PDT -> 01:00 PST): a
    /// 01:30 daily schedule runs once, at the first 01:30; an hourly one does not repeat 01:00.
    @Test func fallBackInLosAngelesRunsOnce() throws {
        let daily = try Self.schedule("cron(30 1 * * ? *)", "America/Los_Angeles")
        let starts = daily.nextStarts(after: Self.date("2026-10-31T00:00:00Z"), count: 3)
        #expect(starts.map(\.local) == ["2026-10-31 01:30 -07:00", "2026-11-01 01:30 -07:00", "2026-11-02 01:30 -08:00"])
        #expect(starts.map(\.utc) == ["2026-10-31T08:30Z", "2026-11-01T08:30Z", "2026-11-02T09:30Z"])
        let hourly = try Self.schedule("cron(0 * * * ? *)", "America/Los_Angeles")
        let hours = hourly.nextStarts(after: Self.date("2026-11-01T07:30:00Z"), count: 3)
        #expect(hours.map(\.utc) == ["2026-11-01T08:00Z", "2026-11-01T10:00Z", "2026-11-01T11:00Z"])
        #expect(hours.map(\.local) == ["2026-11-01 01:00 -07:00", "2026-11-01 02:00 -08:00", "2026-11-01 03:00 -08:00"])
    }

    /// Europe/Berlin: spring forward 2026-03-29 (02:00 CET -> 03:00 CEST), fall back
    /// 2026-10-25 (03:00 CEST -> 02:00 CET). A 02:30 daily schedule: skipped in March, once in October.
    @Test func berlinTransitions() throws {
        let schedule = try Self.schedule("cron(30 2 * * ? *)", "Europe/Berlin")
        let spring = schedule.nextStarts(after: Self.date("2026-03-27T12:00:00Z"), count: 3)
        #expect(spring.map(\.utc) == ["2026-03-28T01:30Z", "2026-03-30T00:30Z", "2026-03-31T00:30Z"])
        let autumn = schedule.nextStarts(after: Self.date("2026-10-24T12:00:00Z"), count: 2)
        #expect(autumn.map(\.utc) == ["2026-10-25T00:30Z", "2026-10-26T01:30Z"])
        #expect(autumn.map(\.local) == ["2026-10-25 02:30 +02:00", "2026-10-26 02:30 +01:00"])
        #expect(spring.map(\.local) == ["2026-03-28 02:30 +01:00", "2026-03-30 02:30 +02:00", "2026-03-31 02:30 +02:00"])
    }

    @Test func dayRules() throws {
        let start = Self.date("2026-01-01T00:00:00Z")
        // The last day of February 2026 is the 28th; the last weekday of May 2026 is Friday the 29th.
        #expect(try Self.schedule("cron(0 9 L 2 ? 2026)").nextStarts(after: start, count: 1).map(\.utc) == ["2026-02-28T09:00Z"])
        #expect(try Self.schedule("cron(0 9 LW 5 ? 2026)").nextStarts(after: start, count: 1).map(\.utc) == ["2026-05-29T09:00Z"])
        // 2026-08-15 is a Saturday: 15W is Friday the 14th. 2026-02-01 is a Sunday: 1W is Monday the 2nd.
        #expect(try Self.schedule("cron(0 9 15W 8 ? 2026)").nextStarts(after: start, count: 1).map(\.utc) == ["2026-08-14T09:00Z"])
        #expect(try Self.schedule("cron(0 9 1W 2 ? 2026)").nextStarts(after: start, count: 1).map(\.utc) == ["2026-02-02T09:00Z"])
        // The second Friday of March 2026 is the 13th; the last Thursday of April 2026 the 30th.
        #expect(try Self.schedule("cron(0 9 ? 3 FRI#2 2026)").nextStarts(after: start, count: 1).map(\.utc) == ["2026-03-13T09:00Z"])
        #expect(try Self.schedule("cron(0 9 ? 4 5L 2026)").nextStarts(after: start, count: 1).map(\.utc) == ["2026-04-30T09:00Z"])
        // Steps and lists.
        #expect(
            try Self.schedule("cron(0/20 8 1 1 ? 2026)").nextStarts(after: start, count: 4).map(\.utc) == [
                "2026-01-01T08:00Z", "2026-01-01T08:20Z", "2026-01-01T08:40Z",
            ])
        // A year that has passed never matches.
        #expect(try Self.schedule("cron(0 0 1 1 ? 2020)").nextStarts(after: start, count: 1).isEmpty)
    }
}
