import Foundation
import TestSupport
import Testing

/// Standard input and FIFOs are detected as files are: a format imgship reads is read as that
/// format once the stream is copied, one it does not read is refused by name from its first
/// bytes, and `--source-format raw` exports any stream's bytes as they are.
@Suite("Detection of streamed sources, end to end")
struct SourceDetectionCommandTests {
    static let binary = ExportCommandTests.binary

    /// `cat SAMPLE | imgship export - ...` with TMPDIR in the test's folder.
    func exportFromStandardInput(_ source: String, _ arguments: [String], folder: TemporaryFolder) throws -> ProcessResult {
        let temporary = folder.file("tmp")
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = temporary
        let words = ["'\(Self.binary)'", "export", "-"] + arguments.map { "'\($0)'" }
        return try runProcess("/bin/sh", ["-c", "cat '\(source)' | " + words.joined(separator: " ")], environment: environment)
    }

    @Test(arguments: ForeignSample.allCases)
    func aForeignStreamIsRefusedByName(sample: ForeignSample) throws {
        try #require(sample.isAvailable, "needs \(sample.tools.joined(separator: ", "))")
        let folder = try TemporaryFolder()
        let source = try sample.make(in: folder)
        let output = folder.file("out.vmdk")
        let refused = try exportFromStandardInput(source, ["-f", "vmdk", "-o", output], folder: folder)
        #expect(refused.status == 2, "\(refused.standardError)")
        #expect(refused.standardError.hasPrefix("imgship: error: standard input: is \(sample.name), which imgship does not read; "), "\(refused.standardError)")
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("tmp")).isEmpty, "the staged copy is removed")

        let raw = folder.file("out.raw")
        let forced = try exportFromStandardInput(source, ["--source-format", "raw", "-f", "raw", "-o", raw, "--no-progress"], folder: folder)
        #expect(forced.status == 0, "\(forced.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: raw)) == Data(contentsOf: URL(fileURLWithPath: source)), "byte for byte")
    }

    /// The refusal comes from the first bytes: a stream that never ends is refused at once,
    /// and nothing of it is left in TMPDIR. The wait is the test's own, counted from when
    /// imgship starts: a `.timeLimit` trait counts while the body waits for a free thread
    /// behind the rest of the suite, and failed this test so on a 2-core runner.
    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img (Debian qemu-utils)"))
    func aForeignStreamIsRefusedBeforeTheRestIsCopied() throws {
        let folder = try TemporaryFolder()
        let source = try ForeignSample.qed.make(in: folder)
        try FileManager.default.createDirectory(atPath: folder.file("tmp"), withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["export", "-", "-f", "raw", "-o", folder.file("out.raw")]
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = folder.file("tmp")
        process.environment = environment
        let input = Pipe()
        let error = Pipe()
        process.standardInput = input
        process.standardError = error
        try process.run()
        // The image's first 4 KiB (less than a pipe holds, so the write never meets a closed
        // pipe), then the stream stays open: no end of file ever comes.
        try input.fileHandleForWriting.write(contentsOf: Data(contentsOf: URL(fileURLWithPath: source)).prefix(4096))
        // A tenth of a second alone; a minute is for a loaded machine, and waiting for the
        // end of the stream would never end.
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        let finished = !process.isRunning
        if !finished { process.terminate() }
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        #expect(finished, "imgship waited for the end of a stream it refuses")
        #expect(process.terminationStatus == 2)
        let message = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message.hasPrefix("imgship: error: standard input: is a QED image, which imgship does not read; save it to a file"), "\(message)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("tmp")).isEmpty)
    }

    /// A FIFO is named by its path in the refusal.
    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img (Debian qemu-utils)"))
    func aForeignFIFOIsRefusedByItsPath() throws {
        let folder = try TemporaryFolder()
        let source = try ForeignSample.parallels.make(in: folder)
        let fifo = folder.file("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        let result = try runProcess(
            "/bin/sh",
            ["-c", "cat '\(source)' > '\(fifo)' & '\(Self.binary)' export '\(fifo)' -f raw -o '\(folder.file("out.raw"))'; status=$?; wait; exit $status"])
        #expect(result.status == 2)
        #expect(result.standardError.hasPrefix("imgship: error: \(fifo): is a Parallels image, which imgship does not read"), "\(result.standardError)")
    }

    /// `cat disk.qcow2 | imgship export -` reads the qcow2, not its container bytes; so for
    /// a VDI and a sparse VMDK. qemu-img compare is the oracle.
    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img (Debian qemu-utils)"), arguments: ["qcow2", "vdi", "vmdk"])
    func aReadableStreamIsReadAsItsFormat(format: String) throws {
        let qemu = try #require(which("qemu-img"))
        let folder = try TemporaryFolder()
        let raw = folder.file("disk.raw")
        var bytes = [UInt8](repeating: 0, count: 3 << 20)
        var generator = SplitMix64(seed: 9)
        for index in stride(from: 1 << 20, to: (1 << 20) + 200_000, by: 8) {
            withUnsafeBytes(of: generator.next()) { bytes.replaceSubrange(index..<(index + 8), with: $0) }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: raw))
        let image = folder.file("disk.\(format)")
        try #require(try runProcess(qemu, ["convert", "-f", "raw", "-O", format, raw, image]).status == 0)
        let output = folder.file("out.raw")
        let result = try exportFromStandardInput(image, ["-f", "raw", "-o", output, "--json"], folder: folder)
        #expect(result.status == 0, "\(result.standardError)")
        let json = try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any]
        #expect(json?["sourceFormat"] as? String == format)
        let compare = try runProcess(qemu, ["compare", "-f", format, "-F", "raw", image, output])
        #expect(compare.status == 0, "qemu-img compare: \(String(decoding: compare.standardOutput, as: UTF8.self)) \(compare.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == Data(bytes))
    }
}
