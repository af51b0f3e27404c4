import ConfigDocument
import Foundation

/// An image pipeline's schedule (Image Builder API, `Schedule`): a cron expression in Image
/// Builder's six-field syntax, the IANA time zone it is read in, and the start condition.
///
/// Syntax (Image Builder user guide, "Use cron expressions in Image Builder"; the same as
/// EventBridge's cron reference): `cron(Minute Hour Day Month Day-of-week Year)`, six fields
/// separated by one space.
/// - Minute 0-59, Hour 0-23, Year 1970-2199: `,` `-` `*` `/`.
/// - Day (of month) 1-31: also `?`, `L` (last day), `NW` (weekday nearest day N), `LW`.
/// - Month 1-12 or JAN-DEC: `,` `-` `*` `/`.
/// - Day-of-week 1-7 (1 = Sunday) or SUN-SAT: also `?`, `L`, `NL` (the last weekday N of the
///   month), `N#K` (the K-th weekday N of the month, K 1-5), and lists of these
///   (`MON,FRI#2`). A bare `L` is Sunday: the user guide's wildcard table says `L` in
///   day-of-week means "Sunday" as the last day of the week (Quartz, which EventBridge's
///   syntax resembles, reads it as Saturday; the Image Builder page is the one followed).
///
/// The bare form `0 10 * * ? *` is what the console's schedule builder shows; the API's
/// `Schedule.scheduleExpression` points at the user guide, whose expressions and the
/// CloudFormation, Terraform and CLI examples are all written `cron(...)`. No document says
/// the service accepts the bare form, so it is read but warned about.
///
/// Refused, as the service refuses them (same page, "Limitations"): a day-of-month and a
/// day-of-week both given (one of them must be `?`); expressions more frequent than once a
/// minute cannot be written in this syntax at all. `rate(...)` expressions are EventBridge's,
/// not Image Builder's: refused.
public struct Schedule: Sendable, Equatable {
    /// `EXPRESSION_MATCH_ONLY` builds every time the expression matches;
    /// `EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE` (the default) only when a newer
    /// base image or component matches the recipe's version filters (Image Builder API,
    /// `Schedule.pipelineExecutionStartCondition`).
    public enum StartCondition: String, Sendable, CaseIterable {
        case expressionMatchOnly = "EXPRESSION_MATCH_ONLY"
        case expressionMatchAndDependencyUpdatesAvailable = "EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE"
    }

    /// The expression as written.
    public var expression: String
    public var timeZone: TimeZone
    /// The zone as the document names it (`UTC` when it names none).
    public var timeZoneName: String
    public var startCondition: StartCondition
    var fields: CronFields

    /// One start of the pipeline: the instant, and the wall-clock time in the schedule's zone.
    public struct Start: Sendable, Equatable {
        public var date: Date
        /// `2026-03-09 02:30 -07:00`: the wall time in the schedule's zone and its UTC offset
        /// (zone abbreviations depend on the ICU data of the machine; offsets do not).
        public var local: String
        /// `2026-03-08T10:00Z`.
        public var utc: String
    }

    /// Parses and checks a schedule. `timezone` nil means UTC (API reference: "If not specified
    /// this defaults to UTC"); `startCondition` nil means the service's default. Problems carry
    /// the JSON paths under `path` (`schedule.scheduleExpression`, ...).
    public static func parse(
        _ expression: String, timezone: String? = nil, startCondition: String? = nil,
        path: String = "schedule"
    ) -> (schedule: Schedule?, problems: [Problem]) {
        var problems: [Problem] = []
        func at(_ field: String) -> String { path.isEmpty ? field : path + "." + field }
        var zone = TimeZone.gmt
        if let timezone {
            // API model, Schedule.timezone: 3-100 characters, [a-zA-Z0-9]{2,}(?:\/[a-zA-Z0-9-_+]+)*,
            // an IANA name.
            if timezone.count < 3 || timezone.count > 100 || (try? /[a-zA-Z0-9]{2,}(?:\/[a-zA-Z0-9\-_+]+)*/.wholeMatch(in: timezone)) == nil {
                problems.append(Problem(.error, at("timezone"), "\"\(timezone)\" is not an IANA time zone name (like America/Los_Angeles or Etc/UTC)"))
            } else if let found = TimeZone(identifier: timezone) {
                zone = found
            } else {
                problems.append(
                    Problem(.error, at("timezone"), "\"\(timezone)\" is not a time zone of the IANA database (like America/Los_Angeles or Etc/UTC)"))
            }
        }
        var condition = StartCondition.expressionMatchAndDependencyUpdatesAvailable
        if let startCondition {
            if let known = StartCondition(rawValue: startCondition) {
                condition = known
            } else {
                problems.append(
                    Problem(
                        .error, at("pipelineExecutionStartCondition"),
                        "\"\(startCondition)\" is not one of \(StartCondition.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))"))
            }
        }
        let fields: CronFields?
        switch CronFields.parse(expression) {
        case let .success(parsed):
            fields = parsed
            if !expression.hasPrefix("cron(") {
                problems.append(
                    Problem(
                        .warning, at("scheduleExpression"),
                        "\"\(expression)\" is the console's bare form; the API takes cron(\(expression)) (Image Builder user guide, \"Use cron expressions\"; no document says the service accepts the bare form): write cron(\(expression))"
                    ))
            }
            if let reason = parsed.neverMatchingReason {
                problems.append(Problem(.warning, at("scheduleExpression"), "\"\(expression)\" never starts the pipeline: \(reason)"))
            }
        case let .failure(error):
            problems.append(Problem(.error, at("scheduleExpression"), "\"\(expression)\": \(error.description)"))
            fields = nil
        }
        guard let fields, !problems.contains(where: { $0.severity == .error }) else { return (nil, problems) }
        return (Schedule(expression: expression, timeZone: zone, timeZoneName: timezone ?? "UTC", startCondition: condition, fields: fields), problems)
    }

    /// How far ahead `nextStarts` looks, in days: 30 years. A schedule with no start in that
    /// window is reported as such (`PipelineDocuments.scheduleProblems`), not shown as empty.
    public static let searchWindowDays = 366 * 30

    /// What imgship assumes of daylight saving time; no Image Builder document says it.
    public static let daylightSavingAssumption =
        "imgship assumes, as no Image Builder document says, that a time the spring-forward gap skips does not run that day and a time the repeated hour shows twice runs once, at its first occurrence"

    /// Whether the schedule's zone has daylight saving transitions (the assumption matters).
    public var zoneChangesOffset: Bool { timeZone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: 0)) != nil }

    /// The next `count` times the expression matches after `date` (exclusive), read in the
    /// schedule's zone, within `searchWindowDays`. Daylight saving time: Image Builder's cron
    /// page says nothing of it, so this follows `daylightSavingAssumption` (imgship's, after
    /// EventBridge Scheduler's behaviour): a wall time the spring-forward gap skips does not run
    /// that day; a wall time the fall-back hour repeats runs once, at its first occurrence.
    /// The service may start a build up to a minute after the time.
    public func nextStarts(after date: Date, count: Int) -> [Start] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        var starts: [Start] = []
        // Walk wall-clock days in the zone, then the hours and minutes the expression allows.
        var day = calendar.dateComponents([.year, .month, .day], from: date)
        guard let startYear = day.year, fields.years.contains(where: { $0 >= startYear }) else { return [] }
        var seen: Set<Date> = []
        var daysWalked = 0
        while starts.count < count, daysWalked < Self.searchWindowDays, let year = day.year, year <= 2199 {
            if let month = day.month, let dayOfMonth = day.day, fields.matchesDay(year: year, month: month, day: dayOfMonth, calendar: calendar) {
                hours: for hour in fields.hours.sorted() {
                    for minute in fields.minutes.sorted() {
                        var wall = DateComponents(year: year, month: month, day: dayOfMonth, hour: hour, minute: minute)
                        wall.timeZone = timeZone
                        // Skipped by the spring-forward gap: Foundation would move it past the gap.
                        guard let instant = calendar.date(from: wall) else { continue }
                        let back = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: instant)
                        if back.hour != hour || back.minute != minute || back.day != dayOfMonth { continue }
                        // Foundation resolves a repeated wall time to its first occurrence.
                        guard instant > date, seen.insert(instant).inserted else { continue }
                        starts.append(Start(date: instant, local: Self.format(instant, in: timeZone), utc: Self.formatUTC(instant)))
                        if starts.count == count { break hours }
                    }
                }
            }
            guard let start = calendar.date(from: day), let next = calendar.date(byAdding: .day, value: 1, to: start) else { break }
            day = calendar.dateComponents([.year, .month, .day], from: next)
            daysWalked += 1
        }
        return starts
    }

    static func format(_ date: Date, in zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        let offset = zone.secondsFromGMT(for: date) / 60
        let sign = offset < 0 ? "-" : "+"
        return String(
            format: "%04d-%02d-%02d %02d:%02d %@%02d:%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0, parts.minute ?? 0,
            sign, abs(offset) / 60, abs(offset) % 60)
    }

    static func formatUTC(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return String(format: "%04d-%02d-%02dT%02d:%02dZ", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0, parts.minute ?? 0)
    }
}

/// The six fields of an Image Builder cron expression, expanded to the values they allow.
struct CronFields: Sendable, Equatable {
    var minutes: Set<Int>
    var hours: Set<Int>
    /// Nil for `?`.
    var daysOfMonth: DayOfMonth?
    var months: Set<Int>
    /// Nil for `?`.
    var daysOfWeek: DayOfWeek?
    var years: Set<Int>

    enum DayOfMonth: Sendable, Equatable {
        case days(Set<Int>)
        case last
        case lastWeekday
        case nearestWeekday(Int)
    }

    /// The items of the day-of-week field (a list: `MON,FRI#2,6L`); a day matches if any does.
    struct DayOfWeek: Sendable, Equatable {
        /// 1 = Sunday ... 7 = Saturday.
        var days: Set<Int> = []
        /// Weekdays whose last occurrence in the month matches (`5L`).
        var lastOfMonth: Set<Int> = []
        /// (weekday, week) pairs (`6#3`: the third Friday).
        var nth: [Nth] = []

        struct Nth: Sendable, Equatable, Hashable {
            var weekday: Int
            var nth: Int
        }
    }

    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    static func parse(_ text: String) -> Result<CronFields, CronError> {
        var body = Substring(text)
        if body.hasPrefix("rate(") {
            return .failure(CronError("rate expressions are EventBridge's; Image Builder schedules take cron(Minute Hour Day Month Day-of-week Year)"))
        }
        if body.hasPrefix("cron(") {
            guard body.hasSuffix(")") else { return .failure(CronError("cron( is not closed")) }
            body = body.dropFirst(5).dropLast()
        }
        let parts = body.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 6, !parts.contains(where: \.isEmpty) else {
            return .failure(
                CronError("expected six fields separated by single spaces (Minute Hour Day Month Day-of-week Year), found \(body.split(separator: " ").count)"))
        }
        do {
            let minutes = try values(parts[0], "minute", 0...59, names: nil)
            let hours = try values(parts[1], "hour", 0...23, names: nil)
            let months = try values(parts[3], "month", 1...12, names: monthNames)
            let years = try values(parts[5], "year", 1970...2199, names: nil)
            let dayOfMonth = try parseDayOfMonth(parts[2])
            let dayOfWeek = try parseDayOfWeek(parts[4])
            // Image Builder cron page, "Limitations": one of the two day fields must be `?`.
            if dayOfMonth != nil, dayOfWeek != nil {
                throw CronError("Day (\(parts[2])) and Day-of-week (\(parts[4])) are both given: Image Builder needs ? in one of them")
            }
            if dayOfMonth == nil, dayOfWeek == nil {
                throw CronError("Day and Day-of-week are both ?: give one of them (* for every day)")
            }
            return .success(CronFields(minutes: minutes, hours: hours, daysOfMonth: dayOfMonth, months: months, daysOfWeek: dayOfWeek, years: years))
        } catch let error as CronError {
            return .failure(error)
        } catch {
            return .failure(CronError("\(error)"))
        }
    }

    static func number(_ text: Substring, _ field: String, _ range: ClosedRange<Int>, names: [String]?) throws -> Int {
        if let names, let index = names.firstIndex(of: text.uppercased()) { return index + range.lowerBound }
        guard let value = Int(text), range.contains(value) else {
            let spelled = if let names, let first = names.first, let last = names.last { " or \(first)-\(last)" } else { "" }
            throw CronError("\(field) \"\(text)\" is not in \(range.lowerBound)-\(range.upperBound)\(spelled)")
        }
        return value
    }

    /// `*`, `N`, `N-M`, `*/S`, `N/S`, `N-M/S` and lists of them.
    static func values(_ text: Substring, _ field: String, _ range: ClosedRange<Int>, names: [String]?) throws -> Set<Int> {
        var result: Set<Int> = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw CronError("\(field) field \"\(text)\" has an empty list item") }
            let stepParts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard stepParts.count <= 2 else { throw CronError("\(field) \"\(item)\" has more than one /") }
            var step = 1
            if stepParts.count == 2 {
                guard let value = Int(stepParts[1]), value >= 1, value <= range.upperBound else {
                    throw CronError("\(field) step \"\(stepParts[1])\" is not a number in 1-\(range.upperBound)")
                }
                step = value
            }
            let base = stepParts[0]
            var low = range.lowerBound, high = range.upperBound
            if base != "*" {
                let bounds = base.split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2 else { throw CronError("\(field) \"\(base)\" is not a value or a range") }
                low = try number(bounds[0], field, range, names: names)
                if bounds.count == 2 {
                    high = try number(bounds[1], field, range, names: names)
                    guard low <= high else { throw CronError("\(field) range \"\(base)\" runs backwards") }
                } else if stepParts.count == 1 {
                    high = low
                }
            }
            result.formUnion(stride(from: low, through: high, by: step))
        }
        return result
    }

    static func parseDayOfMonth(_ text: Substring) throws -> DayOfMonth? {
        switch text {
        case "?": return nil
        case "L": return .last
        case "LW": return .lastWeekday
        default:
            // The user guide documents L and NW as whole-field values (`L`, `3W`); lists of
            // them are not shown anywhere, so they are refused by name.
            if text.contains(","), text.contains(where: { $0 == "L" || $0 == "W" }) {
                throw CronError("day \"\(text)\": L and W stand alone in the Day field (L, LW or NW for one day N), not in a list")
            }
            if text.hasSuffix("W") {
                return .nearestWeekday(try number(text.dropLast(), "day", 1...31, names: nil))
            }
            return .days(try values(text, "day", 1...31, names: nil))
        }
    }

    /// A list of `*`, values, ranges and steps (`MON-FRI`, `*/2`), `L` (Sunday, per the user
    /// guide), `NL` and `N#K`, names in any case (`sat#2`): the user guide's table lists
    /// `, - * ? L #` for this field.
    static func parseDayOfWeek(_ text: Substring) throws -> DayOfWeek? {
        if text == "?" { return nil }
        var result = DayOfWeek()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw CronError("day-of-week field \"\(text)\" has an empty list item") }
            if item == "L" {
                // Image Builder user guide, wildcard L: the last day of the week is Sunday.
                result.days.insert(1)
            } else if let hash = item.firstIndex(of: "#") {
                let weekday = try number(item[..<hash], "day-of-week", 1...7, names: dayNames)
                let nth = try number(item[item.index(after: hash)...], "week number after #", 1...5, names: nil)
                result.nth.append(DayOfWeek.Nth(weekday: weekday, nth: nth))
            } else if item.count > 1, item.uppercased().hasSuffix("L") {
                result.lastOfMonth.insert(try number(item.dropLast(), "day-of-week", 1...7, names: dayNames))
            } else {
                result.days.formUnion(try values(item, "day-of-week", 1...7, names: dayNames))
            }
        }
        return result
    }

    /// Why the expression can never match, when that follows from its fields alone: days
    /// of the month that none of its months has (`30 2`: February 30).
    var neverMatchingReason: String? {
        guard case let .days(days) = daysOfMonth else { return nil }
        // February has 29 days in leap years: only if one of the years is a leap year.
        let leap = years.contains { ($0 % 4 == 0 && $0 % 100 != 0) || $0 % 400 == 0 }
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard let first = days.min(), months.allSatisfy({ first > lengths[$0 - 1] }) else { return nil }
        let names = months.sorted().map { Self.monthNames[$0 - 1] }.joined(separator: ",")
        return "day \(first) does not exist in \(names)"
    }

    /// Whether the expression allows this calendar day (month, year and the day fields).
    func matchesDay(year: Int, month: Int, day: Int, calendar: Calendar) -> Bool {
        guard years.contains(year), months.contains(month) else { return false }
        guard let first = calendar.date(from: DateComponents(year: year, month: month, day: 1)),
            let length = calendar.range(of: .day, in: .month, for: first)?.count
        else { return false }
        // Weekday of `day`: 1 = Sunday (Calendar's numbering is cron's).
        let firstWeekday = calendar.component(.weekday, from: first)
        func weekday(_ dayOfMonth: Int) -> Int { (firstWeekday - 1 + dayOfMonth - 1) % 7 + 1 }
        if let daysOfMonth {
            switch daysOfMonth {
            case let .days(days): return days.contains(day)
            case .last: return day == length
            case .lastWeekday:
                var candidate = length
                while weekday(candidate) == 1 || weekday(candidate) == 7 { candidate -= 1 }
                return day == candidate
            case let .nearestWeekday(target):
                guard target <= length else { return false }
                var candidate = target
                switch weekday(target) {
                case 7: candidate = target == 1 ? 3 : target - 1  // Saturday: Friday, or Monday the 3rd
                case 1: candidate = target == length ? target - 2 : target + 1  // Sunday: Monday, or Friday
                default: break
                }
                return day == candidate
            }
        }
        if let daysOfWeek {
            let today = weekday(day)
            return daysOfWeek.days.contains(today) || (daysOfWeek.lastOfMonth.contains(today) && day + 7 > length)
                || daysOfWeek.nth.contains { $0.weekday == today && (day - 1) / 7 + 1 == $0.nth }
        }
        return false
    }
}

/// Why a cron expression is refused: the text for `schedule.scheduleExpression`'s problem.
struct CronError: Error, Equatable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
