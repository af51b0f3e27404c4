/// A parsed configuration document: JSON values that remember where they were written, so
/// every problem can name its line and column as well as its path.
public struct ConfigValue: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case object(ObjectMembers)
        case array([ConfigValue])
        case string(String)
        /// The number as written, so integers stay exact.
        case number(String)
        case bool(Bool)
        case null

        public static func == (lhs: Kind, rhs: Kind) -> Bool {
            switch (lhs, rhs) {
            case let (.object(a), .object(b)): a.elementsEqual(b) { $0.key == $1.key && $0.value == $1.value }
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
    /// Line and column, 28 bits each, packed into the 7 bytes that follow `kind`'s 17, so a
    /// value costs 24 bytes and an object member 40, with no allocation of its own for an
    /// object (`ObjectMembers`): a document's model should stay a few times its size
    /// (SECURITY.md). Documents are at most 64 MiB, far below 2^28 lines or
    /// columns; larger numbers saturate.
    private var positionLow: UInt8
    private var positionMiddle: UInt16
    private var positionHigh: UInt32

    private static let positionBits = 28
    private static let positionMask = UInt64(1) << positionBits - 1

    private var packedPosition: UInt64 {
        get { UInt64(positionHigh) << 24 | UInt64(positionMiddle) << 8 | UInt64(positionLow) }
        set {
            positionLow = UInt8(truncatingIfNeeded: newValue)
            positionMiddle = UInt16(truncatingIfNeeded: newValue >> 8)
            positionHigh = UInt32(truncatingIfNeeded: newValue >> 24)
        }
    }

    private static func clamped(_ number: Int) -> UInt64 {
        UInt64(clamping: max(0, min(number, Int(positionMask))))
    }

    /// 1-based line and column of the value's first character.
    public var line: Int {
        get { Int(packedPosition >> Self.positionBits) }
        set { packedPosition = Self.clamped(newValue) << Self.positionBits | packedPosition & Self.positionMask }
    }

    public var column: Int {
        get { Int(packedPosition & Self.positionMask) }
        set { packedPosition = packedPosition & ~Self.positionMask | Self.clamped(newValue) }
    }

    public init(_ kind: Kind, line: Int = 0, column: Int = 0) {
        self.kind = kind
        let packed = Self.clamped(line) << Self.positionBits | Self.clamped(column)
        positionLow = UInt8(truncatingIfNeeded: packed)
        positionMiddle = UInt16(truncatingIfNeeded: packed >> 8)
        positionHigh = UInt32(truncatingIfNeeded: packed >> 24)
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

    public var members: ObjectMembers? {
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

/// The members of an object, in the order written. A reader stores the members of many
/// objects in one chunk (`ObjectMembers.Arena`), so an object costs its members' 40 bytes each
/// and no allocation of its own: an array per object (a 32-byte header and malloc's 16) made
/// a document of small objects nested deep cost 9 times its text.
public struct ObjectMembers: RandomAccessCollection, ExpressibleByArrayLiteral, Sendable {
    public typealias Element = (key: String, value: ConfigValue)

    /// Members of one or more objects. Appended to only by the arena that made it, while its
    /// reader runs on one thread; read only after that, so it is shared freely.
    final class Chunk: @unchecked Sendable {
        var members: ContiguousArray<Element> = []

        init(capacity: Int) {
            members.reserveCapacity(capacity)
        }
    }

    private let chunk: Chunk
    private let start: UInt32
    private let storedCount: UInt32

    public init(_ members: some Collection<Element>) {
        guard !members.isEmpty else {
            self = .empty
            return
        }
        self.init(owning: ContiguousArray(members))
    }

    /// No members, sharing one empty chunk: `{}` costs nothing but the value holding it.
    static let empty = ObjectMembers(chunk: Chunk(capacity: 0), start: 0, count: 0)

    public init(arrayLiteral members: Element...) {
        self.init(members)
    }

    /// The members of one object, stored as they are, without a copy.
    init(owning members: ContiguousArray<Element>) {
        chunk = Chunk(capacity: 0)
        chunk.members = members
        start = 0
        storedCount = UInt32(members.count)
    }

    private init(chunk: Chunk, start: Int, count: Int) {
        self.chunk = chunk
        self.start = UInt32(start)
        self.storedCount = UInt32(count)
    }

    /// The chunk holding these members, for tests that check it is freed.
    var storage: AnyObject { chunk }

    public var startIndex: Int { 0 }
    public var endIndex: Int { Int(storedCount) }

    public subscript(position: Int) -> Element {
        precondition(position >= 0 && position < Int(storedCount), "member index out of range")
        return chunk.members[Int(start) + position]
    }

    /// Where a reader puts the members of the objects it makes. A chunk holds the objects of
    /// one height only (the levels of objects and lists a value holds, itself included), so
    /// its members refer to chunks of lower heights and never to itself: reference counting
    /// frees a document's chunks with its last value. (One chunk for all made every nested
    /// object a reference cycle, which the fuzz harness found as a leak.) Each height fills a
    /// chunk of 64 members, then of twice as many, up to `chunkCapacity`: a chunk never grows,
    /// so its members are never copied, and a small document reserves little. An object of
    /// more than a quarter of that keeps its own array.
    struct Arena {
        static let chunkCapacity = 16_384
        static let firstChunkCapacity = 64
        /// The chunk being filled at each height.
        private var chunks: [Chunk?] = []

        init() {}

        /// Stores `members`, one object's, whose height is `height` (greater than any value's
        /// among its members), and gives back that object's members.
        mutating func store(_ members: ContiguousArray<Element>, height: Int) -> ObjectMembers {
            let count = members.count
            guard count > 0 else { return .empty }
            if count > Self.chunkCapacity / 4 { return ObjectMembers(owning: members) }
            if height >= chunks.count { chunks += repeatElement(nil, count: height + 1 - chunks.count) }
            let chunk: Chunk
            if let current = chunks[height], current.members.count + count <= current.members.capacity {
                chunk = current
            } else {
                let previous = chunks[height]?.members.capacity ?? Self.firstChunkCapacity / 2
                chunk = Chunk(capacity: Swift.max(count, Swift.min(2 * previous, Self.chunkCapacity)))
                chunks[height] = chunk
            }
            let start = chunk.members.count
            chunk.members.append(contentsOf: members)
            return ObjectMembers(chunk: chunk, start: start, count: count)
        }
    }
}

/// Object keys met so far in one document, so a key repeated on every element of a list shares
/// one storage instead of costing an allocation an element. Keys of up to 15 bytes are stored
/// inline in their `String` and are left alone. A document's schema has a few hundred names;
/// past `limit` distinct ones, new keys are not remembered.
struct SharedKeys {
    private var known: Set<String> = []
    static let limit = 4096

    /// `key`, or the same key met before, whose storage it then shares.
    mutating func shared(_ key: String) -> String {
        guard key.utf8.count > 15 else { return key }
        // Strings are equal when canonically equivalent: only the same bytes are shared.
        if let index = known.firstIndex(of: key), known[index].utf8.elementsEqual(key.utf8) { return known[index] }
        if known.count < Self.limit { known.insert(key) }
        return key
    }
}
