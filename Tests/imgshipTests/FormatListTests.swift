import Foundation
import Testing
import TestSupport

/// Every list of formats comes from one table: `ova` is in each.
@Suite("format lists")
struct FormatListTests {
    @Test func helpTextsNameEveryOutputFormat() throws {
        let top = try runProcess(ExportCommandTests.binary, ["--help"])
        let export = try runProcess(ExportCommandTests.binary, ["export", "--help"])
        let topText = String(decoding: top.standardOutput, as: UTF8.self)
        let exportText = String(decoding: export.standardOutput, as: UTF8.self)
        for name in ["raw", "vhd-fixed", "vhd-dynamic", "vmdk", "ova"] {
            #expect(exportText.contains(name), "export --help lacks \(name)")
        }
        // The overview line, top-level and in export --help.
        #expect(topText.contains("qcow2 or ova"), "\(topText)")
        #expect(exportText.contains("or ova (OVF package"), "\(exportText)")
    }

    @Test func aBadFormatListsOva() throws {
        let result = try runProcess(ExportCommandTests.binary, ["export", "x.raw", "-f", "qcow2", "-o", "x.qcow2"])
        #expect(result.status == 64)
        #expect(result.standardError.contains("ova"), "\(result.standardError)")
    }
}
