import Foundation
import TestSupport
import Testing

/// What reading a configuration costs: `imgship plan` on generated documents of the shapes a
/// large or hostile input takes, each run in its own process under the issue's address-space
/// budget (512 MiB), with its peak resident memory taken from wait4(2)'s rusage. The model must
/// cost a stated multiple of the input over the binary's own base and 4 MiB of run-to-run
/// slack (SECURITY.md). Each multiple is just above what this debug build measures.
@Suite("document memory", .serialized)
struct DocumentMemoryTests {
    static let binary = ExportCommandTests.binary
    static let inputBytes = 4 << 20
    /// What the base run's peak varies by from run to run (thread stacks, malloc arenas).
    static let slackBytes = 4 << 20

    /// A generated document and the multiple of its size its model may cost.
    struct Shape: CustomStringConvertible, Sendable {
        var name: String
        var multiple: Double
        /// What `plan` says of it: the whole document was read (and, for these, refused) rather
        /// than the process killed.
        var refusal = "1:1: error: expected an object at the top, found a list"
        var make: @Sendable (Int) -> String
        var description: String { name }
        var isYAML: Bool { name.hasPrefix("YAML") }
    }

    /// What a document with more problems than `ProblemList.defaultLimit` ends with.
    static let omitted = "more errors not shown: only the first 1000 problems of a document are reported"

    /// A key of 31 characters, too long to be stored inline in a `String`, unknown to the schema.
    static func unknownKey(_ index: Int) -> String {
        "unknownConfigurationKey" + String(100_000_000 + index).dropFirst()
    }

    /// Repeats `element(i)`, joined by `separator`, until the text reaches `bytes`.
    static func repeated(_ bytes: Int, separator: String, _ element: (Int) -> String) -> [String] {
        var parts: [String] = []
        var size = 0
        while size < bytes {
            let part = element(parts.count)
            size += part.utf8.count + separator.utf8.count
            parts.append(part)
        }
        return parts
    }

    static let shapes: [Shape] = [
        // A list of objects whose keys are longer than a `String` stores inline: each key
        // must share one storage, not cost an allocation per object.
        Shape(name: "list of objects", multiple: 1.8) { bytes in
            "["
                + repeated(bytes, separator: ",") {
                    #"{"launchTemplateName":"lt-\#($0)","accountIdentifier":"\#(100_000_000_000 + $0)","targetRegionName":"us-east-1","enabledForLaunch":true}"#
                }.joined(separator: ",") + "]"
        },
        Shape(name: "list of short strings", multiple: 2.5) { bytes in
            "[" + repeated(bytes, separator: ",") { #""s\#($0)""# }.joined(separator: ",") + "]"
        },
        // Two-member objects nested 100 deep, where every 15 bytes of input make an object: its
        // two members take 80 bytes (5.3 times), with no allocation of its own (an array for
        // each took 9 times), and JSONParser refuses a document whose objects and lists would
        // pass 256 MiB before making any of them.
        Shape(name: "nested small objects", multiple: 6.2) { bytes in
            let block = (0..<100).reduce(#"{"leaf":"x"}"#) { inner, level in #"{"k\#(level)":\#(inner),"v":\#(level)}"# }
            return "[" + repeated(bytes, separator: ",") { _ in block }.joined(separator: ",") + "]"
        },
        // YAML is read event by event from libyaml: the model is the only tree made, and a key
        // repeated on every item shares one storage as JSON's do (through Yams' node tree it
        // took 13.7 times the text).
        Shape(name: "YAML list of mappings", multiple: 2) { bytes in
            repeated(bytes, separator: "") {
                "- launchTemplateName: lt-\($0)\n  accountIdentifier: '\(100_000_000_000 + $0)'\n  targetRegionName: us-east-1\n  enabledForLaunch: true\n"
            }.joined()
        },
        // One object of distinct unknown keys (116,000 in 4 MiB): each one a problem, with a
        // message, a path and a "did you mean" search, until problems were capped at 1,000.
        Shape(name: "object of unknown keys", multiple: 4.6, refusal: omitted) { bytes in
            "{" + repeated(bytes, separator: ",") { #""\#(unknownKey($0))":1"# }.joined(separator: ",") + "}"
        },
        // The same deeper down, in YAML: the unknown keys of a distribution (16.0 times through
        // Yams' node tree).
        Shape(name: "YAML unknown keys of a distribution", multiple: 4.1, refusal: omitted) { bytes in
            "name: many\ndistributions:\n  - region: us-east-1\n"
                + repeated(bytes, separator: "") { "    \(unknownKey($0)): \($0)\n" }.joined()
        },
        // Empty objects share one empty chunk: each costs the 24 bytes of its value in the list,
        // 8 times its 3 bytes of text, the most any value costs (each had a chunk of its own,
        // 60 bytes more, and the counting pass charged it nothing).
        Shape(name: "list of empty objects", multiple: 9.6) { bytes in
            "[" + repeated(bytes, separator: ",") { _ in "{}" }.joined(separator: ",") + "]"
        },
        // CloudFormation's short forms: each `!Ref` an object of one member, 64 bytes with its
        // item in the list, stored with the others (each had an array of its own).
        Shape(name: "YAML function tags", multiple: 6.5) { bytes in
            repeated(bytes, separator: "") { "- !Ref r\($0)\n" }.joined()
        },
        // A key and a value of megabytes: each message quotes them cut, not whole.
        Shape(name: "one long key and name", multiple: 1.3, refusal: " bytes) has 2097152 characters; 3 to 128 allowed") { bytes in
            #"{"\#(String(repeating: "k", count: bytes / 2))": 1, "name": "\#(String(repeating: "n", count: bytes / 2))"}"#
        },
    ]

    /// Runs `imgship plan file` under a 512 MiB address-space limit: exit status, standard
    /// error, peak resident bytes and seconds of processor time.
    static func plan(_ file: String) throws -> MeasuredRun {
        try MeasuredRun.run([binary, "plan", file], errorPath: file + ".stderr", addressSpaceKiB: 524288)
    }

    @Test(arguments: shapes)
    func modelCostsAFewTimesTheInput(shape: Shape) throws {
        let folder = try TemporaryFolder()
        let base = folder.file("base.json")
        try #"["x"]"#.write(toFile: base, atomically: false, encoding: .utf8)
        let baseRun = try Self.plan(base)
        let file = folder.file(shape.name.replacing(" ", with: "-") + (shape.isYAML ? ".yaml" : ".json"))
        let text = shape.make(Self.inputBytes)
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        let run = try Self.plan(file)
        #expect(run.status == 2, "\(run.standardError.suffix(1000))")
        #expect(run.standardError.contains(shape.refusal), "\(run.standardError.suffix(1000))")
        let size = Double(text.utf8.count)
        let measured = Double(run.peakBytes - baseRun.peakBytes - Self.slackBytes) / size
        #expect(
            measured <= shape.multiple,
            "\(shape.name): \(measured) times the input over the base (\(run.peakBytes >> 20) MiB peak, base \(baseRun.peakBytes >> 20) MiB)")
        // The budget, 20 s, holds in this debug build too (YAML about 1 s a MiB).
        #expect(run.processorSeconds < 20, "\(shape.name): \(run.processorSeconds) s of processor time")
    }

    /// 64 MiB (the largest document read) of small objects nested deep would take 8 times
    /// itself, past the budget: the reader refuses it from its counting pass, before making any
    /// of it, with a one-line error. The code before this was killed (SIGABRT) at 470 MB.
    @Test func aDocumentWhoseModelPassesTheBudgetIsRefused() throws {
        let folder = try TemporaryFolder()
        let file = folder.file("nested.json")
        let shape = try #require(Self.shapes.first { $0.name == "nested small objects" })
        let text = shape.make((64 << 20) - (64 << 10))
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        let run = try Self.plan(file)
        #expect(run.status == 2, "\(run.standardError.suffix(1000))")
        #expect(
            run.standardError.hasPrefix("\(file):1:1: error: the document's ")
                && run.standardError.contains(" objects and lists would take ")
                && run.standardError.contains("MiB of memory, more than the 256 MiB a document may take\n"),
            "\(run.standardError.suffix(1000))")
        #expect(run.peakBytes < 240 << 20, "\(run.peakBytes >> 20) MiB")
        #expect(run.processorSeconds < 20, "\(run.processorSeconds) s of processor time")
    }
}
