extension VHD {
    /// The 1,024-byte dynamic disk header (spec section "Dynamic Disk Header Format"),
    /// big-endian, at offset 512 of a dynamic VHD. Parent fields stay zero: we never write
    /// differencing disks.
    struct DynamicHeader: Equatable, Sendable {
        static let size = 1024
        static let cookie = Array("cxsparse".utf8)

        /// Field offsets, as the spec's table gives them.
        enum Offset {
            static let cookie = 0
            static let dataOffset = 8
            static let tableOffset = 16
            static let headerVersion = 24
            static let maxTableEntries = 28
            static let blockSize = 32
            static let checksum = 36
            static let parentUniqueID = 40
            static let parentTimestamp = 56
            /// 512 bytes of UTF-16 big-endian.
            static let parentUnicodeName = 64
            static let parentLocators = 576
        }

        /// Absolute byte offset of the BAT.
        var tableOffset: UInt64
        /// BAT entries: one per block, ceil(disk size / block size), with no spare entry.
        var maxTableEntries: UInt32
        var blockSize: UInt32
        var headerVersion: UInt32 = 0x0001_0000
        /// Whether the stored checksum matched the bytes (always true for a header made here).
        var checksumMatches = true

        init(tableOffset: UInt64, maxTableEntries: UInt32, blockSize: UInt32) {
            self.tableOffset = tableOffset
            self.maxTableEntries = maxTableEntries
            self.blockSize = blockSize
        }

        func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: DynamicHeader.size)
            bytes.storeASCII("cxsparse", at: Offset.cookie)  // 0 cookie
            bytes.storeBigEndian(UInt64.max, at: Offset.dataOffset)  // 8 data offset: unused
            bytes.storeBigEndian(tableOffset, at: Offset.tableOffset)  // 16 table offset
            bytes.storeBigEndian(headerVersion, at: Offset.headerVersion)  // 24 header version
            bytes.storeBigEndian(maxTableEntries, at: Offset.maxTableEntries)  // 28 max table entries
            bytes.storeBigEndian(blockSize, at: Offset.blockSize)  // 32 block size
            // 40 parent unique id, 56 parent time stamp, 64 parent name, 576 parent locators:
            // zero for a disk without parent.
            bytes.storeBigEndian(VHD.checksum(bytes), at: Offset.checksum)  // 36 checksum
            return bytes
        }

        /// Decodes the 1,024 bytes of `bytes`, which lie at `offset` of the file `path`. A
        /// checksum mismatch is recorded in `checksumMatches`, not thrown.
        init(decoding bytes: [UInt8], at offset: UInt64 = 0, path: String = "VHD dynamic header") throws(DiskImageError) {
            guard bytes.count >= DynamicHeader.size, Array(bytes[0..<8]) == DynamicHeader.cookie else {
                throw DiskImageError.malformedImage(
                    path: path, offset: offset,
                    reason: "no dynamic disk header cookie \"cxsparse\" where the footer's data offset points")
            }
            checksumMatches = VHD.checksum(bytes, zeroing: Offset.checksum) == bytes.loadBigEndian(UInt32.self, at: Offset.checksum)
            tableOffset = bytes.loadBigEndian(UInt64.self, at: Offset.tableOffset)
            headerVersion = bytes.loadBigEndian(UInt32.self, at: Offset.headerVersion)
            maxTableEntries = bytes.loadBigEndian(UInt32.self, at: Offset.maxTableEntries)
            blockSize = bytes.loadBigEndian(UInt32.self, at: Offset.blockSize)
        }

        /// The parent's name in a differencing disk's header (UTF-16 big-endian, zero-ended).
        static func parentName(in bytes: [UInt8]) -> String {
            let start = Offset.parentUnicodeName
            let units = stride(from: start, to: Offset.parentLocators, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
            return String(decoding: units.prefix { $0 != 0 }, as: UTF16.self)
        }
    }
}
