import Foundation

/// The instant a plan is made at: the schedule's next starts are counted from it and, when no
/// build date is given, `{{ imagebuilder:buildDate }}` is it. Pinning it makes a plan with a
/// pipeline reproducible: `--now` wins, then `SOURCE_DATE_EPOCH` (reproducible-builds.org,
/// "SOURCE_DATE_EPOCH" specification: a decimal count of seconds since 1970-01-01 00:00 UTC,
/// as `date +%s` prints; a malformed value should fail the build), then the system clock.
public enum PlanClock {
    /// Why a given instant is refused; the text names where it came from.
    public struct Refusal: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The instant from `--now` (`2026-03-07T12:00:00Z`, an ISO 8601 instant with a zone
    /// designator, or `@1772884800`, seconds since the epoch) or the environment.
    public static func resolve(now: String?, environment: [String: String], system: () -> Date = Date.init) -> Result<Date, Refusal> {
        if let now {
            if now.hasPrefix("@") {
                guard let seconds = epochSeconds(now.dropFirst()) else {
                    return .failure(Refusal(description: "--now \(now): expected @SECONDS since 1970-01-01T00:00:00Z, such as @1772884800"))
                }
                return .success(Date(timeIntervalSince1970: TimeInterval(seconds)))
            }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            guard let date = formatter.date(from: now) else {
                return .failure(Refusal(description: "--now \(now): expected an instant such as 2026-03-07T12:00:00Z (or @SECONDS)"))
            }
            return .success(date)
        }
        if let text = environment["SOURCE_DATE_EPOCH"] {
            guard let seconds = epochSeconds(Substring(text)) else {
                return .failure(Refusal(description: "SOURCE_DATE_EPOCH \"\(text)\": expected a whole number of seconds since 1970-01-01T00:00:00Z"))
            }
            return .success(Date(timeIntervalSince1970: TimeInterval(seconds)))
        }
        return .success(system())
    }

    /// Digits only (no sign, no fraction), within the years a cron expression can name.
    static func epochSeconds(_ text: Substring) -> Int64? {
        guard !text.isEmpty, text.count <= 12, text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int64(text) else { return nil }
        // 2199-12-31T23:59:59Z, the last instant of Image Builder's cron years.
        return value <= 7_258_118_399 ? value : nil
    }

    /// Image Builder's buildDate form, UTC: `2026-11-24T09-30-00Z` has no colons, which AMI
    /// names do not allow.
    public static func buildDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d-%02d-%02dT%02d-%02d-%02dZ", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0, parts.minute ?? 0,
            parts.second ?? 0)
    }
}
