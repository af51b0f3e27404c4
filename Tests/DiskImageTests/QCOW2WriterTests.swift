import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// `-f qcow2`: the header's bytes, the disk read back by an independent reader written from
/// qcow2.txt (which also recomputes every refcount), by qemu-img (check, compare, info) and
/// by imgship's own reader, for every version and compression type.
@Suite("qcow2 writer")
struct QCOW2WriterTests {
    enum Storage: String, CaseIterable, Sendable {
        case stored, zlib, zstd

        var compression: QCOW2.WriteOptions.CompressionType? {
            switch self {
            case .stored: nil
            case .zlib: .zlib
            case .zstd: .zstd
            }
        }
    }

    /// 6 MiB + 1536 bytes: text (compresses), noise (does not: stored clusters between
    /// compressed ones), a run of one repeated byte, written zeros, holes, and a last cluster
    /// cut short by the end of the disk.
    static func makeSource(in folder: TemporaryFolder) throws -> String {
        let path = folder.file("source.raw")
        let size: UInt64 = 6 * 1024 * 1024 + 1536
        let image = try ImageBuilder(path: path, size: size)
        try image.write(ImageBuilder.text(900_000, seed: 3), at: 4096)
        for block in 0..<12 {
            // Noise and text interleaved cluster by cluster (4 KiB clusters) and in runs.
            let offset = UInt64(1_200_000 + block * 24_576)
            try image.write(ImageBuilder.noise(5000 + block * 700, seed: UInt64(block)), at: offset)
            try image.write(ImageBuilder.text(9000, seed: block), at: offset + 9000)
        }
        try image.write([UInt8](repeating: 0xA5, count: 300_000), at: 2_500_000)
        try image.write([UInt8](repeating: 0, count: 500_000), at: 3_000_000)
        try image.write(ImageBuilder.noise(2_100_000, seed: 11), at: 3_600_000)
        try image.write(ImageBuilder.text(1000, seed: 8), at: size - 1000)
        return path
    }

    static func options(_ storage: Storage, _ compatibility: QCOW2.WriteOptions.Compatibility, clusterBits: Int, threads: Int = 2)
        -> ExportOptions
    {
        var options = fixedOptions(.qcow2, threads: threads)
        options.qcow2 = QCOW2.WriteOptions(compatibility: compatibility, compression: storage.compression)
        options.qcow2.clusterBits = clusterBits
        return options
    }

    static let combinations: [(Storage, QCOW2.WriteOptions.Compatibility)] = [
        (.stored, .version3), (.stored, .version2), (.zlib, .version3), (.zlib, .version2), (.zstd, .version3),
    ]

    @Test func headerBytes() throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(in: folder)
        for (storage, compatibility) in Self.combinations {
            let output = folder.file("out-\(storage)-\(compatibility.rawValue).qcow2")
            try Exporter.export(source: source, to: .file(output), options: Self.options(storage, compatibility, clusterBits: 16))
            let file = try readFile(output)
            let version: UInt32 = compatibility == .version2 ? 2 : 3
            #expect(Array(file[0..<4]) == [0x51, 0x46, 0x49, 0xFB], "magic QFI\\xfb")
            #expect(file.bigEndian(UInt32.self, at: 4) == version)
            #expect(file.bigEndian(UInt64.self, at: 8) == 0, "no backing file")
            #expect(file.bigEndian(UInt32.self, at: 20) == 16, "64 KiB clusters")
            #expect(file.bigEndian(UInt64.self, at: 24) == 6 * 1024 * 1024 + 1536, "virtual size")
            #expect(file.bigEndian(UInt32.self, at: 32) == 0, "not encrypted")
            #expect(file.bigEndian(UInt32.self, at: 36) == 1, "one L1 entry maps 512 MiB")
            #expect(file.bigEndian(UInt64.self, at: 40) % 65536 == 0 && file.bigEndian(UInt64.self, at: 40) > 65536, "L1 after the data")
            #expect(file.bigEndian(UInt32.self, at: 60) == 0, "no snapshots")
            let headerEnd = version == 2 ? 72 : 112
            if version == 3 {
                #expect(file.bigEndian(UInt64.self, at: 72) == (storage == .zstd ? 8 : 0), "incompatible features: bit 3 for zstd")
                #expect(file.bigEndian(UInt64.self, at: 80) == 0 && file.bigEndian(UInt64.self, at: 88) == 0)
                #expect(file.bigEndian(UInt32.self, at: 96) == 4, "refcount_order 4")
                #expect(file.bigEndian(UInt32.self, at: 100) == 112, "header_length")
                #expect(file[104] == (storage == .zstd ? 1 : 0), "compression_type")
            }
            // The end of the header extensions (type 0), then nothing else in cluster 0.
            #expect(file[headerEnd..<65536].allSatisfy { $0 == 0 })
        }
    }

    /// 512-byte clusters: 32 KiB an L2 table, 128 KiB of file a refcount block, so this source
    /// crosses many of both (and compressed clusters reach into a second sector at most);
    /// 4 KiB; and 64 KiB, what exports write.
    @Test(arguments: [9, 12, 16])
    func independentReaderRebuildsTheDiskAndRefcounts(clusterBits: Int) throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(in: folder)
        let original = try readFile(source)
        for (storage, compatibility) in Self.combinations {
            let output = folder.file("out-\(storage)-\(compatibility.rawValue).qcow2")
            try Exporter.export(source: source, to: .file(output), options: Self.options(storage, compatibility, clusterBits: clusterBits))
            let image = try OutputReader.qcow2(try readFile(output))
            expectSameBytes(image.disk, original, "\(storage) \(compatibility.rawValue) \(clusterBits)")
            #expect(image.version == (compatibility == .version2 ? 2 : 3))
            #expect(image.compressionType == (storage == .zstd ? 1 : 0))
            if storage == .stored {
                #expect(image.compressedClusters == 0)
            } else {
                // Text compresses; noise does not, and is stored as it is between them.
                #expect(image.compressedClusters > 0 && image.storedClusters > 0, "\(storage): \(image)")
            }
            // imgship's own reader, and its verify (every cluster, the manifest).
            let report = try ImageVerifier.verify(path: output)
            #expect(report.passed, "\(report.checks.filter { !$0.passed })")
            let back = folder.file("back.raw")
            try Exporter.export(source: output, to: .file(back), options: fixedOptions(.raw))
            expectSameBytes(Array(try readFile(back).prefix(original.count)), original)
            try FileManager.default.removeItem(atPath: back)
            try FileManager.default.removeItem(atPath: back + ".sha256")
        }
    }

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img (Debian qemu-utils)"), arguments: [9, 12, 16])
    func qemuImgChecksComparesAndDescribes(clusterBits: Int) throws {
        let qemu = try #require(which("qemu-img"))
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(in: folder)
        for (storage, compatibility) in Self.combinations {
            let output = folder.file("out-\(storage)-\(compatibility.rawValue).qcow2")
            try Exporter.export(source: source, to: .file(output), options: Self.options(storage, compatibility, clusterBits: clusterBits))
            let what = "\(storage) compat \(compatibility.rawValue), \(1 << clusterBits)-byte clusters"
            // Exit 0: no corruptions, no leaks (2 and 3 would say which).
            let check = try runProcess(qemu, ["check", "-f", "qcow2", "--output=json", output])
            #expect(check.status == 0, "\(what): qemu-img check: \(String(decoding: check.standardOutput, as: UTF8.self)) \(check.standardError)")
            let checked = try #require(try JSONSerialization.jsonObject(with: check.standardOutput) as? [String: Any])
            #expect((checked["leaks"] as? Int ?? 0) == 0 && (checked["corruptions"] as? Int ?? 0) == 0, "\(what): \(checked)")
            if storage != .stored { #expect((checked["compressed-clusters"] as? Int ?? 0) > 0, "\(what): \(checked)") }
            let compare = try runProcess(qemu, ["compare", "-f", "raw", "-F", "qcow2", source, output])
            #expect(compare.status == 0, "\(what): qemu-img compare: \(String(decoding: compare.standardOutput, as: UTF8.self)) \(compare.standardError)")
            let info = try runProcess(qemu, ["info", "-f", "qcow2", "--output=json", output])
            let json = try #require(try JSONSerialization.jsonObject(with: info.standardOutput) as? [String: Any])
            let specific = try #require((json["format-specific"] as? [String: Any])?["data"] as? [String: Any])
            #expect(specific["compat"] as? String == compatibility.rawValue, "\(what)")
            #expect(specific["compression-type"] as? String == (storage == .zstd ? "zstd" : "zlib"), "\(what)")
            #expect((json["cluster-size"] as? Int) == 1 << clusterBits)
        }
    }

    @Test(arguments: [Storage.zlib, .zstd, .stored])
    func parallelOutputIsByteIdenticalToOneWorker(storage: Storage) throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(in: folder)
        let one = folder.file("one.qcow2"), three = folder.file("three.qcow2")
        try Exporter.export(source: source, to: .file(one), options: Self.options(storage, .version3, clusterBits: 12, threads: 1))
        try Exporter.export(source: source, to: .file(three), options: Self.options(storage, .version3, clusterBits: 12, threads: 3))
        #expect(try readFile(one) == readFile(three))
    }

    /// Exports `source` to `file.qcow2` and to standard output (made `piped.qcow2` of `folder`)
    /// with the same options, and expects the same bytes and the same digest.
    static func expectStandardOutputGetsTheFileBytes(_ source: String, options: ExportOptions, in folder: TemporaryFolder) throws {
        let file = folder.file("file.qcow2")
        let summary = try Exporter.export(source: source, to: .file(file), options: options)
        let piped = folder.file("piped.qcow2")
        #expect(FileManager.default.createFile(atPath: piped, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: piped))
        let saved = dup(STDOUT_FILENO)
        dup2(handle.fileDescriptor, STDOUT_FILENO)
        let streamed = Result { try Exporter.export(source: source, to: .standardOutput(name: "x.qcow2"), options: options) }
        dup2(saved, STDOUT_FILENO)
        close(saved)
        try handle.close()
        #expect(try streamed.get().sha256 == summary.sha256)
        #expect(try readFile(piped) == readFile(file))
    }

    /// Standard output gets the image from a staged copy: the same bytes, the same digest.
    @Test func standardOutputGetsTheFileBytes() throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(in: folder)
        try Self.expectStandardOutputGetsTheFileBytes(source, options: Self.options(.zlib, .version3, clusterBits: 16), in: folder)
        // The staged copy is gone.
        #expect(folder.names().sorted() == ["file.qcow2", "file.qcow2.sha256", "piped.qcow2", "source.raw"])
    }

    /// Incompressible clusters between compressed ones wait for a cluster boundary: the file
    /// is barely larger than its compressed and stored bytes.
    @Test func storedClustersLeaveLittleUnused() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("mixed.raw")
        let image = try ImageBuilder(path: source, size: 8 * 1024 * 1024)
        for cluster in 0..<128 {
            let bytes = cluster % 3 == 0 ? ImageBuilder.noise(65536, seed: UInt64(cluster)) : ImageBuilder.text(65536, seed: cluster)
            try image.write(bytes, at: UInt64(cluster) * 65536)
        }
        let output = folder.file("mixed.qcow2")
        try Exporter.export(source: source, to: .file(output), options: Self.options(.zlib, .version3, clusterBits: 16))
        let file = try readFile(output)
        let read = try OutputReader.qcow2(file)
        expectSameBytes(read.disk, try readFile(source))
        #expect(read.storedClusters == 43)
        // Header, data, one L2 table, L1, a refcount block and table: 5 clusters of tables.
        let data = UInt64(file.count) - 5 * 65536
        let floor = UInt64(read.storedClusters) * 65536
        #expect(data < floor + UInt64(read.compressedClusters) * 30_000 + 2 * 65536, "\(file.count) bytes")
    }

    @Test func zstdAndVersion2AreRefused() throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(in: folder)
        #expect(throws: DiskImageError.self) {
            try Exporter.export(source: source, to: .file(folder.file("bad.qcow2")), options: Self.options(.zstd, .version2, clusterBits: 16))
        }
        #expect(!FileManager.default.fileExists(atPath: folder.file("bad.qcow2")))
    }
}

/// The reader's compression types: zstd clusters read, a damaged one refused with its offset,
/// and a compression type the feature bit does not announce refused.
@Suite("qcow2 reader: compression types")
struct QCOW2CompressionReaderTests {
    @Test func damagedZstdClusterIsRefusedWithItsOffset() throws {
        let folder = try TemporaryFolder()
        let source = try QCOW2WriterTests.makeSource(in: folder)
        let output = folder.file("z.qcow2")
        try Exporter.export(source: source, to: .file(output), options: QCOW2WriterTests.options(.zstd, .version3, clusterBits: 16))
        var file = try readFile(output)
        // The first compressed cluster starts at 65536: break its frame magic.
        #expect(Array(file[65536..<65540]) == [0x28, 0xB5, 0x2F, 0xFD], "a zstd frame starts the data")
        file[65537] ^= 0xFF
        try Data(file).write(to: URL(fileURLWithPath: output))
        let opened = try ImageReader.open(path: output)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 64)
        defer { buffer.deallocate() }
        #expect(
            throws: DiskImageError.malformedImage(path: output, offset: 65536, reason: "compressed cluster at virtual offset 0 does not inflate to 65536 bytes")
        ) {
            try opened.disk.readExactly(into: buffer, at: 0)
        }
    }

    @Test func compressionTypeWithoutItsFeatureBitIsRefused() throws {
        let folder = try TemporaryFolder()
        let source = try QCOW2WriterTests.makeSource(in: folder)
        let output = folder.file("z.qcow2")
        try Exporter.export(source: source, to: .file(output), options: QCOW2WriterTests.options(.zstd, .version3, clusterBits: 16))
        var file = try readFile(output)
        file[79] = 0  // clear incompatible bit 3, leave compression_type 1
        try Data(file).write(to: URL(fileURLWithPath: output))
        #expect(
            throws: DiskImageError.malformedImage(
                path: output, offset: 104,
                reason: "compression_type 1 with the compression type feature bit clear; qcow2 sets the bit exactly when the type is not 0 (zlib)")
        ) {
            try ImageReader.open(path: output)
        }
    }
}
