import Foundation
import Synchronization
import TestSupport
import Testing

@testable import DiskImage

/// Uncompressed qcow2 is written header first, in file order, and hashed as it goes: the
/// digest reported and in the manifest is `sha256sum`'s of the finished file, for the
/// sources whose zero clusters leave a gap before the tables and for those that leave none;
/// the image reads back (the test-side reader recomputing every refcount, imgship's reader,
/// `qemu-img check`, `compare` and `info`).
@Suite("qcow2 writer: uncompressed, hashed as written")
struct QCOW2StoredWriterTests {
    enum Shape: String, CaseIterable, Sendable {
        /// No byte written: nothing allocated, no L2 table.
        case empty
        /// Every byte written, all zeros: the map says data everywhere, no cluster is stored.
        case allZeroAllocated
        /// Written zeros everywhere but three short runs of text: most of the mapped
        /// clusters are zeros, so the data ends far short of the tables.
        case mostlyZeros
        /// Text, noise, zeros and holes over 6 MiB: at 512-byte clusters an L2 table maps
        /// 32 KiB and a refcount block counts 128 KiB of file, so both are crossed many times.
        case mixed
    }

    static func makeSource(_ shape: Shape, in folder: TemporaryFolder) throws -> String {
        let path = folder.file("\(shape.rawValue).raw")
        switch shape {
        case .empty:
            _ = try ImageBuilder(path: path, size: 5 * 1024 * 1024 + 512)
        case .allZeroAllocated:
            let image = try ImageBuilder(path: path, size: 3 * 1024 * 1024)
            try image.write([UInt8](repeating: 0, count: 3 * 1024 * 1024), at: 0)
        case .mostlyZeros:
            let image = try ImageBuilder(path: path, size: 4 * 1024 * 1024)
            try image.write([UInt8](repeating: 0, count: 4 * 1024 * 1024), at: 0)
            for offset: UInt64 in [70_000, 1_500_000, 4 * 1024 * 1024 - 3000] {
                try image.write(ImageBuilder.text(2000, seed: Int(offset)), at: offset)
            }
        case .mixed:
            return try QCOW2WriterTests.makeSource(in: folder)
        }
        return path
    }

    static let toolsPresent = ["qemu-img", "sha256sum"].allSatisfy { which($0) != nil }

    @Test(.enabled(if: toolsPresent, "needs qemu-img (Debian qemu-utils) and sha256sum"), arguments: Shape.allCases, [9, 16])
    func digestIsTheFilesAndTheImageReadsBack(shape: Shape, clusterBits: Int) throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(shape, in: folder)
        let original = try readFile(source)
        for compatibility in QCOW2.WriteOptions.Compatibility.allCases {
            let what = "\(shape) compat \(compatibility.rawValue), \(1 << clusterBits)-byte clusters"
            let name = "out-\(compatibility.rawValue).qcow2"
            let output = folder.file(name)
            let summary = try Exporter.export(
                source: source, to: .file(output), options: QCOW2WriterTests.options(.stored, compatibility, clusterBits: clusterBits))
            // The digest streamed is sha256sum's of the file, and the manifest checks.
            let hashed = try runProcess("/bin/sh", ["-c", "cd '\(folder.path)' && sha256sum \(name) && sha256sum -c \(name).sha256"])
            #expect(hashed.status == 0, "\(what): \(hashed.standardError)")
            let lines = String(decoding: hashed.standardOutput, as: UTF8.self).split(separator: "\n")
            #expect(lines.first?.split(separator: " ").first.map(String.init) == summary.sha256, "\(what)")
            #expect(lines.last == "\(name): OK", "\(what)")

            let file = try readFile(output)
            #expect(UInt64(file.count) == summary.outputSize, "\(what)")
            let image = try OutputReader.qcow2(file)
            expectSameBytes(image.disk, original, what)
            #expect(image.compressedClusters == 0, "\(what)")
            #expect(image.version == (compatibility == .version2 ? 2 : 3), "\(what)")
            let report = try ImageVerifier.verify(path: output)
            #expect(report.passed, "\(what): \(report.checks.filter { !$0.passed })")

            let check = try runProcess("/usr/bin/env", ["qemu-img", "check", "-f", "qcow2", "--output=json", output])
            #expect(check.status == 0, "\(what): qemu-img check: \(String(decoding: check.standardOutput, as: UTF8.self)) \(check.standardError)")
            let checked = try #require(try JSONSerialization.jsonObject(with: check.standardOutput) as? [String: Any])
            #expect((checked["leaks"] as? Int ?? 0) == 0 && (checked["corruptions"] as? Int ?? 0) == 0, "\(what): \(checked)")
            // Only the non-zero clusters are allocated.
            #expect(checked["allocated-clusters"] as? Int ?? 0 == image.storedClusters, "\(what): \(checked)")
            let compare = try runProcess("/usr/bin/env", ["qemu-img", "compare", "-f", "raw", "-F", "qcow2", source, output])
            #expect(compare.status == 0, "\(what): qemu-img compare: \(String(decoding: compare.standardOutput, as: UTF8.self))")
            let info = try runProcess("/usr/bin/env", ["qemu-img", "info", "-f", "qcow2", "--output=json", output])
            let json = try #require(try JSONSerialization.jsonObject(with: info.standardOutput) as? [String: Any])
            #expect((json["virtual-size"] as? Int) == original.count, "\(what)")
            #expect((json["cluster-size"] as? Int) == 1 << clusterBits, "\(what)")
            let specific = (json["format-specific"] as? [String: Any])?["data"] as? [String: Any]
            #expect(specific?["compat"] as? String == compatibility.rawValue, "\(what)")

            // The zero clusters are holes in the file, not written bytes: what the disk holds
            // is about the header, the stored clusters, the L2 tables and the table clusters,
            // each in at least a filesystem block (4 KiB here).
            var status = stat()
            #expect(stat(output, &status) == 0)
            let stored = Int(status.st_blocks) * 512
            let expected = (image.storedClusters + 16) * max(1 << clusterBits, 4096) + file.count / 64
            #expect(stored <= max(expected, 256 * 1024), "\(what): \(stored) bytes stored of \(file.count)")
            try FileManager.default.removeItem(atPath: output)
            try FileManager.default.removeItem(atPath: output + ".sha256")
        }
    }

    /// One worker and three give the same bytes, gap and all.
    @Test func workersDoNotChangeTheBytes() throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(.mostlyZeros, in: folder)
        let one = folder.file("one.qcow2"), three = folder.file("three.qcow2")
        try Exporter.export(source: source, to: .file(one), options: QCOW2WriterTests.options(.stored, .version3, clusterBits: 12, threads: 1))
        try Exporter.export(source: source, to: .file(three), options: QCOW2WriterTests.options(.stored, .version3, clusterBits: 12, threads: 3))
        #expect(try readFile(one) == readFile(three))
    }

    /// Standard output gets the same bytes as a file, written as they are made: the zeros of
    /// the gap written out, no staged copy.
    @Test func standardOutputGetsTheFileBytes() throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(.mostlyZeros, in: folder)
        try QCOW2WriterTests.expectStandardOutputGetsTheFileBytes(source, options: QCOW2WriterTests.options(.stored, .version3, clusterBits: 16), in: folder)
        #expect(folder.names().sorted() == ["file.qcow2", "file.qcow2.sha256", "mostlyZeros.raw", "piped.qcow2"])
    }

    /// A source that gains data after its map was read is refused, not written past the
    /// tables: here a disk whose map shows less than its reads return.
    @Test func dataBeyondTheMapIsRefused() throws {
        let folder = try TemporaryFolder()
        let path = try Self.makeSource(.mixed, in: folder)
        let disk = UnderstatedMap(inner: try ImageReader.open(path: path).disk)
        let sink = OutputSink(descriptor: try openForWriting(folder.file("out.qcow2")), path: folder.file("out.qcow2"))
        defer { close(sink.descriptor) }
        let context = ExportContext(
            source: disk, virtualSize: disk.size, sink: sink, options: QCOW2WriterTests.options(.stored, .version3, clusterBits: 12),
            workerCount: 2, outputName: "out.qcow2")
        #expect {
            try QCOW2.writeStored(context, clusterBits: 12)
        } throws: { error in
            guard case let .sourceChanged(source, _, reason) = error as? DiskImageError else { return false }
            return source == path && reason.hasPrefix("holds more data than its allocation map showed")
        }
    }

    func openForWriting(_ path: String) throws -> Int32 {
        let descriptor = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        try #require(descriptor >= 0)
        return descriptor
    }
}

/// A disk that gains data once it is read: until the first read its map shows only its
/// first MiB, as a source written to during the export would.
final class UnderstatedMap: VirtualDisk {
    let inner: any VirtualDisk
    private let reading = Mutex(false)
    init(inner: any VirtualDisk) { self.inner = inner }
    var path: String { inner.path }
    var size: UInt64 { inner.size }
    private var limit: UInt64 { reading.withLock { $0 } ? inner.size : 1 << 20 }

    func dataRanges(in window: Range<UInt64>) throws(DiskImageError) -> [Range<UInt64>] {
        let limit = self.limit
        return try inner.dataRanges(in: window).compactMap { $0.lowerBound < limit ? $0.lowerBound..<min($0.upperBound, limit) : nil }
    }

    func nextDataOffset(from offset: UInt64) -> UInt64? {
        offset < limit ? inner.nextDataOffset(from: offset).flatMap { $0 < limit ? $0 : nil } : nil
    }

    func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskImageError) {
        reading.withLock { $0 = true }
        try inner.readExactly(into: buffer, at: offset)
    }
}
