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
        #expect(topText.contains("qcow2 or ova"), "\(topText)")
        #expect(exportText.contains("or ova (OVF package"), "\(exportText)")
    }

    @Test func aBadFormatListsOva() throws {
        let result = InProcess.parse(["export", "x.raw", "-f", "qcow2", "-o", "x.qcow2"])
        #expect(result.status == 64)
        #expect(result.standardError.contains("ova"), "\(result.standardError)")
    }
}
