import Foundation
import Testing

@testable import ConfigDocument

/// The bounds on what a configuration file can make the readers do: alias expansion, nesting,
/// object size, and the bytes that are not text.
@Suite("document limits")
struct DocumentLimitsTests {
    /// "Billion laughs": `levels` anchors, each a list of nine aliases of the one before, so
    /// the last stands for 9^levels strings.
    static func laughs(levels: Int) -> String {
        let names = "abcdefghijklmnopqrstuvwxyz".map(String.init)
        var lines = [#"a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]"#]
        for level in 1..<levels {
            let alias = "*" + names[level - 1]
            lines.append("\(names[level]): &\(names[level]) [" + Array(repeating: alias, count: 9).joined(separator: ",") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func problem(_ text: String) -> Problem? {
        do {
            _ = try DocumentReader.parse(text)
            return nil
        } catch {
            return error
        }
    }

    func problem(bytes: [UInt8]) -> Problem? {
        do {
            _ = try DocumentReader.parse(bytes: bytes)
            return nil
        } catch {
            return error
        }
    }

    func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// YAML over 16 MiB is refused before it is composed, naming the limit and the way out;
    /// the same data as JSON is read. Its second line is malformed YAML, which composing would
    /// report: the refusal shows that none of it was composed, whatever the machine's load.
    @Test func yamlOverTheCapIsRefusedBeforeComposing() throws {
        let entry = "- launchTemplateName: lt-0123456789\n  targetRegionName: us-east-1\n"
        let count = DocumentReader.maximumYAMLBytes / entry.utf8.count + 1
        let yaml = "- [unclosed\n" + String(repeating: entry, count: count)
        #expect(problem(String(yaml.prefix(64)))?.message.hasPrefix("malformed YAML") == true)
        let error = try #require(problem(yaml))
        #expect(error.line == 1 && error.column == 1)
        #expect(
            error.message
                == "a YAML document is read up to 16 MiB and this one is \(yaml.utf8.count) bytes; give it as JSON (for instance `yq -o json`), which is read without that limit"
        )
        let json = "[" + Array(repeating: #"{"launchTemplateName":"lt-0123456789","targetRegionName":"us-east-1"}"#, count: count).joined(separator: ",") + "]"
        #expect(problem(json) == nil)
    }

    /// A plain YAML scalar is a number when it is a YAML 1.2 core decimal in ASCII digits,
    /// read without a regex (one made for every scalar cost 1.8 s a MiB).
    @Test(arguments: [
        ("12", true), ("-12", true), ("+3.5", true), ("1.", true), (".5", true), ("1e3", true), ("2.5E-7", true), ("012", true),
        (".", false), ("+", false), ("1e", false), ("e3", false), ("1.2.3", false), ("0x1F", false), ("\u{0661}\u{0662}", false),
        ("1_000", false),
    ])
    func yamlNumbersAreCoreDecimals(text: String, isNumber: Bool) throws {
        let value = try #require(try DocumentReader.parse("number: \(text)\n")["number"])
        #expect((value.kind == .number(text)) == isNumber, "\(value.kind)")
    }

    @Test func billionLaughsStopsAtTheAliasPastTheBudget() throws {
        let text = Self.laughs(levels: 9)
        #expect(text.utf8.count < 500)
        var found: Problem?
        let elapsed = seconds { found = problem(text) }
        let error = try #require(found)
        // *e on line 6 is the alias whose copy takes the expansion past 100,000 nodes.
        #expect(error.line == 6)
        #expect(error.column == 8)
        #expect(
            error.message
                == "malformed YAML: alias *e takes the nodes aliases add to the document to 141148, more than the 100000 allowed (each alias is a copy of its anchor's 66430 nodes)"
        )
        #expect(elapsed < 2, "\(elapsed) s")
    }

    @Test func aliasesUnderTheBudgetExpand() throws {
        // 9^5 = 59049 strings: within the budget, and read as the JSON form would spell them.
        let value = try DocumentReader.parse(Self.laughs(levels: 5))
        func strings(_ value: ConfigValue) -> Int {
            switch value.kind {
            case let .array(items): items.map(strings).reduce(0, +)
            case let .object(members): members.map { strings($0.value) }.reduce(0, +)
            default: 1
            }
        }
        #expect(value["e"].map(strings) == 59049)
        let anchored = try DocumentReader.parse("base: &base {KmsKeyId: k1, Encrypted: true}\ncopy: *base\n")
        #expect(anchored["copy"] == anchored["base"])
        // Six levels (9^6 strings) are past it, though the document is 6 lines.
        #expect(problem(Self.laughs(levels: 6))?.line == 6)
    }

    @Test func anAliasAsAMappingKeyIsCountedBeforeItIsCopied() throws {
        // A key that is an alias of a huge node: the budget holds before anything hashes it.
        let text = Self.laughs(levels: 9) + "j: {? *i : x}\n"
        var found: Problem?
        let elapsed = seconds { found = problem(text) }
        #expect(found?.message.hasPrefix("malformed YAML: alias *e ") == true)
        #expect(elapsed < 2, "\(elapsed) s")
    }

    @Test func aStarThatIsNotAnAliasIsReadAsWritten() throws {
        // Aliases are libyaml's alias events: a `*name` inside a quoted, plain or block scalar or
        // a comment is text, and an alias may be a key or sit in flow.
        let text = """
            s: &s "s3:*"
            plain: a *b c
            quoted: 'x *y'
            double: "[*z, *s]"
            block: |
              *w line
              more *q
            # a comment *s
            flow: [*s, {k: *s}]
            *s : as a key
            \u{E000}s: a private-use first character
            """
        let value = try DocumentReader.parse(text)
        #expect(value["plain"]?.string == "a *b c")
        #expect(value["quoted"]?.string == "x *y")
        #expect(value["double"]?.string == "[*z, *s]")
        #expect(value["block"]?.string == "*w line\nmore *q\n")
        let anchored = try #require(value["s"])
        #expect(value["flow"] == ConfigValue(.array([anchored, ConfigValue(.object([("k", anchored)]), line: 9, column: 12)]), line: 9, column: 7))
        #expect(value["s3:*"]?.string == "as a key")
        #expect(value["\u{E000}s"]?.string == "a private-use first character")
        // What libyaml refuses after an alias name, at the character it stops on.
        let dotted = try #require(problem("a: &a 1\nb: *a.b\n"))
        #expect(
            "\(dotted.line ?? 0):\(dotted.column ?? 0) \(dotted.message)"
                == "2:6 malformed YAML: did not find expected alphabetic or numeric character (while scanning an alias at line 2, column 4)")
        #expect(problem("a: *x\n").map { "\($0.line ?? 0):\($0.column ?? 0) \($0.message)" } == "1:4 malformed YAML: found undefined alias")
    }

    @Test func nestingIsBoundedIn256Levels() throws {
        #expect(DocumentReader.maximumDepth == 256)
        let json256 = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
        #expect(problem(json256) == nil)
        let json = String(repeating: "[", count: 257) + String(repeating: "]", count: 257)
        #expect(problem(json).map { "\($0.line ?? 0):\($0.column ?? 0) \($0.message)" } == "1:257 malformed JSON: nesting deeper than 256 levels")
        let yaml256 = "a: " + String(repeating: "[", count: 255) + String(repeating: "]", count: 255)
        #expect(problem(yaml256) == nil)
        for depth in [257, 5000] {
            let yaml = "a: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            #expect(problem(yaml)?.message == "malformed YAML: nesting deeper than 256 levels", "\(depth)")
        }
        // Block style, one level a line.
        let block = (0..<300).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n") + " x\n"
        let blockProblem = try #require(problem(block))
        #expect(blockProblem.message == "malformed YAML: nesting deeper than 256 levels")
        #expect(blockProblem.line == 257)
        // An alias of a deep node, used deep again.
        let deep = String(repeating: "[", count: 200) + "x" + String(repeating: "]", count: 200)
        let aliased = "a: &deep \(deep)\nb: " + String(repeating: "[", count: 100) + "*deep" + String(repeating: "]", count: 100)
        let aliasProblem = try #require(problem(aliased))
        #expect(aliasProblem.message == "malformed YAML: alias *deep makes the nesting deeper than 256 levels")
        #expect(aliasProblem.line == 2)
    }

    /// What the event reader refuses, at the event it stops on: libyaml's own words for what it
    /// cannot parse, the reader's for what it can parse but will not take.
    @Test(arguments: [
        ("name: a\n---\nname: b\n", "2:1 malformed YAML: a second document starts here; a configuration is one YAML document"),
        ("name: a\n---\n[unclosed\n", "2:1 malformed YAML: a second document starts here; a configuration is one YAML document"),
        ("# only a comment\n", "1:1 malformed YAML: the document is empty"),
        ("? [a, b]\n: c\n", "1:3 malformed YAML: a mapping key must be a plain string"),
        ("k: &k [1]\n*k : x\n", "1:4 malformed YAML: a mapping key must be a plain string"),
        ("a: 1\nb: 2\na: 3\n", "3:1 malformed YAML: duplicate key \"a\""),
        ("a: &a [*a]\n", "1:8 malformed YAML: found undefined alias"),
        ("a: 1\nb: x\u{1}y\n", "2:5 malformed YAML: control characters are not allowed"),
        ("a: b: c\n", "1:5 malformed YAML: mapping values are not allowed in this context"),
        // libyaml's line breaks: CR alone, CR LF as one, NEL.
        ("a: 1\rb: x\u{1}y\n", "2:5 malformed YAML: control characters are not allowed"),
        ("a: 1\r\nb: 2\u{85}c: \u{1}\n", "3:4 malformed YAML: control characters are not allowed"),
    ])
    func yamlRefusalsNameTheirPosition(text: String, expected: String) throws {
        let found = try #require(problem(text))
        #expect("\(found.line ?? 0):\(found.column ?? 0) \(found.message)" == expected)
    }

    /// Tags as Yams gave them: a quoted scalar is a string, `!` makes a plain one a string, and a
    /// local tag is a CloudFormation function in its long form.
    @Test func yamlTagsAreReadAsBefore() throws {
        let value = try DocumentReader.parse("a: '12'\nb: ! 12\nc: 12\nd: !!str 12\ne: !Ref X\nf: !GetAtt [A, B]\ng: !!int 7\n")
        #expect(value["a"]?.kind == .string("12"))
        #expect(value["b"]?.kind == .string("12"))
        #expect(value["c"]?.kind == .number("12"))
        #expect(value["d"]?.kind == .string("12"))
        #expect(value["e"]?.intrinsicFunction == "Ref")
        #expect(value["e"]?["Ref"]?.string == "X")
        #expect(value["f"]?.intrinsicFunction == "Fn::GetAtt")
        #expect(value["f"]?["Fn::GetAtt"]?.array?.count == 2)
        #expect(value["g"]?.kind == .number("7"))
    }

    /// The sizes SECURITY.md states: a value 24 bytes, an object's members 16 bytes in it (the
    /// members themselves shared with other objects'), and objects read equal to objects made.
    @Test func aValueTakes24Bytes() throws {
        #expect(MemoryLayout<ConfigValue>.size == 24)
        #expect(MemoryLayout<ObjectMembers>.size == 16)
        let text = #"[{"a": 1, "b": [true]}, {"a": 1, "b": [true]}, {}]"#
        let items = try #require(try DocumentReader.parse(text).array)
        #expect(try DocumentReader.parse(text).array == items)
        #expect(items[0].members?.map(\.key) == ["a", "b"])
        #expect(items[2].members?.isEmpty == true)
        let made = ConfigValue.Kind.object([
            ("a", ConfigValue(.number("1"), line: 1, column: 8)),
            ("b", ConfigValue(.array([ConfigValue(.bool(true), line: 1, column: 17)]), line: 1, column: 16)),
        ])
        #expect(items[0].kind == made)
        // Values remember where they were written: the second object is the same but elsewhere.
        #expect(items[1].kind != made)
        #expect(items[0].kind != items[2].kind)
    }

    /// A document's memory goes with its last value: the chunks holding objects' members
    /// never refer to themselves. One chunk for all made every nested object a reference
    /// cycle, and every document read stayed in memory (the fuzz harness's leak check).
    @Test(arguments: [
        #"{"a": {"b": {"c": [1, {"d": {}}]}}, "e": [{"f": "g"}]}"#,
        "a:\n  b: {c: [1, {d: {}}]}\n  t: !Ref x\n  u: !GetAtt [y, {z: 1}]\ne: &e [{f: g}]\nh: *e\n",
    ])
    func aDocumentIsFreedWithItsLastValue(text: String) throws {
        weak var root: AnyObject?
        weak var inner: AnyObject?
        try {
            let value = try DocumentReader.parse(text)
            root = value.members?.storage
            inner = value["a"]?.members?.storage
        }()
        #expect(root == nil && inner == nil)
    }

    /// Keys are shared only when they are the same bytes: Swift's `==` on strings is canonical
    /// equivalence, and a tag key written decomposed must stay as written.
    @Test(arguments: [
        #"[{"caf\u00e9": 1}, {"cafe\u0301": 2}]"#,
        "- {\"caf\u{E9}\": 1}\n- {\"cafe\u{301}\": 2}\n",
    ])
    func keysKeepTheirBytes(text: String) throws {
        let items = try #require(try DocumentReader.parse(text).array)
        #expect(items[0].members?.first.map { Array($0.key.utf8) } == Array("caf\u{E9}".utf8))
        #expect(items[1].members?.first.map { Array($0.key.utf8) } == Array("cafe\u{301}".utf8))
    }

    /// What costs the reader memory or time by count, not size, is bounded: distinct anchors
    /// (2.6 million in 15 MiB took 645 MB) and directives (libyaml's are quadratic: 120,000
    /// took 32 s).
    @Test func anchorsAndDirectivesAreCounted() throws {
        let anchors = (0...100_000).map { "- &a\($0) x" }.joined(separator: "\n") + "\n"
        let anchorProblem = try #require(problem(anchors))
        #expect(
            "\(anchorProblem.line ?? 0):\(anchorProblem.column ?? 0) \(anchorProblem.message)"
                == "100001:3 malformed YAML: anchor &a100000 is past the 100000 distinct anchors a document may name")
        // The same anchor again and again is one name.
        #expect(problem((0...100_000).map { _ in "- &a x" }.joined(separator: "\n") + "\n") == nil)
        let directives = (0..<65).map { "%TAG !t\($0)! tag:example.com,2000:" }.joined(separator: "\n") + "\n--- {a: 1}\n"
        let directiveProblem = try #require(problem(directives))
        #expect(
            "\(directiveProblem.line ?? 0):\(directiveProblem.column ?? 0) \(directiveProblem.message)"
                == "65:1 malformed YAML: more than 64 directives (%TAG, %YAML) before the document; a configuration needs none")
        let few = (0..<3).map { "%TAG !t\($0)! tag:example.com,2000:" }.joined(separator: "\n") + "\n# a comment\n--- {a: !t1!x 1}\n"
        #expect(try DocumentReader.parse(few)["a"]?.string == "1")
    }

    @Test func duplicateKeysAreFoundInLinearTime() throws {
        let count = 100_000
        let text = "{" + (0..<count).map { "\"k\($0)\": \($0)" }.joined(separator: ",") + "}"
        var value: ConfigValue?
        let elapsed = seconds { value = try? DocumentReader.parse(text) }
        #expect(value?.members?.count == count)
        #expect(elapsed < 5, "\(elapsed) s for \(count) keys")
        let duplicate = "{" + (0..<count).map { "\"k\($0)\": \($0)" }.joined(separator: ",") + ",\n \"k77\": 1}"
        let found = problem(duplicate)
        #expect(found.map { "\($0.line ?? 0):\($0.column ?? 0) \($0.message)" } == "2:2 malformed JSON: duplicate key \"k77\"")
    }

    @Test(
        arguments: [
            // (bytes, line:column, message)
            ([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D], "1:7", "invalid UTF-8: byte 0xff at offset 6 cannot start a character"),
            (Array("{\n \"a\": \"".utf8) + [0xC0, 0xAF, 0x22, 0x7D], "2:8", "invalid UTF-8: byte 0xc0 at offset 9 cannot start a character"),
            (Array("a: ".utf8) + [0xED, 0xA0, 0x80], "1:4", "invalid UTF-8: bytes ed a0 at offset 3 are not a character"),
            (Array("a: ".utf8) + [0xF4, 0x90, 0x80, 0x80], "1:4", "invalid UTF-8: bytes f4 90 at offset 3 are not a character"),
            (Array("a: ".utf8) + [0xC3, 0x28], "1:4", "invalid UTF-8: bytes c3 28 at offset 3 are not a character"),
            (Array("a:\nb: ".utf8) + [0xE2, 0x82], "2:4", "invalid UTF-8: the file ends inside the character started by e2 82 at offset 6"),
            (Array("{\"a\":\n\n 1,\u{0}}".utf8), "3:4", "NUL byte at offset 10; a configuration file is text"),
            ([0xEF, 0xBB, 0xBF] + Array("{\"a\": 1}".utf8), "1:1", "the file starts with a UTF-8 byte-order mark (ef bb bf); save it as UTF-8 without a BOM"),
            ([0xFF, 0xFE, 0x7B, 0x00], "1:1", "the file starts with a UTF-16 byte-order mark (ff fe); save it as UTF-8"),
        ] as [([UInt8], String, String)])
    func bytesThatAreNotTextAreRefusedWithTheirPosition(bytes: [UInt8], position: String, message: String) throws {
        let found = try #require(problem(bytes: bytes))
        #expect("\(found.line ?? 0):\(found.column ?? 0)" == position)
        #expect(found.message == message)
    }

    @Test func textPassesTheSameChecks() throws {
        // A String is UTF-8 already; NUL and a leading BOM are still refused.
        #expect(problem("{\"a\": \"\u{0}\"}")?.message == "NUL byte at offset 7; a configuration file is text")
        #expect(problem("\u{FEFF}a: 1\n")?.message.hasPrefix("the file starts with a UTF-8 byte-order mark") == true)
        // Characters of every length read as they are; an escaped NUL is a character, not a byte.
        let value = try DocumentReader.parse(bytes: Array("{\"a\": \"é€😀\\u0000\"}".utf8))
        #expect(value["a"]?.string == "é€😀\u{0}")
    }
}
