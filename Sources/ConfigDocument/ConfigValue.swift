/// A parsed configuration document: JSON values that remember where they were written, so
/// every problem can name its line and column as well as its path.
public struct ConfigValue: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case object([(key: String, value: ConfigValue)])
        case array([ConfigValue])
        case string(String)
        /// The number as written, so integers stay exact.
        case number(String)
        case bool(Bool)
        case null

        public static func == (lhs: Kind, rhs: Kind) -> Bool {
            switch (lhs, rhs) {
            case let (.object(a), .object(b)): a.map(\.key) == b.map(\.key) && a.map(\.value) == b.map(\.value)
            case let (.array(a), .array(b)): a == b
            case let (.string(a), .string(b)): a == b
            case let (.number(a), .number(b)): a == b
            case let (.bool(a), .bool(b)): a == b
            case (.null, .null): true
            default: false
            }
        }
    }

    public var kind: Kind
    /// Line and column kept as 32 bits each: a value of a large array costs 32 bytes, not 40
    /// (a document's model should stay a few times its size, SECURITY.md). Documents are far
    /// below 4 Gi lines or columns; larger numbers saturate.
    private var storedLine: UInt32
    private var storedColumn: UInt32

    /// 1-based line and column of the value's first character.
    public var line: Int {
        get { Int(storedLine) }
        set { storedLine = UInt32(clamping: newValue) }
    }

    public var column: Int {
        get { Int(storedColumn) }
        set { storedColumn = UInt32(clamping: newValue) }
    }

    public init(_ kind: Kind, line: Int = 0, column: Int = 0) {
        self.kind = kind
        self.storedLine = UInt32(clamping: line)
        self.storedColumn = UInt32(clamping: column)
    }

    /// The member `key` of an object, nil for anything else.
    public subscript(key: String) -> ConfigValue? {
        guard case let .object(members) = kind else { return nil }
        return members.first { $0.key == key }?.value
    }

    public var string: String? {
        if case let .string(text) = kind { text } else { nil }
    }

    public var int: Int? {
        if case let .number(text) = kind { Int(text) } else { nil }
    }

    public var bool: Bool? {
        if case let .bool(value) = kind { value } else { nil }
    }

    public var array: [ConfigValue]? {
        if case let .array(items) = kind { items } else { nil }
    }

    public var members: [(key: String, value: ConfigValue)]? {
        if case let .object(members) = kind { members } else { nil }
    }

    /// The function of a CloudFormation intrinsic function call (`{"Ref": ...}`,
    /// `{"Fn::Sub": ...}`, or YAML's `!Ref` read into that form), nil for anything else.
    public var intrinsicFunction: String? {
        guard case let .object(members) = kind, members.count == 1 else { return nil }
        let key = members[0].key
        return key == "Ref" || key == "Condition" || key.hasPrefix("Fn::") ? key : nil
    }

    /// A scalar's text as written: strings, numbers and booleans; nil for the rest.
    public var scalarText: String? {
        switch kind {
        case let .string(text), let .number(text): text
        case let .bool(value): value ? "true" : "false"
        default: nil
        }
    }

    /// What the value is, in the words an error message uses.
    public var typeName: String {
        switch kind {
        case .object: "an object"
        case .array: "a list"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }
}
