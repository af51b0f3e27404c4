import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Standard output that cannot be written (a full device, a pipe whose reader went away, a
/// closed descriptor) fails every command with one line on standard error; and configuration
/// files that are not text, or that would expand without bound, are refused by name and position.
@Suite("output errors and hostile configuration files, end to end")
struct OutputErrorTests {
    static let binary = ExportCommandTests.binary
    static let testdata = PlanCommandTests.testdata
    static let example = URL(fileURLWithPath: PlanCommandTests.testdata).deletingLastPathComponent().appendingPathComponent("example.raw").path

    /// Runs the binary through sh with `redirection` applied to its standard output.
    func run(_ arguments: [String], stdout redirection: String) throws -> ProcessResult {
        let quoted = ([Self.binary] + arguments).map { "'\($0)'" }.joined(separator: " ")
        return try runProcess("/bin/sh", ["-c", "exec \(quoted) \(redirection)"])
    }

    /// Runs the binary with standard output the write end of a pipe whose read end is
    /// already closed: every write is EPIPE (or SIGPIPE).
    func runIntoClosedPipe(_ arguments: [String]) throws -> (status: Int32, standardError: String) {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        close(ends[0])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        process.standardOutput = FileHandle(fileDescriptor: ends[1], closeOnDealloc: true)
        let error = Pipe()
        process.standardError = error
        try process.run()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit, "killed by signal \(process.terminationStatus)")
        return (process.terminationStatus, String(decoding: errorData, as: UTF8.self))
    }

    func commands(in folder: TemporaryFolder) throws -> [[String]] {
        let config = "\(Self.testdata)/s3-export-all-formats.json"
        let job = folder.file("job.json")
        try """
        {"schemaVersion": 1, "exports": [{"source": "\(Self.example)", "formats": ["vhd"], "destination": "\(folder.file("out"))"}]}
        """.write(toFile: job, atomically: true, encoding: .utf8)
        return [
            ["plan", config, "--source-region", "us-east-1"],
            ["plan", config, "--source-region", "us-east-1", "--format", "json"],
            ["plan", config, "--source-region", "us-east-1", "--format", "script"],
            ["plan", config, "--source-region", "us-east-1", "--emit-job", "disk.raw"],
            ["info", Self.example, "--json"],
            ["info", Self.example],
            ["verify", Self.example],
            ["job", job, "--dry-run", "--json"],
            ["job", job, "--json"],
            ["job", job],
            ["export", Self.example, "-f", "vmdk", "-o", folder.file("example.vmdk"), "--force", "--no-progress"],
        ]
    }

    @Test func aFullDeviceFailsEveryCommand() throws {
        let folder = try TemporaryFolder()
        for arguments in try commands(in: folder) {
            let result = try run(arguments, stdout: ">/dev/full")
            #expect(result.status == 1, "\(arguments)")
            let last = result.standardError.split(separator: "\n").last.map(String.init)
            #expect(last == "imgship: error: standard output: write: No space left on device", "\(arguments): \(result.standardError)")
        }
    }

    @Test func aPipeWithoutReaderFailsEveryCommand() throws {
        let folder = try TemporaryFolder()
        for arguments in try commands(in: folder) {
            let result = try runIntoClosedPipe(arguments)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.standardError.hasSuffix("imgship: error: standard output: write: Broken pipe\n"), "\(arguments): \(result.standardError)")
        }
    }

    @Test func aClosedStandardOutputFailsThePlan() throws {
        let result = try run(["plan", "\(Self.testdata)/container.json", "--source-region", "us-east-1"], stdout: ">&-")
        #expect(result.status == 1)
        #expect(result.standardError == "imgship: error: standard output: write: Bad file descriptor\n")
    }

    @Test func invalidUTF8IsNamedByFileAndPosition() throws {
        let folder = try TemporaryFolder()
        let config = folder.file("config.json")
        try Data(Array("{\n  \"name\": \"caf".utf8) + [0xE9] + Array("\"\n}\n".utf8)).write(to: URL(fileURLWithPath: config))
        let plan = try runProcess(Self.binary, ["plan", config])
        #expect(plan.status == 2)
        #expect(plan.standardError == "\(config):2:15: error: invalid UTF-8: bytes e9 22 at offset 16 are not a character\n")
        let job = folder.file("job.yaml")
        try Data(Array("schemaVersion: 1\nexports: []\n#".utf8) + [0x00]).write(to: URL(fileURLWithPath: job))
        let jobResult = try runProcess(Self.binary, ["job", job])
        #expect(jobResult.status == 2)
        #expect(jobResult.standardError == "\(job):3:2: error: NUL byte at offset 30; a configuration file is text\n")
        let stdin = try runProcess("/bin/sh", ["-c", "printf '\\357\\273\\277{}' | '\(Self.binary)' plan -"])
        #expect(stdin.status == 2)
        #expect(stdin.standardError == "<stdin>:1:1: error: the file starts with a UTF-8 byte-order mark (ef bb bf); save it as UTF-8 without a BOM\n")
    }

    @Test func billionLaughsIsRefusedInBoundedMemory() throws {
        let folder = try TemporaryFolder()
        let config = folder.file("laughs.yaml")
        try DocumentLimitsTestsText.laughs.write(toFile: config, atomically: true, encoding: .utf8)
        // 512 MiB of address space and 20 s are far more than the refusal needs; the
        // expansion it refuses would take 24 GB.
        let result = try runProcess("/bin/sh", ["-c", "ulimit -v 524288; exec timeout 20 '\(Self.binary)' plan '\(config)'"])
        #expect(result.status == 2, "\(result.standardError)")
        #expect(
            result.standardError.hasPrefix(
                "\(config):6:8: error: malformed YAML: alias *e takes the nodes aliases add to the document to 141148, more than the 100000 allowed"))
    }
}

/// The classic nine-level document, 342 bytes.
enum DocumentLimitsTestsText {
    static let laughs = """
        a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
        g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
        h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
        i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]

        """
}
