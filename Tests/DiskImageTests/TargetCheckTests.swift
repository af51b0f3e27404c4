import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// `TargetCheck` as a library: what an export for a target writes keeps every rule of that
/// target, and the OVA descriptor's parts are read as written.
@Suite("target check")
struct TargetCheckTests {
    @Test(arguments: [ExportTarget.vsphere(.default), .virtualbox, .aws, .hyperv])
    func anExportForATargetKeepsItsRules(target: ExportTarget) throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 32 << 20, boot: .biosMBR)
        var options = fixedOptions(target.defaultFormat)
        options.target = target
        let output = folder.file("out.\(target.defaultFormat.rawValue)")
        try Exporter.export(source: disk, to: .file(output), options: options)
        let report = try TargetCheck.check(path: output, target: target)
        #expect(report.accepted, "\(report.rules.filter { !$0.kept })")
        #expect(report.guest?.firmware == .bios && report.firmware == .bios)
        #expect(report.rules.contains { $0.name.hasPrefix("a format") && $0.kept })
    }

    @Test func theDescriptorsFirmwareAndReferencesAreRead() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 32 << 20, boot: .uefiOnly)
        let output = folder.file("plain.ova")
        // No target: the OVA still declares the firmware the disk boots with.
        try Exporter.export(source: disk, to: .file(output), options: fixedOptions(.ova))
        let package = try OVAPackage(path: output)
        #expect(package.declaredFirmware == .efi)
        let vmdk = try #require(package.members.first { $0.name == "plain.vmdk" })
        #expect(package.fileReferences.map(\.href) == ["plain.vmdk"])
        #expect(package.fileReferences.first?.size == String(vmdk.size))
        #expect(package.members.map(\.name) == ["plain.ovf", "plain.mf", "plain.vmdk"])
    }

    @Test func formatsMapToWhatExportWrites() {
        func info(_ format: SourceFormat, _ subformat: String) -> ImageInfo {
            ImageInfo(path: "x", format: format, subformat: subformat, virtualSize: 1, fileSize: 1, allocatedBytes: 1, details: [])
        }
        #expect(TargetCheck.outputFormat(info(.vmdk, "streamOptimized")) == .vmdk)
        #expect(TargetCheck.outputFormat(info(.vmdk, "monolithicSparse")) == nil)
        #expect(TargetCheck.outputFormat(info(.vhd, "fixed")) == .vhdFixed)
        #expect(TargetCheck.outputFormat(info(.vhd, "dynamic")) == .vhdDynamic)
        #expect(TargetCheck.outputFormat(info(.qcow2, "v3")) == .qcow2)
        #expect(TargetCheck.outputFormat(info(.ova, "vmdk streamOptimized")) == .ova)
        #expect(TargetCheck.outputFormat(info(.ova, "vhd fixed")) == nil)
    }
}
