extension VHDX {
    /// One 8-byte block allocation table entry (section 2.5.1), little-endian: bits 0-2 the
    /// block's state, bits 20-63 its file offset in MiB.
    struct BATEntry: Equatable, Sendable {
        static let size = 8

        /// Payload block states (section 2.5.1.1); sector bitmap blocks use `notPresent` and
        /// `fullyPresent` (there called SB_BLOCK_NOT_PRESENT and SB_BLOCK_PRESENT).
        enum State: UInt8, Sendable {
            /// Never written: reads as zeros here (a differencing disk would read the parent).
            case notPresent = 0
            /// Contents undefined: reads as zeros.
            case undefined = 1
            /// Reads as zeros.
            case zero = 2
            /// Unmapped by the guest (TRIM): reads as zeros.
            case unmapped = 3
            /// Stored at `fileOffset`.
            case fullyPresent = 6
            /// Differencing disks only: some sectors come from the parent.
            case partiallyPresent = 7
        }

        static let stateMask: UInt64 = 0x7
        static let offsetShift: UInt64 = 20

        /// The raw state bits, which a hostile file may set to a value the spec leaves undefined.
        var stateBits: UInt8
        /// Absolute byte offset; a multiple of 1 MiB.
        var fileOffset: UInt64

        var state: State? { State(rawValue: stateBits) }

        init(state: State, fileOffset: UInt64 = 0) {
            stateBits = state.rawValue
            self.fileOffset = fileOffset
        }

        func encoded() -> UInt64 {
            // Bits 3-19 reserved, zero; the offset is whole MiB, so its low 20 bits are zero.
            fileOffset & ~((1 << BATEntry.offsetShift) - 1) | UInt64(stateBits)
        }

        init(decoding value: UInt64) {
            stateBits = UInt8(value & BATEntry.stateMask)
            fileOffset = value & ~((1 << BATEntry.offsetShift) - 1)
        }
    }

    /// Where a block's entry sits in the BAT (section 2.5): payload entries in block order,
    /// with a sector bitmap entry after every `chunkRatio` of them.
    struct BATLayout: Equatable, Sendable {
        /// Payload blocks one sector bitmap block covers: 2^23 sectors / sectors per block.
        let chunkRatio: UInt64
        let payloadBlocks: UInt64
        /// Entries in the BAT of a disk without parent (section 2.5: the last chunk has no
        /// sector bitmap entry after it).
        let entryCount: UInt64

        /// `blockSize` and `logicalSectorSize` are powers of two the caller has checked, the
        /// block at most 256 MiB (so the ratio is at least 8 for 512-byte sectors).
        init(virtualSize: UInt64, blockSize: UInt64, logicalSectorSize: UInt64) {
            chunkRatio = (UInt64(1) << 23) * logicalSectorSize / blockSize
            payloadBlocks = (virtualSize + blockSize - 1) / blockSize
            entryCount = payloadBlocks == 0 ? 0 : payloadBlocks + (payloadBlocks - 1) / chunkRatio
        }

        /// The BAT index of payload block `block`.
        func entryIndex(ofBlock block: UInt64) -> UInt64 {
            block + block / chunkRatio
        }

        /// The payload block whose entry is BAT index `index` (not a sector bitmap entry): the
        /// index less the sector bitmap entries before it.
        func block(atEntry index: UInt64) -> UInt64 {
            index - index / (chunkRatio + 1)
        }

        /// Whether BAT index `index` is a sector bitmap entry.
        func isSectorBitmapEntry(_ index: UInt64) -> Bool {
            (index + 1) % (chunkRatio + 1) == 0
        }

        /// Whether any BAT index in `indices` is a sector bitmap entry: the first at or after
        /// the lower bound ends the chunk that holds it.
        func hasSectorBitmapEntry(in indices: Range<UInt64>) -> Bool {
            indices.lowerBound / (chunkRatio + 1) * (chunkRatio + 1) + chunkRatio < indices.upperBound
        }
    }
}
