import Foundation
import TestSupport
import Testing

/// Exports that need root: a block device (a loop device over a file) as the source, and a
/// full filesystem (a 4 MiB tmpfs) as the destination. Enabled where those can be set up.
@Suite("imgship export with devices and full disks", .serialized)
struct SystemResourceTests {
    static let isRoot = getuid() == 0

    static func canRun(_ tool: String, _ arguments: [String]) -> Bool {
        guard isRoot, let path = which(tool) else { return false }
        return (try? runProcess(path, arguments))?.status == 0
    }

    static let loopDevicesWork = canRun("losetup", ["--find"])

    static let tmpfsMountWorks: Bool = {
        guard let folder = try? TemporaryFolder(), canRun("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", folder.path]) else {
            return false
        }
        return canRun("umount", [folder.path])
    }()

    func makeSource(in folder: TemporaryFolder) throws -> String {
        let path = folder.file("disk.raw")
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 16 * 1024 * 1024)
        try handle.seek(toOffset: 5 * 1024 * 1024)
        try handle.write(contentsOf: Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: ($0 * 2654435761) >> 13) }))
        try handle.close()
        return path
    }

    @Test(.enabled(if: loopDevicesWork, "needs root and loop devices"))
    func blockDeviceSourceExportsLikeItsFile() throws {
        let folder = try TemporaryFolder()
        let source = try makeSource(in: folder)
        let attach = try runProcess(try #require(which("losetup")), ["--find", "--show", source])
        try #require(attach.status == 0, "losetup: \(attach.standardError)")
        let device = String(decoding: attach.standardOutput, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? runProcess(which("losetup")!, ["-d", device]) }
        for format in ["vmdk", "vhd", "raw"] {
            let fromFile = try runProcess(
                ExportCommandTests.binary, ["export", source, "-f", format, "-o", folder.file("file.\(format)"), "--json"] + ExportCommandTests.fixedIdentity,
                environment: ["SOURCE_DATE_EPOCH": "1"])
            let fromDevice = try runProcess(
                ExportCommandTests.binary,
                ["export", device, "-f", format, "-o", folder.file("device.\(format)"), "--json"] + ExportCommandTests.fixedIdentity,
                environment: ["SOURCE_DATE_EPOCH": "1"])
            #expect(fromDevice.status == 0, "\(fromDevice.standardError)")
            let file = try JSONSerialization.jsonObject(with: fromFile.standardOutput) as? [String: Any]
            let device = try JSONSerialization.jsonObject(with: fromDevice.standardOutput) as? [String: Any]
            #expect((device?["virtualSize"] as? NSNumber)?.intValue == 16 * 1024 * 1024)
            if format != "vmdk" {  // a VMDK descriptor records its own file name
                #expect(device?["sha256"] as? String == file?["sha256"] as? String, "\(format)")
            }
        }
    }

    @Test(.enabled(if: tmpfsMountWorks, "needs root and tmpfs mounts"))
    func fullFilesystemLeavesNothingBehind() throws {
        let folder = try TemporaryFolder()
        let source = try makeSource(in: folder)
        let mountPoint = folder.file("tiny")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount = try runProcess(try #require(which("mount")), ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint])
        try #require(mount.status == 0, "mount: \(mount.standardError)")
        defer { _ = try? runProcess(which("umount")!, [mountPoint]) }
        let result = try runProcess(ExportCommandTests.binary, ["export", source, "-f", "vhd-fixed", "-o", mountPoint + "/out.vhd"])
        #expect(result.status == 1)
        #expect(result.standardError == "imgship: error: \(mountPoint)/out.vhd: pwrite failed: No space left on device (errno 28)\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: mountPoint).isEmpty)
    }
}
