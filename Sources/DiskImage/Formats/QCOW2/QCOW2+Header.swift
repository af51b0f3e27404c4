extension QCOW2 {
    /// The qcow2 header (section "Header"), big-endian: 72 bytes in version 2, at least 104
    /// in version 3 (`headerLength`), then the compression type byte when it is longer.
    struct Header: Equatable, Sendable {
        /// Bytes of a version 2 header, and of the fixed part of a version 3 one.
        static let version2Size = 72
        static let version3Size = 104

        /// Field offsets, as qcow2.txt gives them.
        enum Offset {
            static let magic = 0
            static let version = 4
            static let backingFileOffset = 8
            static let backingFileSize = 16
            static let clusterBits = 20
            static let size = 24
            static let cryptMethod = 32
            static let l1Size = 36
            static let l1TableOffset = 40
            static let refcountTableOffset = 48
            static let refcountTableClusters = 56
            static let nbSnapshots = 60
            static let snapshotsOffset = 64
            // Version 3:
            static let incompatibleFeatures = 72
            static let compatibleFeatures = 80
            static let autoclearFeatures = 88
            static let refcountOrder = 96
            static let headerLength = 100
            static let compressionType = 104
        }

        var version: UInt32
        var backingFileOffset: UInt64 = 0
        var backingFileSize: UInt32 = 0
        var clusterBits: UInt32
        /// Virtual size in bytes.
        var size: UInt64
        var cryptMethod: UInt32 = 0
        var l1Size: UInt32
        var l1TableOffset: UInt64
        var refcountTableOffset: UInt64
        var refcountTableClusters: UInt32
        var nbSnapshots: UInt32 = 0
        var snapshotsOffset: UInt64 = 0
        // Version 3 (zero in version 2):
        var incompatibleFeatures: UInt64 = 0
        var compatibleFeatures: UInt64 = 0
        var autoclearFeatures: UInt64 = 0
        var refcountOrder: UInt32 = 4
        var headerLength: UInt32
        /// 0 deflate, 1 zstd; stored only when `headerLength` > 104.
        var compressionType: UInt8 = 0

        init(
            version: UInt32, clusterBits: UInt32, size: UInt64, l1Size: UInt32, l1TableOffset: UInt64,
            refcountTableOffset: UInt64, refcountTableClusters: UInt32
        ) {
            self.version = version
            self.clusterBits = clusterBits
            self.size = size
            self.l1Size = l1Size
            self.l1TableOffset = l1TableOffset
            self.refcountTableOffset = refcountTableOffset
            self.refcountTableClusters = refcountTableClusters
            headerLength = version == 2 ? UInt32(Header.version2Size) : UInt32(Header.version3Size)
        }

        /// `headerLength` bytes (72 for version 2).
        func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: Int(headerLength))
            bytes.replaceSubrange(0..<4, with: QCOW2.magic)  // 0 magic
            bytes.storeBigEndian(version, at: Offset.version)  // 4 version
            bytes.storeBigEndian(backingFileOffset, at: Offset.backingFileOffset)  // 8 backing file name offset
            bytes.storeBigEndian(backingFileSize, at: Offset.backingFileSize)  // 16 its length
            bytes.storeBigEndian(clusterBits, at: Offset.clusterBits)  // 20 cluster bits
            bytes.storeBigEndian(size, at: Offset.size)  // 24 virtual size
            bytes.storeBigEndian(cryptMethod, at: Offset.cryptMethod)  // 32 encryption
            bytes.storeBigEndian(l1Size, at: Offset.l1Size)  // 36 L1 entries
            bytes.storeBigEndian(l1TableOffset, at: Offset.l1TableOffset)  // 40 L1 offset
            bytes.storeBigEndian(refcountTableOffset, at: Offset.refcountTableOffset)  // 48 refcount table
            bytes.storeBigEndian(refcountTableClusters, at: Offset.refcountTableClusters)  // 56 its clusters
            bytes.storeBigEndian(nbSnapshots, at: Offset.nbSnapshots)  // 60 snapshots
            bytes.storeBigEndian(snapshotsOffset, at: Offset.snapshotsOffset)  // 64 snapshot table
            guard version >= 3 else { return bytes }
            bytes.storeBigEndian(incompatibleFeatures, at: Offset.incompatibleFeatures)  // 72
            bytes.storeBigEndian(compatibleFeatures, at: Offset.compatibleFeatures)  // 80
            bytes.storeBigEndian(autoclearFeatures, at: Offset.autoclearFeatures)  // 88
            bytes.storeBigEndian(refcountOrder, at: Offset.refcountOrder)  // 96
            bytes.storeBigEndian(headerLength, at: Offset.headerLength)  // 100
            if headerLength > UInt32(Header.version3Size) { bytes[Offset.compressionType] = compressionType }  // 104
            return bytes
        }

        /// Decodes a header from `bytes`: 72 bytes, or for version 3 at least 104 (and the
        /// compression type byte when `headerLength` says it is there and `bytes` holds it).
        /// Only the magic is checked; the reader judges the values.
        init(decoding bytes: [UInt8], at offset: UInt64 = 0, path: String = "qcow2 header") throws(DiskImageError) {
            guard bytes.count >= Header.version2Size, Array(bytes[0..<4]) == QCOW2.magic else {
                throw DiskImageError.malformedImage(path: path, offset: offset, reason: "no qcow2 magic \"QFI\\xfb\"")
            }
            version = bytes.loadBigEndian(UInt32.self, at: Offset.version)
            backingFileOffset = bytes.loadBigEndian(UInt64.self, at: Offset.backingFileOffset)
            backingFileSize = bytes.loadBigEndian(UInt32.self, at: Offset.backingFileSize)
            clusterBits = bytes.loadBigEndian(UInt32.self, at: Offset.clusterBits)
            size = bytes.loadBigEndian(UInt64.self, at: Offset.size)
            cryptMethod = bytes.loadBigEndian(UInt32.self, at: Offset.cryptMethod)
            l1Size = bytes.loadBigEndian(UInt32.self, at: Offset.l1Size)
            l1TableOffset = bytes.loadBigEndian(UInt64.self, at: Offset.l1TableOffset)
            refcountTableOffset = bytes.loadBigEndian(UInt64.self, at: Offset.refcountTableOffset)
            refcountTableClusters = bytes.loadBigEndian(UInt32.self, at: Offset.refcountTableClusters)
            nbSnapshots = bytes.loadBigEndian(UInt32.self, at: Offset.nbSnapshots)
            snapshotsOffset = bytes.loadBigEndian(UInt64.self, at: Offset.snapshotsOffset)
            headerLength = UInt32(Header.version2Size)
            guard version >= 3, bytes.count >= Header.version3Size else { return }
            incompatibleFeatures = bytes.loadBigEndian(UInt64.self, at: Offset.incompatibleFeatures)
            compatibleFeatures = bytes.loadBigEndian(UInt64.self, at: Offset.compatibleFeatures)
            autoclearFeatures = bytes.loadBigEndian(UInt64.self, at: Offset.autoclearFeatures)
            refcountOrder = bytes.loadBigEndian(UInt32.self, at: Offset.refcountOrder)
            headerLength = bytes.loadBigEndian(UInt32.self, at: Offset.headerLength)
            if headerLength > UInt32(Header.version3Size), bytes.count > Offset.compressionType {
                compressionType = bytes[Offset.compressionType]
            }
        }
    }
}
