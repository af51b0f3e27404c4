import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// The bytes of a file, whole.
func fileBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Reading images: qemu-img's outputs in every format it writes, read back by imgship, are
/// the disk qemu-img itself reads; imgship's own outputs read back to their source.
@Suite("Reading VHD, VMDK and qcow2")
struct ReaderTests {
    /// A 6 MiB + 4 KiB + 517 byte raw disk: noise, text, a hole, and data in the last,
    /// partial cluster.
    static func makeSource(in folder: TemporaryFolder) throws -> String {
        let path = folder.file("source.raw")
        let image = try ImageBuilder(path: path, size: 6 * 1024 * 1024 + 4096 + 517)
        try image.write(ImageBuilder.noise(300_000, seed: 7), at: 65_536 * 3 + 100)
        try image.write(ImageBuilder.text(1_200_000, seed: 3), at: 2 * 1024 * 1024 - 4096)
        try image.write(ImageBuilder.noise(4096 + 517, seed: 9), at: 6 * 1024 * 1024)
        return path
    }

    /// qemu-img convert's output formats and options, named as the file imgship reads.
    static let qemuOutputs: [(file: String, format: String, options: [String])] = [
        ("sparse.vmdk", "vmdk", ["-o", "subformat=monolithicSparse"]),
        ("stream.vmdk", "vmdk", ["-o", "subformat=streamOptimized"]),
        ("flat.vmdk", "vmdk", ["-o", "subformat=monolithicFlat"]),
        ("split.vmdk", "vmdk", ["-o", "subformat=twoGbMaxExtentSparse"]),
        ("dynamic.vhd", "vpc", ["-o", "subformat=dynamic"]),
        ("fixed.vhd", "vpc", ["-o", "subformat=fixed"]),
        ("sized.vhd", "vpc", ["-o", "subformat=dynamic,force_size=on"]),
        ("v2.qcow2", "qcow2", ["-o", "compat=0.10"]),
        ("v3.qcow2", "qcow2", ["-o", "compat=1.1,cluster_size=4096"]),
        ("compressed.qcow2", "qcow2", ["-c", "-o", "compat=1.1"]),
    ]

    @Test(
        .enabled(if: which("qemu-img") != nil, "needs qemu-img (Debian qemu-utils)"),
        arguments: qemuOutputs.map(\.file))
    func qemuImagesReadAsQemuReadsThem(file: String) throws {
        let qemu = try #require(which("qemu-img"))
        let spec = try #require(Self.qemuOutputs.first { $0.file == file })
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(in: folder)
        let image = folder.file(file)
        let convert = try runProcess(qemu, ["convert", "-f", "raw", "-O", spec.format] + spec.options + [source, image])
        try #require(convert.status == 0, "qemu-img convert: \(convert.standardError)")

        // Detected from the bytes, whatever the name says.
        let renamed = folder.file("image.bin")
        try FileManager.default.copyItem(atPath: image, toPath: renamed)
        let detected = try ImageReader.detect(path: renamed)
        #expect(detected.rawValue == (spec.format == "vpc" ? "vhd" : spec.format))

        let output = folder.file("out.raw")
        let summary = try Exporter.export(source: image, to: .file(output), options: fixedOptions(.raw))
        #expect(summary.sourceFormat == detected.rawValue)
        let compare = try runProcess(qemu, ["compare", "-f", spec.format, "-F", "raw", image, output])
        #expect(compare.status == 0, "qemu-img compare: \(String(decoding: compare.standardOutput, as: UTF8.self)) \(compare.standardError)")
        let info = try runProcess(qemu, ["info", "-f", spec.format, "--output=json", image])
        let json = try #require(try JSONSerialization.jsonObject(with: info.standardOutput) as? [String: Any])
        #expect((json["virtual-size"] as? NSNumber)?.uint64Value == summary.virtualSize, "the virtual size qemu-img reads")
        // And the source survives the trip (qemu may round the VHD size up to its geometry).
        let original = try fileBytes(source)
        let exported = try fileBytes(output)
        expectSameBytes(Array(exported.prefix(original.count)), original)
        #expect(exported.dropFirst(original.count).allSatisfy { $0 == 0 })

        let report = try ImageVerifier.verify(path: image)
        #expect(report.passed, "\(report.checks.filter { !$0.passed })")
    }

    @Test(arguments: OutputFormat.allCases)
    func ourOutputsReadBackToTheSource(format: OutputFormat) throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(in: folder)
        let image = folder.file("image.\(format.fileExtension)")
        try Exporter.export(source: source, to: .file(image), options: fixedOptions(format))
        let opened = try ImageReader.open(path: image)
        let expected: SourceFormat =
            switch format {
            case .raw: .raw
            case .vhdFixed, .vhdDynamic: .vhd
            case .vmdk: .vmdk
            case .vhdx: .vhdx
            case .ova: .ova
            case .qcow2: .qcow2
            case .gce: .gce
            }
        #expect(opened.info.format == expected)
        let back = folder.file("back.raw")
        try Exporter.export(source: image, to: .file(back), options: fixedOptions(.raw))
        let original = try fileBytes(source)
        let exported = try fileBytes(back)
        expectSameBytes(Array(exported.prefix(original.count)), original)
        #expect(exported.count == (format == .raw ? original.count : (original.count + 511) / 512 * 512))
        let report = try ImageVerifier.verify(path: image)
        #expect(report.passed, "\(report.checks.filter { !$0.passed })")
        #expect(report.checks.last?.detail.hasSuffix("matches \(image).sha256") == true)
    }

    @Test func infoNamesTheFormatsFields() throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(in: folder)
        let vhd = folder.file("disk.vhd")
        try Exporter.export(source: source, to: .file(vhd), options: fixedOptions(.vhdDynamic))
        let info = try ImageReader.open(path: vhd).info
        #expect(info.subformat == "dynamic")
        #expect(info.virtualSize == 6 * 1024 * 1024 + 4096 + 1024)  // 517 bytes round up to a sector
        #expect(info.details.map(\.key) == ["disk type", "creator", "geometry", "current size", "block size", "allocated blocks"])
        #expect(info.details.first { $0.key == "creator" }?.value == "\"win \" on \"Wi2k\"")
        #expect(info.details.first { $0.key == "allocated blocks" }?.value.description == "3")  // the third 2 MiB block is a hole

        let vmdk = folder.file("disk.vmdk")
        try Exporter.export(source: source, to: .file(vmdk), options: fixedOptions(.vmdk))
        let vmdkInfo = try ImageReader.open(path: vmdk).info
        #expect(vmdkInfo.subformat == "streamOptimized")
        #expect(
            vmdkInfo.details.map { "\($0.key)=\($0.value)" }.prefix(5) == [
                "create type=streamOptimized", "adapter=lsilogic", "version=3", "grain size=65536", "compression=deflate",
            ])
    }

    @Test func sourceFormatOverridesDetection() throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(in: folder)
        let vhd = folder.file("disk.vhd")
        try Exporter.export(source: source, to: .file(vhd), options: fixedOptions(.vhdFixed))
        // Read as raw, the footer is part of the disk.
        let raw = try ImageReader.open(path: vhd, format: .raw)
        #expect(raw.disk.size == raw.info.fileSize)
        #expect(try ImageReader.open(path: vhd).disk.size == raw.info.fileSize - 512)
        #expect(throws: DiskImageError.malformedImage(path: source, offset: 0, reason: "no qcow2 magic \"QFI\\xfb\"")) {
            try ImageReader.open(path: source, format: .qcow2)
        }
    }

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img (Debian qemu-utils)"))
    func chainsAreRefusedByName() throws {
        let qemu = try #require(which("qemu-img"))
        let folder = try TemporaryFolder()
        for (format, base, overlay) in [("qcow2", "base.qcow2", "overlay.qcow2"), ("vmdk", "base.vmdk", "delta.vmdk")] {
            try #require(try runProcess(qemu, ["create", "-f", format, folder.file(base), "8M"]).status == 0)
            let made = try runProcess(qemu, ["create", "-f", format, "-b", base, "-F", format, folder.file(overlay)])
            try #require(made.status == 0, "\(made.standardError)")
            do {
                _ = try ImageReader.open(path: folder.file(overlay))
                Issue.record("\(overlay) opened")
            } catch {
                #expect("\(error)".contains("\"\(base)\""), "\(error)")
                #expect("\(error)".contains("standalone images only"), "\(error)")
            }
        }
    }
}
