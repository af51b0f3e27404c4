extension VHD {
    /// The 1,024-byte dynamic disk header (spec section "Dynamic Disk Header Format"),
    /// big-endian, at offset 512 of a dynamic VHD. Parent fields stay zero: we never write
    /// differencing disks.
    public struct DynamicHeader: Equatable, Sendable {
        public static let size = 1024
        /// Absolute byte offset of the BAT.
        public var tableOffset: UInt64
        /// BAT entries: one per block, ceil(disk size / block size), with no spare entry.
        public var maxTableEntries: UInt32
        public var blockSize: UInt32

        public init(tableOffset: UInt64, maxTableEntries: UInt32, blockSize: UInt32) {
            self.tableOffset = tableOffset
            self.maxTableEntries = maxTableEntries
            self.blockSize = blockSize
        }

        public func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: DynamicHeader.size)
            bytes.storeASCII("cxsparse", at: 0)                                  // 0 cookie
            bytes.storeBigEndian(UInt64.max, at: 8)                              // 8 data offset: unused
            bytes.storeBigEndian(tableOffset, at: 16)                            // 16 table offset
            bytes.storeBigEndian(UInt32(0x0001_0000), at: 24)                    // 24 header version
            bytes.storeBigEndian(maxTableEntries, at: 28)                        // 28 max table entries
            bytes.storeBigEndian(blockSize, at: 32)                              // 32 block size
            // 40 parent unique id, 56 parent time stamp, 64 parent name, 576 parent locators:
            // zero for a disk without parent.
            bytes.storeBigEndian(VHD.checksum(bytes), at: 36)                    // 36 checksum
            return bytes
        }
    }
}
