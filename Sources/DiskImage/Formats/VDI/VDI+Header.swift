extension VDI {
    /// The pre-header (`VDIPREHEADER`, 72 bytes) and the version 1.1 header after it
    /// (`VDIHEADER1`, 384 bytes; `VDIHEADER1PLUS` adds the LCHS geometry, 400 bytes), as one
    /// little-endian structure at offset 0. Offsets are from the start of the file.
    struct Header: Equatable, Sendable {
        /// Bytes of the pre-header and a `VDIHEADER1`: what a reader needs.
        static let size = 72 + 384

        enum Offset {
            static let fileInfo = 0  // szFileInfo[64], text for eyes only
            static let signature = 64  // u32Signature
            static let version = 68  // u32Version: major << 16 | minor
            static let headerSize = 72  // cbHeader
            static let imageType = 76  // u32Type
            static let flags = 80  // fFlags
            static let comment = 84  // szComment[256]
            static let blocksOffset = 340  // offBlocks
            static let dataOffset = 344  // offData
            static let legacyGeometry = 348  // cylinders, heads, sectors, sector size (4 x u32)
            static let diskSize = 368  // cbDisk u64 (after u32Dummy at 364)
            static let blockSize = 376  // cbBlock
            static let blockExtra = 380  // cbBlockExtra
            static let blockCount = 384  // cBlocks
            static let allocatedBlocks = 388  // cBlocksAllocated
            static let creationUUID = 392  // uuidCreate
            static let modificationUUID = 408  // uuidModify
            static let linkageUUID = 424  // uuidLinkage: the parent of a child image
            static let parentModificationUUID = 440  // uuidParentModify
        }

        /// `VDIIMAGETYPE`.
        enum ImageType: UInt32, Sendable {
            case normal = 1, fixed, undo, differencing
        }

        /// The text of `szFileInfo`, up to its first NUL.
        var fileInfo: String
        var version: UInt32 = 0x0001_0001
        var headerSize: UInt32 = 0x190
        /// The raw `u32Type`: `ImageType` when it is a known one.
        var imageType: UInt32
        var flags: UInt32 = 0
        var comment: String = ""
        var blocksOffset: UInt32
        var dataOffset: UInt32
        /// Virtual size in bytes.
        var diskSize: UInt64
        var blockSize: UInt32 = 1 << 20
        var blockExtra: UInt32 = 0
        var blockCount: UInt32
        var allocatedBlocks: UInt32
        var creationUUID: [UInt8] = [UInt8](repeating: 0, count: 16)
        var modificationUUID: [UInt8] = [UInt8](repeating: 0, count: 16)
        var linkageUUID: [UInt8] = [UInt8](repeating: 0, count: 16)
        var parentModificationUUID: [UInt8] = [UInt8](repeating: 0, count: 16)

        init(
            imageType: ImageType, diskSize: UInt64, blocksOffset: UInt32, dataOffset: UInt32, blockCount: UInt32, allocatedBlocks: UInt32,
            fileInfo: String = "<<< imgship test VDI >>>\n"
        ) {
            self.imageType = imageType.rawValue
            self.diskSize = diskSize
            self.blocksOffset = blocksOffset
            self.dataOffset = dataOffset
            self.blockCount = blockCount
            self.allocatedBlocks = allocatedBlocks
            self.fileInfo = fileInfo
        }

        /// `size` bytes: the pre-header and a version 1.1 header.
        func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: Header.size)
            bytes.storeASCII(String(fileInfo.prefix(63)), at: Offset.fileInfo)  // 0 file info text
            bytes.storeLittleEndian(VDI.signature, at: Offset.signature)  // 64 signature
            bytes.storeLittleEndian(version, at: Offset.version)  // 68 version 1.1
            bytes.storeLittleEndian(headerSize, at: Offset.headerSize)  // 72 cbHeader
            bytes.storeLittleEndian(imageType, at: Offset.imageType)  // 76 u32Type
            bytes.storeLittleEndian(flags, at: Offset.flags)  // 80 fFlags
            bytes.storeASCII(String(comment.prefix(255)), at: Offset.comment)  // 84 szComment
            bytes.storeLittleEndian(blocksOffset, at: Offset.blocksOffset)  // 340 offBlocks
            bytes.storeLittleEndian(dataOffset, at: Offset.dataOffset)  // 344 offData
            bytes.storeLittleEndian(UInt32(512), at: Offset.legacyGeometry + 12)  // 360 legacy sector size
            bytes.storeLittleEndian(diskSize, at: Offset.diskSize)  // 368 cbDisk
            bytes.storeLittleEndian(blockSize, at: Offset.blockSize)  // 376 cbBlock
            bytes.storeLittleEndian(blockExtra, at: Offset.blockExtra)  // 380 cbBlockExtra
            bytes.storeLittleEndian(blockCount, at: Offset.blockCount)  // 384 cBlocks
            bytes.storeLittleEndian(allocatedBlocks, at: Offset.allocatedBlocks)  // 388 cBlocksAllocated
            for (uuid, offset) in [
                (creationUUID, Offset.creationUUID), (modificationUUID, Offset.modificationUUID),
                (linkageUUID, Offset.linkageUUID), (parentModificationUUID, Offset.parentModificationUUID),
            ] {
                bytes.replaceSubrange(offset..<(offset + 16), with: uuid.prefix(16))  // 392.. the four UUIDs
            }
            return bytes
        }

        /// Reads the pre-header and header from `bytes` (`size` of them), checking the signature
        /// and the major version; the other fields are checked by the reader, against the file.
        init(decoding bytes: [UInt8], path: String) throws(DiskImageError) {
            precondition(bytes.count >= Header.size)
            let signature = bytes.loadLittleEndian(UInt32.self, at: Offset.signature)
            guard signature == VDI.signature else {
                throw DiskImageError.malformedImage(
                    path: path, offset: UInt64(Offset.signature),
                    reason: "VDI signature 0x\(String(signature, radix: 16)); expected 0xbeda107f")
            }
            version = bytes.loadLittleEndian(UInt32.self, at: Offset.version)
            guard version >> 16 == 1 else {
                throw DiskImageError.unsupportedSource(
                    path: path,
                    reason:
                        "is a VDI of header version \(version >> 16).\(version & 0xFFFF); imgship reads version 1.1, which VirtualBox has written since 2008")
            }
            func text(_ range: Range<Int>) -> String {
                String(decoding: bytes[range].prefix { $0 != 0 }, as: UTF8.self)
            }
            fileInfo = text(Offset.fileInfo..<Offset.signature)
            headerSize = bytes.loadLittleEndian(UInt32.self, at: Offset.headerSize)
            imageType = bytes.loadLittleEndian(UInt32.self, at: Offset.imageType)
            flags = bytes.loadLittleEndian(UInt32.self, at: Offset.flags)
            comment = text(Offset.comment..<Offset.blocksOffset)
            blocksOffset = bytes.loadLittleEndian(UInt32.self, at: Offset.blocksOffset)
            dataOffset = bytes.loadLittleEndian(UInt32.self, at: Offset.dataOffset)
            diskSize = bytes.loadLittleEndian(UInt64.self, at: Offset.diskSize)
            blockSize = bytes.loadLittleEndian(UInt32.self, at: Offset.blockSize)
            blockExtra = bytes.loadLittleEndian(UInt32.self, at: Offset.blockExtra)
            blockCount = bytes.loadLittleEndian(UInt32.self, at: Offset.blockCount)
            allocatedBlocks = bytes.loadLittleEndian(UInt32.self, at: Offset.allocatedBlocks)
            creationUUID = Array(bytes[Offset.creationUUID..<(Offset.creationUUID + 16)])
            modificationUUID = Array(bytes[Offset.modificationUUID..<(Offset.modificationUUID + 16)])
            linkageUUID = Array(bytes[Offset.linkageUUID..<(Offset.linkageUUID + 16)])
            parentModificationUUID = Array(bytes[Offset.parentModificationUUID..<(Offset.parentModificationUUID + 16)])
        }

        /// A UUID as VirtualBox prints it: IPRT stores the first three groups little-endian
        /// (qemu's `uuid_convert` swaps them the same way).
        static func formatted(_ uuid: [UInt8]) -> String {
            let order = [3, 2, 1, 0, -1, 5, 4, -1, 7, 6, -1, 8, 9, -1, 10, 11, 12, 13, 14, 15]
            return order.map { $0 < 0 ? "-" : hex($0 < uuid.count ? uuid[$0] : 0) }.joined()
        }

        private static func hex(_ byte: UInt8) -> String {
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
        }
    }
}
