import Testing

@testable import DiskImage

/// The bit-a-block map of stored blocks and the VHDX BAT made from it a piece at a time,
/// against the plain forms they replace: a flag a block, and the whole table in one array.
@Suite("block tables")
struct BlockTableTests {
    /// Blocks chosen by a fixed xorshift sequence, about one in `sparseness`, plus the first
    /// and the last.
    static func someBlocks(count: Int, sparseness: UInt64) -> [Int] {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        var blocks = [0, count - 1]
        for block in 1..<(count - 1) {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            if state % sparseness == 0 { blocks.append(block) }
        }
        return blocks.sorted()
    }

    @Test(arguments: [1, 63, 64, 65, 1000])
    func bitmapAnswersAsAListOfItsBlocks(count: Int) {
        let blocks = count < 3 ? [0] : Self.someBlocks(count: count, sparseness: 5)
        var bitmap = BlockBitmap(count: count)
        for block in blocks { bitmap.insert(block) }
        bitmap.indexRanks()
        #expect(Array(bitmap.members) == blocks)
        #expect(bitmap.setCount == blocks.count)
        for block in 0..<count {
            #expect(bitmap.contains(block) == blocks.contains(block))
            #expect(bitmap.nextSet(from: block) == blocks.first { $0 >= block })
            #expect(bitmap.rank(of: block) == blocks.count(where: { $0 < block }))
        }
        #expect(bitmap.nextSet(from: count) == nil)
        #expect(!bitmap.contains(count) && !bitmap.contains(-1))
    }

    @Test func sectorBitmapEntriesAreFoundInARangeOfIndices() {
        // 32 MiB blocks of 512-byte sectors: a chunk is 128 blocks, its bitmap entry index 128.
        let layout = VHDX.BATLayout(virtualSize: 300 * (32 << 20), blockSize: 32 << 20, logicalSectorSize: 512)
        for lower in UInt64(0)..<300 {
            for upper in lower...min(lower + 140, layout.entryCount) {
                let expected = (lower..<upper).contains { layout.isSectorBitmapEntry($0) }
                #expect(layout.hasSectorBitmapEntry(in: lower..<upper) == expected, "\(lower)..<\(upper)")
            }
        }
        for block in UInt64(0)..<layout.payloadBlocks {
            #expect(layout.block(atEntry: layout.entryIndex(ofBlock: block)) == block)
        }
    }

    /// 320 GiB in 1 MiB blocks: 327,680 blocks and 79 sector bitmap entries, a BAT of 2.5 MiB,
    /// so three pieces, the last a short one.
    @Test func tableInPiecesIsTheWholeTable() throws {
        let layout = VHDX.WrittenLayout(virtualSize: 320 << 30, blockSize: 1 << 20)
        let count = Int(layout.bat.payloadBlocks)
        let blocks = Self.someBlocks(count: count, sparseness: 50)
        var stored = BlockBitmap(count: count)
        for block in blocks { stored.insert(block) }
        // The whole table, as the writer once made it: the n-th stored block at the n-th place.
        var whole = [UInt8](repeating: 0, count: Int(layout.bat.entryCount) * VHDX.BATEntry.size)
        for (position, block) in blocks.enumerated() {
            let entry = VHDX.BATEntry(state: .fullyPresent, fileOffset: layout.firstBlockOffset + UInt64(position) << 20)
            whole.storeLittleEndian(entry.encoded(), at: Int(layout.bat.entryIndex(ofBlock: UInt64(block))) * VHDX.BATEntry.size)
        }
        var pieces: [(offset: UInt64, count: Int)] = []
        var joined: [UInt8] = []
        try VHDX.forEachTablePiece(layout: layout, stored: stored) { (offset, bytes) throws(DiskImageError) in
            pieces.append((offset, bytes.count))
            joined += bytes
        }
        #expect(joined == whole)
        #expect(pieces.map(\.offset) == [0, 1 << 20, 2 << 20])
        #expect(pieces.allSatisfy { $0.count <= VHDX.tablePieceSize })
    }
}
