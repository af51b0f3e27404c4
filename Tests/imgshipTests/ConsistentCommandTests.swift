import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The behaviours every command shares: exit statuses (README, "Exit
/// status"), one problem form, `--json` everywhere, flags that do not apply, refusals before
/// any work. Spawns the binary, as the exit status and standard streams are what is tested.
@Suite("One command line behaviour")
struct ConsistentCommandTests {
    static let binary = ExportCommandTests.binary

    func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    /// A 64 GiB hole: a raw export hashes its zeros long enough to be interrupted.
    func makeBigSparseSource(in folder: TemporaryFolder) throws -> String {
        let source = folder.file("big.raw")
        _ = FileManager.default.createFile(atPath: source, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: source))
        try handle.truncate(atOffset: 64 << 30)
        try handle.close()
        return source
    }

    @Test(arguments: [("SIGINT", SIGINT), ("SIGTERM", SIGTERM), ("SIGHUP", SIGHUP)])
    func everyInterruptingSignalExits130AndLeavesTheDestinationAlone(name: String, signalNumber: Int32) throws {
        let folder = try TemporaryFolder()
        let source = try makeBigSparseSource(in: folder)
        let destination = folder.file("big.out")
        try Data("the old output".utf8).write(to: URL(fileURLWithPath: destination))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["export", source, "-f", "raw", "-o", destination, "--force"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<300 where !folder.names().contains(where: { $0.hasPrefix(".big.out.imgship-") }) {
            usleep(10_000)
        }
        usleep(200_000)
        kill(process.processIdentifier, signalNumber)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit, "\(name)")
        #expect(process.terminationStatus == 130, "\(name)")
        #expect(text(errors.fileHandleForReading.readDataToEndOfFile()).contains("imgship: error: interrupted; no output was left behind"))
        #expect(folder.names() == ["big.out", "big.raw"], "\(name): \(folder.names())")
        #expect(try String(contentsOfFile: destination, encoding: .utf8) == "the old output", "\(name)")
    }

    /// verify writes nothing: it stops at once, with the same status.
    @Test func verifyStopsWith130OnSIGHUP() throws {
        let folder = try TemporaryFolder()
        let image = try makeBigSparseSource(in: folder)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["verify", image]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        usleep(500_000)
        kill(process.processIdentifier, SIGHUP)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 130)
    }

    @Test func refusalsBeforeAnyWorkExit2AndNameTheUsersPath() throws {
        let folder = try TemporaryFolder()
        let source = try ExportCommandTests().makeSource(in: folder)
        try FileManager.default.createDirectory(atPath: folder.file("outdir"), withIntermediateDirectories: true)
        // -o DIR is refused before the source is even opened: the missing source is not named.
        let directory = try runProcess(Self.binary, ["export", folder.file("absent.raw"), "-f", "raw", "-o", folder.file("outdir")])
        #expect(directory.status == 2)
        #expect(directory.standardError == "imgship: error: \(folder.file("outdir")): is a directory; expected the path of a file\n")
        // Standard input is not read (it would be copied to a temporary file first).
        let stream = try runProcess("/bin/sh", ["-c", "yes | head -c 100000000 | '\(Self.binary)' export - -f raw -o '\(folder.file("outdir"))'"])
        #expect(stream.status == 2)

        let exists = try runProcess(Self.binary, ["export", source, "-f", "raw", "-o", source + ".sha256.x"])
        #expect(exists.status == 0, "\(exists.standardError)")
        let again = try runProcess(Self.binary, ["export", source, "-f", "raw", "-o", source + ".sha256.x"])
        #expect(again.status == 2)
        #expect(again.standardError == "imgship: error: \(source).sha256.x exists; pass --force to overwrite it\n")

        // A folder that cannot be written: the error names the output, never `.NAME.imgship-XXXX`.
        try Data().write(to: URL(fileURLWithPath: folder.file("plainfile")))
        let unwritable = try runProcess(Self.binary, ["export", source, "-f", "raw", "-o", folder.file("plainfile/disk.raw")])
        #expect(unwritable.status == 1)
        #expect(unwritable.standardError.hasPrefix("imgship: error: \(folder.file("plainfile/disk.raw")): "), "\(unwritable.standardError)")
        #expect(!unwritable.standardError.contains(".imgship-"), "\(unwritable.standardError)")
    }

    @Test func flagsThatDoNotApplyAreRefusedOrWarnedOf() throws {
        let folder = try TemporaryFolder()
        let source = try ExportCommandTests().makeSource(in: folder)
        let name = try runProcess(Self.binary, ["export", source, "-f", "raw", "-o", folder.file("a.raw"), "--name", "x.raw"])
        #expect(name.status == 64)
        #expect(name.standardError.contains("--name names the image written to standard output"), "\(name.standardError)")
        let both = try runProcess(Self.binary, ["export", source, "-f", "raw", "-o", folder.file("a.raw"), "--no-manifest", "--manifest", folder.file("m")])
        #expect(both.status == 64)

        let level = try runProcess(Self.binary, ["export", source, "-f", "raw", "-o", folder.file("b.raw"), "--level", "fast"])
        #expect(level.status == 0, "\(level.standardError)")
        #expect(level.standardError == "imgship: warning: --level fast does not apply to raw, which is not compressed; ignored\n")
        let machine = try runProcess(Self.binary, ["export", source, "-f", "vmdk", "-o", folder.file("c.vmdk"), "--cpus", "4"])
        #expect(machine.status == 0, "\(machine.standardError)")
        #expect(machine.standardError == "imgship: warning: --cpus describes the virtual machine of an OVA; vmdk has none; ignored\n")
        let applies = try runProcess(Self.binary, ["export", source, "-f", "vmdk", "-o", folder.file("d.vmdk"), "--level", "fast"])
        #expect(applies.status == 0 && applies.standardError.isEmpty, "\(applies.standardError)")
    }

    @Test func exportWithoutManifestComputesNoDigestAndDropsAnOldManifest() throws {
        let folder = try TemporaryFolder()
        let source = try ExportCommandTests().makeSource(in: folder)
        let output = folder.file("disk.vhd")
        let first = try runProcess(Self.binary, ["export", source, "-f", "vhd-fixed", "-o", output])
        #expect(first.status == 0, "\(first.standardError)")
        #expect(FileManager.default.fileExists(atPath: output + ".sha256"))
        let bare = try runProcess(Self.binary, ["export", source, "-f", "vhd-fixed", "-o", output, "--force", "--no-manifest", "--json"])
        #expect(bare.status == 0, "\(bare.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: bare.standardOutput) as? [String: Any])
        #expect(json["sha256"] == nil && json["manifest"] == nil)
        #expect(json["virtualSize"] is NSNumber && json["seconds"] is NSNumber)
        // The manifest of the output it replaced would now be wrong: it is gone.
        #expect(folder.names() == ["disk.raw", "disk.vhd"])
        let plain = try runProcess(Self.binary, ["export", source, "-f", "raw", "-o", folder.file("disk.out"), "--no-manifest"])
        #expect(text(plain.standardOutput).hasSuffix("no sha256 computed (--no-manifest)\n"), "\(text(plain.standardOutput))")
    }

    @Test func verifyNeedsTheManifestUnlessTold() throws {
        let folder = try TemporaryFolder()
        let source = try ExportCommandTests().makeSource(in: folder)
        let image = folder.file("disk.vmdk")
        #expect(try runProcess(Self.binary, ["export", source, "-f", "vmdk", "-o", image, "--no-manifest"]).status == 0)
        let missing = try runProcess(Self.binary, ["verify", image])
        #expect(missing.status == 1)
        #expect(text(missing.standardOutput).contains("FAIL sha256: "), "\(text(missing.standardOutput))")
        #expect(text(missing.standardOutput).contains("but there is no \(image).sha256 to compare with (pass --no-manifest to verify without one)"))
        #expect(missing.standardError == "imgship: error: \(image): 1 check(s) failed\n")

        let structural = try runProcess(Self.binary, ["verify", image, "--no-manifest", "--json"])
        #expect(structural.status == 0, "\(structural.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: structural.standardOutput) as? [String: Any])
        #expect(json["passed"] as? Bool == true)
        #expect(json["sha256"] is NSNull)
        #expect((json["virtualSize"] as? NSNumber)?.intValue == 24 * 1024 * 1024 + 512)
        #expect(json["format"] as? String == "vmdk")
        let checks = try #require(json["checks"] as? [[String: Any]])
        #expect(checks.contains { $0["name"] as? String == "data" && $0["passed"] as? Bool == true })
        #expect(!checks.contains { $0["name"] as? String == "sha256" })
        #expect(text(structural.standardOutput).hasPrefix(#"{"path":"#))
    }

    @Test func dryRunExits1OnPredictedFailuresAndNamesStaleOutputs() throws {
        let folder = try TemporaryFolder()
        let source = try ExportCommandTests().makeSource(in: folder)
        try Data().write(to: URL(fileURLWithPath: folder.file("plainfile")))
        try """
        {"schemaVersion": 1, "exports": [
          {"source": "disk.raw", "formats": ["raw"], "destination": "out"},
          {"source": "absent.raw", "formats": ["raw"], "destination": "out"},
          {"source": "disk.raw", "formats": ["vmdk"], "destination": "plainfile/sub"}
        ]}
        """.write(toFile: folder.file("job.json"), atomically: true, encoding: .utf8)
        // A good output, then its source changes: the output is older than its source.
        try FileManager.default.createDirectory(atPath: folder.file("out"), withIntermediateDirectories: true)
        #expect(try runProcess(Self.binary, ["export", source, "-f", "raw", "-o", folder.file("out/disk.raw")]).status == 0)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(60)], ofItemAtPath: source)

        let result = try runProcess(Self.binary, ["job", folder.file("job.json"), "--dry-run"])
        #expect(result.status == 1)
        let lines = text(result.standardOutput).split(separator: "\n").map(String.init)
        try #require(lines.count == 5, "\(lines)")
        #expect(lines[1].hasSuffix("fail: the output is older than its source (export again with --force)"), "\(lines[1])")
        #expect(lines[2].hasSuffix("fail: the source does not exist"), "\(lines[2])")
        #expect(lines[3].hasSuffix("fail: the destination folder cannot be created or written"), "\(lines[3])")
        #expect(result.standardError == "imgship: error: \(folder.file("job.json")): 3 output(s) would fail (dry run)\n")

        let forced = try runProcess(Self.binary, ["job", folder.file("job.json"), "--dry-run", "--force", "--json"])
        #expect(forced.status == 1)
        let rows = try #require(try JSONSerialization.jsonObject(with: forced.standardOutput) as? [[String: Any]])
        #expect(rows.map { $0["fails"] as? Bool } == [false, true, true])
        #expect(rows.first?["action"] as? String == "export again: the output is older than its source")
    }

    @Test(.enabled(if: which("script") != nil, "needs script(1) for a terminal"))
    func anImageIsNotWrittenToATerminalUnlessForced() throws {
        let folder = try TemporaryFolder()
        let source = try ExportCommandTests().makeSource(in: folder)
        // script(1) runs the command on a pseudo-terminal: standard output is a terminal.
        let refused = try runProcess("/usr/bin/script", ["-q", "-e", "-c", "'\(Self.binary)' export '\(source)' -f raw -o -", "/dev/null"])
        #expect(refused.status == 64)
        #expect(
            text(refused.standardOutput).contains(
                "imgship: error: standard output: is a terminal; redirect the image to a file or a pipe, or pass --force to write it there"))
    }

    @Test(.enabled(if: which("script") != nil, "needs script(1) for a terminal"))
    func progressShowsTheTimeLeftOnATerminal() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("big.raw")
        _ = FileManager.default.createFile(atPath: source, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: source))
        try handle.truncate(atOffset: 2 << 30)
        try handle.close()
        for command in ["export '\(source)' -f raw -o '\(folder.file("out.raw"))'", "verify '\(folder.file("out.raw"))'"] {
            let result = try runProcess("/usr/bin/script", ["-q", "-e", "-c", "'\(Self.binary)' \(command)", "/dev/null"])
            #expect(result.status == 0, "\(text(result.standardOutput))")
            #expect(text(result.standardOutput).contains("% ") && text(result.standardOutput).contains("ETA "), "\(command)")
        }
        // Not a terminal: no progress line at all.
        let piped = try runProcess(Self.binary, ["verify", folder.file("out.raw")])
        #expect(piped.status == 0 && !piped.standardError.contains("ETA"))
    }
}
