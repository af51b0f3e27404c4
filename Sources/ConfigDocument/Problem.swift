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
