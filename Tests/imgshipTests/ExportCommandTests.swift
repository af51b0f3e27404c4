import Foundation
import TestSupport
import Testing

/// Runs the built `imgship` binary as a user would.
@Suite("imgship export, end to end")
struct ExportCommandTests {
    /// The binary sits beside the test bundle in the build folder.
    static let binary: String = {
        let testExecutable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = testExecutable.deletingLastPathComponent()
        if folder.path.hasSuffix(".xctest") { folder = folder.deletingLastPathComponent() }
        return folder.appendingPathComponent("imgship").path
    }()

    static let fixedIdentity = ["--uuid", "8a6f0a3e-1f7c-4d2e-9b1a-3c5d7e9f0a1b"]

    func makeSource(in folder: TemporaryFolder) throws -> String {
        let path = folder.file("disk.raw")
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 24 * 1024 * 1024 + 512)
        try handle.seek(toOffset: 3 * 1024 * 1024)
        try handle.write(contentsOf: Data((0..<500_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 3) }))
        try handle.close()
        return path
    }

    @Test func jsonSummaryDescribesTheExport() throws {
        let folder = try TemporaryFolder()
        let source = try makeSource(in: folder)
        let result = try runProcess(Self.binary, ["export", source, "--format", "VMDK", "-o", folder.file("disk.vmdk"), "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any])
        #expect(json["format"] as? String == "vmdk")
        #expect(json["output"] as? String == folder.file("disk.vmdk"))
        #expect(json["manifest"] as? String == folder.file("disk.vmdk.sha256"))
        #expect((json["virtualSize"] as? NSNumber)?.intValue == 24 * 1024 * 1024 + 512)
        let digest = try #require(json["sha256"] as? String)
        let manifest = try String(contentsOfFile: folder.file("disk.vmdk.sha256"), encoding: .utf8)
        #expect(manifest == "\(digest)  disk.vmdk\n")
        #expect(json["seconds"] is NSNumber && json["megabytesPerSecond"] is NSNumber && json["bytesWritten"] is NSNumber)
    }

    @Test(arguments: ["raw", "vhd-fixed", "vhd", "vmdk", "ova"])
    func standardOutputCarriesTheSameBytesAsAFile(format: String) throws {
        let folder = try TemporaryFolder()
        let source = try makeSource(in: folder)
        let environment = ["SOURCE_DATE_EPOCH": "1700000000", "PATH": "/usr/bin:/bin"]
        // raw records no identifier: --uuid would be warned of as ignored.
        let identity = format == "raw" ? [] : Self.fixedIdentity
        let toFile = try runProcess(
            Self.binary, ["export", source, "-f", format, "-o", folder.file("disk.out")] + identity,
            environment: environment)
        #expect(toFile.status == 0, "\(toFile.standardError)")
        let toPipe = try runProcess(
            Self.binary, ["export", source, "-f", format, "-o", "-", "--name", "disk.out"] + identity,
            environment: environment)
        #expect(toPipe.status == 0, "\(toPipe.standardError)")
        #expect(toPipe.standardOutput == (try Data(contentsOf: URL(fileURLWithPath: folder.file("disk.out")))))
        let manifest = try String(contentsOfFile: folder.file("disk.out.sha256"), encoding: .utf8)
        // A part-MiB fixed VHD is warned of (Azure rejects it); the digest line comes after.
        // The source has no partition table: an OVA declares no firmware for it, and says so.
        let azureWarning =
            format == "vhd-fixed"
            ? "imgship: warning: virtual size 25166336 is not a whole MiB, which Azure rejects in a fixed VHD "
                + "(https://learn.microsoft.com/azure/virtual-machines/linux/create-upload-generic); --target azure or --align-mib rounds it up\n"
            : format == "ova"
                ? "imgship: warning: the OVA declares no firmware: nothing on the disk boots (no BIOS path: sector 0 does not end 0x55AA, "
                    + "so a BIOS runs nothing from it; no UEFI path: no partition table, so no EFI system partition)\n"
                : ""
        #expect(toPipe.standardError == azureWarning + manifest, "the digest line goes to standard error")

        let withManifest = try runProcess(
            Self.binary,
            [
                "export", source, "-f", format, "-o", "-", "--name", "disk.out",
                "--manifest", folder.file("piped.sha256"),
            ] + identity,
            environment: environment)
        #expect(withManifest.status == 0 && withManifest.standardError == azureWarning)
        #expect(try String(contentsOfFile: folder.file("piped.sha256"), encoding: .utf8) == manifest)
    }

    @Test func existingOutputNeedsForce() throws {
        let folder = try TemporaryFolder()
        let source = try makeSource(in: folder)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: folder.file("disk.vhd")))
        let refused = try runProcess(Self.binary, ["export", source, "-f", "vhd", "-o", folder.file("disk.vhd")])
        #expect(refused.status == 2)
        #expect(refused.standardError == "imgship: error: \(folder.file("disk.vhd")) exists; pass --force to overwrite it\n")
        #expect(try String(contentsOfFile: folder.file("disk.vhd"), encoding: .utf8) == "keep me")
        let forced = try runProcess(Self.binary, ["export", source, "-f", "vhd", "-o", folder.file("disk.vhd"), "--force"])
        #expect(forced.status == 0, "\(forced.standardError)")
        #expect(String(decoding: forced.standardOutput, as: UTF8.self).contains("vhd-dynamic, 25166336 bytes virtual"))
    }

    @Test func badArgumentsAreUsageErrors() throws {
        let folder = try TemporaryFolder()
        let source = try makeSource(in: folder)
        let format = try runProcess(Self.binary, ["export", source, "-f", "qed", "-o", folder.file("x")])
        #expect(format.status == 64)
        #expect(format.standardError.contains("'-f <format>'"), "\(format.standardError)")
        let level = try runProcess(Self.binary, ["export", source, "-f", "vmdk", "--level", "99", "-o", folder.file("x")])
        #expect(level.status == 64)
        #expect(level.standardError.contains("--level"))
        let missing = try runProcess(Self.binary, ["export", folder.file("absent.raw"), "-f", "raw", "-o", folder.file("x")])
        #expect(missing.status == 1)
        #expect(missing.standardError == "imgship: error: \(folder.file("absent.raw")): open failed: No such file or directory (errno 2)\n")
        #expect(folder.names() == ["disk.raw"])
    }

    @Test func fullDiskIsAClearError() throws {
        let folder = try TemporaryFolder()
        let source = try makeSource(in: folder)
        let result = try runProcess("/bin/sh", ["-c", "'\(Self.binary)' export '\(source)' -f raw -o - > /dev/full"])
        #expect(result.status == 1)
        #expect(result.standardError == "imgship: error: standard output: write failed: No space left on device (errno 28)\n")
    }

    // Interrupting an export (SIGINT, SIGTERM and SIGHUP alike): ConsistentCommandTests.
}
