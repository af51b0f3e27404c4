import DiskImage
import Foundation
import TestSupport
import Testing

/// Proof by booting: five disks that really boot (BootDisk), exported by imgship to
/// every output format, each output booted by qemu-system under the firmware imgship declared
/// for it (`--target aws --json`'s `target.firmware`, `--target kvm` for qcow2; an OVA's OVF `firmware` too) must print
/// the marker of that firmware. qemu's own format drivers read the outputs, so they are the
/// independent check that each output is a disk a machine boots.
@Suite("Boot suite", .enabled(if: BootDisk.isAvailable, Comment(rawValue: BootDisk.skipReason)))
struct BootSuiteTests {
    static let binary = ExportCommandTests.binary

    /// The firmware each layout boots with, raw, before any export: each boots with what it
    /// should, and a disk for one firmware does not boot with the other (hybrid boots with
    /// both). A boot that cannot start stops at its error line, or when sector 0's code hangs.
    @Test(arguments: BootDisk.Layout.allCases, BootDisk.Firmware.allCases)
    func layoutBootsWithItsFirmwareOnly(layout: BootDisk.Layout, firmware: BootDisk.Firmware) async throws {
        try await Self.expectBoots(try BootDisk.disk(layout), named: layout.description, under: firmware, if: layout.bootsWith.contains(firmware))
    }

    /// Boots the raw `disk` under `firmware`: it must print the marker when `boots`, and must
    /// not otherwise.
    static func expectBoots(_ disk: String, named name: String, under firmware: BootDisk.Firmware, if boots: Bool) async throws {
        if boots {
            try await BootDisk.bootCheck(image: disk, driver: "raw", firmware: firmware, what: "the \(name) disk did not boot")
        } else {
            let result = try await BootDisk.boot(disk, driver: "raw", firmware: firmware, timeLimit: 60)
            if case .booted = result.outcome {
                Issue.record("the \(name) disk should not boot under \(firmware), but it \(result)")
            }
        }
    }

    /// imgship's judgement proven by booting: for disks whose firmware is easy to misjudge
    /// (a whole-disk FAT, a hybrid MBR on a GPT, an EFI system partition without the
    /// removable-media loader, mbr.bin without an active partition), `info`'s firmware names
    /// exactly the firmware that boots the raw disk, SeaBIOS and OVMF each tried.
    @Test(arguments: BootDisk.JudgedLayout.allCases)
    func infoNamesTheFirmwareThatBoots(layout: BootDisk.JudgedLayout) async throws {
        let disk = try BootDisk.disk(layout)
        let info = try runProcess(Self.binary, ["info", disk, "--json"])
        let document = try #require(try JSONSerialization.jsonObject(with: info.standardOutput) as? [String: Any], "\(info.standardError)")
        let expected =
            switch (layout.bootsWith.contains(.bios), layout.bootsWith.contains(.efi)) {
            case (true, true): "both"
            case (true, false): "bios"
            case (false, true): "efi"
            case (false, false): "none"
            }
        #expect(document["firmware"] as? String == expected, "\(document["firmwareEvidence"] ?? "")")
        for firmware in BootDisk.Firmware.allCases {
            try await Self.expectBoots(disk, named: layout.description, under: firmware, if: layout.bootsWith.contains(firmware))
        }
    }

    /// The qemu block driver that opens each output format. A format added to OutputFormat
    /// does not compile here until it gets its line: every format is booted.
    static func qemuDriver(_ format: OutputFormat) -> String {
        switch format {
        case .raw: "raw"
        case .vhdFixed, .vhdDynamic: "vpc"
        case .vmdk: "vmdk"
        case .vhdx: "vhdx"
        case .ova: "vmdk"  // the stream-optimized VMDK inside
        case .qcow2: "qcow2"
        case .gce: "raw"  // the disk.raw inside, unpacked with GNU tar
        }
    }

    /// The target each format is exported for: AWS takes all but qcow2, which KVM takes.
    static func target(_ format: OutputFormat) -> String {
        switch format {
        case .qcow2: "kvm"
        case .gce: "gcp"
        default: "aws"
        }
    }

    /// Exports waiting for a boot hold their output on disk: at most three at a time.
    static let cases = BootSlots(count: 3)

    /// Every layout in every format boots under the firmware imgship declared for it.
    @Test(arguments: BootDisk.Layout.allCases, OutputFormat.allCases)
    func outputBootsWithTheDeclaredFirmware(layout: BootDisk.Layout, format: OutputFormat) async throws {
        // IMGSHIP_BOOT_FORMATS=gce,vhdx boots those formats only: a shortcut for working on one
        // format; tools/test and CI set none, so every format boots there.
        if let only = ProcessInfo.processInfo.environment["IMGSHIP_BOOT_FORMATS"], !only.split(separator: ",").contains(Substring(format.rawValue)) {
            return
        }
        try await Self.cases.withSlot { try await exportAndBoot(layout: layout, format: format) }
    }

    /// qcow2 with compressed clusters too (zlib and zstd), for KVM: qemu inflates them as it
    /// boots.
    @Test(arguments: BootDisk.Layout.allCases, [["--compress"], ["--qcow2-compression", "zstd"]])
    func compressedQCOW2BootsWithTheDeclaredFirmware(layout: BootDisk.Layout, flags: [String]) async throws {
        try await Self.cases.withSlot { try await exportAndBoot(layout: layout, format: .qcow2, flags: flags) }
    }

    func exportAndBoot(layout: BootDisk.Layout, format: OutputFormat, flags: [String] = []) async throws {
        let folder = try TemporaryFolder()
        let output = folder.file("disk.\(format.rawValue)")
        let export = try runProcess(
            Self.binary,
            ["export", try BootDisk.disk(layout), "--target", Self.target(format), "-f", format.rawValue, "-o", output, "--json", "--no-progress"] + flags)
        try #require(export.status == 0, "\(export.standardError)")
        let summary = try #require(try JSONSerialization.jsonObject(with: export.standardOutput) as? [String: Any])
        let declaredName = try #require((summary["target"] as? [String: Any])?["firmware"] as? String)
        let declared = try #require(BootDisk.Firmware(rawValue: declaredName), "target.firmware \(declaredName.debugDescription)")

        let image: String =
            switch format {
            case .ova: try Self.ovaDisk(output, declared: declared, in: folder.file("ova"))
            case .gce: try Self.gceDisk(output, in: folder.file("gce"))
            default: output
            }
        try await BootDisk.bootCheck(
            image: image, driver: Self.qemuDriver(format), firmware: declared,
            what: "imgship declared \(declared.rawValue) for the \(layout) disk as \(format.rawValue), but it did not boot")
    }

    /// Unpacks a GCE image's disk.raw with GNU tar, as Google's importer reads the archive.
    static func gceDisk(_ archive: String, in folder: String) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let untar = try runProcess(try #require(which("tar")), ["-xzf", archive, "-C", folder])
        try #require(untar.status == 0, "\(untar.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["disk.raw"])
        return folder + "/disk.raw"
    }

    /// Unpacks an OVA with tar, and checks with xmllint that its OVF declares the same
    /// firmware (`vmw:Config vmw:key="firmware"`) as the JSON summary; returns its VMDK.
    static func ovaDisk(_ ova: String, declared: BootDisk.Firmware, in folder: String) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let untar = try runProcess(try #require(which("tar")), ["-xf", ova, "-C", folder])
        try #require(untar.status == 0, "\(untar.standardError)")
        let members = try FileManager.default.contentsOfDirectory(atPath: folder)
        let ovf = try #require(members.first { $0.hasSuffix(".ovf") }, "no .ovf in \(members)")
        let vmdk = try #require(members.first { $0.hasSuffix(".vmdk") }, "no .vmdk in \(members)")
        let query = #"string(//*[local-name()="Config"][@*[local-name()="key"]="firmware"]/@*[local-name()="value"])"#
        let xpath = try runProcess(try #require(which("xmllint")), ["--nonet", "--xpath", query, folder + "/" + ovf])
        let inOVF = String(decoding: xpath.standardOutput, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(inOVF == declared.rawValue, "the OVF declares firmware \(inOVF.debugDescription), the summary \(declared.rawValue)")
        return folder + "/" + vmdk
    }
}

/// Outside the boot suite, so they run when it is skipped: where tools/test (and so CI) runs
/// the tests, a missing boot tool fails the run instead of skipping the suite quietly; and the
/// serial port watcher reads real firmware output right.
@Suite("Boot suite requirements and watcher")
struct BootSuiteRequirementTests {
    @Test func bootToolsArePresentWhereTheSuiteIsRequired() {
        guard BootDisk.isRequired else { return }
        #expect(BootDisk.missing.isEmpty, "IMGSHIP_BOOT_SUITE=required, but missing: \(BootDisk.missing)")
    }

    /// Serial output as OVMF, SeaBIOS, syslinux and the kernel wrote it in this suite's boots.
    @Test func watcherReadsTheSerialPort() {
        let shell = BootDisk.cleaned(Data("\u{1B}[2J\u{1B}[01;01HUEFI Interactive Shell v2.2\r\n\u{1B}[10;01H\u{1B}[1m\u{1B}[33mShell> ".utf8))
        #expect(shell == "UEFI Interactive Shell v2.2\nShell> ")
        #expect(BootDisk.verdict(shell) == .failed("UEFI Interactive Shell: UEFI Interactive Shell v2.2"))
        let booted = "SYSLINUX 6.04 EDD 20210613\nIMGSHIP-BOOT firmware=efi\n[    2.26] reboot: Power down\n"
        #expect(BootDisk.verdict(booted) == .booted(.efi))
        // The kernel's "reboot:" is not syslinux's "boot:" prompt; a boot still going is undecided.
        #expect(BootDisk.verdict("[    2.26] reboot: Power down\n") == nil)
        #expect(BootDisk.verdict("SYSLINUX 6.04 EDD 20210613\nboot: ") == .failed("boot: "))
        #expect(BootDisk.verdict("Booting from Hard Disk...\nMissing operating system.\n") == .failed("Missing operating system: Missing operating system."))
        #expect(BootDisk.verdict("[    0.06] Kernel panic - not syncing: VFS\n") == .failed("Kernel panic: [    0.06] Kernel panic - not syncing: VFS"))
    }
}
