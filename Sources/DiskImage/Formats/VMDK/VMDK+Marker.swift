extension VMDK {
    /// Metadata marker types of stream-optimized extents.
    enum MarkerType: UInt32, Sendable {
        case endOfStream = 0
        case grainTable = 1
        case grainDirectory = 2
        case footer = 3
    }

    /// A metadata marker (technote, "Stream-Optimized Compressed Sparse Extents"): one
    /// sector holding numSectors (u64), size 0 (u32), type (u32), then 496 zero bytes. The
    /// end-of-stream marker is an all-zero sector.
    struct MetadataMarker: Equatable, Sendable {
        enum Offset {
            static let numSectors = 0
            static let size = 8
            static let type = 12
        }

        var type: MarkerType
        /// Sectors of metadata after the marker.
        var sectors: UInt64

        init(_ type: MarkerType, sectors: UInt64) {
            self.type = type
            self.sectors = sectors
        }

        func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: VMDK.sectorSize)
            bytes.storeLittleEndian(sectors, at: Offset.numSectors)  // 0 numSectors of metadata
            bytes.storeLittleEndian(UInt32(0), at: Offset.size)  // 8 size: 0 marks metadata
            bytes.storeLittleEndian(type.rawValue, at: Offset.type)  // 12 type
            return bytes
        }

        /// nil when the sector is not a metadata marker (its size field is not 0, or the type
        /// is unknown).
        init?(decoding bytes: [UInt8]) {
            guard bytes.count >= VMDK.sectorSize, bytes.loadLittleEndian(UInt32.self, at: Offset.size) == 0,
                let type = MarkerType(rawValue: bytes.loadLittleEndian(UInt32.self, at: Offset.type))
            else { return nil }
            self.type = type
            sectors = bytes.loadLittleEndian(UInt64.self, at: Offset.numSectors)
        }
    }

    static func metadataMarker(_ type: MarkerType, sectors: UInt64) -> [UInt8] {
        MetadataMarker(type, sectors: sectors).encoded()
    }

    /// The 12 bytes in front of a compressed grain's data: lba (u64, the grain's first
    /// sector) and the compressed size (u32).
    struct GrainMarker: Equatable, Sendable {
        static let size = 12
        enum Offset {
            static let lba = 0
            static let compressedSize = 8
        }

        var lba: UInt64
        var compressedSize: UInt32

        init(lba: UInt64, compressedSize: UInt32) {
            self.lba = lba
            self.compressedSize = compressedSize
        }

        /// Stores the marker at `offset` of a pipeline slab.
        func store(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
            buffer.storeLittleEndian(lba, at: offset + Offset.lba)  // 0 lba
            buffer.storeLittleEndian(compressedSize, at: offset + Offset.compressedSize)  // 8 size
        }

        func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: GrainMarker.size)
            bytes.storeLittleEndian(lba, at: Offset.lba)  // 0 lba
            bytes.storeLittleEndian(compressedSize, at: Offset.compressedSize)  // 8 size
            return bytes
        }

        init(decoding bytes: [UInt8]) {
            lba = bytes.loadLittleEndian(UInt64.self, at: Offset.lba)
            compressedSize = bytes.loadLittleEndian(UInt32.self, at: Offset.compressedSize)
        }
    }

    /// Bytes in front of a grain's compressed data: lba (u64) and compressed size (u32).
    static let grainMarkerSize = GrainMarker.size
}
