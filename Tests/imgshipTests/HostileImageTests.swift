import Foundation
import TestSupport
import Testing

/// Hostile images through the command line: refusals are one line and exit 1, and memory
/// stays bounded whatever size an image claims (peak RSS measured by GNU time).
@Suite("imgship with hostile images, end to end")
struct HostileImageTests {
    static let binary = ExportCommandTests.binary
    static let hasTime = FileManager.default.isExecutableFile(atPath: "/usr/bin/time")
    static let peakLimitKiB = 256 * 1024

    /// Runs imgship under `/usr/bin/time -v`: its result (standard error without time's
    /// report) and its peak resident set size in KiB.
    static func measured(_ arguments: [String]) throws -> (result: ProcessResult, peakKiB: Int) {
        var result = try runProcess("/usr/bin/time", ["-v", binary] + arguments)
        let marker = "Maximum resident set size (kbytes): "
        let line = try #require(result.standardError.split(separator: "\n").first { $0.contains(marker) })
        let value = try #require(line.split(separator: ":").last)
        let peak = try #require(Int(value.trimmingCharacters(in: .whitespaces)))
        // time's report follows the program's own output.
        let cut = ["Command exited with non-zero status", "\tCommand being timed:"]
            .compactMap { result.standardError.range(of: $0)?.lowerBound }.min()
        if let cut { result.standardError = String(result.standardError[..<cut]) }
        return (result, peak)
    }

    /// `folder/images/disk.vmdk` holding `extent` as its one extent line (line 6).
    func descriptor(_ extent: String, in folder: TemporaryFolder) throws -> String {
        let images = folder.file("images")
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        let path = images + "/disk.vmdk"
        let text = "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\(extent)\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func aDescriptorNamingASystemFileIsRefusedByEveryCommand() throws {
        let folder = try TemporaryFolder()
        let path = try descriptor(#"RW 2 FLAT "/etc/passwd" 0"#, in: folder)
        let real = try #require(URL(fileURLWithPath: folder.file("images")).resolvingSymlinksInPath().path as String?)
        let message =
            "imgship: error: \(path) line 6: extent \"/etc/passwd\" is an absolute path; expected a file in the descriptor's folder \(real) (pass --allow-external-extents to read a file of your own outside it)\n"
        for arguments in [["export", path, "-f", "vmdk", "-o", folder.file("out.vmdk")], ["info", path], ["verify", path]] {
            let result = try runProcess(Self.binary, arguments)
            #expect(result.status == 2, "\(arguments[0])")
            #expect(result.standardError == message, "\(arguments[0])")
        }
        #expect(!FileManager.default.fileExists(atPath: folder.file("out.vmdk")))
    }

    @Test func theOptInReadsTheUsersOwnFileButNeverADevice() throws {
        let folder = try TemporaryFolder()
        try Data(repeating: 0x33, count: 8192).write(to: URL(fileURLWithPath: folder.file("mine.raw")))
        let path = try descriptor(#"RW 16 FLAT "../mine.raw" 0"#, in: folder)
        let output = folder.file("out.raw")
        let exported = try runProcess(Self.binary, ["export", path, "-f", "raw", "-o", output, "--allow-external-extents"])
        #expect(exported.status == 0, "\(exported.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == Data(repeating: 0x33, count: 8192))
        #expect(try runProcess(Self.binary, ["info", path, "--allow-external-extents"]).status == 0)
        #expect(try runProcess(Self.binary, ["verify", path, "--allow-external-extents", "--no-manifest"]).status == 0)

        let device = try descriptor(#"RW 2048 FLAT "/dev/zero" 0"#, in: folder)
        let refused = try runProcess(Self.binary, ["export", device, "-f", "raw", "-o", folder.file("zero.raw"), "--allow-external-extents"])
        #expect(refused.status == 2)
        #expect(refused.standardError == "imgship: error: \(device) line 6: extent \"/dev/zero\" is a character device; expected a regular file\n")
    }

    @Test(.enabled(if: hasTime, "needs GNU time"))
    func aDescriptorClaiming64PiBIsRefusedInBoundedMemory() throws {
        let folder = try TemporaryFolder()
        // 116 bytes: almost 64 PiB of ZERO extent.
        let path = folder.file("huge.vmdk")
        let text = "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\nRW 140737488355327 ZERO\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let size: UInt64 = 140_737_488_355_327 * 512
        let expected = [
            "vmdk": "imgship: error: \(path): a stream-optimized vmdk cannot hold \(size) bytes: its limit is \(UInt64(62) << 40) bytes (63488 GiB)\n",
            "ova": "imgship: error: \(path): a stream-optimized vmdk cannot hold \(size) bytes: its limit is \(UInt64(62) << 40) bytes (63488 GiB)\n",
            "vhd": "imgship: error: \(path): vhd cannot hold \(size) bytes: its limit is \(UInt64(0xFF00_0000) * 512) bytes (2040 GiB)\n",
        ]
        for (format, message) in expected {
            let (result, peak) = try Self.measured(["export", path, "-f", format, "-o", folder.file("out.\(format)"), "--no-progress"])
            #expect(result.status == 2, "\(format)")
            #expect(result.standardError == message, "\(format)")
            #expect(peak < Self.peakLimitKiB, "\(format): peak RSS \(peak) KiB")
        }
        // raw: off_t holds it, the filesystem may not; either way, at once and in little memory.
        let (raw, peak) = try Self.measured(["export", path, "-f", "raw", "-o", folder.file("out.raw"), "--no-progress"])
        #expect(raw.status == 1)
        #expect(raw.standardError.contains("ftruncate failed: File too large"), "\(raw.standardError)")
        #expect(peak < Self.peakLimitKiB, "raw: peak RSS \(peak) KiB")
        #expect(FileManager.default.fileExists(atPath: folder.file("out.raw")) == false)
    }

    @Test(.enabled(if: hasTime && which("qemu-img") != nil, "needs GNU time and qemu-img"))
    func a16TiBSparseQcow2ExportsToVMDKInBoundedMemory() throws {
        let folder = try TemporaryFolder()
        let qemu = try #require(which("qemu-img"))
        let source = folder.file("big.qcow2")
        let made = try runProcess(qemu, ["create", "-q", "-f", "qcow2", source, "16T"])
        try #require(made.status == 0, "\(made.standardError)")
        let output = folder.file("big.vmdk")
        let (result, peak) = try Self.measured(["export", source, "-f", "vmdk", "-o", output, "--no-progress"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(peak < Self.peakLimitKiB, "peak RSS \(peak) KiB")
        let info = try runProcess(qemu, ["info", "--output=json", output])
        let json = try JSONSerialization.jsonObject(with: info.standardOutput) as? [String: Any]
        #expect((json?["virtual-size"] as? NSNumber)?.uint64Value == 16 << 40)
        #expect((json?["format"] as? String) == "vmdk")
    }
}

/// Memory follows what a file stores, never its apparent size: a sparse container
/// of 15 TiB (ext4's limit is 16 TiB) storing a few kilobytes, and an 8 EiB VHDX on tmpfs,
/// go through info, verify and export inside 512 MiB of address space and 20 s. The map of
/// file space claimed by tables was once a bitmap of the apparent size: 4 GiB and 1 TiB.
@Suite("imgship with sparse containers, end to end")
struct SparseContainerTests {
    static let binary = ExportCommandTests.binary

    /// Runs each command on `source` under `ulimit -v` (512 MiB) and `timeout 20`.
    func expectBounded(_ source: String, in folder: TemporaryFolder) throws {
        let output = folder.file("out.raw")
        for command in ["info '\(source)'", "verify --no-manifest '\(source)'", "export '\(source)' -f raw -o '\(output)' --no-progress --force"] {
            let result = try runProcess("/bin/sh", ["-c", "ulimit -v 524288; exec timeout 20 '\(Self.binary)' \(command)"])
            #expect(result.status == 0, "\(command): \(result.standardError.prefix(300))")
        }
    }

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img"), arguments: ["qcow2", "vmdk", "vpc"])
    func a15TiBSparseContainerOpensInBoundedMemory(format: String) throws {
        let qemu = try #require(which("qemu-img"))
        let folder = try TemporaryFolder()
        let source = folder.file("small.\(format)")
        // 512-byte clusters make qcow2's map as fine as VMDK's and VHD's sectors.
        let options = format == "qcow2" ? ["-o", "cluster_size=512"] : []
        let made = try runProcess(qemu, ["create", "-q", "-f", format] + options + [source, "1G"])
        try #require(made.status == 0, "\(made.standardError)")
        let size: UInt64 = 15 << 40
        if format == "vpc" {
            // A dynamic VHD ends with its footer: copy it to the new end.
            let footer = try Data(contentsOf: URL(fileURLWithPath: source)).prefix(512)
            try #require(truncate(source, off_t(size)) == 0)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: source))
            try handle.seek(toOffset: size - 512)
            try handle.write(contentsOf: footer)
            try handle.close()
        } else {
            try #require(truncate(source, off_t(size)) == 0)
        }
        try expectBounded(source, in: folder)
    }

    static let tmpfs: String? = {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return nil }
        let isTmpfs = mounts.split(separator: "\n").contains { (line: Substring) -> Bool in
            let fields = line.split(separator: " ")
            return fields.count > 2 && fields[1] == "/dev/shm" && fields[2] == "tmpfs"
        }
        return isTmpfs && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : nil
    }()

    @Test(.enabled(if: tmpfs != nil && which("qemu-img") != nil, "needs a writable tmpfs and qemu-img"))
    func an8EiBVHDXOnTmpfsOpensInBoundedMemory() throws {
        let qemu = try #require(which("qemu-img"))
        let folder = try TemporaryFolder()
        let shm = try #require(Self.tmpfs) + "/imgship-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: shm, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: shm) }
        let source = shm + "/huge.vhdx"
        let made = try runProcess(qemu, ["create", "-q", "-f", "vhdx", source, "1G"])
        try #require(made.status == 0, "\(made.standardError)")
        try #require(truncate(source, off_t(8000) << 50) == 0)
        try expectBounded(source, in: folder)
    }
}
