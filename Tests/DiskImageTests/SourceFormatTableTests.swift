import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// The two format tables cover every format once, and detection follows the source table.
@Suite("Format tables")
struct SourceFormatTableTests {
    @Test func everyFormatHasOneEntry() {
        #expect(SourceFormat.allCases.map { format in SourceFormatEntry.all.filter { $0.format == format }.count } == SourceFormat.allCases.map { _ in 1 })
        #expect(OutputFormat.allCases.map { format in ImageFormat.all.filter { $0.format == format }.count } == OutputFormat.allCases.map { _ in 1 })
        // Every output format is read back by a source format of the table.
        for entry in ImageFormat.all { #expect(SourceFormatEntry.all.contains { $0.format == entry.verifiedAs }) }
    }

    /// Each format's first sector is recognised as that format by the table, and only by it.
    @Test(arguments: [OutputFormat.vmdk, .vhdDynamic, .vhdx, .ova, .gce])
    func firstSectorsAreRecognisedByTheirEntry(format: OutputFormat) throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        FileManager.default.createFile(atPath: source, contents: Data(repeating: 7, count: 1 << 20))
        let output = folder.file("out")
        _ = try Exporter.export(source: source, to: .file(output), options: ExportOptions(format: format))
        let head = Array(try Data(contentsOf: URL(fileURLWithPath: output)).prefix(512))
        let recognisers = SourceFormatEntry.all.filter { $0.recognises(head) }.map(\.format)
        #expect(recognisers == [ImageFormat.entry(format).verifiedAs])
        #expect(try ImageReader.detect(path: output) == ImageFormat.entry(format).verifiedAs)
    }
}
