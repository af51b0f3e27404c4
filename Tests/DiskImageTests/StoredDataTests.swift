import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// Memory and reads follow the bytes a file stores and its structures name, never the file's
/// apparent size: the claims on file space are an interval set, a VHDX log is read only where
/// it is stored, and blocks that lie in holes of a sparse file are holes of the disk.
@Suite("Stored data, not apparent size")
struct StoredDataTests {
    /// A brute-force oracle: a set of claimed units.
    @Test func claimsAgreeWithASetOfUnits() {
        var generator = SplitMix64(seed: 7)
        for unitShift in [9, 16] {
            var claims = FileSpaceClaims(unit: 1 << unitShift)
            var taken = Set<UInt64>()
            for _ in 0..<20_000 {
                let offset = generator.next() % 4_000_000
                let length = generator.next() % 3 == 0 ? 0 : generator.next() % 20_000
                let units = (offset >> UInt64(unitShift))...((offset + max(length, 1) - 1) >> UInt64(unitShift))
                let free = units.allSatisfy { !taken.contains($0) }
                let claimed = claims.claim(offset, length: length)
                #expect(claimed == free, "claim \(length) at \(offset)")
                if free { taken.formUnion(units) }
            }
        }
    }

    @Test func adjacentClaimsCostOneInterval() {
        var claims = FileSpaceClaims(unit: 512)
        // Backwards, then forwards from the middle of a 16 TiB file: one interval all along.
        var refused = 0
        for block in Array((0..<50_000).reversed()) + Array(50_000..<100_000) where !claims.claim((8 << 40) + UInt64(block) * 4096, length: 4096) {
            refused += 1
        }
        #expect(refused == 0)
        #expect(claims.intervalCount == 1)
        let again = claims.claim((8 << 40) + 4096 * 77_777 + 512, length: 1)
        #expect(!again)
    }

    /// `count` pread calls on files under `folder` while `body` runs.
    func preads(under folder: String, _ body: () throws -> Void) throws -> Int {
        try SystemCalls.withPlantedFailure(.init(.pread, under: folder, errno: EIO, after: .max)) { planted in
            try body()
            return planted.matched
        }
    }

    /// A log of almost 4 GiB, all hole but for what the test writes: opening reads what is
    /// stored (thousands of 1 MiB reads before), and still finds an entry there.
    @Test func aSparseLogIsReadWhereStoredOnly() throws {
        let folder = try TemporaryFolder()
        let vhdx = try VHDXTests.victim(in: folder)
        let logGUID = VHDX.GUID(bytes: Array(100..<116))
        let fileSize = try #require((try FileManager.default.attributesOfItem(atPath: vhdx)[.size] as? NSNumber)?.uint64Value)
        let logOffset = roundUp(fileSize, toMultipleOf: 1 << 20)
        let logLength: UInt32 = 0xFFF0_0000
        try VHDXTests.patchHeaders(vhdx) {
            $0.logGUID = logGUID
            $0.logOffset = logOffset
            $0.logLength = logLength
        }
        #expect(truncate(vhdx, off_t(logOffset + UInt64(logLength))) == 0)
        let reads = try preads(under: folder.path) { #expect(VHDXTests.openError(vhdx) == nil) }
        #expect(reads < 100, "\(reads) reads to open")

        var entry = Array("loge".utf8) + [UInt8](repeating: 0, count: 60)
        entry.replaceSubrange(32..<48, with: logGUID.bytes)
        let entryOffset = logOffset + (3 << 30) + 4096
        try VHDXTests.patch(vhdx, at: entryOffset, entry)
        let error = try #require(VHDXTests.openError(vhdx))
        guard case let .unsupportedSource(_, reason) = error else { Issue.record("\(error)"); return }
        #expect(reason.hasPrefix("has a non-empty log (an entry at offset \(entryOffset), log GUID "), "\(reason)")
    }

    /// A fixed VHDX whose blocks are all present and all holes of the file (qemu-img marks a
    /// new fixed VHDX's blocks as zero; the BAT is rewritten to name each block's place, as
    /// Hyper-V's fixed disks do). A hole reads as zeros and is not data, as in a raw file.
    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img"))
    func vhdxBlocksInHolesOfTheFileAreHoles() throws {
        let qemu = try #require(which("qemu-img"))
        let folder = try TemporaryFolder()
        let vhdx = folder.file("fixed.vhdx")
        let made = try runProcess(qemu, ["create", "-q", "-f", "vhdx", "-o", "subformat=fixed,block_size=8M", vhdx, "512M"])
        try #require(made.status == 0, "\(made.standardError)")
        // qemu's layout: the BAT at 2 MiB, then 64 blocks of 8 MiB from 8 MiB to the end.
        var bat: [UInt8] = []
        for block in 0..<64 {
            var entry = [UInt8](repeating: 0, count: 8)
            entry.storeLittleEndian(VHDX.BATEntry(state: .fullyPresent, fileOffset: UInt64(8 + block * 8) << 20).encoded(), at: 0)
            bat += entry
        }
        try VHDXTests.patch(vhdx, at: 2 << 20, bat)
        let opened = try ImageReader.open(path: vhdx)
        #expect(opened.info.details.first { $0.key == "allocated blocks" }?.value == .number(64))
        #expect(try opened.disk.dataRanges(in: 0..<opened.disk.size) == [])
        #expect(opened.disk.nextDataOffset(from: 0) == 0)

        // 4 KiB written into block 3 of the file: that, and only that, is data.
        let disk = try #require(opened.disk as? VHDX.Disk)
        let hostOffset = try #require(disk.storedOffset(ofBlock: 3)) + 16384
        let noise = ImageBuilder.noise(4096, seed: 9)
        try VHDXTests.patch(vhdx, at: hostOffset, noise)
        let reopened = try ImageReader.open(path: vhdx)
        let start: UInt64 = 3 * (8 << 20) + 16384
        #expect(try reopened.disk.dataRanges(in: 0..<reopened.disk.size) == [start..<(start + 4096)])

        // qemu-img reads the same bytes there.
        let raw = folder.file("back.raw")
        try Exporter.export(source: vhdx, to: .file(raw), options: fixedOptions(.raw))
        let back = try readFile(raw)
        #expect(Array(back[Int(start)..<Int(start + 4096)]) == noise)
        let compare = try runProcess(qemu, ["compare", "-q", "-f", "vhdx", "-F", "raw", vhdx, raw])
        #expect(compare.status == 0, "\(compare.standardOutput)\(compare.standardError)")
    }
}
