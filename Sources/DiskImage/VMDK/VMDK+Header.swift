extension VMDK {
    /// The 512-byte sparse extent header, little-endian, at sector 0 and again as the footer.
    public struct SparseExtentHeader: Equatable, Sendable {
        /// Grain directory offset meaning "read the footer at the end of the file".
        public static let gdAtEnd = UInt64.max
        /// Virtual size in sectors.
        public var capacity: UInt64
        /// Sector of the grain directory (its marker sits one sector before), or `gdAtEnd`.
        public var gdOffset: UInt64

        public init(capacity: UInt64, gdOffset: UInt64) {
            self.capacity = capacity
            self.gdOffset = gdOffset
        }

        public func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: VMDK.sectorSize)
            bytes.storeASCII("KDMV", at: 0)                                      // 0 magic
            bytes.storeLittleEndian(UInt32(3), at: 4)                            // 4 version 3 (ESXi rejects lower)
            // 8 flags: bit 0 newline test valid, bit 16 compressed grains, bit 17 markers.
            bytes.storeLittleEndian(UInt32(0x0003_0001), at: 8)
            bytes.storeLittleEndian(capacity, at: 12)                            // 12 capacity in sectors
            bytes.storeLittleEndian(VMDK.grainSectors, at: 20)                   // 20 grain size in sectors
            bytes.storeLittleEndian(UInt64(1), at: 28)                           // 28 descriptor offset
            bytes.storeLittleEndian(VMDK.descriptorSectors, at: 36)              // 36 descriptor size
            bytes.storeLittleEndian(UInt32(VMDK.grainTableEntries), at: 44)      // 44 GTEs per GT
            bytes.storeLittleEndian(UInt64(0), at: 48)                           // 48 redundant GD: none
            bytes.storeLittleEndian(gdOffset, at: 56)                            // 56 GD offset
            bytes.storeLittleEndian(VMDK.overheadSectors, at: 64)                // 64 overhead
            bytes[72] = 0                                                        // 72 unclean shutdown
            bytes[73] = 0x0A; bytes[74] = 0x20; bytes[75] = 0x0D; bytes[76] = 0x0A  // 73 newline test
            bytes.storeLittleEndian(UInt16(1), at: 77)                           // 77 compression: deflate
            return bytes
        }
    }

    /// Metadata marker types of stream-optimized extents.
    public enum MarkerType: UInt32, Sendable {
        case endOfStream = 0
        case grainTable = 1
        case grainDirectory = 2
        case footer = 3
    }

    /// A metadata marker: one sector holding numSectors (u64), size 0 (u32), type (u32),
    /// then 496 zero bytes. The end-of-stream marker is an all-zero sector.
    static func metadataMarker(_ type: MarkerType, sectors: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: VMDK.sectorSize)
        bytes.storeLittleEndian(sectors, at: 0)                                  // 0 numSectors of metadata
        bytes.storeLittleEndian(UInt32(0), at: 8)                                // 8 size: 0 marks metadata
        bytes.storeLittleEndian(type.rawValue, at: 12)                           // 12 type
        return bytes
    }

    /// Bytes in front of a grain's compressed data: lba (u64) and compressed size (u32).
    static let grainMarkerSize = 12
}
