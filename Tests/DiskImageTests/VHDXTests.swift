import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// VHDX (MS-VHDX v1.0): each on-disk structure round trips and decodes what qemu-img writes;
/// exports from raw, qcow2 and vhd read back identical in qemu-img and in our reader; qemu's
/// fixed and dynamic VHDX read identical to their source; damaged files are refused with a
/// message naming the file and the offset.
@Suite("VHDX format")
struct VHDXTests {
    // MARK: Structures

    @Test func crc32cIsCastagnoli() {
        // The check value of CRC-32C (RFC 3720 appendix B.4's polynomial).
        #expect(VHDX.crc32c(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func guidsAreStoredMixedEndian() {
        #expect(VHDX.RegionID.blockAllocationTable.bytes == hexBytes("66 77 c2 2d 23 f6 00 42 9d 64 11 5e 9b fd 4a 08"))
        #expect(VHDX.RegionID.blockAllocationTable.description == "2DC27766-F623-4200-9D64-115E9BFD4A08")
    }

    @Test func fileIdentifierRoundTrips() throws {
        let identifier = VHDX.FileIdentifier(creator: "imgship")
        let bytes = identifier.encoded()
        #expect(Array(bytes[0..<10]) == hexBytes("76 68 64 78 66 69 6c 65 69 00"))  // "vhdxfile" "i\0"
        #expect(try VHDX.FileIdentifier(decoding: bytes) == identifier)
    }

    @Test func headerRoundTripsWithItsChecksum() throws {
        let header = VHDX.Header(
            sequenceNumber: 7, fileWriteGUID: VHDX.GUID(bytes: Array(1...16)),
            dataWriteGUID: VHDX.GUID(bytes: Array(17...32)), logOffset: 1 << 20, logLength: 1 << 20)
        var bytes = header.encoded()
        #expect(bytes.count == 4096 && Array(bytes[0..<4]) == Array("head".utf8))
        #expect(bytes.littleEndian(UInt16.self, at: 66) == 1, "version 1 at offset 66")
        #expect(try VHDX.Header(decoding: bytes) == header)
        bytes[100] ^= 1
        #expect(try VHDX.Header(decoding: bytes).checksumMatches == false)
    }

    @Test func regionTableRoundTrips() throws {
        let table = VHDX.RegionTable(entries: [
            .init(guid: VHDX.RegionID.blockAllocationTable, fileOffset: 2 << 20, length: 1 << 20),
            .init(guid: VHDX.RegionID.metadata, fileOffset: 3 << 20, length: 1 << 20, isRequired: false),
        ])
        let bytes = table.encoded()
        #expect(bytes.count == 65536 && bytes.littleEndian(UInt32.self, at: 8) == 2)
        let decoded = try VHDX.RegionTable(decoding: bytes)
        #expect(decoded == table && decoded.checksumMatches)
    }

    @Test func metadataRoundTrips() throws {
        let parameters = VHDX.FileParameters(blockSize: 32 << 20, leaveBlocksAllocated: true)
        #expect(try VHDX.FileParameters(decoding: parameters.encoded()) == parameters)
        let metadata = VHDX.DiskMetadata(
            fileParameters: VHDX.FileParameters(blockSize: 32 << 20), virtualDiskSize: 123 << 20,
            page83Data: VHDX.GUID(bytes: Array(0..<16)), logicalSectorSize: 512, physicalSectorSize: 4096)
        let region = metadata.encoded()
        let table = try VHDX.MetadataTable(decoding: region)
        #expect(table.entries.count == 5)
        #expect(try VHDX.MetadataTable(decoding: table.encoded()) == table)
        #expect(try VHDX.DiskMetadata(decodingRegion: region + [UInt8](repeating: 0, count: 4096)) == metadata)
    }

    @Test func batEntryAndLayout() {
        let entry = VHDX.BATEntry(state: .fullyPresent, fileOffset: 5 << 20)
        #expect(entry.encoded() == 5 << 20 | 6)
        #expect(VHDX.BATEntry(decoding: entry.encoded()) == entry)
        // 512-byte sectors, 32 MiB blocks: a chunk is 128 blocks; 300 blocks need 2 bitmap entries.
        let layout = VHDX.BATLayout(virtualSize: 300 * (32 << 20) - 512, blockSize: 32 << 20, logicalSectorSize: 512)
        #expect(layout.chunkRatio == 128 && layout.payloadBlocks == 300 && layout.entryCount == 302)
        #expect(layout.entryIndex(ofBlock: 128) == 129 && layout.isSectorBitmapEntry(128))
    }

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img"))
    func decodesWhatQemuWrites() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("q.vhdx")
        let result = try runProcess(try #require(which("qemu-img")), ["create", "-q", "-f", "vhdx", path, "100M"])
        #expect(result.status == 0, "\(result.standardError)")
        let file = try readFile(path)
        #expect(try VHDX.FileIdentifier(decoding: file).creator.hasPrefix("QEMU"))
        let headers = try [65536, 131072].map { try VHDX.Header(decoding: Array(file[$0..<($0 + 4096)])) }
        #expect(headers.allSatisfy { $0.checksumMatches && $0.version == 1 && $0.logGUID.isZero })
        let regions = try VHDX.RegionTable(decoding: Array(file[196608..<262144]))
        #expect(regions.checksumMatches)
        let bat = try #require(regions.entries.first { $0.guid == VHDX.RegionID.blockAllocationTable })
        let metadataEntry = try #require(regions.entries.first { $0.guid == VHDX.RegionID.metadata })
        let start = Int(metadataEntry.fileOffset)
        let metadata = try VHDX.DiskMetadata(decodingRegion: Array(file[start..<(start + Int(metadataEntry.length))]))
        #expect(metadata.virtualDiskSize == 100 << 20 && metadata.logicalSectorSize == 512)
        let layout = VHDX.BATLayout(
            virtualSize: metadata.virtualDiskSize, blockSize: UInt64(metadata.fileParameters.blockSize),
            logicalSectorSize: 512)
        for index in 0..<Int(layout.entryCount) {
            let entry = VHDX.BATEntry(decoding: file.littleEndian(UInt64.self, at: Int(bat.fileOffset) + index * 8))
            #expect(entry.state != .fullyPresent, "a new disk stores no block")
        }
    }

    // MARK: Export and read back

    /// 70 MiB + 4.5 KiB (not a whole block): data in the first, a middle and the last block,
    /// holes and an all-zero written region between.
    static func sparseSource(at path: String) throws -> UInt64 {
        let size: UInt64 = 70 * 1024 * 1024 + 4608
        let image = try ImageBuilder(path: path, size: size)
        try image.write(ImageBuilder.text(100_000, seed: 1), at: 512)
        try image.write([UInt8](repeating: 0, count: 1 << 20), at: 10 << 20)
        try image.write(ImageBuilder.noise(3 << 20, seed: 2), at: (40 << 20) - 4096)
        try image.write(ImageBuilder.noise(3000, seed: 3), at: size - 3000)
        return size
    }

    enum Source: String, CaseIterable, Sendable { case raw, qcow2, vhd }

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img"), arguments: Source.allCases)
    func anyToVHDXToRawIsIdentical(source kind: Source) throws {
        let qemu = try #require(which("qemu-img"))
        let folder = try TemporaryFolder()
        let raw = folder.file("src.raw")
        let size = try Self.sparseSource(at: raw)
        var source = raw
        switch kind {
        case .raw: break
        case .qcow2:
            source = folder.file("src.qcow2")
            #expect(try runProcess(qemu, ["convert", "-f", "raw", "-O", "qcow2", raw, source]).status == 0)
        case .vhd:
            source = folder.file("src.vhd")
            try Exporter.export(source: raw, to: .file(source), options: fixedOptions(.vhdDynamic))
        }
        let vhdx = folder.file("out.vhdx")
        let summary = try Exporter.export(source: source, to: .file(vhdx), options: thirtyTwoMiBBlocks())
        #expect(summary.virtualSize == size)

        let compare = try runProcess(qemu, ["compare", "-f", "raw", "-F", "vhdx", raw, vhdx])
        #expect(compare.status == 0, "qemu-img compare: \(String(decoding: compare.standardOutput, as: UTF8.self)) \(compare.standardError)")
        let check = try runProcess(qemu, ["check", "-f", "vhdx", vhdx])
        #expect(check.status == 0, "qemu-img check: \(String(decoding: check.standardOutput, as: UTF8.self)) \(check.standardError)")
        let info = try runProcess(qemu, ["info", "-f", "vhdx", "--output=json", vhdx])
        let json = try #require(try JSONSerialization.jsonObject(with: info.standardOutput) as? [String: Any])
        #expect((json["virtual-size"] as? NSNumber)?.uint64Value == size)

        // Blocks 0 (text), 1 (the 3 MiB of noise at 40 MiB) and 2 (the tail) are stored; the
        // written zeros at 10 MiB do not make block 0 more than it is.
        let read = try OutputReader.dynamicVHDX(try readFile(vhdx))
        #expect(read.states == [6, 6, 6])
        expectSameBytes(read.disk, try readFile(raw), "independent reader")

        let back = folder.file("back.raw")
        try Exporter.export(source: vhdx, to: .file(back), options: fixedOptions(.raw))
        expectSameBytes(try readFile(back), try readFile(raw), "vhdx -> raw")
    }

    @Test func allZeroBlocksAreNotPresent() throws {
        let folder = try TemporaryFolder()
        let raw = folder.file("src.raw")
        let image = try ImageBuilder(path: raw, size: 100 << 20)
        try image.write([UInt8](repeating: 0, count: 1 << 20), at: 33 << 20)  // written, but zeros
        try image.write([1], at: 99 << 20)
        let vhdx = folder.file("out.vhdx")
        try Exporter.export(source: raw, to: .file(vhdx), options: thirtyTwoMiBBlocks())
        let read = try OutputReader.dynamicVHDX(try readFile(vhdx))
        #expect(read.states == [0, 0, 0, 6])
        let opened = try ImageReader.open(path: vhdx)
        #expect(opened.info.format == .vhdx && opened.info.subformat == "dynamic")
        #expect(opened.info.details.first { $0.key == "allocated blocks" }?.value == .number(1))
        #expect(opened.findings.allSatisfy { $0.passed })
    }

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img"), arguments: ["dynamic", "fixed"])
    func readsQemuMadeVHDX(subformat: String) throws {
        let qemu = try #require(which("qemu-img"))
        let folder = try TemporaryFolder()
        let raw = folder.file("src.raw")
        _ = try Self.sparseSource(at: raw)
        let vhdx = folder.file("q.vhdx")
        let convert = try runProcess(qemu, ["convert", "-f", "raw", "-O", "vhdx", "-o", "subformat=\(subformat)", raw, vhdx])
        #expect(convert.status == 0, "\(convert.standardError)")
        let opened = try ImageReader.open(path: vhdx)
        #expect(opened.info.subformat == subformat)
        let back = folder.file("back.raw")
        try Exporter.export(source: vhdx, to: .file(back), options: fixedOptions(.raw))
        expectSameBytes(try readFile(back), try readFile(raw), "qemu \(subformat) vhdx -> raw")
        #expect(try ImageVerifier.verify(path: vhdx).passed)
    }

    // MARK: Hostile input

    /// A small VHDX of ours to damage: 40 MiB, data in both blocks. Metadata at 3 MiB, BAT at
    /// 2 MiB (`VHDX.WrittenLayout`).
    static func victim(in folder: TemporaryFolder) throws -> String {
        let raw = folder.file("src.raw")
        let image = try ImageBuilder(path: raw, size: 40 << 20)
        try image.write(ImageBuilder.text(5000, seed: 4), at: 0)
        try image.write(ImageBuilder.text(5000, seed: 5), at: 39 << 20)
        let vhdx = folder.file("bad.vhdx")
        try Exporter.export(source: raw, to: .file(vhdx), options: thirtyTwoMiBBlocks())
        return vhdx
    }

    static func patch(_ path: String, at offset: UInt64, _ bytes: [UInt8]) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
    }

    /// Rewrites both headers through `change`, with valid checksums.
    static func patchHeaders(_ path: String, _ change: (inout VHDX.Header) -> Void) throws {
        let file = try readFile(path)
        for offset in VHDX.headerOffsets {
            var header = try VHDX.Header(decoding: Array(file[Int(offset)..<(Int(offset) + 4096)]))
            change(&header)
            try patch(path, at: offset, header.encoded())
        }
    }

    static func openError(_ path: String) -> DiskImageError? {
        do {
            _ = try ImageReader.open(path: path, format: .vhdx)
            return nil
        } catch {
            return error
        }
    }

    @Test func badSignatureIsRefused() throws {
        let folder = try TemporaryFolder()
        let vhdx = try Self.victim(in: folder)
        try Self.patch(vhdx, at: 0, Array("vhdxfilX".utf8))
        let error = try #require(Self.openError(vhdx))
        #expect(error == .malformedImage(path: vhdx, offset: 0, reason: "no VHDX file identifier \"vhdxfile\""))
        #expect("\(error)".hasPrefix("\(vhdx) at offset 0: "))
    }

    @Test func badHeaderChecksumsAreRefused() throws {
        let folder = try TemporaryFolder()
        let vhdx = try Self.victim(in: folder)
        // One damaged header is survivable: the other serves.
        try Self.patch(vhdx, at: 131072 + 200, [1])
        let opened = try ImageReader.open(path: vhdx)
        #expect(opened.findings.contains { $0.check == "header 2 checksum" && !$0.passed })
        try Self.patch(vhdx, at: 65536 + 200, [1])
        let error = try #require(Self.openError(vhdx))
        guard case let .malformedImage(path, offset, reason) = error else { Issue.record("\(error)"); return }
        #expect(path == vhdx && offset == 65536)
        #expect(reason.hasPrefix("neither VHDX header is valid (at 65536: checksum 0x"), "\(reason)")
        #expect(reason.contains("!= computed 0x") && reason.contains("at 131072"))
    }

    @Test func badRegionTableChecksumsAreRefused() throws {
        let folder = try TemporaryFolder()
        let vhdx = try Self.victim(in: folder)
        try Self.patch(vhdx, at: 196608 + 1000, [9])
        try Self.patch(vhdx, at: 262144 + 1000, [9])
        let error = try #require(Self.openError(vhdx))
        guard case let .malformedImage(_, offset, reason) = error else { Issue.record("\(error)"); return }
        #expect(offset == 196608 && reason.hasPrefix("neither VHDX region table is valid"), "\(reason)")
    }

    @Test func blockPastTheEndOfTheFileIsRefused() throws {
        let folder = try TemporaryFolder()
        let vhdx = try Self.victim(in: folder)
        var entry = [UInt8](repeating: 0, count: 8)
        entry.storeLittleEndian(VHDX.BATEntry(state: .fullyPresent, fileOffset: 1 << 40).encoded(), at: 0)
        try Self.patch(vhdx, at: (2 << 20) + 8, entry)  // block 1
        let error = try #require(Self.openError(vhdx))
        #expect(
            error
                == .malformedImage(
                    path: vhdx, offset: (2 << 20) + 8,
                    reason: "block 1 at 1099511627776 (8388608 bytes) lies outside the file (71303168 bytes) or in its header section"),
            "\(error)")
    }

    @Test func overlappingBlocksAreRefused() throws {
        let folder = try TemporaryFolder()
        let vhdx = try Self.victim(in: folder)
        let file = try readFile(vhdx)
        try Self.patch(vhdx, at: (2 << 20) + 8, Array(file[(2 << 20)..<((2 << 20) + 8)]))  // block 1 = block 0
        let error = try #require(Self.openError(vhdx))
        #expect("\(error)".contains("at offset \((2 << 20) + 8): block 1 at \(4 << 20) overlaps another block"), "\(error)")
    }

    @Test func nonEmptyLogIsRefused() throws {
        let folder = try TemporaryFolder()
        let vhdx = try Self.victim(in: folder)
        let logGUID = VHDX.GUID(bytes: Array(200..<216))
        try Self.patchHeaders(vhdx) { $0.logGUID = logGUID }
        // A log with no entry of that GUID is empty: nothing to replay.
        #expect(Self.openError(vhdx) == nil)
        var entry = Array("loge".utf8) + [UInt8](repeating: 0, count: 60)
        entry.replaceSubrange(32..<48, with: logGUID.bytes)
        try Self.patch(vhdx, at: (1 << 20) + 8192, entry)
        let error = try #require(Self.openError(vhdx))
        guard case let .unsupportedSource(path, reason) = error else { Issue.record("\(error)"); return }
        #expect(path == vhdx)
        #expect(reason.hasPrefix("has a non-empty log (an entry at offset \((1 << 20) + 8192), log GUID CBCAC9C8-"), "\(reason)")
        #expect(reason.contains("needs a log replay"))
    }

    @Test func hugeVirtualSizeIsRefused() throws {
        let folder = try TemporaryFolder()
        let vhdx = try Self.victim(in: folder)
        let item = UInt64(3 << 20) + 65536 + 8  // the virtual disk size item, after the file parameters
        var size = [UInt8](repeating: 0, count: 8)
        size.storeLittleEndian(UInt64(1) << 50, at: 0)
        try Self.patch(vhdx, at: item, size)
        #expect(
            Self.openError(vhdx)
                == .malformedImage(
                    path: vhdx, offset: item,
                    reason: "virtual disk size 1125899906842624; expected at most 64 TiB (70368744177664 bytes)"))
        // Within the format's limit, but the 1 MiB BAT region cannot hold its table.
        size.storeLittleEndian(UInt64(60) << 40, at: 0)
        try Self.patch(vhdx, at: item, size)
        let error = try #require(Self.openError(vhdx))
        #expect("\(error)".hasPrefix("\(vhdx) at offset \(2 << 20): the BAT region is 1048576 bytes; 1981439 entries"), "\(error)")
    }

    @Test func differencingDiskIsRefused() throws {
        let folder = try TemporaryFolder()
        let vhdx = try Self.victim(in: folder)
        try Self.patch(vhdx, at: UInt64(3 << 20) + 65536 + 4, [2])  // file parameters: HasParent
        let error = try #require(Self.openError(vhdx))
        guard case let .unsupportedSource(_, reason) = error else { Issue.record("\(error)"); return }
        #expect(reason.hasPrefix("is a differencing VHDX"))
    }
}

/// `--block-size`: every allowed size writes a VHDX that qemu-img checks clean, finds
/// identical and reports with that cluster size, and that imgship's reader reads back; the
/// default follows the stated rule.
@Suite("VHDX block sizes")
struct VHDXBlockSizeTests {
    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img"), arguments: [1, 2, 32, 256])
    func everyBlockSizeReadsBack(mebibytes: Int) throws {
        let qemu = try #require(which("qemu-img"))
        let folder = try TemporaryFolder()
        let source = folder.file("src.raw")
        let image = try ImageBuilder(path: source, size: 300 * 1024 * 1024 + 4096)
        for (index, offset) in [0, 5 << 20, 70 << 20, 299 << 20].enumerated() {
            try image.write(ImageBuilder.text(100_000, seed: index), at: UInt64(offset))
        }
        for digest in [true, false] {
            let output = folder.file("out-\(mebibytes)-\(digest).vhdx")
            var options = fixedOptions(.vhdx)
            options.vhdxBlockSize = mebibytes << 20
            options.computesDigest = digest
            try Exporter.export(source: source, to: .file(output), options: options)
            let check = try runProcess(qemu, ["check", "-f", "vhdx", output])
            #expect(check.status == 0, "qemu-img check: \(check.standardError)")
            let compare = try runProcess(qemu, ["compare", "-f", "raw", "-F", "vhdx", source, output])
            #expect(compare.status == 0, "qemu-img compare: \(compare.standardError)")
            let info = try runProcess(qemu, ["info", "-f", "vhdx", "--output=json", output])
            let json = try #require(try JSONSerialization.jsonObject(with: info.standardOutput) as? [String: Any])
            #expect((json["cluster-size"] as? NSNumber)?.intValue == mebibytes << 20)
            let back = folder.file("back-\(mebibytes)-\(digest).raw")
            try Exporter.export(source: output, to: .file(back), options: fixedOptions(.raw))
            let cmp = try runProcess(try #require(which("cmp")), [source, back])
            #expect(cmp.status == 0, "imgship's reader: \(String(decoding: cmp.standardOutput, as: UTF8.self))")
            #expect(try ImageVerifier.verify(path: output).passed || !digest)
        }
    }

    @Test func defaultIsOneMiBUpTo1TiBThenAtMost2To20Blocks() {
        #expect(VHDX.defaultBlockSize(virtualSize: 10 << 30) == 1 << 20)
        #expect(VHDX.defaultBlockSize(virtualSize: 1 << 40) == 1 << 20)
        #expect(VHDX.defaultBlockSize(virtualSize: (1 << 40) + 1) == 2 << 20)
        #expect(VHDX.defaultBlockSize(virtualSize: 64 << 40) == 64 << 20)
        #expect(VHDX.isValidBlockSize(1 << 20) && VHDX.isValidBlockSize(256 << 20))
        #expect(!VHDX.isValidBlockSize(3 << 20) && !VHDX.isValidBlockSize(512 << 20) && !VHDX.isValidBlockSize(512 << 10))
    }
}

/// The options of the VHDX structure tests above, laid out for 32 MiB blocks (Hyper-V's
/// own default, and imgship's before `--block-size`): block counts and BAT offsets in them
/// are those of 32 MiB blocks.
func thirtyTwoMiBBlocks() -> ExportOptions {
    var options = fixedOptions(.vhdx)
    options.vhdxBlockSize = 32 << 20
    return options
}
