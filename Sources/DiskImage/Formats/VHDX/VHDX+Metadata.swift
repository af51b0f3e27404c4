extension VHDX {
    /// The metadata table (section 2.6.1): 64 KiB at the start of the metadata region, naming
    /// each metadata item by GUID with its place in the region.
    struct MetadataTable: Equatable, Sendable {
        static let size = 64 * 1024
        static let signature = Array("metadata".utf8)
        static let headerSize = 32
        static let entrySize = 32

        enum Offset {
            static let signature = 0
            // 8 reserved u16
            static let entryCount = 10
            // 12..<32 reserved; entries from 32.
        }

        /// Offsets inside one 32-byte entry (section 2.6.1.2).
        enum EntryOffset {
            static let itemID = 0
            /// From the start of the metadata region; at least 64 KiB when the length is not 0.
            static let offset = 16
            static let length = 20
            /// Bit 0 IsUser, bit 1 IsVirtualDisk, bit 2 IsRequired.
            static let flags = 24
        }

        struct Entry: Equatable, Sendable {
            var itemID: GUID
            var offset: UInt32
            var length: UInt32
            var isUser: Bool
            /// The item describes the virtual disk (rather than the file).
            var isVirtualDisk: Bool
            /// A reader that does not know the item must refuse the file.
            var isRequired: Bool

            init(itemID: GUID, offset: UInt32, length: UInt32, isUser: Bool = false, isVirtualDisk: Bool, isRequired: Bool = true) {
                self.itemID = itemID
                self.offset = offset
                self.length = length
                self.isUser = isUser
                self.isVirtualDisk = isVirtualDisk
                self.isRequired = isRequired
            }
        }

        var entries: [Entry]

        init(entries: [Entry]) {
            self.entries = entries
        }

        func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: MetadataTable.size)
            bytes.storeASCII("metadata", at: Offset.signature)  // 0 signature
            bytes.storeLittleEndian(UInt16(entries.count), at: Offset.entryCount)  // 10 entry count
            for (index, entry) in entries.enumerated() {  // 32 entries
                let base = MetadataTable.headerSize + index * MetadataTable.entrySize
                bytes.replaceSubrange((base + EntryOffset.itemID)..<(base + EntryOffset.itemID + 16), with: entry.itemID.bytes)
                bytes.storeLittleEndian(entry.offset, at: base + EntryOffset.offset)
                bytes.storeLittleEndian(entry.length, at: base + EntryOffset.length)
                let flags = (entry.isUser ? 1 : 0) | (entry.isVirtualDisk ? 2 : 0) | (entry.isRequired ? 4 : 0)
                bytes.storeLittleEndian(UInt32(flags), at: base + EntryOffset.flags)
            }
            return bytes
        }

        /// Decodes the 64 KiB at `bytes`, the start of the metadata region at `offset` of the
        /// file `path`.
        init(decoding bytes: [UInt8], at offset: UInt64 = 0, path: String = "VHDX metadata table") throws(DiskImageError) {
            guard bytes.count >= MetadataTable.size, Array(bytes[0..<8]) == MetadataTable.signature else {
                throw DiskImageError.malformedImage(path: path, offset: offset, reason: "no VHDX metadata table signature \"metadata\"")
            }
            let count = Int(bytes.loadLittleEndian(UInt16.self, at: Offset.entryCount))
            guard count <= VHDX.maximumTableEntries else {
                throw DiskImageError.malformedImage(
                    path: path, offset: offset + UInt64(Offset.entryCount),
                    reason: "metadata table entry count \(count); expected at most \(VHDX.maximumTableEntries)")
            }
            entries = (0..<count).map { index in
                let base = MetadataTable.headerSize + index * MetadataTable.entrySize
                let flags = bytes.loadLittleEndian(UInt32.self, at: base + EntryOffset.flags)
                return Entry(
                    itemID: GUID(in: bytes, at: base + EntryOffset.itemID),
                    offset: bytes.loadLittleEndian(UInt32.self, at: base + EntryOffset.offset),
                    length: bytes.loadLittleEndian(UInt32.self, at: base + EntryOffset.length),
                    isUser: flags & 1 != 0, isVirtualDisk: flags & 2 != 0, isRequired: flags & 4 != 0)
            }
        }
    }

    /// The File Parameters metadata item (section 2.6.2.1), 8 bytes.
    struct FileParameters: Equatable, Sendable {
        static let size = 8

        enum Offset {
            static let blockSize = 0
            /// Bit 0 LeaveBlocksAllocated (a fixed disk), bit 1 HasParent (differencing).
            static let flags = 4
        }

        /// Payload block size: a power of two from 1 MiB to 256 MiB.
        var blockSize: UInt32
        /// Blocks are never freed: what Hyper-V calls a fixed VHDX.
        var leaveBlocksAllocated: Bool
        /// A differencing disk.
        var hasParent: Bool

        init(blockSize: UInt32, leaveBlocksAllocated: Bool = false, hasParent: Bool = false) {
            self.blockSize = blockSize
            self.leaveBlocksAllocated = leaveBlocksAllocated
            self.hasParent = hasParent
        }

        func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: FileParameters.size)
            bytes.storeLittleEndian(blockSize, at: Offset.blockSize)  // 0 block size
            let flags = (leaveBlocksAllocated ? 1 : 0) | (hasParent ? 2 : 0)
            bytes.storeLittleEndian(UInt32(flags), at: Offset.flags)  // 4 flags
            return bytes
        }

        init(decoding bytes: [UInt8], at offset: UInt64 = 0, path: String = "VHDX file parameters") throws(DiskImageError) {
            guard bytes.count >= FileParameters.size else {
                throw DiskImageError.malformedImage(path: path, offset: offset, reason: "file parameters of \(bytes.count) bytes; expected 8")
            }
            blockSize = bytes.loadLittleEndian(UInt32.self, at: Offset.blockSize)
            let flags = bytes.loadLittleEndian(UInt32.self, at: Offset.flags)
            leaveBlocksAllocated = flags & 1 != 0
            hasParent = flags & 2 != 0
        }
    }

    /// The system metadata items a disk needs (section 2.6.2): file parameters, virtual disk
    /// size (u64), page 83 data (a GUID, the SCSI identity), logical and physical sector size
    /// (u32 each, 512 or 4096). Encoded as the metadata region: the table, then the items
    /// from 64 KiB on.
    struct DiskMetadata: Equatable, Sendable {
        var fileParameters: FileParameters
        var virtualDiskSize: UInt64
        var page83Data: GUID
        var logicalSectorSize: UInt32
        var physicalSectorSize: UInt32

        /// Items start after the table (section 2.6.1.2: offsets below 64 KiB are invalid).
        static let itemsOffset = UInt32(MetadataTable.size)

        init(
            fileParameters: FileParameters, virtualDiskSize: UInt64, page83Data: GUID,
            logicalSectorSize: UInt32, physicalSectorSize: UInt32
        ) {
            self.fileParameters = fileParameters
            self.virtualDiskSize = virtualDiskSize
            self.page83Data = page83Data
            self.logicalSectorSize = logicalSectorSize
            self.physicalSectorSize = physicalSectorSize
        }

        /// The items in the order written, with their bytes.
        private var items: [(id: GUID, isVirtualDisk: Bool, bytes: [UInt8])] {
            func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
                var bytes = [UInt8](repeating: 0, count: MemoryLayout<T>.size)
                bytes.storeLittleEndian(value, at: 0)
                return bytes
            }
            return [
                (MetadataID.fileParameters, false, fileParameters.encoded()),
                (MetadataID.virtualDiskSize, true, littleEndian(virtualDiskSize)),
                (MetadataID.page83Data, true, page83Data.bytes),
                (MetadataID.logicalSectorSize, true, littleEndian(logicalSectorSize)),
                (MetadataID.physicalSectorSize, true, littleEndian(physicalSectorSize)),
            ]
        }

        /// The table and the items: the metadata region's first bytes (the rest is zero).
        func encoded() -> [UInt8] {
            var entries: [MetadataTable.Entry] = []
            var itemBytes: [UInt8] = []
            for item in items {
                entries.append(
                    MetadataTable.Entry(
                        itemID: item.id, offset: DiskMetadata.itemsOffset + UInt32(itemBytes.count),
                        length: UInt32(item.bytes.count), isVirtualDisk: item.isVirtualDisk))
                itemBytes += item.bytes
            }
            return MetadataTable(entries: entries).encoded() + itemBytes
        }

        /// Decodes the items `table` names; `readItem(offset, length)` gives the bytes at that
        /// offset of the metadata region (which starts at `regionOffset` of the file `path`),
        /// and is called only after the item is found to lie inside the region's
        /// `regionLength` bytes. Unknown required items, a missing required item and sizes
        /// the spec does not allow are refused.
        init(
            table: MetadataTable, regionOffset: UInt64 = 0, regionLength: UInt64, path: String = "VHDX metadata",
            readItem: (_ offset: UInt64, _ length: Int) throws(DiskImageError) -> [UInt8]
        ) throws(DiskImageError) {
            func malformed(_ offset: UInt64, _ reason: String) -> DiskImageError {
                .malformedImage(path: path, offset: regionOffset + offset, reason: reason)
            }
            let expectedLength: [GUID: Int] = [
                MetadataID.fileParameters: FileParameters.size, MetadataID.virtualDiskSize: 8, MetadataID.page83Data: 16,
                MetadataID.logicalSectorSize: 4, MetadataID.physicalSectorSize: 4,
            ]
            var found: [GUID: [UInt8]] = [:]
            var itemOffsets: [GUID: UInt64] = [:]
            for (index, entry) in table.entries.enumerated() {
                let field = UInt64(MetadataTable.headerSize + index * MetadataTable.entrySize)
                if entry.itemID == MetadataID.parentLocator {
                    throw DiskImageError.unsupportedSource(
                        path: path,
                        reason: "is a differencing VHDX (it has a parent locator); imgship reads standalone images only: merge it into its parent first")
                }
                guard let length = expectedLength[entry.itemID] else {
                    if entry.isRequired {
                        throw malformed(field, "metadata item \(entry.itemID) is marked required and imgship does not know it")
                    }
                    continue
                }
                guard Int(entry.length) == length else {
                    throw malformed(
                        field + UInt64(MetadataTable.EntryOffset.length), "metadata item \(entry.itemID) is \(entry.length) bytes; expected \(length)")
                }
                guard entry.offset >= DiskMetadata.itemsOffset, UInt64(entry.offset) + UInt64(length) <= regionLength else {
                    throw malformed(
                        field + UInt64(MetadataTable.EntryOffset.offset),
                        "metadata item \(entry.itemID) at \(entry.offset) (\(length) bytes); expected inside the region, from 65536 to \(regionLength)")
                }
                guard found[entry.itemID] == nil else {
                    throw malformed(field, "metadata item \(entry.itemID) appears twice")
                }
                found[entry.itemID] = try readItem(UInt64(entry.offset), length)
                itemOffsets[entry.itemID] = UInt64(entry.offset)
            }
            func item(_ id: GUID, _ name: String) throws(DiskImageError) -> [UInt8] {
                guard let bytes = found[id] else { throw malformed(0, "the metadata table has no \(name) item") }
                return bytes
            }
            fileParameters = try FileParameters(decoding: item(MetadataID.fileParameters, "file parameters"), path: path)
            virtualDiskSize = try item(MetadataID.virtualDiskSize, "virtual disk size").loadLittleEndian(UInt64.self, at: 0)
            logicalSectorSize = try item(MetadataID.logicalSectorSize, "logical sector size").loadLittleEndian(UInt32.self, at: 0)
            // Optional for reading: they describe the disk to a guest, not where its bytes are.
            physicalSectorSize = found[MetadataID.physicalSectorSize]?.loadLittleEndian(UInt32.self, at: 0) ?? logicalSectorSize
            page83Data = found[MetadataID.page83Data].map(GUID.init(bytes:)) ?? .zero

            // The limits of sections 2.6.2.1, 2.6.2.2 and 2.6.2.4.
            let blockSize = fileParameters.blockSize
            guard blockSize >= 1 << 20, blockSize <= 256 << 20, blockSize & (blockSize - 1) == 0 else {
                throw malformed(itemOffsets[MetadataID.fileParameters] ?? 0, "block size \(blockSize); expected a power of two from 1 MiB to 256 MiB")
            }
            guard logicalSectorSize == 512 || logicalSectorSize == 4096 else {
                throw malformed(itemOffsets[MetadataID.logicalSectorSize] ?? 0, "logical sector size \(logicalSectorSize); expected 512 or 4096")
            }
            guard virtualDiskSize <= VHDX.maximumSize else {
                throw malformed(
                    itemOffsets[MetadataID.virtualDiskSize] ?? 0, "virtual disk size \(virtualDiskSize); expected at most 64 TiB (\(VHDX.maximumSize) bytes)")
            }
        }

        /// Decodes a metadata region held whole in `region` (tests, small files).
        init(decodingRegion region: [UInt8], path: String = "VHDX metadata") throws(DiskImageError) {
            let table = try MetadataTable(decoding: region, path: path)
            try self.init(table: table, regionLength: UInt64(region.count), path: path) { (offset, length) throws(DiskImageError) in
                Array(region[Int(offset)..<(Int(offset) + length)])
            }
        }
    }
}
