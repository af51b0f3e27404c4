import Foundation
import TestSupport
import Testing

/// `export --target openstack|kvm|proxmox|oci` and the qcow2 flags: a qcow2 qemu-img checks
/// clean and finds identical, the import commands printed for the firmware read from the disk
/// (read back into words by bash, the shell they are printed for), and one known-bad input per
/// rule refused or warned of with its source.
@Suite("export --target openstack, kvm, proxmox, oci")
struct KVMTargetCommandTests {
    static let binary = ExportCommandTests.binary
    static let qemuImg = which("qemu-img")

    func export(_ arguments: [String]) throws -> ProcessResult {
        try runProcess(Self.binary, ["export"] + arguments + ["--no-progress"])
    }

    func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    /// The printed command lines (after "to import it"), in order.
    func commandLines(_ output: String) -> [String] {
        output.split(separator: "\n").filter { $0.hasPrefix("    ") }.map { String($0.dropFirst(4)) }
    }

    /// The words bash reads from `line`.
    func bashWords(_ line: String) throws -> [String] {
        let bash = try #require(which("bash"))
        let result = try runProcess(bash, ["-c", "printf '%s\\0' " + line])
        #expect(result.status == 0, "\(result.standardError)")
        return text(result.standardOutput).split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    @Test(.enabled(if: qemuImg != nil, "needs qemu-img"))
    func uefiDiskGetsQCOW2AndTheCommandsOfEachPlatform() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 64 << 20, boot: .uefiOnly)
        // A name with a space and a quote: every printed word is quoted.
        let output = folder.file("web 'a'.qcow2")
        var printed: [String: [[String]]] = [:]
        for target in ["openstack", "kvm", "libvirt", "proxmox", "oci"] {
            let result = try export([disk, "--target", target, "-o", output, "--force"])
            #expect(result.status == 0, "\(target): \(result.standardError)")
            let report = text(result.standardOutput)
            #expect(report.contains("target \(target == "libvirt" ? "kvm" : target): qcow2, firmware efi (read from the disk: only UEFI boots it"), "\(report)")
            #expect(report.contains("to import it (imgship prints these commands and never runs them):"))
            printed[target] = try commandLines(report).map(bashWords)
            let check = try runProcess(Self.qemuImg!, ["check", "-f", "qcow2", output])
            #expect(check.status == 0, "\(text(check.standardOutput)) \(check.standardError)")
            let compare = try runProcess(Self.qemuImg!, ["compare", "-f", "raw", "-F", "qcow2", disk, output])
            #expect(compare.status == 0, "\(text(compare.standardOutput))")
        }
        #expect(
            printed["openstack"] == [
                [
                    "openstack", "image", "create", "--disk-format", "qcow2", "--container-format", "bare", "--file", output,
                    "--property", "hw_firmware_type=uefi", "--property", "hw_machine_type=q35", "web 'a'",
                ]
            ])
        let virtInstall = [
            "virt-install", "--import", "--name", "web 'a'", "--memory", "2048", "--vcpus", "2", "--disk", "path=\(output),format=qcow2,bus=virtio",
            "--os-variant", "generic", "--network", "default", "--boot", "uefi", "--noautoconsole",
        ]
        #expect(printed["kvm"] == [virtInstall] && printed["libvirt"] == [virtInstall])
        #expect(
            printed["proxmox"] == [
                ["qm", "importdisk", "100", output, "local-lvm"],
                ["qm", "set", "100", "--scsihw", "virtio-scsi-pci", "--scsi0", "local-lvm:vm-100-disk-0", "--boot", "order=scsi0"],
                ["qm", "set", "100", "--bios", "ovmf", "--machine", "q35", "--efidisk0", "local-lvm:1,efitype=4m,pre-enrolled-keys=0"],
            ])
        #expect(
            printed["oci"] == [
                ["oci", "os", "object", "put", "--bucket-name", "my-bucket", "--file", output, "--name", "web 'a'.qcow2"],
                [
                    "oci", "compute", "image", "import", "from-object", "--bucket-name", "my-bucket", "--compartment-id",
                    "ocid1.compartment.oc1..exampleuniqueID", "--namespace", "my-namespace", "--name", "web 'a'.qcow2", "--display-name", "web 'a'",
                    "--source-image-type", "QCOW2", "--launch-mode", "PARAVIRTUALIZED",
                ],
            ])
        // --json carries the same lines.
        let json = try export([disk, "--target", "oci", "-o", output, "--force", "--json"])
        let document = try #require(try JSONSerialization.jsonObject(with: json.standardOutput) as? [String: Any])
        let lines = try #require((document["target"] as? [String: Any])?["importCommands"] as? [String])
        #expect(try lines.map(bashWords) == printed["oci"])
    }

    @Test func biosDiskGetsTheBIOSForms() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 64 << 20, boot: .biosMBR)
        let openstack = text(try export([disk, "--target", "openstack", "-o", folder.file("o.qcow2")]).standardOutput)
        #expect(openstack.contains("--property hw_firmware_type=bios o\n"), "\(openstack)")
        #expect(!openstack.contains("q35"))
        let kvm = text(try export([disk, "--target", "kvm", "-o", folder.file("k.qcow2")]).standardOutput)
        #expect(kvm.contains("--boot hd --noautoconsole"), "\(kvm)")
        let proxmox = text(try export([disk, "--target", "proxmox", "-o", folder.file("p.qcow2")]).standardOutput)
        #expect(commandLines(proxmox).count == 2 && !proxmox.contains("ovmf"), "\(proxmox)")
        let oci = text(try export([disk, "--target", "oci", "-f", "vmdk", "-o", folder.file("c.vmdk")]).standardOutput)
        #expect(oci.contains("--source-image-type VMDK --launch-mode PARAVIRTUALIZED"), "\(oci)")
        #expect(oci.contains("(firmware BIOS: set the image's Compute.Firmware capability to BIOS after the import"), "\(oci)")
    }

    @Test func eachRuleRefusesOrWarnsWithItsSource() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 64 << 20, boot: .biosMBR)
        for (target, source) in [
            ("kvm", "libvirt.org/formatstorage.html"), ("proxmox", "pve.proxmox.com/pve-docs/qm.1.html"), ("openstack", "glance/latest/user/formats.html"),
        ] {
            let vmdk = try export([disk, "--target", target, "-f", "vmdk", "-o", folder.file("disk.vmdk")])
            #expect(vmdk.status == 2)
            #expect(vmdk.standardError.contains("imports only qcow2, not vmdk (https://"), "\(vmdk.standardError)")
            #expect(vmdk.standardError.contains(source), "\(vmdk.standardError)")
        }
        let vhd = try export([disk, "--target", "oci", "-f", "vhd", "-o", folder.file("disk.vhd")])
        #expect(vhd.standardError.contains("--target oci: Oracle Cloud imports qcow2 or vmdk, not vhd-dynamic"), "\(vhd.standardError)")

        let large = folder.file("large.raw")
        try GuestDisk.write(large, size: 401 << 30, boot: .biosMBR)
        let refused = try export([large, "--target", "oci", "-o", folder.file("large.qcow2")])
        #expect(refused.status == 2)
        #expect(
            refused.standardError.contains("Oracle Cloud imports images of at most 400 GB (429496729600 bytes); this disk is 430570471424 bytes"),
            "\(refused.standardError)")
        #expect(refused.standardError.contains("id=byoi-intro"))

        let huge = folder.file("huge.raw")
        try GuestDisk.write(huge, size: 1 << 40 + 1 << 20, boot: .biosMBR)
        let warned = try export([huge, "--target", "openstack", "-o", folder.file("huge.qcow2"), "--no-manifest"])
        #expect(warned.status == 0, "\(warned.standardError)")
        #expect(warned.standardError.contains("Glance refuses uploads over its image_size_cap, 1 TiB by default"), "\(warned.standardError)")
        #expect(warned.standardError.contains("glance_api.html"))
        #expect(!folder.names().contains("disk.vmdk") && !folder.names().contains("large.qcow2"))
    }

    /// `check --target` runs the same rows against images made elsewhere: qemu-img's qcow2 is
    /// what OpenStack takes, a VHD is not what KVM takes.
    @Test(.enabled(if: qemuImg != nil, "needs qemu-img"))
    func checkRunsTheRowsAgainstImagesMadeElsewhere() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 32 << 20, boot: .uefiOnly)
        let qcow2 = folder.file("qemu.qcow2")
        #expect(try runProcess(Self.qemuImg!, ["convert", "-f", "raw", "-O", "qcow2", "-c", disk, qcow2]).status == 0)
        let accepted = try runProcess(Self.binary, ["check", qcow2, "--target", "openstack"])
        #expect(accepted.status == 0, "\(text(accepted.standardOutput)) \(accepted.standardError)")
        #expect(text(accepted.standardOutput).contains("ok   a format OpenStack imports"))
        let vhd = folder.file("disk.vhd")
        _ = try export([disk, "-f", "vhd-fixed", "-o", vhd])
        let refused = try runProcess(Self.binary, ["check", vhd, "--target", "kvm"])
        #expect(refused.status == 1)
        #expect(text(refused.standardOutput).contains("KVM (libvirt) imports qcow2"), "\(text(refused.standardOutput))")
        #expect(text(refused.standardOutput).contains("libvirt.org/formatstorage.html"))
    }

    @Test func qcow2FlagsAreCheckedAndWarned() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 16 << 20, boot: .biosMBR)
        let zstdOld = try export([disk, "-f", "qcow2", "--qcow2-compression", "zstd", "--qcow2-compat", "0.10", "-o", folder.file("a.qcow2")])
        #expect(zstdOld.status == 64, "a usage error")
        #expect(zstdOld.standardError.contains("the zstd compression type needs a version 3 image"), "\(zstdOld.standardError)")
        let vmdk = try export([disk, "-f", "vmdk", "--compress", "-o", folder.file("b.vmdk")])
        #expect(vmdk.status == 0)
        #expect(vmdk.standardError.contains("--compress applies to qcow2 outputs; vmdk is not one; ignored"), "\(vmdk.standardError)")
        let level = try export([disk, "-f", "qcow2", "--level", "best", "-o", folder.file("c.qcow2")])
        #expect(
            level.standardError.contains("--level 12 does not apply to qcow2, which is not compressed (give --compress to compress it)"),
            "\(level.standardError)")
        let bad = try export([disk, "-f", "qcow2", "--qcow2-compression", "lz4", "-o", folder.file("d.qcow2")])
        #expect(bad.status == 64, "a usage error")
        #expect(folder.names() == ["b.vmdk", "b.vmdk.sha256", "c.qcow2", "c.qcow2.sha256", "disk.raw"])
    }
}
