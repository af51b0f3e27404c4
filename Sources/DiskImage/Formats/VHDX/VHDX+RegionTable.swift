extension VHDX {
    /// The region table (section 2.2.3), 64 KiB at 192 KiB and again at 256 KiB: where the
    /// BAT and the metadata region lie. Its CRC-32C covers the whole 64 KiB.
    struct RegionTable: Equatable, Sendable {
        static let size = 64 * 1024
        static let signature = Array("regi".utf8)
        static let headerSize = 16
        static let entrySize = 32

        enum Offset {
            static let signature = 0
            static let checksum = 4
            static let entryCount = 8
            // 12 reserved u32; entries from 16.
        }

        /// Offsets inside one 32-byte entry (section 2.2.3.2).
        enum EntryOffset {
            static let guid = 0
            static let fileOffset = 16
            static let length = 24
            /// Bit 0: a reader that does not know the region must refuse the file.
            static let required = 28
        }

        struct Entry: Equatable, Sendable {
            var guid: GUID
            /// Absolute byte offset; a multiple of 1 MiB.
            var fileOffset: UInt64
            /// Bytes; a multiple of 1 MiB.
            var length: UInt32
            var isRequired: Bool

            init(guid: GUID, fileOffset: UInt64, length: UInt32, isRequired: Bool = true) {
                self.guid = guid
                self.fileOffset = fileOffset
                self.length = length
                self.isRequired = isRequired
            }
        }

        var entries: [Entry]
        /// Whether the stored CRC-32C matched the bytes (always true for a table made here).
        var checksumMatches = true

        init(entries: [Entry]) {
            self.entries = entries
        }

        func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: RegionTable.size)
            bytes.storeASCII("regi", at: Offset.signature)  // 0 signature
            bytes.storeLittleEndian(UInt32(entries.count), at: Offset.entryCount)  // 8 entry count
            for (index, entry) in entries.enumerated() {  // 16 entries
                let base = RegionTable.headerSize + index * RegionTable.entrySize
                bytes.replaceSubrange((base + EntryOffset.guid)..<(base + EntryOffset.guid + 16), with: entry.guid.bytes)
                bytes.storeLittleEndian(entry.fileOffset, at: base + EntryOffset.fileOffset)
                bytes.storeLittleEndian(entry.length, at: base + EntryOffset.length)
                bytes.storeLittleEndian(UInt32(entry.isRequired ? 1 : 0), at: base + EntryOffset.required)
            }
            bytes.storeLittleEndian(VHDX.crc32c(bytes), at: Offset.checksum)  // 4 checksum
            return bytes
        }

        /// Decodes the 64 KiB at `bytes`, which lie at `offset` of the file `path`. A checksum
        /// mismatch is recorded, not thrown: the second copy may serve.
        init(decoding bytes: [UInt8], at offset: UInt64 = 0, path: String = "VHDX region table") throws(DiskImageError) {
            guard bytes.count >= RegionTable.size, Array(bytes[0..<4]) == RegionTable.signature else {
                throw DiskImageError.malformedImage(path: path, offset: offset, reason: "no VHDX region table signature \"regi\"")
            }
            let table = Array(bytes[0..<RegionTable.size])
            checksumMatches = VHDX.crc32c(table, zeroing: Offset.checksum) == table.loadLittleEndian(UInt32.self, at: Offset.checksum)
            let count = table.loadLittleEndian(UInt32.self, at: Offset.entryCount)
            guard count <= UInt32(VHDX.maximumTableEntries) else {
                throw DiskImageError.malformedImage(
                    path: path, offset: offset + UInt64(Offset.entryCount),
                    reason: "region table entry count \(count); expected at most \(VHDX.maximumTableEntries)")
            }
            entries = (0..<Int(count)).map { index in
                let base = RegionTable.headerSize + index * RegionTable.entrySize
                return Entry(
                    guid: GUID(in: table, at: base + EntryOffset.guid),
                    fileOffset: table.loadLittleEndian(UInt64.self, at: base + EntryOffset.fileOffset),
                    length: table.loadLittleEndian(UInt32.self, at: base + EntryOffset.length),
                    isRequired: table.loadLittleEndian(UInt32.self, at: base + EntryOffset.required) & 1 != 0)
            }
        }
    }
}
