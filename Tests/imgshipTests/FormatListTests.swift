import ArgumentParser
import Foundation
@testable import ImgshipCommands
import Testing

/// Every list of formats comes from one table: `ova` is in each.
@Suite("format lists")
struct FormatListTests {
    @Test func helpTextsNameEveryOutputFormat() throws {
        let topText = InProcess.help()
        let exportText = InProcess.help(ExportCommand.self)
        for name in ["raw", "vhd-fixed", "vhd-dynamic", "vmdk", "vhdx", "ova"] {
            #expect(exportText.contains(name), "export --help lacks \(name)")
        }
        // The overview line, top-level and in export --help.
        #expect(topText.contains("qcow2, vdi or"), "\(topText)")
        #expect(exportText.contains("or ova (OVF package"), "\(exportText)")
    }

    /// export, info and verify --help name the formats read and those refused by name.
    @Test func helpTextsNameTheDetectedAndRefusedSourceFormats() throws {
        for command in [ExportCommand.self, InfoCommand.self, VerifyCommand.self] as [any ParsableCommand.Type] {
            let text = InProcess.help(command).replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ")
            #expect(text.contains("raw, vhd, vhdx, vmdk, qcow2, vdi or ova"), "\(command): \(text)")
            #expect(
                text.contains("qcow (v1), QED, Parallels, Bochs, cloop, VMDK COWD, LUKS, DMG, gzip, xz, zstd or bzip2"), "\(command): \(text)")
        }
    }

    @Test func aBadFormatListsOva() throws {
        let result = InProcess.parse(["export", "x.raw", "-f", "qcow2", "-o", "x.qcow2"])
        #expect(result.status == 64)
        #expect(result.standardError.contains("ova"), "\(result.standardError)")
    }
}
