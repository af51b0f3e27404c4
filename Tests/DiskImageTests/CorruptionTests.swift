import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// Untrusted input: damaged images give an error naming the file, the offset and what was
/// expected; never a crash, a hang or a huge allocation.
@Suite("Damaged images")
struct CorruptionTests {
    /// One of our own outputs (or qemu-img's qcow2) of a small disk, its bytes, and a way to
    /// write a damaged copy.
    struct Specimen {
        let folder: TemporaryFolder
        let path: String
        let bytes: [UInt8]

        init(_ format: String) throws {
            folder = try TemporaryFolder()
            let source = folder.file("source.raw")
            let image = try ImageBuilder(path: source, size: 3 * 1024 * 1024 + 1536)
            try image.write(ImageBuilder.noise(200_000, seed: 5), at: 70_000)
            try image.write(ImageBuilder.text(900_000, seed: 8), at: 2 * 1024 * 1024)
            path = folder.file("image." + format)
            switch format {
            case "vhd": try Exporter.export(source: source, to: .file(path), options: fixedOptions(.vhdDynamic))
            case "vmdk": try Exporter.export(source: source, to: .file(path), options: fixedOptions(.vmdk))
            default:
                let qemu = try #require(which("qemu-img"))
                let made = try runProcess(qemu, ["convert", "-c", "-f", "raw", "-O", "qcow2", "-o", "compat=1.1", source, path])
                try #require(made.status == 0, "\(made.standardError)")
            }
            bytes = try fileBytes(path)
        }

        /// Writes `bytes` changed by `change` as a new file and returns its path.
        func damaged(_ name: String, _ change: (inout [UInt8]) -> Void) throws -> String {
            var copy = bytes
            change(&copy)
            let damaged = folder.file(name)
            try Data(copy).write(to: URL(fileURLWithPath: damaged))
            return damaged
        }
    }

    /// The error opening `path` gives, as text; "opened" when there is none.
    static func openingError(_ path: String) -> String {
        do {
            _ = try ImageReader.open(path: path)
            return "opened"
        } catch {
            return "\(error)"
        }
    }

    static func storeBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.replaceSubrange(offset..<(offset + MemoryLayout<T>.size), with: $0) }
    }

    static func storeLittleEndian<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<(offset + MemoryLayout<T>.size), with: $0) }
    }

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img (Debian qemu-utils) to make a qcow2"))
    func qcow2FieldsAreCheckedBeforeUse() throws {
        let specimen = try Specimen("qcow2")
        let l1Offset = Int(specimen.bytes.loadBigEndian(UInt64.self, at: 40))
        let cases: [(String, (inout [UInt8]) -> Void, String)] = [
            ("version", { Self.storeBigEndian(UInt32(4), at: 4, in: &$0) }, "at offset 4: qcow2 version 4; imgship reads versions 2 and 3"),
            ("cluster-bits", { Self.storeBigEndian(UInt32(40), at: 20, in: &$0) }, "at offset 20: cluster_bits 40; qcow2 allows 9 to 21"),
            (
                "size", { Self.storeBigEndian(UInt64(1) << 50, at: 24, in: &$0) },
                "at offset 36: l1_size 1 cannot cover the virtual size 1125899906842624; at least 2097152 entries needed"
            ),
            (
                "l1-offset", { Self.storeBigEndian(UInt64(1) << 60, at: 40, in: &$0) },
                "at offset 1152921504606846976: the L1 table (8 bytes) runs past the end of the file"
            ),
            (
                "l1-entry", { Self.storeBigEndian(UInt64(1) << 40, at: l1Offset, in: &$0) },
                "at offset 1099511627776: the L2 table of L1 entry 0 (65536 bytes) runs past the end of the file"
            ),
            (
                "backing",
                {
                    Self.storeBigEndian(UInt64(72), at: 8, in: &$0); Self.storeBigEndian(UInt32(4), at: 16, in: &$0)
                }, "is a qcow2 overlay on the backing file"
            ),
            ("features", { $0[79] |= 0x40 }, "has unknown incompatible qcow2 features (0x40)"),
        ]
        for (name, change, expected) in cases {
            let path = try specimen.damaged(name + ".qcow2", change)
            let error = Self.openingError(path)
            #expect(error.hasPrefix(path), "\(name): \(error)")
            #expect(error.contains(expected), "\(name): \(error)")
        }
        // A compressed cluster whose data is garbage fails verification, naming it.
        let l2Offset = Int(specimen.bytes.loadBigEndian(UInt64.self, at: l1Offset) & 0x00FF_FFFF_FFFF_FE00)
        let entry = (0..<512).lazy.map { specimen.bytes.loadBigEndian(UInt64.self, at: l2Offset + $0 * 8) }.first { $0 & (1 << 62) != 0 }
        let compressedOffset = Int(try #require(entry) & ((1 << 54) - 1))
        let garbled = try specimen.damaged("garbled.qcow2") { bytes in
            for index in compressedOffset..<(compressedOffset + 64) { bytes[index] = 0xFF }
        }
        let report = try ImageVerifier.verify(path: garbled)
        #expect(!report.passed)
        #expect(report.checks.first { $0.name == "data" }?.detail.contains("does not inflate to 65536 bytes") == true)
    }

    @Test func vhdFieldsAreCheckedBeforeUse() throws {
        let specimen = try Specimen("vhd")
        let footer = specimen.bytes.count - 512
        let header = 512
        let cases: [(String, (inout [UInt8]) -> Void, String)] = [
            ("cookie", { $0[footer] = 0x43 }, "at offset \(footer): no VHD footer cookie \"conectix\""),
            ("type", { Self.storeBigEndian(UInt32(9), at: footer + 60, in: &$0) }, "disk type 9; VHD has 2 (fixed), 3 (dynamic) and 4 (differencing)"),
            ("size", { Self.storeBigEndian(UInt64(1) << 50, at: footer + 48, in: &$0) }, "is over VHD's limit of 2040 GiB"),
            ("block-size", { Self.storeBigEndian(UInt32(3_000_000), at: header + 32, in: &$0) }, "block size 3000000; expected a power of two"),
            ("bat", { Self.storeBigEndian(UInt32(0x7FFF_FFF0), at: 1536, in: &$0) }, "block 0 at sector 2147483632 runs past the end of the file"),
            ("parent", { Self.storeBigEndian(UInt32(4), at: footer + 60, in: &$0) }, "is a differencing VHD on the parent"),
        ]
        for (name, change, expected) in cases {
            let path = try specimen.damaged(name + ".vhd", change)
            let error = Self.openingError(path)
            #expect(error.contains(expected), "\(name): \(error)")
        }
        // A flipped checksum byte is found by verify, not by reading.
        let flipped = try specimen.damaged("checksum.vhd") { $0[footer + 64] ^= 1 }
        let report = try ImageVerifier.verify(path: flipped)
        #expect(report.checks.map { "\($0.name) \($0.passed)" }.prefix(3) == ["structure true", "footer checksum false", "dynamic header checksum true"])
        #expect(!report.passed)
    }

    @Test func vmdkFieldsAreCheckedBeforeUse() throws {
        let specimen = try Specimen("vmdk")
        let footer = specimen.bytes.count - 1024
        let directory = Int(specimen.bytes.loadLittleEndian(UInt64.self, at: footer + 56)) * 512
        let table = Int(specimen.bytes.loadLittleEndian(UInt32.self, at: directory)) * 512
        let cases: [(String, (inout [UInt8]) -> Void, String)] = [
            ("footer", { $0[footer] = 0 }, "no VMDK footer (\"KDMV\") 1024 bytes before the end of the file"),
            ("grain-size", { Self.storeLittleEndian(UInt64(100), at: footer + 20, in: &$0) }, "grain size 100 sectors; expected a power of two from 8 to 2048"),
            ("capacity", { Self.storeLittleEndian(UInt64(1) << 60, at: footer + 12, in: &$0) }, "capacity 1152921504606846976 sectors is absurd"),
            ("directory", { Self.storeLittleEndian(UInt32(0x0FFF_FFFF), at: directory, in: &$0) }, "grain table 0"),
            ("table", { Self.storeLittleEndian(UInt32(0x0FFF_FFFF), at: table + 4, in: &$0) }, "grain 1 at sector 268435455 runs past the end of the file"),
            ("truncated", { $0.removeLast(700) }, "no VMDK footer"),
        ]
        for (name, change, expected) in cases {
            let path = try specimen.damaged(name + ".vmdk", change)
            let error = Self.openingError(path)
            #expect(error.contains(expected), "\(name): \(error)")
        }
        // A grain whose marker names another sector, and one whose data is garbage.
        let firstGrain = Int(specimen.bytes.loadLittleEndian(UInt32.self, at: table + 4)) * 512
        let moved = try ImageVerifier.verify(path: try specimen.damaged("marker.vmdk") { $0[firstGrain] ^= 0x80 })
        #expect(moved.checks.first { $0.name == "data" }?.detail.contains("grain marker says sector") == true)
        let garbled = try ImageVerifier.verify(
            path: try specimen.damaged("garbled.vmdk") { bytes in
                for index in (firstGrain + 20)..<(firstGrain + 80) { bytes[index] = 0x5A }
            })
        #expect(garbled.checks.first { $0.name == "data" }?.detail.contains("does not inflate") == true)
    }

    /// Bytes of the headers and footers flipped in turn, random bytes elsewhere, and the file cut
    /// at many lengths: each open and verify ends with a result or an error, never a crash.
    @Test(arguments: ["vhd", "vmdk", "qcow2"])
    func flippedBytesAndTruncationsNeverCrash(format: String) throws {
        guard format != "qcow2" || which("qemu-img") != nil else { return }
        let specimen = try Specimen(format)
        let count = specimen.bytes.count
        // The headers, then a sample of the rest (tables, grains); the fuzzers in tools/fuzz
        // go much further.
        var positions = Array(stride(from: 0, to: min(1536, count), by: 3)) + Array(stride(from: max(0, count - 1536), to: count, by: 3))
        var generator = SystemRandomNumberGenerator()
        positions += (0..<150).map { _ in Int.random(in: 0..<count, using: &generator) }
        var outcomes: [String: Int] = [:]
        for (index, position) in positions.enumerated() {
            let path = try specimen.damaged("flip-\(index)") { $0[position] ^= UInt8(1 << (index % 8)) }
            let outcome: String
            do {
                outcome = try ImageVerifier.verify(path: path).passed ? "passed" : "failed a check"
            } catch {
                outcome = "refused"
            }
            outcomes[outcome, default: 0] += 1
            try FileManager.default.removeItem(atPath: path)
        }
        for length in stride(from: 0, to: count, by: max(1, count / 40)) {
            let path = try specimen.damaged("cut") { $0.removeLast(count - length) }
            _ = try? ImageVerifier.verify(path: path)
        }
        #expect(outcomes["refused", default: 0] + outcomes["failed a check", default: 0] > 0, "\(outcomes)")
    }

    /// Tables that hand the same stored bytes to two places would let a small file stand for
    /// an enormous disk (one cluster read and inflated millions of times): they are refused.
    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img (Debian qemu-utils) to make a qcow2"))
    func sharedClustersAndTablesAreRefused() throws {
        // qcow2, clusters stored as they are: two L2 entries and two L1 entries sharing.
        let stored = try Specimen("qcow2")
        let qemu = try #require(which("qemu-img"))
        let plain = stored.folder.file("plain.qcow2")
        try #require(try runProcess(qemu, ["convert", "-f", "raw", "-O", "qcow2", stored.folder.file("source.raw"), plain]).status == 0)
        let plainBytes = try fileBytes(plain)
        let l1Offset = Int(plainBytes.loadBigEndian(UInt64.self, at: 40))
        let l2Offset = Int(plainBytes.loadBigEndian(UInt64.self, at: l1Offset) & 0x00FF_FFFF_FFFF_FE00)
        let storedSlots = (0..<16).filter { plainBytes.loadBigEndian(UInt64.self, at: l2Offset + $0 * 8) != 0 }
        try #require(storedSlots.count >= 2)
        let (first, second) = (storedSlots[0], storedSlots[1])
        let firstHost = plainBytes.loadBigEndian(UInt64.self, at: l2Offset + first * 8) & 0x00FF_FFFF_FFFF_FE00
        let sharedData = stored.folder.file("shared-data.qcow2")
        var copy = plainBytes
        copy.replaceSubrange((l2Offset + second * 8)..<(l2Offset + second * 8 + 8), with: plainBytes[(l2Offset + first * 8)..<(l2Offset + first * 8 + 8)])
        try Data(copy).write(to: URL(fileURLWithPath: sharedData))
        var error = Self.openingError(sharedData)
        #expect(
            error
                == "\(sharedData) at offset \(l2Offset + second * 8): cluster at virtual offset \(second * 65536) points at \(firstHost), a cluster another table entry already uses; a standalone image never shares clusters"
        )

        // A second L1 entry on the first L2 table (the disk made 1 GiB, two L1 entries).
        let sharedTable = stored.folder.file("shared-table.qcow2")
        copy = plainBytes
        Self.storeBigEndian(UInt64(1) << 30, at: 24, in: &copy)
        Self.storeBigEndian(UInt32(2), at: 36, in: &copy)
        copy.replaceSubrange((l1Offset + 8)..<(l1Offset + 16), with: plainBytes[l1Offset..<(l1Offset + 8)])
        try Data(copy).write(to: URL(fileURLWithPath: sharedTable))
        error = Self.openingError(sharedTable)
        #expect(
            error
                == "\(sharedTable) at offset \(l1Offset + 8): L1 entry 1 points at \(l2Offset), a cluster another table entry already uses; a standalone image never shares clusters"
        )

        // Compressed clusters may share host clusters, but never a start.
        let compressed = try Specimen("qcow2")
        let cl1 = Int(compressed.bytes.loadBigEndian(UInt64.self, at: 40))
        let cl2 = Int(compressed.bytes.loadBigEndian(UInt64.self, at: cl1) & 0x00FF_FFFF_FFFF_FE00)
        let compressedSlots = (0..<16).filter { compressed.bytes.loadBigEndian(UInt64.self, at: cl2 + $0 * 8) != 0 }
        try #require(compressedSlots.count >= 2)
        let entry = compressed.bytes[(cl2 + compressedSlots[0] * 8)..<(cl2 + compressedSlots[0] * 8 + 8)]
        let sharedCompressed = try compressed.damaged("shared-compressed.qcow2") {
            $0.replaceSubrange((cl2 + compressedSlots[1] * 8)..<(cl2 + compressedSlots[1] * 8 + 8), with: entry)
        }
        error = Self.openingError(sharedCompressed)
        // With 64 KiB clusters a compressed entry's host offset is its low 54 bits.
        let start = compressed.bytes.loadBigEndian(UInt64.self, at: cl2 + compressedSlots[0] * 8) & ((1 << 54) - 1)
        #expect(error == "\(sharedCompressed) at offset \(start): two compressed clusters start at \(start); a standalone image never shares clusters")

        // VHD: two BAT entries on one block.
        let vhd = try Specimen("vhd")
        let bat = Int(vhd.bytes.loadBigEndian(UInt64.self, at: 512 + 16))
        let sector = vhd.bytes.loadBigEndian(UInt32.self, at: bat)
        let sharedBlock = try vhd.damaged("shared-block.vhd") { Self.storeBigEndian(sector, at: bat + 4, in: &$0) }
        error = Self.openingError(sharedBlock)
        #expect(error == "\(sharedBlock) at offset \(bat + 4): block 1 at sector \(sector) overlaps another block; every block has its own place in the file")

        // VMDK: two grain table entries on one grain.
        let vmdk = try Specimen("vmdk")
        let directory = Int(vmdk.bytes.loadLittleEndian(UInt64.self, at: vmdk.bytes.count - 1024 + 56)) * 512
        let table = Int(vmdk.bytes.loadLittleEndian(UInt32.self, at: directory)) * 512
        let grains = (0..<48).filter { vmdk.bytes.loadLittleEndian(UInt32.self, at: table + $0 * 4) > 1 }
        try #require(grains.count >= 2)
        let grainSector = vmdk.bytes.loadLittleEndian(UInt32.self, at: table + grains[0] * 4)
        let sharedGrain = try vmdk.damaged("shared-grain.vmdk") { Self.storeLittleEndian(grainSector, at: table + grains[1] * 4, in: &$0) }
        error = Self.openingError(sharedGrain)
        #expect(
            error
                == "\(sharedGrain) at offset \(table + grains[1] * 4): grain \(grains[1]) at sector \(grainSector) overlaps another grain or table; every grain has its own place in the file"
        )
    }
}
