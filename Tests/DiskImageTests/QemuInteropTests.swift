import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// qemu-img is the independent implementation: it must read every output as identical to the
/// source, report the exact virtual size and the right format. CI installs qemu-utils.
@Suite("qemu-img reads what we write", .enabled(if: which("qemu-img") != nil, "needs qemu-img (Debian qemu-utils)"))
struct QemuInteropTests {
    enum Sample: String, CaseIterable, Sendable {
        case awkward, allZero, random, filesystem
    }

    static let qemuFormat: [OutputFormat: String] = [
        .raw: "raw", .vhdFixed: "vpc", .vhdDynamic: "vpc", .vmdk: "vmdk", .vhdx: "vhdx", .ova: "vmdk", .qcow2: "qcow2", .gce: "raw",
    ]

    static func make(_ sample: Sample, in folder: TemporaryFolder) throws -> String {
        let path = folder.file("\(sample.rawValue).raw")
        switch sample {
        case .awkward: try SampleImage.awkward(at: path)
        case .allZero: try SampleImage.allZero(at: path)
        case .random: try SampleImage.random(at: path)
        case .filesystem: try makeFilesystem(at: path, folder: folder)
        }
        return path
    }

    /// A sparse ext4 image made with mkfs.ext4 -d from a tree of text and binary files.
    static func makeFilesystem(at path: String, folder: TemporaryFolder) throws {
        let tree = folder.file("tree")
        for directory in 0..<6 {
            let sub = "\(tree)/dir\(directory)"
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
            for file in 0..<8 {
                let bytes =
                    file % 3 == 0
                    ? ImageBuilder.noise(70_000 + file * 1013, seed: UInt64(directory * 100 + file))
                    : ImageBuilder.text(150_000 + file * 777, seed: directory * 100 + file)
                try Data(bytes).write(to: URL(fileURLWithPath: "\(sub)/file\(file)"))
            }
        }
        let mkfs = try #require(which("mkfs.ext4"), "needs mkfs.ext4 (e2fsprogs)")
        let result = try runProcess(mkfs, ["-q", "-F", "-d", tree, "-L", "test", path, "48M"])
        #expect(result.status == 0, "mkfs.ext4: \(result.standardError)")
    }

    @Test(arguments: OutputFormat.allCases, Sample.allCases)
    func qemuSeesTheSameDisk(format: OutputFormat, sample: Sample) throws {
        let qemu = try #require(which("qemu-img"))
        let folder = try TemporaryFolder()
        let source = try Self.make(sample, in: folder)
        let output = folder.file("out.\(format.fileExtension)")
        let summary = try Exporter.export(source: source, to: .file(output), options: fixedOptions(format))
        let qemuFormat = Self.qemuFormat[format]!
        // qemu-img does not open OVAs: it checks the disk inside, as a hypervisor imports it.
        var image = output
        if format == .ova {
            let members = try OutputReader.tarMembers(try readFile(output))
            #expect(members.map(\.name) == ["out.ovf", "out.mf", "out.vmdk"])
            image = folder.file("out.vmdk")
            try Data(try #require(members.last).bytes).write(to: URL(fileURLWithPath: image))
        }
        // Nor GCE images: it reads the disk.raw inside, as Google's importer does.
        if format == .gce { image = try GCEArchive.extract(output, into: folder.file("gce")) }

        let compare = try runProcess(qemu, ["compare", "-f", "raw", "-F", qemuFormat, source, image])
        #expect(compare.status == 0, "qemu-img compare: \(String(decoding: compare.standardOutput, as: UTF8.self)) \(compare.standardError)")

        let info = try runProcess(qemu, ["info", "-f", qemuFormat, "--output=json", image])
        #expect(info.status == 0, "qemu-img info: \(info.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: info.standardOutput) as? [String: Any])
        let sourceSize = try FileManager.default.attributesOfItem(atPath: source)[.size] as? UInt64
        #expect((json["virtual-size"] as? NSNumber)?.uint64Value == sourceSize, "exact virtual size")
        #expect(json["format"] as? String == qemuFormat)
        if format == .vhdx || format == .qcow2 {
            let check = try runProcess(qemu, ["check", "-f", qemuFormat, image])
            #expect(check.status == 0, "qemu-img check: \(String(decoding: check.standardOutput, as: UTF8.self)) \(check.standardError)")
        }
        if format == .vmdk || format == .ova {
            let specific = (json["format-specific"] as? [String: Any])?["data"] as? [String: Any]
            #expect(specific?["create-type"] as? String == "streamOptimized")
            let check = try runProcess(qemu, ["check", "-f", "vmdk", image])
            #expect(check.status == 0, "qemu-img check: \(check.standardError)")
        }

        let sha256sum = try #require(which("sha256sum"))
        let verify = try runProcess("/bin/sh", ["-c", "cd '\(folder.path)' && '\(sha256sum)' -c out.\(format.fileExtension).sha256"])
        #expect(verify.status == 0, "sha256sum -c: \(String(decoding: verify.standardOutput, as: UTF8.self))")
        #expect(summary.sha256?.count == 64)
    }
}

/// `export --no-manifest` writes a dynamic VHD or VHDX in one pass (the BAT in place at the
/// end): the same bytes as the two-pass writer, which qemu-img reads as the source.
@Suite("Dynamic VHD and VHDX without a digest")
struct OnePassDynamicVHDTests {
    @Test(.enabled(if: which("qemu-img") != nil), arguments: [OutputFormat.vhdDynamic, .vhdx])
    func onePassWritesTheTwoPassBytes(format: OutputFormat) throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        // 70 MiB + 4 KiB: data in the first block, one in the middle (VHD's 2 MiB and VHDX's
        // 32 MiB blocks alike), and the last (partial) one.
        FileManager.default.createFile(atPath: source, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: source))
        try handle.truncate(atOffset: 70 * 1024 * 1024 + 4096)
        let offsets: [UInt64] = [0, 40 * 1024 * 1024 + 12345, 70 * 1024 * 1024 + 100]
        for offset in offsets {
            try handle.seek(toOffset: offset)
            let seed = Int(offset % 251)
            try handle.write(contentsOf: Data((0..<3000).map { (index: Int) -> UInt8 in UInt8(truncatingIfNeeded: index &* 31 &+ seed) }))
        }
        try handle.close()
        let twoPass = folder.file("two.out"), onePass = folder.file("one.out")
        let first = try Exporter.export(
            source: source, to: .file(twoPass),
            options: ExportOptions(format: format, timestamp: 1_700_000_000, diskIdentifier: Array(repeating: 7, count: 16)))
        let second = try Exporter.export(
            source: source, to: .file(onePass),
            options: ExportOptions(format: format, timestamp: 1_700_000_000, diskIdentifier: Array(repeating: 7, count: 16), computesDigest: false))
        #expect(first.sha256 != nil && second.sha256 == nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: onePass)) == Data(contentsOf: URL(fileURLWithPath: twoPass)))
        #expect(!FileManager.default.fileExists(atPath: onePass + ".sha256"))
        let qemuImg = try #require(which("qemu-img"))
        let qemuFormat = format == .vhdx ? "vhdx" : "vpc"
        // qemu-img check has no checks for vpc (exit 63): info and compare read it instead.
        let info = try runProcess(qemuImg, ["info", "-f", qemuFormat, "--output", "json", onePass])
        #expect(String(decoding: info.standardOutput, as: UTF8.self).contains("\"format\": \"\(qemuFormat)\""))
        if format == .vhdx {
            let check = try runProcess(qemuImg, ["check", "-f", "vhdx", onePass])
            #expect(check.status == 0, "\(String(decoding: check.standardOutput, as: UTF8.self)) \(check.standardError)")
        }
        let compare = try runProcess(qemuImg, ["compare", "-f", "raw", "-F", qemuFormat, source, onePass])
        #expect(compare.status == 0, "\(compare.standardError)")
    }
}
