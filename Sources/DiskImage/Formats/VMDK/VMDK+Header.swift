extension VMDK {
    /// The 512-byte sparse extent header (Virtual Disk Format 5.0, "Hosted Sparse Extent
    /// Header"), little-endian, at sector 0 and, in a stream-optimized extent, again as the
    /// footer with the real grain directory offset.
    struct SparseExtentHeader: Equatable, Sendable {
        static let size = 512
        static let magic = Array("KDMV".utf8)
        /// Grain directory offset meaning "read the footer at the end of the file".
        static let gdAtEnd = UInt64.max
        static let flagNewlineTest: UInt32 = 1 << 0
        static let flagCompressed: UInt32 = 1 << 16
        static let flagMarkers: UInt32 = 1 << 17

        /// Field offsets, as the technote's `SparseExtentHeader` lays them out (packed).
        enum Offset {
            static let magic = 0
            static let version = 4
            static let flags = 8
            static let capacity = 12
            static let grainSize = 20
            static let descriptorOffset = 28
            static let descriptorSize = 36
            static let numGTEsPerGT = 44
            static let rgdOffset = 48
            static let gdOffset = 56
            static let overHead = 64
            static let uncleanShutdown = 72
            static let newlineTest = 73
            static let compressAlgorithm = 77
        }

        var version: UInt32 = 3
        /// Bit 0: newline test valid; bit 16: compressed grains; bit 17: markers.
        var flags: UInt32 = 0x0003_0001
        /// Virtual size in sectors.
        var capacity: UInt64
        /// Grain size in sectors.
        var grainSize: UInt64 = VMDK.grainSectors
        /// Sector of the embedded descriptor, and its reserved sectors.
        var descriptorOffset: UInt64 = 1
        var descriptorSize: UInt64 = VMDK.descriptorSectors
        var numGTEsPerGT: UInt32 = UInt32(VMDK.grainTableEntries)
        /// Redundant grain directory: none.
        var rgdOffset: UInt64 = 0
        /// Sector of the grain directory (its marker sits one sector before), or `gdAtEnd`.
        var gdOffset: UInt64
        /// Sectors before the first grain.
        var overHead: UInt64 = VMDK.overheadSectors
        var uncleanShutdown: UInt8 = 0
        /// The four newline-detection bytes: `0a 20 0d 0a` unless a transfer mangled them.
        var newlineTest: [UInt8] = [0x0A, 0x20, 0x0D, 0x0A]
        /// 1: deflate.
        var compressAlgorithm: UInt16 = 1

        /// The header imgship writes: version 3, compressed grains with markers, 64 KiB grains.
        init(capacity: UInt64, gdOffset: UInt64) {
            self.capacity = capacity
            self.gdOffset = gdOffset
        }

        var isCompressed: Bool { flags & Self.flagCompressed != 0 }
        var hasMarkers: Bool { flags & Self.flagMarkers != 0 }

        func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: SparseExtentHeader.size)
            bytes.storeASCII("KDMV", at: Offset.magic)  // 0 magic
            bytes.storeLittleEndian(version, at: Offset.version)  // 4 version (ESXi: 3)
            bytes.storeLittleEndian(flags, at: Offset.flags)  // 8 flags
            bytes.storeLittleEndian(capacity, at: Offset.capacity)  // 12 capacity in sectors
            bytes.storeLittleEndian(grainSize, at: Offset.grainSize)  // 20 grain size in sectors
            bytes.storeLittleEndian(descriptorOffset, at: Offset.descriptorOffset)  // 28 descriptor offset
            bytes.storeLittleEndian(descriptorSize, at: Offset.descriptorSize)  // 36 descriptor size
            bytes.storeLittleEndian(numGTEsPerGT, at: Offset.numGTEsPerGT)  // 44 GTEs per GT
            bytes.storeLittleEndian(rgdOffset, at: Offset.rgdOffset)  // 48 redundant GD
            bytes.storeLittleEndian(gdOffset, at: Offset.gdOffset)  // 56 GD offset
            bytes.storeLittleEndian(overHead, at: Offset.overHead)  // 64 overhead
            bytes[Offset.uncleanShutdown] = uncleanShutdown  // 72 unclean shutdown
            bytes.replaceSubrange(Offset.newlineTest..<(Offset.newlineTest + 4), with: newlineTest)  // 73 newline test
            bytes.storeLittleEndian(compressAlgorithm, at: Offset.compressAlgorithm)  // 77 compression
            return bytes  // 79..<512 pad: zero
        }

        /// Decodes the 512 bytes of `bytes`, which lie at `offset` of the file `path`; only
        /// the magic is checked here, the values are the reader's to judge.
        init(
            decoding bytes: [UInt8], at offset: UInt64 = 0, path: String = "VMDK header",
            missing: String = "no VMDK sparse extent magic \"KDMV\""
        ) throws(DiskImageError) {
            guard bytes.count >= SparseExtentHeader.size, Array(bytes[0..<4]) == Self.magic else {
                throw DiskImageError.malformedImage(path: path, offset: offset, reason: missing)
            }
            version = bytes.loadLittleEndian(UInt32.self, at: Offset.version)
            flags = bytes.loadLittleEndian(UInt32.self, at: Offset.flags)
            capacity = bytes.loadLittleEndian(UInt64.self, at: Offset.capacity)
            grainSize = bytes.loadLittleEndian(UInt64.self, at: Offset.grainSize)
            descriptorOffset = bytes.loadLittleEndian(UInt64.self, at: Offset.descriptorOffset)
            descriptorSize = bytes.loadLittleEndian(UInt64.self, at: Offset.descriptorSize)
            numGTEsPerGT = bytes.loadLittleEndian(UInt32.self, at: Offset.numGTEsPerGT)
            rgdOffset = bytes.loadLittleEndian(UInt64.self, at: Offset.rgdOffset)
            gdOffset = bytes.loadLittleEndian(UInt64.self, at: Offset.gdOffset)
            overHead = bytes.loadLittleEndian(UInt64.self, at: Offset.overHead)
            uncleanShutdown = bytes[Offset.uncleanShutdown]
            newlineTest = Array(bytes[Offset.newlineTest..<(Offset.newlineTest + 4)])
            compressAlgorithm = bytes.loadLittleEndian(UInt16.self, at: Offset.compressAlgorithm)
        }
    }
}
