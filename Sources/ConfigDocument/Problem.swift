/// One finding about a configuration: where it is (JSON path and, when known, line and
/// column) and what is wrong. Errors stop planning; warnings are printed and planning goes on.
public struct Problem: Error, Sendable, Hashable, CustomStringConvertible, Comparable {
    public enum Severity: String, Sendable, Codable, Hashable {
        case error, warning
    }

    public var severity: Severity
    /// The JSON path, `distributions[2].fastLaunchConfigurations[0].launchTemplate`; empty for
    /// the document itself.
    public var path: String
    public var message: String
    public var line: Int?
    public var column: Int?
    /// The file it is in, when a command reads several (`--recipe`, `--prices`); nil for the
    /// command's main document.
    public var file: String?
    /// For the one problem that counts those past a document's limit (`ProblemList`): how many
    /// errors it stands for; nil for every other problem, which stands for itself.
    public var omittedErrors: Int?

    public init(_ severity: Severity, _ path: String, _ message: String, at value: ConfigValue? = nil) {
        self.severity = severity
        self.path = path
        self.message = message
        if let value, value.line > 0 {
            line = value.line
            column = value.column
        }
    }

    /// The problem as found in `file`.
    public func located(in file: String) -> Problem {
        var problem = self
        problem.file = file
        return problem
    }

    /// `problems` without repeats, in their order. A set, not a list search: two documents of
    /// 40,000 problems each made the search quadratic.
    public static func unique(_ problems: [Problem]) -> [Problem] {
        var seen = Set<Problem>()
        return problems.filter { seen.insert($0).inserted }
    }

    /// `text` in double quotes for a message, cut after its first 200 characters: a message
    /// quotes what it refuses, and a 64 MiB value would otherwise be copied into each one.
    public static func quoted(_ text: String) -> String {
        let shown = 200
        guard text.utf8.count > shown else { return "\"\(text)\"" }
        let head = text.prefix(shown)
        return head.endIndex == text.endIndex ? "\"\(text)\"" : "\"\(head)…\" (\(text.utf8.count) bytes)"
    }

    /// How many errors `problems` holds, counting those a summary problem stands for: what a
    /// command's "N error(s)" line says.
    public static func errorCount(_ problems: [Problem]) -> Int {
        problems.reduce(0) { total, problem in
            problem.severity == .error ? total + (problem.omittedErrors ?? 1) : total
        }
    }

    /// `path: message`, the form the CLI prints after the file name and position.
    public var description: String {
        path.isEmpty ? message : "\(path): \(message)"
    }

    /// Document order: by position where known, then by path.
    public static func < (lhs: Problem, rhs: Problem) -> Bool {
        (lhs.file ?? "", lhs.line ?? Int.max, lhs.column ?? 0, lhs.path, lhs.message)
            < (rhs.file ?? "", rhs.line ?? Int.max, rhs.column ?? 0, rhs.path, rhs.message)
    }
}

/// A JSON path being built while walking a document.
public struct Path: Sendable {
    public private(set) var text = ""

    public init() {}

    private init(text: String) {
        self.text = text
    }

    public func member(_ key: String) -> Path {
        Path(text: text.isEmpty ? key : text + "." + key)
    }

    public func item(_ index: Int) -> Path {
        Path(text: text + "[\(index)]")
    }
}

/// The problems found in one document, of which the first `limit` are kept and the rest only
/// counted: a hostile document with hundreds of thousands of unknown keys would otherwise cost
/// a message and a path per key, many times its own size (issue 22), while a reader fixes the
/// first ones first anyway (clang stops at 20 errors by default, `-ferror-limit`).
///
/// Paths and messages are taken as autoclosures, so a problem past the limit builds no string.
public struct ProblemList: Sendable {
    /// How many problems one document reports.
    public static let defaultLimit = 1_000

    public let limit: Int
    public private(set) var kept: [Problem] = []
    /// The problems past `limit`, by severity.
    public private(set) var omittedErrors = 0
    public private(set) var omittedWarnings = 0

    public init(limit: Int = ProblemList.defaultLimit) {
        self.limit = limit
    }

    public var isFull: Bool { kept.count >= limit }

    public mutating func append(_ problem: @autoclosure () -> Problem, severity: Problem.Severity) {
        guard isFull else { return kept.append(problem()) }
        if severity == .error { omittedErrors += 1 } else { omittedWarnings += 1 }
    }

    public mutating func append(_ problem: Problem) {
        append(problem, severity: problem.severity)
    }

    public mutating func append(
        _ severity: Problem.Severity, _ path: @autoclosure () -> String, _ message: @autoclosure () -> String, at value: ConfigValue? = nil
    ) {
        append(Problem(severity, path(), message(), at: value), severity: severity)
    }

    /// The kept problems, then one that counts the omitted ones (an error when any of them is).
    public var problems: [Problem] {
        let omitted = omittedErrors + omittedWarnings
        guard omitted > 0 else { return kept }
        func more(_ number: Int, _ word: String) -> String? { number == 0 ? nil : "\(number) more \(word)\(number == 1 ? "" : "s")" }
        let what = [more(omittedErrors, "error"), more(omittedWarnings, "warning")].compactMap { $0 }.joined(separator: " and ")
        var summary = Problem(omittedErrors > 0 ? .error : .warning, "", "\(what) not shown: only the first \(limit) problems of a document are reported")
        summary.omittedErrors = omittedErrors
        return kept + [summary]
    }
}
