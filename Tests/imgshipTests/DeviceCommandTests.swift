import Foundation
import TestSupport
import Testing

/// `--to-device` end to end, and flags that do not apply saying so.
@Suite("imgship export --to-device and ignored flags")
struct DeviceCommandTests {
    static let binary = ExportCommandTests.binary
    /// Root with a working `losetup`: a loop device can be made here.
    static let losetup: String? = {
        guard getuid() == 0, let tool = which("losetup"), (try? runProcess(tool, ["-f"]))?.status == 0 else { return nil }
        return tool
    }()

    @Test(.enabled(if: losetup != nil, "needs root and a free loop device"))
    func aLoopDeviceBackedByTheSourceIsRefused() throws {
        let losetup = try #require(Self.losetup)
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        let bytes = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try bytes.write(to: URL(fileURLWithPath: source))
        let attached = try runProcess(losetup, ["-f", "--show", source])
        try #require(attached.status == 0, "\(attached.standardError)")
        let device = String(decoding: attached.standardOutput, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? runProcess(losetup, ["-d", device]) }
        let result = try runProcess(Self.binary, ["export", source, "-f", "raw", "-o", device, "--to-device", "--no-manifest", "--no-progress"])
        #expect(result.status == 2)
        #expect(result.standardError.hasPrefix("imgship: error: \(device): is backed by the source \(source) (loop device "), "\(result.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: source)) == bytes)
    }

    @Test func toDeviceWritesRawOnly() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try Data(repeating: 1, count: 4096).write(to: URL(fileURLWithPath: source))
        for format in ["vmdk", "vhdx", "vhd-fixed", "ova"] {
            let result = try runProcess(Self.binary, ["export", source, "-f", format, "-o", "/dev/null", "--to-device"])
            #expect(result.status == 64, "\(format)")
            #expect(
                result.standardError.hasPrefix("Error: --to-device writes raw images only (the device holds the disk itself), not \(format); give -f raw"),
                "\(result.standardError)")
        }
    }

    @Test func flagsThatDoNotApplySaySo() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try Data(repeating: 1, count: 4096).write(to: URL(fileURLWithPath: source))
        let cases: [(format: String, flags: [String], warnings: [String])] = [
            ("raw", ["--adapter", "ide"], ["--adapter ide names the disk controller of a VMDK; raw records none; ignored"]),
            ("vhdx", ["--adapter", "buslogic"], ["--adapter buslogic names the disk controller of a VMDK; vhdx records none; ignored"]),
            ("raw", ["--uuid", "8a6f0a3e-1f7c-4d2e-9b1a-3c5d7e9f0a1b"], ["--uuid sets the identifier a container format records; raw has none; ignored"]),
            ("vmdk", ["--adapter", "ide", "--uuid", "8a6f0a3e-1f7c-4d2e-9b1a-3c5d7e9f0a1b"], []),
        ]
        for (index, item) in cases.enumerated() {
            let output = folder.file("out\(index).\(item.format)")
            let result = try runProcess(Self.binary, ["export", source, "-f", item.format, "-o", output, "--no-manifest", "--no-progress"] + item.flags)
            #expect(result.status == 0, "\(result.standardError)")
            let warnings = result.standardError.split(separator: "\n").filter { $0.hasPrefix("imgship: warning: ") }.map { String($0.dropFirst(18)) }
            #expect(warnings == item.warnings, "\(item.flags)")
        }
    }

    @Test func planFlagsThatDoNotApplySaySo() throws {
        let folder = try TemporaryFolder()
        let config = folder.file("dist.json")
        let text = #"{"name": "fleet", "distributions": [{"region": "us-east-1", "amiDistributionConfiguration": {"name": "a {{ imagebuilder:buildDate }}"}}]}"#
        try Data(text.utf8).write(to: URL(fileURLWithPath: config))
        let prices = folder.file("prices.json")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: prices))
        let next = try runProcess(Self.binary, ["plan", config, "--source-region", "us-east-1", "--next", "3"])
        #expect(next.status == 64)
        #expect(
            next.standardError.hasPrefix("Error: --next shows the next starts of a pipeline's schedule; give the pipeline with --pipeline"),
            "\(next.standardError)")
        let unsized = try runProcess(Self.binary, ["plan", config, "--source-region", "us-east-1", "--prices", prices])
        #expect(unsized.status == 0, "\(unsized.standardError)")
        #expect(
            unsized.standardError.contains(
                "\(prices): warning: prices apply to the size and cost estimate, which needs the image's size: give --image-size or --recipe; ignored"))
        let sized = try runProcess(Self.binary, ["plan", config, "--source-region", "us-east-1", "--prices", prices, "--image-size", "8"])
        #expect(sized.status == 0 && !sized.standardError.contains("warning"), "\(sized.standardError)")
    }
}
