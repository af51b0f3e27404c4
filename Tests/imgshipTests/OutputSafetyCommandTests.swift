import Foundation
import TestSupport
import Testing

/// What `imgship export` and `imgship verify` must never do to data they should not touch:
/// README, Security, "Outputs and data safety".
@Suite("Outputs and data safety, end to end", .serialized)
struct OutputSafetyCommandTests {
    static let binary = ExportCommandTests.binary
    static let qemuImg = which("qemu-img")
    static let isRoot = getuid() == 0

    /// 8 MiB + 512 with data at 1 MiB and a hole elsewhere.
    func makeSource(_ path: String) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 8 * 1024 * 1024 + 512)
        try handle.seek(toOffset: 1024 * 1024)
        try handle.write(contentsOf: Data((0..<700_000).map { UInt8(truncatingIfNeeded: $0 * 31 / 7) }))
        try handle.close()
    }

    func sha256(_ data: Data) throws -> String {
        let folder = try TemporaryFolder()
        try data.write(to: URL(fileURLWithPath: folder.file("bytes")))
        let result = try runProcess(try #require(which("sha256sum")), [folder.file("bytes")])
        return String(String(decoding: result.standardOutput, as: UTF8.self).prefix(64))
    }

    // MARK: 1. -o - is a stream

    @Test(arguments: ["raw", "vhd-fixed", "vmdk"])
    func appendingStandardOutputKeepsWhatTheFileHeld(format: String) throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try makeSource(source)
        let prefix = Data("a log line that was there first\n".utf8) + Data(repeating: 0xA5, count: 5000)
        let target = folder.file("appended")
        try prefix.write(to: URL(fileURLWithPath: target))
        let identity = ExportCommandTests.fixedIdentity.joined(separator: " ")
        let result = try runProcess(
            "/bin/sh", ["-c", "SOURCE_DATE_EPOCH=1 '\(Self.binary)' export '\(source)' -f \(format) -o - --name disk.out \(identity) >> '\(target)'"])
        #expect(result.status == 0, "\(result.standardError)")
        let written = try Data(contentsOf: URL(fileURLWithPath: target))
        #expect(written.prefix(prefix.count) == prefix, "the bytes before the stream survive")
        let appended = written.dropFirst(prefix.count)
        // The digest line is the last; a part-MiB fixed VHD is warned of before it (Azure).
        let lastLine = String(result.standardError.dropLast().split(separator: "\n").last ?? "")
        let printed = String(lastLine.prefix(64))
        #expect(try sha256(Data(appended)) == printed, "the printed digest is the appended bytes'")
        #expect(lastLine == "\(printed)  disk.out")
        #expect(result.standardError.contains("Azure rejects in a fixed VHD") == (format == "vhd-fixed"))
        // The same bytes as a pipe gets.
        let piped = try runProcess(
            Self.binary, ["export", source, "-f", format, "-o", "-", "--name", "disk.out"] + ExportCommandTests.fixedIdentity,
            environment: ["SOURCE_DATE_EPOCH": "1"])
        #expect(piped.standardOutput == Data(appended))
    }

    @Test func standardOutputOntoTheSourceIsRefused() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try makeSource(source)
        let before = try Data(contentsOf: URL(fileURLWithPath: source))
        let result = try runProcess("/bin/sh", ["-c", "'\(Self.binary)' export '\(source)' -f raw -o - >> '\(source)'"])
        #expect(result.status == 2)
        #expect(result.standardError == "imgship: error: standard output: is the source \(source); an export never writes onto what it reads\n")
        #expect(try Data(contentsOf: URL(fileURLWithPath: source)) == before)
    }

    // MARK: 2. --force never replaces a directory, a device node or the source

    @Test func forceNeverReplacesTheSourceByAnyName() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try makeSource(source)
        let before = try Data(contentsOf: URL(fileURLWithPath: source))
        #expect(link(source, folder.file("hard.raw")) == 0)
        #expect(symlink(source, folder.file("soft.raw")) == 0)
        let cases: [(output: String, reason: String)] = [
            (source, "is the source \(source); an export never replaces what it reads"),
            (folder.file("hard.raw"), "is the source \(source) (a hard link to it); an export never replaces what it reads"),
            (folder.file("soft.raw"), "is the source \(source) (through a symbolic link); an export never replaces what it reads"),
        ]
        for (output, reason) in cases {
            let result = try runProcess(Self.binary, ["export", source, "-f", "raw", "-o", output, "--force"])
            #expect(result.status == 2)
            #expect(result.standardError == "imgship: error: \(output): \(reason)\n")
        }
        // --manifest naming the source or the output.
        let onSource = try runProcess(
            Self.binary, ["export", source, "-f", "vhd", "-o", folder.file("out.vhd"), "--manifest", folder.file("soft.raw"), "--force"])
        #expect(onSource.status == 2)
        #expect(
            onSource.standardError
                == "imgship: error: \(folder.file("soft.raw")): is the source \(source) (through a symbolic link); an export never replaces what it reads\n")
        let onOutput = try runProcess(
            Self.binary, ["export", source, "-f", "vhd", "-o", folder.file("out.vhd"), "--manifest", folder.path + "/./out.vhd", "--force"])
        #expect(onOutput.status == 2)
        #expect(
            onOutput.standardError
                == "imgship: error: \(folder.path)/./out.vhd: is the output \(folder.file("out.vhd")) itself; give the manifest another name\n")
        #expect(try Data(contentsOf: URL(fileURLWithPath: source)) == before)
        #expect(folder.names() == ["disk.raw", "hard.raw", "soft.raw"])
    }

    @Test func forceNeverReplacesADirectoryOrADeviceNode() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try makeSource(source)
        try FileManager.default.createDirectory(atPath: folder.file("out.vmdk/inside"), withIntermediateDirectories: true)
        let directory = try runProcess(Self.binary, ["export", source, "-f", "vmdk", "-o", folder.file("out.vmdk"), "--force"])
        #expect(directory.status == 2)
        #expect(directory.standardError == "imgship: error: \(folder.file("out.vmdk")): is a directory; expected the path of a file\n")
        #expect(FileManager.default.fileExists(atPath: folder.file("out.vmdk/inside")))
        // A manifest onto a directory is refused before any work, too.
        let manifest = try runProcess(
            Self.binary, ["export", source, "-f", "raw", "-o", folder.file("x.raw"), "--manifest", folder.file("out.vmdk"), "--force"])
        #expect(manifest.status == 2)
        #expect(!FileManager.default.fileExists(atPath: folder.file("x.raw")))
        guard Self.isRoot else { return }
        // A character device node (a copy of /dev/null's): never replaced by a file.
        #expect(mknod(folder.file("null"), S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0)
        let device = try runProcess(Self.binary, ["export", source, "-f", "raw", "-o", folder.file("null"), "--force"])
        #expect(device.status == 2)
        #expect(device.standardError.hasPrefix("imgship: error: \(folder.file("null")): is a character device; imgship writes an output as a regular file"))
        var info = stat()
        #expect(lstat(folder.file("null"), &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
        #expect(folder.names() == ["disk.raw", "null", "out.vmdk"])
    }

    @Test(.enabled(if: SystemResourceTests.loopDevicesWork, "needs root and loop devices"))
    func blockDeviceOnlyWithToDevice() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try makeSource(source)
        // The device's old contents are not zeros: the holes of the image must be written.
        let backing = folder.file("backing.img")
        try Data(repeating: 0xEE, count: 12 * 1024 * 1024).write(to: URL(fileURLWithPath: backing))
        let losetup = try #require(which("losetup"))
        let attach = try runProcess(losetup, ["--find", "--show", backing])
        try #require(attach.status == 0, "losetup: \(attach.standardError)")
        let device = String(decoding: attach.standardOutput, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? runProcess(losetup, ["-d", device]) }

        let refused = try runProcess(Self.binary, ["export", source, "-f", "raw", "-o", device, "--force"])
        #expect(refused.status == 2)
        #expect(refused.standardError == "imgship: error: \(device): is a block device; pass --to-device to write the image onto it (what it holds is lost)\n")
        try Data("a file".utf8).write(to: URL(fileURLWithPath: folder.file("x.raw")))
        let notADevice = try runProcess(Self.binary, ["export", source, "-f", "raw", "-o", folder.file("x.raw"), "--to-device"])
        #expect(notADevice.status == 2)
        #expect(notADevice.standardError.contains("is a regular file, not a block device; --to-device writes onto block devices only"))
        let onItself = try runProcess(Self.binary, ["export", device, "-f", "raw", "-o", device, "--to-device"])
        #expect(onItself.status == 2)
        #expect(onItself.standardError.contains("is the source \(device)"), "\(onItself.standardError)")

        let written = try runProcess(Self.binary, ["export", source, "-f", "raw", "-o", device, "--to-device"])
        #expect(written.status == 0, "\(written.standardError)")
        let expected = try Data(contentsOf: URL(fileURLWithPath: source))
        let handle = try #require(FileHandle(forReadingAtPath: device))
        let onDevice = try handle.read(upToCount: expected.count + 4096) ?? Data()
        try handle.close()
        #expect(onDevice.prefix(expected.count) == expected, "the image, holes written as zeros")
        #expect(onDevice.dropFirst(expected.count).allSatisfy { $0 == 0xEE }, "nothing past the image is touched")
        #expect(
            String(decoding: written.standardOutput, as: UTF8.self).contains(
                "sha256 \(try sha256(expected))  (of the first \(expected.count) bytes of \(device))"))
        #expect(!FileManager.default.fileExists(atPath: device + ".sha256"))
    }

    // MARK: 3. the output and its manifest are committed together

    /// Each state a kill can leave between the two moves, made on disk by hand.
    @Test func verifyCompletesAnInterruptedCommit() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try makeSource(source)
        let output = folder.file("disk.vmdk")
        let made = try runProcess(Self.binary, ["export", source, "-f", "vmdk", "-o", output])
        try #require(made.status == 0, "\(made.standardError)")
        // The output in place, its manifest still under its temporary name.
        let pending = folder.file(".disk.vmdk.sha256.imgship-1f2e3d")
        #expect(rename(output + ".sha256", pending) == 0)
        let verify = try runProcess(Self.binary, ["verify", output])
        #expect(verify.status == 0, "\(verify.standardError)")
        #expect(
            String(decoding: verify.standardOutput, as: UTF8.self).contains(
                "(completed an interrupted export: the manifest was still .disk.vmdk.sha256.imgship-1f2e3d)"))
        #expect(folder.names() == ["disk.raw", "disk.vmdk", "disk.vmdk.sha256"])

        // A pending manifest of another output: the output is unverified, nothing is moved.
        try Data((String(repeating: "ab", count: 32) + "  disk.vmdk\n").utf8).write(to: URL(fileURLWithPath: pending))
        #expect(unlink(output + ".sha256") == 0)
        let mismatch = try runProcess(Self.binary, ["verify", output])
        #expect(mismatch.status == 1)
        #expect(
            String(decoding: mismatch.standardOutput, as: UTF8.self).contains(
                "is missing and the manifest an interrupted export left says \(String(repeating: "ab", count: 32)): the output is unverified"))
        #expect(folder.names() == [".disk.vmdk.sha256.imgship-1f2e3d", "disk.raw", "disk.vmdk"])
    }

    // MARK: 4. stale temporary files

    @Test func staleTemporaryFilesGoAndLiveOnesStay() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try makeSource(source)
        let stale = folder.file(".old.vmdk.imgship-5a5a")
        let live = folder.file(".busy.vmdk.imgship-6b6b")
        let notOurs = folder.file(".notes.imgship-backup")
        for path in [stale, live, notOurs] { try Data("partial".utf8).write(to: URL(fileURLWithPath: path)) }
        // Another live process's temporary file: its writer holds the lock.
        let held = open(live, O_RDONLY)
        defer { close(held) }
        #expect(flock(held, LOCK_EX) == 0)
        let result = try runProcess(Self.binary, ["export", source, "-f", "vmdk", "-o", folder.file("disk.vmdk")])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(folder.names() == [".busy.vmdk.imgship-6b6b", ".notes.imgship-backup", "disk.raw", "disk.vmdk", "disk.vmdk.sha256"])
    }

    // MARK: 6. standard input and FIFOs as sources

    @Test(.enabled(if: qemuImg != nil, "needs qemu-img"))
    func standardInputIsStagedAndRemoved() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try makeSource(source)
        let scratch = folder.file("tmp")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let result = try runProcess(
            "/bin/sh", ["-c", "cat '\(source)' | TMPDIR='\(scratch)' '\(Self.binary)' export - -f vmdk -o '\(folder.file("out.vmdk"))'"])
        #expect(result.status == 0, "\(result.standardError)")
        let compare = try runProcess(try #require(Self.qemuImg), ["compare", "-f", "raw", source, folder.file("out.vmdk")])
        #expect(compare.status == 0, "\(compare.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty, "the staging copy is gone")
        // --source-format: a VMDK read from a pipe.
        let piped = try runProcess(
            "/bin/sh",
            [
                "-c",
                "cat '\(folder.file("out.vmdk"))' | TMPDIR='\(scratch)' '\(Self.binary)' export - --source-format vmdk -f raw -o '\(folder.file("back2.raw"))'",
            ])
        #expect(piped.status == 0, "\(piped.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("back2.raw"))) == (try Data(contentsOf: URL(fileURLWithPath: source))))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
    }

    @Test(.enabled(if: qemuImg != nil, "needs qemu-img"))
    func aFIFOIsASource() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try makeSource(source)
        let scratch = folder.file("tmp")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let fifo = folder.file("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        let writer = Thread {
            // Blocks until imgship opens the FIFO for reading.
            if let handle = FileHandle(forWritingAtPath: fifo), let data = FileManager.default.contents(atPath: source) {
                try? handle.write(contentsOf: data)
                try? handle.close()
            }
        }
        writer.start()
        let result = try runProcess(Self.binary, ["export", fifo, "-f", "vhd", "-o", folder.file("out.vhd")], environment: ["TMPDIR": scratch])
        #expect(result.status == 0, "\(result.standardError)")
        let compare = try runProcess(try #require(Self.qemuImg), ["compare", "-f", "raw", source, folder.file("out.vhd")])
        #expect(compare.status == 0, "\(compare.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
    }

    @Test func ctrlCWhileWaitingOnAFIFOWithoutAWriter() throws {
        let folder = try TemporaryFolder()
        let scratch = folder.file("tmp")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let fifo = folder.file("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["export", fifo, "-f", "vmdk", "-o", folder.file("out.vmdk")]
        process.environment = ["TMPDIR": scratch]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Wait until the staging file exists: imgship is waiting for a writer.
        for _ in 0..<300 where (try? FileManager.default.contentsOfDirectory(atPath: scratch))?.isEmpty ?? true {
            usleep(10_000)
        }
        let staged = try FileManager.default.contentsOfDirectory(atPath: scratch)
        #expect(staged.count == 1 && staged[0].hasPrefix(".imgship-stream.imgship-"), "\(staged)")
        var info = stat()
        #expect(stat(scratch + "/" + (staged.first ?? ""), &info) == 0 && info.st_mode & 0o777 == 0o600)
        let interrupted = Date()
        process.interrupt()
        process.waitUntilExit()
        // Prompt, not timed: without the handler imgship would wait for a writer forever.
        #expect(Date().timeIntervalSince(interrupted) < 30)
        #expect(process.terminationStatus == 130)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message == "imgship: error: interrupted; no output was left behind\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
        #expect(folder.names() == ["pipe", "tmp"])
    }
}
