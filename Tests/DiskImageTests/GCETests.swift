import Foundation
import Synchronization
import TestSupport
import Testing

@testable import DiskImage

/// Unpacks a GCE image's `disk.raw` with an independent reader: GNU tar or Python's tarfile.
enum GCEArchive {
    enum Tool: String, CaseIterable, Sendable { case gnuTar, pythonTarfile }

    /// Extracts the archive into `folder` and returns the path of `disk.raw`; the archive must
    /// hold exactly that one member.
    static func extract(_ archive: String, into folder: String, with tool: Tool = .gnuTar) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let result: ProcessResult
        switch tool {
        case .gnuTar:
            result = try runProcess(try #require(which("tar")), ["-xzf", archive, "-C", folder])
        case .pythonTarfile:
            let script = """
                import sys, tarfile
                with tarfile.open(sys.argv[1], 'r:gz') as archive:
                    names = archive.getnames()
                    assert names == ['disk.raw'], names
                    archive.extractall(sys.argv[2], filter='data') if hasattr(tarfile, 'data_filter') else archive.extractall(sys.argv[2])
                """
            result = try runProcess(try #require(which("python3")), ["-c", script, archive, folder])
        }
        try #require(result.status == 0, "\(tool): \(result.standardError)")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder)
        try #require(names == ["disk.raw"], "\(tool) extracted \(names)")
        return folder + "/disk.raw"
    }
}

@Suite("GCE image (.tar.gz)", .enabled(if: which("tar") != nil && which("gzip") != nil && which("python3") != nil, "needs tar, gzip and python3"))
struct GCETests {
    /// 40 MiB + 4 KiB with data in seven places (more than a GNU header's four sparse
    /// entries: an extension block follows), one of them at the very end.
    static func makeSource(in folder: TemporaryFolder) throws -> String {
        let path = folder.file("src.raw")
        let image = try ImageBuilder(path: path, size: 40 * 1024 * 1024 + 4096)
        for (index, offset) in [0, 3 << 20, 7 << 20, 12 << 20, 20 << 20, (33 << 20) + 777].enumerated() {
            try image.write(index % 2 == 0 ? ImageBuilder.text(300_000, seed: index) : ImageBuilder.noise(200_000, seed: UInt64(index)), at: UInt64(offset))
        }
        try image.write(ImageBuilder.text(4096, seed: 9), at: 40 * 1024 * 1024)
        return path
    }

    @Test(arguments: GCEArchive.Tool.allCases)
    func gzipTarAndQemuReadTheDisk(tool: GCEArchive.Tool) throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(in: folder)
        let output = folder.file("disk.tar.gz")
        let summary = try Exporter.export(source: source, to: .file(output), options: fixedOptions(.gce))
        let test = try runProcess(try #require(which("gzip")), ["-t", output])
        #expect(test.status == 0, "gzip -t: \(test.standardError)")
        let disk = try GCEArchive.extract(output, into: folder.file("x"), with: tool)
        let cmp = try runProcess(try #require(which("cmp")), [source, disk])
        #expect(cmp.status == 0, "cmp: \(String(decoding: cmp.standardOutput, as: UTF8.self))")
        // Extracted sparse: the holes of the map stay holes.
        #expect(allocatedBytes(disk) < 8 * 1024 * 1024)
        if let qemu = which("qemu-img") {
            let compare = try runProcess(qemu, ["compare", "-f", "raw", "-F", "raw", source, disk])
            #expect(compare.status == 0, "qemu-img compare: \(compare.standardError)")
        }
        let sha256sum = try #require(which("sha256sum"))
        let verify = try runProcess("/bin/sh", ["-c", "cd '\(folder.path)' && '\(sha256sum)' -c disk.tar.gz.sha256"])
        #expect(verify.status == 0, "sha256sum -c: \(String(decoding: verify.standardOutput, as: UTF8.self))")
        #expect(summary.sha256?.count == 64)
    }

    /// The first member inflates to an old GNU sparse header with one extension block; the
    /// header, every 2 MiB of stored data and the archive's end are gzip members of their own
    /// (a parallel gzip).
    @Test func headerIsOldGNUSparseAndMembersAreIndependent() throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(in: folder)
        let output = folder.file("disk.tar.gz")
        try Exporter.export(source: source, to: .file(output), options: fixedOptions(.gce))
        let tarFile = folder.file("disk.tar")
        let gunzip = try runProcess("/bin/sh", ["-c", "gzip -dc '\(output)' > '\(tarFile)'"])
        try #require(gunzip.status == 0, "\(gunzip.standardError)")
        let tar = try readFile(tarFile)
        #expect(Array(tar[0..<9]) == Array("disk.raw\0".utf8))
        #expect(Array(tar[257..<265]) == Array("ustar  \0".utf8), "old GNU magic")
        #expect(tar[156] == UInt8(ascii: "S"), "type S: a GNU sparse member")
        #expect(tar[482] == 1, "isextended: the map goes on in an extension block")
        #expect(String(decoding: tar[483..<494], as: UTF8.self) == String(40 * 1024 * 1024 + 4096, radix: 8).leftPadded(to: 11))
        #expect(tar.count % 10240 == 0, "whole 10,240-byte records, as GNU tar writes them")
        // Python's gzip module counts the members: more than one, each a complete gzip file.
        let script =
            "import sys,zlib\nd=open(sys.argv[1],'rb').read()\nn=0\nwhile d:\n o=zlib.decompressobj(31)\n o.decompress(d)\n d=o.unused_data\n n+=1\nprint(n)"
        let members = try runProcess(try #require(which("python3")), ["-c", script, output])
        let count = Int(String(decoding: members.standardOutput, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        // The header, the 1.5 MB stored (one member of at most 2 MiB), the end of the archive.
        #expect(count == 3, "gzip members: \(count)")
    }

    /// Over 8 GiB the sizes are GNU base-256 numbers: GNU tar and Python list the member at its
    /// real size, and unpack it, sparse, to the same bytes.
    @Test func diskOver8GiBHasBase256Sizes() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("big.raw")
        let size: UInt64 = 9 << 30
        let image = try ImageBuilder(path: source, size: size)
        try image.write(ImageBuilder.text(10_000, seed: 1), at: 0)
        try image.write(ImageBuilder.text(10_000, seed: 2), at: size - 10_000)
        let output = folder.file("big.tar.gz")
        try Exporter.export(source: source, to: .file(output), options: fixedOptions(.gce))
        let list = try runProcess(
            try #require(which("python3")),
            ["-c", "import tarfile,sys\nm=tarfile.open(sys.argv[1]).getmembers()\nprint(m[0].name, m[0].size, m[0].issparse())", output])
        #expect(String(decoding: list.standardOutput, as: UTF8.self) == "disk.raw \(size) True\n", "\(list.standardError)")
        let disk = try GCEArchive.extract(output, into: folder.file("x"))
        #expect(try FileManager.default.attributesOfItem(atPath: disk)[.size] as? UInt64 == size)
        let cmp = try runProcess(try #require(which("cmp")), [source, disk])
        #expect(cmp.status == 0)
    }

    /// An output is verified as a GCE image and against its manifest (what a job's resume
    /// check does): a changed byte fails the check.
    @Test func verifyComparesTheManifest() throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(in: folder)
        let output = folder.file("disk.tar.gz")
        try Exporter.export(source: source, to: .file(output), options: fixedOptions(.gce))
        let good = try ImageVerifier.verify(path: output, format: OutputFormat.gce.entry.verifiedAs)
        #expect(good.passed && good.checks.last?.detail.hasSuffix("matches \(output).sha256") == true, "\(good.checks)")
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: output))
        try handle.seek(toOffset: 700)
        let byte = try #require(handle.readData(ofLength: 1).first)
        try handle.seek(toOffset: 700)
        try handle.write(contentsOf: Data([byte ^ 0xFF]))
        try handle.close()
        let bad = try ImageVerifier.verify(path: output, format: OutputFormat.gce.entry.verifiedAs)
        #expect(!bad.passed)
        let test = try runProcess(try #require(which("gzip")), ["-t", output])
        #expect(test.status != 0, "gzip's CRC-32 finds the changed byte too")
    }

    @Test func numbersAreOctalThenBase256() {
        #expect(TarBlock.number(0o644, width: 8) == Array("0000644\0".utf8))
        #expect(TarBlock.number((1 << 33) - 1, width: 12) == Array("77777777777\0".utf8))
        #expect(TarBlock.number(1 << 33, width: 12) == [0x80, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0])
        #expect(TarBlock.decodeNumber(ArraySlice(TarBlock.number(1 << 40, width: 12))) == 1 << 40)
        #expect(TarBlock.decodeNumber(ArraySlice(Array("0000644\0".utf8))) == 0o644)
    }

    /// A disk that is all holes: one empty map entry at its end, nothing stored.
    /// A 4 TiB disk whose tables hold one stored cluster near its end (an empty qcow2 of any
    /// size, as `qemu-img create` makes, is mostly missing L2 tables): GCE's map and a scan of
    /// the disk skip the missing tables whole. Before, both looked at every cluster (a 64 TiB
    /// empty qcow2 took 486 s to export to GCE; a 2 PiB one, hours).
    @Test func missingTablesCostNothingToMap() throws {
        let folder = try TemporaryFolder()
        let size: UInt64 = 4 << 40
        let disk = try TablesOnlyDisk(file: SourceImage(path: Self.makeSource(in: folder)), size: size, storedCluster: (size >> 16) - 3)
        let map = try GCE.sparseMap(of: disk, virtualSize: size, isCancelled: { false })
        #expect(map == [(size - 3 << 16)..<(size - 2 << 16)])
        #expect(try disk.dataRanges(in: 0..<size) == [(size - 3 << 16)..<(size - 2 << 16)])
        // Two passes (the map, the scan) over the one table that exists, at most.
        #expect(disk.lookups.withLock { $0 } <= 4 * Int(disk.clustersPerTable), "clusters looked at: \(disk.lookups.withLock { $0 })")
    }

    @Test func emptyDiskStoresNothing() throws {
        let header = GCE.SparseHeader(name: "disk.raw", map: [], realSize: 1 << 30, modificationTime: 0)
        let bytes = try #require(header.encoded())
        #expect(bytes.count == 512)
        #expect(String(decoding: bytes[124..<135], as: UTF8.self) == "00000000000", "size: nothing stored")
        #expect(String(decoding: bytes[386..<397], as: UTF8.self) == String(1 << 30, radix: 8).leftPadded(to: 11))
        #expect(String(decoding: bytes[398..<409], as: UTF8.self) == "00000000000")
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

/// A disk of 64 KiB clusters, 8,192 a table (qcow2's at that size), that has only the table of
/// `storedCluster`, where that one cluster is stored; it counts the clusters looked up.
final class TablesOnlyDisk: ClusterMappedDisk, @unchecked Sendable {
    let file: SourceImage
    let size: UInt64
    let storedCluster: UInt64
    let clusterSize = 1 << 16
    let clustersPerTable: UInt64 = 8192
    let lookups = Mutex(0)

    init(file: SourceImage, size: UInt64, storedCluster: UInt64) {
        self.file = file
        self.size = size
        self.storedCluster = storedCluster
    }

    func hasTable(_ index: UInt64) -> Bool { index == storedCluster / clustersPerTable }

    func location(ofCluster index: UInt64) -> ClusterLocation {
        lookups.withLock { $0 += 1 }
        // Stored at the file's start, which holds data.
        return index == storedCluster ? .stored(0) : .unallocated
    }

    func decompressCluster(_ index: UInt64, at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DiskImageError) {}
}
