import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// The target table and the source table as one-row-a-platform, one-row-a-format: every name a
/// row gives is read back to it, and an OVA's disk member opens by what the source table knows.
struct TargetPlatformTableTests {
    /// Every name, alias and release of every row parses (in any case) to that row, and what
    /// it prints parses back to the same target.
    @Test func everyNameOfEveryRowParsesToIt() throws {
        for platform in TargetPlatform.all {
            for name in [platform.name] + platform.aliases {
                let target = try ExportTarget(parsing: name.uppercased())
                #expect(target.platform.name == platform.name)
                #expect(try ExportTarget(parsing: target.description) == target)
            }
            for release in platform.releases {
                let target = try ExportTarget(parsing: "\(platform.name):\(release.version)")
                #expect(target.release == release && target.description == "\(platform.name):\(release.version)")
            }
        }
        #expect(ExportTarget.names == ["aws", "azure", "vsphere[:VERSION]", "virtualbox", "hyperv", "openstack", "kvm", "proxmox", "oci", "gcp"])
    }

    /// `check` lists rules by name with their source: no two of a target share a name, none
    /// lacks a source.
    @Test func everyRuleOfATargetHasASourceAndItsOwnName() {
        for platform in TargetPlatform.all {
            let rules = ExportTarget(platform).rules
            #expect(Set(rules.map(\.name)).count == rules.count, "\(platform.name)")
            #expect(rules.allSatisfy { !$0.source.isEmpty }, "\(platform.name)")
        }
    }

    static let toolsPresent = ["tar", "qemu-img"].allSatisfy { which($0) != nil }

    func run(_ tool: String, _ arguments: [String], in folder: String) throws {
        let result = try runProcess(try #require(which("env")), ["-C", folder, tool] + arguments)
        #expect(result.status == 0, "\(tool) \(arguments.joined(separator: " ")): \(result.standardError)")
    }

    /// An OVA (made by GNU tar) whose disk member is a qcow2 (made by qemu-img) opens through
    /// the source table with qemu-img's virtual size; one whose member is itself an OVA is
    /// refused naming the member.
    @Test(.enabled(if: toolsPresent, "needs tar and qemu-img"))
    func anOVAMemberOpensThroughTheSourceTable() throws {
        let folder = try TemporaryFolder()
        try run("qemu-img", ["create", "-q", "-f", "qcow2", "disk.qcow2", "3M"], in: folder.path)
        try Data("<Envelope/>".utf8).write(to: URL(fileURLWithPath: folder.file("disk.ovf")))
        try run("tar", ["--format=ustar", "-cf", "inner.ova", "disk.ovf", "disk.qcow2"], in: folder.path)
        let opened = try ImageReader.open(path: folder.file("inner.ova"))
        #expect(opened.info.virtualSize == 3 << 20)

        try run("mv", ["inner.ova", "inner.raw"], in: folder.path)
        try run("tar", ["--format=ustar", "-cf", "outer.ova", "disk.ovf", "inner.raw"], in: folder.path)
        #expect {
            _ = try ImageReader.open(path: folder.file("outer.ova"))
        } throws: { error in
            "\(error)".contains("inner.raw") && "\(error)".contains("is an OVA inside an OVA")
        }
    }
}
