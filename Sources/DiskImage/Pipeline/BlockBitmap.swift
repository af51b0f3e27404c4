/// One bit a block of the disk being written: which blocks a writer stores. The first pass of
/// the dynamic VHD and VHDX writers fills it, their tables and block placement read it. A bit
/// a block keeps memory flat whatever the disk holds: 8 MiB for the largest table any format
/// here can have (64 TiB of VHDX in 1 MiB blocks, 2^26 blocks), where a flag a block took 64 MiB
/// and a list of the stored blocks up to 512 MiB.
struct BlockBitmap: Sendable {
    let count: Int
    private var words: [UInt64]
    /// `ranks[i]`: set bits in words `0..<i`, filled by `indexRanks()` for `rank(of:)`.
    private var ranks: [UInt32] = []

    init(count: Int) {
        self.count = count
        words = [UInt64](repeating: 0, count: (count + 63) / 64)
    }

    mutating func insert(_ block: Int) {
        words[block >> 6] |= 1 << UInt64(block & 63)
    }

    func contains(_ block: Int) -> Bool {
        block >= 0 && block < count && words[block >> 6] & (1 << UInt64(block & 63)) != 0
    }

    /// The first set block at or after `block`, nil when there is none.
    func nextSet(from block: Int) -> Int? {
        guard block < count else { return nil }
        var wordIndex = max(block, 0) >> 6
        var word = words[wordIndex] & (~0 << UInt64(max(block, 0) & 63))
        while word == 0 {
            wordIndex += 1
            guard wordIndex < words.count else { return nil }
            word = words[wordIndex]
        }
        let found = wordIndex << 6 + word.trailingZeroBitCount
        return found < count ? found : nil
    }

    /// The set blocks, ascending.
    var members: some Sequence<Int> {
        sequence(state: 0) { next in
            guard let block = nextSet(from: next) else { return nil }
            next = block + 1
            return block
        }
    }

    /// How many blocks are set.
    var setCount: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Prepares `rank(of:)`: 4 bytes each 64 blocks.
    mutating func indexRanks() {
        var total: UInt32 = 0
        ranks = words.map { word in
            defer { total += UInt32(word.nonzeroBitCount) }
            return total
        }
    }

    /// How many set blocks precede `block`: a stored block's place among the stored ones.
    /// Needs `indexRanks()` first.
    func rank(of block: Int) -> Int {
        let below = words[block >> 6] & ((1 << UInt64(block & 63)) - 1)
        return Int(ranks[block >> 6]) + below.nonzeroBitCount
    }
}
