import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// Detection refuses what it recognises but cannot read, by name, instead of exporting a
/// container's bytes as if they were the disk; `--source-format raw` still exports them as
/// they are. The samples are made by the tools that write each format (qemu-img, gzip, xz,
/// zstd, bzip2), and `qemu-img info` confirms the format of those qemu-img makes.
@Suite("Detection of formats imgship does not read")
struct DetectionTests {
    @Test(arguments: ForeignSample.allCases)
    func aForeignFileIsRefusedByNameAndExportsAsRawWhenAsked(sample: ForeignSample) throws {
        try #require(sample.isAvailable, "needs \(sample.tools.joined(separator: ", "))")
        let folder = try TemporaryFolder()
        let path = try sample.make(in: folder)
        if let qemuFormat = sample.qemuFormat, let qemu = which("qemu-img") {
            let info = try runProcess(qemu, ["info", "--output=json", path])
            let json = try JSONSerialization.jsonObject(with: info.standardOutput) as? [String: Any]
            #expect(json?["format"] as? String == qemuFormat, "the independent reader agrees: \(info.standardError)")
        }
        do {
            let format = try ImageReader.detect(path: path)
            Issue.record("\(sample) detected as \(format)")
        } catch {
            #expect(error.description.hasPrefix("\(path): is \(sample.name), which imgship does not read; "), "\(error)")
            #expect(error.description.hasSuffix("or pass --source-format raw to export its bytes as they are"), "\(error)")
            if let qemuFormat = ForeignFormatEntry.all.first(where: { $0.name == sample.name }).flatMap({ entry -> String? in
                if case let .qemuImg(format) = entry.remedy { return format } else { return nil }
            }) {
                #expect(error.description.contains("`qemu-img convert -f \(qemuFormat) -O raw \(path) \(folder.path)/"), "\(error)")
            }
        }
        // info and verify refuse it alike.
        #expect(throws: DiskImageError.self) { try ImageReader.open(path: path) }
        #expect(throws: DiskImageError.self) { try ImageVerifier.verify(path: path, manifestCheck: .skipped) }

        let output = folder.file("out.raw")
        let summary = try Exporter.export(source: path, to: .file(output), options: ExportOptions(format: .raw, sourceFormat: .raw))
        #expect(summary.sourceFormat == "raw")
        expectSameBytes(try fileBytes(output), try fileBytes(path))
    }

    /// Every row of the table recognises its own sample, and no other row and no readable
    /// format's entry does.
    @Test func eachSampleIsRecognisedByItsRowOnly() throws {
        let folder = try TemporaryFolder()
        for sample in ForeignSample.allCases where sample.isAvailable {
            let bytes = try fileBytes(try sample.make(in: folder))
            let head = Array(bytes.prefix(512))
            let tail = Array(bytes.suffix(512))
            #expect(ForeignFormatEntry.all.filter { $0.recognises(head, tail) }.map(\.name) == [sample.name])
            #expect(SourceFormatEntry.all.filter { $0.recognises(head) }.isEmpty, "\(sample)")
        }
    }

    /// The suggested output never overwrites its input, and names are quoted for a shell.
    @Test func theSuggestedCommandIsSafeToPaste() {
        #expect(ForeignFormatEntry.rawName(for: "images/disk.qed") == "images/disk.raw")
        #expect(ForeignFormatEntry.rawName(for: "disk.raw") == "disk.converted.raw")
        #expect(ForeignFormatEntry.rawName(for: "dir.v2/disk") == "dir.v2/disk.raw")
        #expect(shellWord("my disk's.qed") == "'my disk'\\''s.qed'")
        #expect(shellWord("plain/disk-1.qed") == "plain/disk-1.qed")
    }

    /// A raw disk is still raw: nothing in its first or last sector matches.
    @Test func aRawDiskIsStillRaw() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("disk.img")
        let image = try ImageBuilder(path: path, size: 4 << 20)
        try image.write(ImageBuilder.noise(100_000, seed: 5), at: 0)
        #expect(try ImageReader.detect(path: path) == .raw)
    }
}
