import ArgumentParser
import Foundation
import TestSupport
import Testing

@testable import ImgshipCommands

/// Every list of formats comes from one table: `ova` is in each.
@Suite("format lists")
struct FormatListTests {
    @Test func helpTextsNameEveryOutputFormat() throws {
        let topText = InProcess.help()
        let exportText = InProcess.help(ExportCommand.self)
        for name in ["raw", "vhd-fixed", "vhd-dynamic", "vmdk", "vhdx", "ova", "qcow2 (KVM", "gce"] {
            #expect(exportText.contains(name), "export --help lacks \(name)")
        }
        // The overview line, top-level and in export --help.
        #expect(topText.contains("ova or gce) or block device"), "\(topText)")
        #expect(exportText.contains("ova (OVF package"), "\(exportText)")
        #expect(exportText.contains("qcow2 (KVM, OpenStack, Proxmox; --compress) or gce"), "\(exportText)")
    }

    /// export, info and verify --help name the formats read and those refused by name.
    @Test func helpTextsNameTheDetectedAndRefusedSourceFormats() throws {
        for command in [ExportCommand.self, InfoCommand.self, VerifyCommand.self] as [any ParsableCommand.Type] {
            let text = InProcess.help(command).replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ")
            #expect(text.contains("raw, vhd, vhdx, vmdk, qcow2, vdi, ova or gce"), "\(command): \(text)")
            #expect(
                text.contains("qcow (v1), QED, Parallels, Bochs, cloop, VMDK COWD, LUKS, DMG, gzip, xz, zstd, bzip2, lz4, zip, 7z or RAR"),
                "\(command): \(text)")
        }
    }

    @Test func aBadFormatListsOva() throws {
        let result = InProcess.parse(["export", "x.raw", "-f", "qed", "-o", "x.qed"])
        #expect(result.status == 64)
        #expect(result.standardError.contains("ova"), "\(result.standardError)")
    }
}

/// `imgship plan --help` names the group and shows the flags of `imgship plan CONFIG`, the
/// form users type; `imgship --help` carries the exit table.
@Suite("group help")
struct GroupHelpTests {
    @Test func planHelpShowsThePlanFlags() throws {
        for arguments in [["plan", "--help"], ["plan", "-h"], ["help", "plan"]] {
            #expect(PlanCommand.asksForGroupHelp(arguments))
        }
        #expect(!PlanCommand.asksForGroupHelp(["plan", "x.json", "--help"]))
        // Through the binary, as a user types it.
        let printed = try runProcess(ExportCommandTests.binary, ["plan", "--help"])
        #expect(printed.status == 0)
        #expect(String(decoding: printed.standardOutput, as: UTF8.self).contains("--source-region"))
        let text = PlanCommand.groupHelp(columns: 80)
        for flag in ["diff", "--source-region", "--format", "--emit-job", "--pipeline", "--strict"] {
            #expect(text.contains(flag), "plan --help lacks \(flag)")
        }
    }

    @Test func rootHelpShowsTheExitTable() throws {
        let text = InProcess.help()
        for line in ["0  success", "1  the work failed", "2  the input was refused", "64  usage", "130  interrupted"] {
            #expect(text.contains(line), "imgship --help lacks \(line)")
        }
    }
}
