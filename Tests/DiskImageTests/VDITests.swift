import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// A VDI written by the test from `VDI.Header`: the block map `map`, data block n filled with
/// noise seeded n + 1, `extra` bytes of 0xEE before each data block (VirtualBox's
/// cbBlockExtra). `disk()` is the disk the map describes, built from the map alone: the
/// oracle for layouts qemu-img does not write (blocks other than 1 MiB, extra data).
struct HandmadeVDI {
    var blockSize: UInt32 = 4096
    var extra: UInt32 = 0
    var map: [UInt32]
    var diskSize: UInt64?
    var type: VDI.Header.ImageType = .normal
    /// Data blocks stored in the file; by default one past the largest entry in use.
    var dataBlocks: Int?

    var storedBlocks: Int { dataBlocks ?? (map.filter { $0 < 0xFFFF_FFFE }.map { Int($0) + 1 }.max() ?? 0) }
    var dataOffset: UInt32 { 512 + UInt32((map.count * 4 + 511) / 512 * 512) }

    func header() -> VDI.Header {
        var header = VDI.Header(
            imageType: type, diskSize: diskSize ?? UInt64(map.count) * UInt64(blockSize), blocksOffset: 512,
            dataOffset: dataOffset, blockCount: UInt32(map.count), allocatedBlocks: UInt32(map.filter { $0 < 0xFFFF_FFFE }.count))
        header.blockSize = blockSize
        header.blockExtra = extra
        header.creationUUID = Array(1...16)
        header.modificationUUID = Array(17...32)
        return header
    }

    func bytes(header: VDI.Header? = nil) -> [UInt8] {
        var bytes = (header ?? self.header()).encoded()
        bytes += [UInt8](repeating: 0, count: 512 - bytes.count)
        var table = [UInt8](repeating: 0, count: Int(dataOffset) - 512)
        for (index, entry) in map.enumerated() {
            for byte in 0..<4 { table[index * 4 + byte] = UInt8(truncatingIfNeeded: entry >> (byte * 8)) }
        }
        bytes += table
        for block in 0..<storedBlocks {
            bytes += [UInt8](repeating: 0xEE, count: Int(extra)) + ImageBuilder.noise(Int(blockSize), seed: UInt64(block + 1))
        }
        return bytes
    }

    func disk() -> [UInt8] {
        var disk: [UInt8] = []
        for entry in map {
            disk += entry < 0xFFFF_FFFE ? ImageBuilder.noise(Int(blockSize), seed: UInt64(entry) + 1) : [UInt8](repeating: 0, count: Int(blockSize))
        }
        return Array(disk.prefix(Int(diskSize ?? UInt64(disk.count))))
    }

    func write(to path: String, header: VDI.Header? = nil) throws -> String {
        try Data(bytes(header: header)).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// VirtualBox's VDI as a source: qemu-img's fixed and dynamic images read as qemu-img reads
/// them (`qemu-img compare`), the block map's special entries, and hostile maps refused.
@Suite("Reading VDI")
struct VDITests {
    /// qemu-img's VDIs: converted with data (dynamic and fixed, an odd size that qemu rounds
    /// up to a sector) and created empty.
    static let qemuSpecs: [(name: String, options: [String], converted: Bool)] = [
        ("dynamic", [], true), ("fixed", ["-o", "static=on"], true),
        ("empty-dynamic", [], false), ("empty-fixed", ["-o", "static=on"], false),
    ]

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img (Debian qemu-utils)"), arguments: qemuSpecs.map(\.name))
    func qemuMadeVDIsExportIdentical(name: String) throws {
        let qemu = try #require(which("qemu-img"))
        let spec = try #require(Self.qemuSpecs.first { $0.name == name })
        let folder = try TemporaryFolder()
        let source = try ReaderTests.makeSource(in: folder)
        let image = folder.file("\(name).vdi")
        let made =
            spec.converted
            ? try runProcess(qemu, ["convert", "-f", "raw", "-O", "vdi"] + spec.options + [source, image])
            : try runProcess(qemu, ["create", "-q", "-f", "vdi"] + spec.options + [image, "5000001"])
        try #require(made.status == 0, "qemu-img: \(made.standardError)")

        let renamed = folder.file("image.bin")
        try FileManager.default.copyItem(atPath: image, toPath: renamed)
        #expect(try ImageReader.detect(path: renamed) == .vdi)
        let opened = try ImageReader.open(path: image)
        #expect(opened.info.subformat == (name.hasSuffix("fixed") ? "fixed" : "dynamic"))

        let output = folder.file("out.raw")
        let summary = try Exporter.export(source: image, to: .file(output), options: fixedOptions(.raw))
        #expect(summary.sourceFormat == "vdi")
        let compare = try runProcess(qemu, ["compare", "-f", "vdi", "-F", "raw", image, output])
        #expect(compare.status == 0, "qemu-img compare: \(String(decoding: compare.standardOutput, as: UTF8.self)) \(compare.standardError)")
        let info = try runProcess(qemu, ["info", "-f", "vdi", "--output=json", image])
        let json = try #require(try JSONSerialization.jsonObject(with: info.standardOutput) as? [String: Any])
        #expect((json["virtual-size"] as? NSNumber)?.uint64Value == summary.virtualSize, "the virtual size qemu-img reads")
        let exported = try fileBytes(output)
        if spec.converted {
            let original = try fileBytes(source)
            expectSameBytes(Array(exported.prefix(original.count)), original)
            #expect(exported.dropFirst(original.count).allSatisfy { $0 == 0 })
        } else {
            // qemu-img rounds the size up to a sector.
            #expect(exported.count == 5_000_192 && exported.allSatisfy { $0 == 0 })
        }
        let report = try ImageVerifier.verify(path: image, manifestCheck: .skipped)
        #expect(report.passed, "\(report.checks.filter { !$0.passed })")
    }

    /// qemu-img makes a fixed VDI with ftruncate: its blocks are stored, but holes of the
    /// file. They stay holes to the pipeline, as a sparse raw file's do.
    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img (Debian qemu-utils)"))
    func holesUnderAFixedImageStayHoles() throws {
        let qemu = try #require(which("qemu-img"))
        let folder = try TemporaryFolder()
        let source = folder.file("sparse.raw")
        let builder = try ImageBuilder(path: source, size: 64 << 20)
        try builder.write(ImageBuilder.noise(100_000, seed: 4), at: 20 << 20)
        let image = folder.file("fixed.vdi")
        try #require(try runProcess(qemu, ["convert", "-f", "raw", "-O", "vdi", "-o", "static=on", source, image]).status == 0)
        let opened = try ImageReader.open(path: image)
        try #require(opened.info.allocatedBytes < 8 << 20, "the file system keeps holes")
        let data = try opened.disk.dataRanges(in: 0..<opened.disk.size)
        let total = data.reduce(0) { $0 + $1.count }
        #expect(total >= 100_000 && total < 1 << 20, "\(data)")
        // The data is covered; the file system's pages (4 KiB, while blocks start 1 KiB into
        // one) may add a few bytes around it and the header's page.
        let written = (20 << 20)..<((20 << 20) + 100_000)
        #expect(data.contains { $0.lowerBound <= written.lowerBound && $0.upperBound >= written.upperBound }, "\(data)")
    }

    /// Free and zero entries read as zeros and are not data; extra data before each block
    /// is skipped; a disk size that is not a multiple of 512 is kept exact.
    @Test func specialEntriesExtraDataAndAnOddSize() throws {
        let folder = try TemporaryFolder()
        let vdi = HandmadeVDI(extra: 512, map: [1, 0xFFFF_FFFF, 0, 0xFFFF_FFFE, 2], diskSize: 5 * 4096 - 100)
        let path = try vdi.write(to: folder.file("hand.vdi"))
        let opened = try ImageReader.open(path: path)
        #expect(opened.info.virtualSize == 5 * 4096 - 100)
        #expect(opened.info.details.first { $0.key == "allocated blocks" }?.value == .number(3))
        #expect(try opened.disk.dataRanges(in: 0..<opened.disk.size) == [0..<4096, 8192..<12288, 16384..<(5 * 4096 - 100)])
        let output = folder.file("out.raw")
        try Exporter.export(source: path, to: .file(output), options: fixedOptions(.raw))
        expectSameBytes(try fileBytes(output), vdi.disk())
        #expect(try ImageVerifier.verify(path: path, manifestCheck: .skipped).passed)
    }

    /// Block maps and headers that would have a reader read outside the image, read one
    /// block for two, or trust a parent: one line naming the file, the offset and the rule.
    @Test func hostileHeadersAndBlockMapsAreRefused() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("hostile.vdi")
        func refusal(_ vdi: HandmadeVDI, _ change: (inout VDI.Header) -> Void = { _ in }) throws -> String {
            var header = vdi.header()
            change(&header)
            _ = try vdi.write(to: path, header: header)
            do {
                _ = try ImageReader.open(path: path)
                return "opened"
            } catch {
                return error.description.replacingOccurrences(of: path, with: "hostile.vdi")
            }
        }
        #expect(
            try refusal(HandmadeVDI(map: [0, 0]))
                == "hostile.vdi at offset 516: block 1 points at data block 0, which another block already uses; every block has its own place in the file")
        #expect(try refusal(HandmadeVDI(map: [0, 7], dataBlocks: 8)) == "hostile.vdi at offset 516: block 1 points at data block 7, past the image's 2 blocks")
        #expect(
            try refusal(HandmadeVDI(map: [0, 1], dataBlocks: 1))
                == "hostile.vdi at offset 516: block 1 points at data block 1, which runs past the end of the file (5120 bytes)")
        #expect(try refusal(HandmadeVDI(map: [0], type: .differencing)).contains("hostile.vdi: is a differencing VDI"))
        #expect(
            try refusal(HandmadeVDI(map: [0])) { $0.linkageUUID = Array(repeating: 7, count: 16) }.contains("is a VDI linked to the parent image 07070707-"))
        #expect(try refusal(HandmadeVDI(map: [0])) { $0.imageType = 9 } == "hostile.vdi at offset 76: VDI image type 9; expected 1 (normal) or 2 (fixed)")
        #expect(
            try refusal(HandmadeVDI(map: [0])) { $0.blockSize = 1000 }
                == "hostile.vdi at offset 376: block size 1000; expected a power of two from 512 bytes to 256 MiB (VirtualBox and qemu write 1 MiB)")
        #expect(try refusal(HandmadeVDI(map: [0])) { $0.blockExtra = 100 }.hasPrefix("hostile.vdi at offset 380: extra data of 100 bytes"))
        #expect(
            try refusal(HandmadeVDI(map: [0])) { $0.blockCount = 1000 }
                == "hostile.vdi at offset 344: data offset 1024 lies inside the block map, which ends at 4512")
        #expect(
            try refusal(HandmadeVDI(map: [0, 1])) { $0.diskSize = 3 * 4096 }
                == "hostile.vdi at offset 384: 2 blocks of 4096 bytes cannot hold the disk size 12288; at least 3 needed")
        #expect(try refusal(HandmadeVDI(map: [0])) { $0.version = 0x0002_0000 }.hasPrefix("hostile.vdi: is a VDI of header version 2.0;"))
        #expect(try refusal(HandmadeVDI(map: [0])) { $0.dataOffset = 1000 } == "hostile.vdi at offset 344: data offset 1000; expected a multiple of 512")

        // A map of 4 MiB that is a hole of a sparse file: 4 GiB of disk for a few bytes.
        let sparse = HandmadeVDI(map: [], diskSize: 4 << 30)
        var header = sparse.header()
        header.blockCount = 1 << 20
        header.dataOffset = 512 + (4 << 20)
        try Data(header.encoded()).write(to: URL(fileURLWithPath: path))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(header.dataOffset))
        try handle.close()
        #expect(
            throws: DiskImageError.malformedImage(
                path: path, offset: 340, reason: "the block map (4194304 bytes at 512) lies in a hole of the file; a table that large must be stored")
        ) {
            try ImageReader.open(path: path)
        }
    }

    /// 1,000 VDIs, each a small valid one with a few bytes changed (header fields, map
    /// entries, data) or cut short, chosen by a seeded generator: every open and verify ends
    /// in a result or an error, never a crash, and both outcomes occur. (No time limit: the
    /// test takes half a second alone, and Swift Testing's clock runs while a 2-core runner
    /// has no thread free for the body, which failed it once at 60 s in a full run.)
    @Test func aThousandMutatedVDIsNeverCrash() throws {
        let folder = try TemporaryFolder()
        let base = HandmadeVDI(map: [3, 0xFFFF_FFFF, 0, 1, 0xFFFF_FFFE, 2, 4, 0xFFFF_FFFF], diskSize: 8 * 4096 - 700)
        let original = base.bytes()
        let metadata = Int(base.dataOffset)
        let interesting: [UInt32] = [0, 1, 511, 512, 4096, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF]
        var generator = SplitMix64(seed: 2026)
        var outcomes: [String: Int] = [:]
        let path = folder.file("mutated.vdi")
        for round in 0..<1000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                // Mostly the header's fields and the map's entries, where the checks are.
                let hot = [64..<96, 340..<400, 512..<(512 + base.map.count * 4), 0..<metadata, 0..<bytes.count]
                let position = Int.random(in: hot[Int.random(in: 0..<hot.count, using: &generator)], using: &generator)
                if round % 3 == 0 {
                    let aligned = min(position / 4 * 4, bytes.count - 4)
                    let value = interesting.randomElement(using: &generator) ?? 0
                    for byte in 0..<4 { bytes[aligned + byte] = UInt8(truncatingIfNeeded: value >> (byte * 8)) }
                } else {
                    bytes[position] ^= UInt8.random(in: 1...255, using: &generator)
                }
            }
            if round % 10 == 9 { bytes.removeLast(Int.random(in: 1..<bytes.count, using: &generator)) }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let outcome: String
            do {
                outcome = try ImageVerifier.verify(path: path, manifestCheck: .skipped).passed ? "passed" : "failed a check"
            } catch {
                outcome = "refused"
            }
            outcomes[outcome, default: 0] += 1
        }
        #expect(outcomes.values.reduce(0, +) == 1000)
        // A damaged structure is a failed check of verify (or a refusal to open): most rounds.
        #expect(outcomes["refused", default: 0] + outcomes["failed a check", default: 0] > 300, "\(outcomes)")
        #expect(outcomes["passed", default: 0] > 50, "\(outcomes)")
    }
}
