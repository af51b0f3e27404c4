import Foundation
import TestSupport
import Testing

/// `imgship check IMAGE --target T`: imgship's own output for each target is
/// accepted (exit 0); one known-bad image per rule is refused (exit 1) naming the rule and its
/// source; an unreadable image exits 2. Bad images come from qemu-img (another writer), tar
/// (another member order) or bytes edited in place.
@Suite("imgship check")
struct CheckCommandTests {
    static let binary = ExportCommandTests.binary
    static let qemuImg = which("qemu-img")

    func check(_ image: String, _ target: String, json: Bool = false) throws -> ProcessResult {
        try runProcess(Self.binary, ["check", image, "--target", target] + (json ? ["--json"] : []))
    }

    func export(_ arguments: [String]) throws {
        let result = try runProcess(Self.binary, ["export"] + arguments + ["--no-progress"])
        try #require(result.status == 0, "\(arguments): \(result.standardError)")
    }

    func document(_ result: ProcessResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any], "\(result.standardError)")
    }

    /// The rules `--json` reports broken, by name.
    func broken(_ result: ProcessResult) throws -> [String: String] {
        let rules = try #require(try document(result)["rules"] as? [[String: Any]])
        var broken: [String: String] = [:]
        for rule in rules where rule["kept"] as? Bool == false && rule["effect"] as? String == "refuse" {
            broken[rule["name"] as? String ?? ""] = rule["source"] as? String
        }
        return broken
    }

    /// Replaces `old` with `new` (the same length) in the file at `path`, in place.
    func edit(_ path: String, _ old: String, _ new: String) throws {
        precondition(old.utf8.count == new.utf8.count)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let range = try #require(bytes.range(of: Data(old.utf8)), "\(old) not in \(path)")
        bytes.replaceSubrange(range, with: Data(new.utf8))
        try bytes.write(to: URL(fileURLWithPath: path))
    }

    @Test(arguments: [
        ("aws", "vmdk"), ("aws", "ova"), ("azure", "vhd"), ("vsphere", "ova"), ("vsphere:6.0", "ova"), ("vsphere:8.0", "vmdk"),
        ("virtualbox", "ova"), ("hyperv", "vhdx"),
    ])
    func importsOwnTargetOutputs(target: String, suffix: String) throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 30 << 20 + 1234, boot: .uefiOnly)
        let output = folder.file("out.\(suffix)")
        try export([disk, "--target", target, "-o", output] + (suffix == "ova" && target == "aws" ? ["-f", "ova"] : []))
        let result = try check(output, target, json: true)
        #expect(result.status == 0, "\(result.standardError)")
        let json = try document(result)
        #expect(json["accepted"] as? Bool == true)
        #expect(json["firmware"] as? String == "efi")
        #expect(json["targetFirmware"] as? String == "efi")
        #expect(try broken(result).isEmpty)
        let text = try check(output, target)
        #expect(String(decoding: text.standardOutput, as: UTF8.self).hasSuffix("accepted by \(target == "vsphere" ? "vsphere:6.5" : target)\n"))
        // check wrote nothing.
        #expect(folder.names() == ["disk.raw", "out.\(suffix)", "out.\(suffix).sha256"])
    }

    /// A rule that does not apply to the image (the MBR rules on a GPT disk) is `n/a` with why,
    /// in the text and in `--json`, never `ok`; on an MBR disk the same rule is checked.
    @Test func rulesThatDoNotApplyAreNotApplicable() throws {
        let folder = try TemporaryFolder()
        let gpt = folder.file("gpt.raw")
        try GuestDisk.write(gpt, size: 30 << 20, boot: .uefiOnly)
        let text = String(decoding: try check(gpt, "aws").standardOutput, as: UTF8.self)
        #expect(text.contains("\nn/a  MBR disk at most 2 TiB: the disk has a GPT, not an MBR\n"), "\(text)")
        #expect(!text.contains("ok   MBR disk at most 2 TiB"))
        let rules = try #require(try document(try check(gpt, "aws", json: true))["rules"] as? [[String: Any]])
        let mbrRule = try #require(rules.first { $0["name"] as? String == "MBR disk at most 2 TiB" })
        #expect(mbrRule["applies"] as? Bool == false)
        #expect(mbrRule["notApplicable"] as? String == "the disk has a GPT, not an MBR")
        #expect(mbrRule["kept"] as? Bool == true)
        let ebsRule = try #require(rules.first { $0["name"] as? String == "disk under 16 TiB" })
        #expect(ebsRule["applies"] as? Bool == true)
        #expect(ebsRule["notApplicable"] is NSNull)

        let mbr = folder.file("mbr.raw")
        try GuestDisk.write(mbr, size: 30 << 20, boot: .biosMBR)
        let mbrText = String(decoding: try check(mbr, "aws").standardOutput, as: UTF8.self)
        #expect(mbrText.contains("\nok   MBR disk at most 2 TiB\n"), "\(mbrText)")
        #expect(!mbrText.contains("n/a  MBR"))
    }

    /// Each rule broken by one image; the text names the rule and its source, the exit is 1.
    @Test(.enabled(if: qemuImg != nil, "needs qemu-img"))
    func oneKnownBadImagePerRuleIsRefused() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 30 << 20 + 1024, boot: .uefiOnly)
        var cases: [(image: String, target: String, rule: String, source: String)] = []

        // Format: qcow2 is not AWS's; a monolithicSparse VMDK is not stream-optimized.
        let qcow2 = folder.file("disk.qcow2")
        #expect(try runProcess(Self.qemuImg!, ["convert", "-f", "raw", "-O", "qcow2", disk, qcow2]).status == 0)
        cases.append((qcow2, "aws", "a format AWS VM Import imports", "prerequisites.html"))
        let sparse = folder.file("sparse.vmdk")
        #expect(try runProcess(Self.qemuImg!, ["convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicSparse", disk, sparse]).status == 0)
        cases.append((sparse, "aws", "a format AWS VM Import imports", "prerequisites.html"))
        let dynamic = folder.file("dynamic.vhd")
        try export([disk, "-f", "vhd-dynamic", "-o", dynamic])
        cases.append((dynamic, "azure", "a format Azure imports", "create-upload-generic"))

        // Azure sizes: a whole MiB, at least 20 MiB.
        let partMiB = folder.file("part.vhd")
        try export([disk, "-f", "vhd-fixed", "-o", partMiB])
        cases.append((partMiB, "azure", "virtual size a whole MiB", "create-upload-generic"))
        let small = folder.file("small.raw")
        try GuestDisk.write(small, size: 10 << 20, boot: .uefiOnly)
        let smallVHD = folder.file("small.vhd")
        try export([small, "-f", "vhd-fixed", "-o", smallVHD])
        cases.append((smallVHD, "azure", "at least 20 MiB", "uploadsizebytes"))

        // OVA member order: the same members, the disk first (GNU tar, USTAR).
        let good = folder.file("good.ova")
        try export([disk, "--target", "vsphere", "-o", good])
        let members = folder.file("members")
        try FileManager.default.createDirectory(atPath: members, withIntermediateDirectories: false)
        #expect(try runProcess("/bin/tar", ["-xf", good, "-C", members]).status == 0)
        let reordered = folder.file("reordered.ova")
        #expect(try runProcess("/bin/tar", ["--format=ustar", "-cf", reordered, "-C", members, "good.vmdk", "good.ovf", "good.mf"]).status == 0)
        cases.append((reordered, "vsphere", "the .ovf is the first member", "section 5.3"))

        // ovf:size, ovf:capacity and a manifest digest, edited in place (same lengths).
        let vmdkSize = try #require(try FileManager.default.attributesOfItem(atPath: members + "/good.vmdk")[.size] as? Int)
        let wrongSize = folder.file("size.ova")
        try FileManager.default.copyItem(atPath: good, toPath: wrongSize)
        try edit(wrongSize, "ovf:size=\"\(vmdkSize)\"", "ovf:size=\"\(String(repeating: "9", count: String(vmdkSize).count))\"")
        cases.append((wrongSize, "vsphere", "ovf:size of good.vmdk", "section 7.1"))
        let wrongDigest = folder.file("digest.ova")
        try FileManager.default.copyItem(atPath: good, toPath: wrongDigest)
        let manifest = try String(contentsOfFile: members + "/good.mf", encoding: .utf8)
        let diskLine = try #require(manifest.split(separator: "\n").first { $0.contains("good.vmdk") })
        let digest = String(diskLine.suffix(64))
        try edit(wrongDigest, digest, String(digest.reversed()))
        cases.append((wrongDigest, "vsphere", "good.vmdk digest", "section 5.1"))

        // A SHA-256 manifest for vSphere 6.0, which checks SHA-1 only.
        cases.append((good, "vsphere:6.0", "manifest digest vSphere 6.0 checks", "KB 2151537"))

        // Firmware: an OVF declaring a BIOS for a disk only UEFI boots.
        let biosOVF = folder.file("bios.ova")
        try export([disk, "--target", "vsphere", "--firmware", "bios", "-o", biosOVF])
        cases.append((biosOVF, "vsphere", "the OVF's firmware boots the disk", "open-vmdk"))

        // A VHD's footer checksum: a creator byte changed, the checksum not (qemu-img refuses
        // the file: "Incorrect header checksum").
        let fixed = folder.file("fixed.vhd")
        try export([disk, "-f", "vhd-fixed", "-o", folder.file("fixed-good.vhd")])
        var fixedBytes = try Data(contentsOf: URL(fileURLWithPath: folder.file("fixed-good.vhd")))
        fixedBytes[fixedBytes.count - 512 + 28] ^= 0x20  // creator application, offset 28 of the footer
        try fixedBytes.write(to: URL(fileURLWithPath: fixed))
        cases.append((fixed, "aws", "the format's own checksums and copies hold", "imgship verify"))

        // Partition table limits: an MBR disk over 2 TiB, for EBS.
        let large = folder.file("large.raw")
        try GuestDisk.write(large, size: 3 << 40, boot: .biosMBR)
        cases.append((large, "aws", "MBR disk at most 2 TiB", "volume_constraints.html#partitioning"))

        for (image, target, rule, source) in cases {
            let json = try check(image, target, json: true)
            #expect(json.status == 1, "\(image) \(target): \(json.standardError)")
            let broken = try broken(json)
            #expect(broken[rule]?.contains(source) == true, "\(image) \(target): \(broken)")
            let text = try check(image, target)
            let output = String(decoding: text.standardOutput, as: UTF8.self)
            #expect(text.status == 1)
            #expect(output.contains("\nFAIL \(rule): "), "\(output)")
            #expect(output.hasSuffix("refused by \(target == "vsphere" ? "vsphere:6.5" : target)\n"), "\(output)")
            #expect(text.standardError.contains("rule(s) of --target"), "\(text.standardError)")
        }
        // The format rule explains only the names the target takes: Azure's is vhd-fixed alone.
        let azure = String(decoding: try check(dynamic, "azure").standardOutput, as: UTF8.self)
        #expect(azure.contains("FAIL a format Azure imports: Azure imports vhd-fixed; this image is vhd dynamic"), "\(azure)")
        let aws = String(decoding: try check(qcow2, "aws").standardOutput, as: UTF8.self)
        #expect(aws.contains("(vmdk: stream-optimized; ova: one stream-optimized VMDK); this image is qcow2"), "\(aws)")
        if let qemu = Self.qemuImg {
            #expect(try runProcess(qemu, ["info", "-f", "vpc", fixed]).status != 0, "qemu-img refuses the VHD too")
        }
        // info and export read it, and say it is damaged.
        let info = try runProcess(ExportCommandTests.binary, ["info", fixed])
        #expect(String(decoding: info.standardOutput, as: UTF8.self).contains("\nfailed checks:     footer checksum (imgship verify lists every check)\n"))
        let infoJSON = try #require(
            try JSONSerialization.jsonObject(with: try runProcess(ExportCommandTests.binary, ["info", fixed, "--json"]).standardOutput) as? [String: Any])
        #expect(infoJSON["failedChecks"] as? [String] == ["footer checksum"])
        let exported = try runProcess(ExportCommandTests.binary, ["export", fixed, "-f", "raw", "-o", folder.file("fixed-out.raw"), "--no-progress"])
        #expect(exported.status == 0, "\(exported.standardError)")
        #expect(
            exported.standardError.contains("warning: the source fails its format's own checks (footer checksum): it is damaged or was edited without them"),
            "\(exported.standardError)")
        // Only the outputs made above: check writes nothing.
        #expect(!folder.names().contains { $0.hasPrefix(".") })
    }

    /// An image that cannot be read exits 2, a usage mistake 64.
    @Test func unreadableImagesExit2() throws {
        let folder = try TemporaryFolder()
        let damaged = folder.file("damaged.qcow2")
        var header = Data([0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3])  // qcow2 magic, version 3
        header.append(Data(repeating: 0xFF, count: 504))
        try header.write(to: URL(fileURLWithPath: damaged))
        for image in [damaged, folder.file("missing.raw")] {
            let result = try check(image, "aws")
            #expect(result.status == 2, "\(result.standardError)")
            #expect(result.standardError.hasPrefix("imgship: error: "), "\(result.standardError)")
        }
        let usage = try check(damaged, "ibmcloud")
        #expect(usage.status == 64)
    }
}
