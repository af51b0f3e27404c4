/// Microsoft Virtual Hard Disk v2 (VHDX), Open Specifications [MS-VHDX] v1.0. All integers
/// are little-endian; GUIDs are stored as Windows writes them (the first three fields
/// little-endian, the last eight bytes as they are).
///
/// ```
/// 0       64K      128K     192K     256K        1 MiB        2 MiB          2 MiB + BAT
/// +-------+--------+--------+--------+--------+--+------------+--------------+-----------+------------------+
/// | file  | header | header | region | region |  | log (1 MiB,| BAT: u64 per | metadata  | payload blocks,  |
/// | ident.| 1      | 2      | table 1| table 2|  | empty)     | block, MiB-  | region    | 32 MiB each, in  |
/// | 64K   | 4K+pad | 4K+pad | 64K    | 64K    |  |            | aligned      | (1 MiB)   | block order      |
/// +-------+--------+--------+--------+--------+--+------------+--------------+-----------+------------------+
///  header section (1 MiB)                           regions and blocks all start on 1 MiB boundaries
/// ```
/// File type identifier: section 2.2.1 (`VHDX.FileIdentifier`); headers: 2.2.2
/// (`VHDX.Header`), the current one is the valid one with the larger sequence number; region
/// table: 2.2.3 (`VHDX.RegionTable`); log: 2.3, empty when the header's LogGuid is zero; BAT:
/// 2.5 (`VHDX.BATEntry`, `VHDX.BATLayout`); metadata region: 2.6 (`VHDX.MetadataTable`,
/// `VHDX.FileParameters`, `VHDX.DiskMetadata`). Reading: `VHDX+Reader.swift`; writing:
/// `VHDX+Writer.swift`.
package enum VHDX {
    /// Largest virtual size the format allows (section 2.6.2.2): 64 TiB.
    package static let maximumSize: UInt64 = 64 << 40
    /// Payload block sizes the format allows (section 2.6.2.1): powers of two from 1 MiB to
    /// 256 MiB.
    package static let blockSizeRange = (1 << 20)...(256 << 20)
    /// Microsoft's "Best Practices for running Linux on Hyper-V", "Tuning Linux File Systems
    /// on Dynamic VHDX Files": create VHDX files with 1 MB blocks instead of the default
    /// 32 MB, so a mostly empty Linux file system does not take real disk space.
    package static let blockSizeSource = "https://learn.microsoft.com/windows-server/virtualization/hyper-v/best-practices-for-running-linux-on-hyper-v"
    /// The most payload blocks a default block size gives: the BAT (8 bytes an entry) and the
    /// writer's one flag a block stay small (qemu's block/vhdx.c picks its defaults "to keep
    /// the BAT size reasonable to load into RAM" too, 8 MiB blocks up to 1 GiB, 16 MiB to
    /// 100 GiB, 32 MiB to 32 TiB, then 64 MiB).
    static let maximumDefaultBlocks: UInt64 = 1 << 20

    /// The block size of a VHDX written without `--block-size`: 1 MiB, Microsoft's
    /// recommendation for Linux guests (`blockSizeSource`), for a disk up to 1 TiB; a larger
    /// one gets the smallest power of two that keeps it within 2^20 blocks (2 MiB at 2 TiB,
    /// 64 MiB at the format's 64 TiB).
    package static func defaultBlockSize(virtualSize: UInt64) -> Int {
        var size = blockSizeRange.lowerBound
        while size < blockSizeRange.upperBound && virtualSize > UInt64(size) * maximumDefaultBlocks { size *= 2 }
        return size
    }

    /// Whether `bytes` is a block size the format allows.
    package static func isValidBlockSize(_ bytes: Int) -> Bool {
        blockSizeRange.contains(bytes) && bytes & (bytes - 1) == 0
    }
    /// Sector sizes we write (section 2.6.2.4, 2.6.2.5): 512-byte logical sectors as every
    /// hypervisor boots from, 4096-byte physical sectors as Hyper-V creates.
    static let logicalSectorSize: UInt32 = 512
    static let physicalSectorSize: UInt32 = 4096
    /// Regions, the log and payload blocks start on 1 MiB boundaries (section 2.2.3.1, 2.5).
    static let alignment: UInt64 = 1 << 20
    /// The header section: identifier, two headers and two region tables (section 2.2).
    static let headerSectionSize: UInt64 = 1 << 20
    static let identifierOffset: UInt64 = 0
    static let headerOffsets: [UInt64] = [64 * 1024, 128 * 1024]
    static let regionTableOffsets: [UInt64] = [192 * 1024, 256 * 1024]
    /// Region tables and metadata tables hold at most this many entries (2.2.3, 2.6.1).
    static let maximumTableEntries = 2047

    /// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, initial and final value all
    /// ones): the checksum of headers and region tables (section 2.2.2).
    static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = crc32cTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return ~crc
    }

    /// The checksum of `bytes` with the 4-byte field at `field` read as zero, as the spec
    /// computes it.
    static func crc32c(_ bytes: [UInt8], zeroing field: Int) -> UInt32 {
        var zeroed = bytes
        zeroed.replaceSubrange(field..<(field + 4), with: [0, 0, 0, 0])
        return crc32c(zeroed)
    }

    private static let crc32cTable: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 != 0 ? (value >> 1) ^ 0x82F6_3B78 : value >> 1 }
        return value
    }
}

extension VHDX {
    /// A GUID as VHDX stores it: 16 bytes, Data1 (u32), Data2 and Data3 (u16) little-endian,
    /// Data4 as is (section 2.1, "GUID").
    struct GUID: Equatable, Hashable, Sendable, CustomStringConvertible {
        var bytes: [UInt8]

        static let zero = GUID(bytes: [UInt8](repeating: 0, count: 16))

        init(bytes: [UInt8]) {
            precondition(bytes.count == 16)
            self.bytes = bytes
        }

        /// The GUID written as `data1-data2-data3-data4[0..<2]-data4[2..<8]`.
        init(_ data1: UInt32, _ data2: UInt16, _ data3: UInt16, _ data4: [UInt8]) {
            var bytes = [UInt8](repeating: 0, count: 16)
            bytes.storeLittleEndian(data1, at: 0)
            bytes.storeLittleEndian(data2, at: 4)
            bytes.storeLittleEndian(data3, at: 6)
            bytes.replaceSubrange(8..<16, with: data4)
            self.init(bytes: bytes)
        }

        init(in bytes: [UInt8], at offset: Int) {
            self.init(bytes: Array(bytes[offset..<(offset + 16)]))
        }

        var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

        var description: String {
            let data1 = bytes.loadLittleEndian(UInt32.self, at: 0)
            let data2 = bytes.loadLittleEndian(UInt16.self, at: 4)
            let data3 = bytes.loadLittleEndian(UInt16.self, at: 6)
            func hex<T: FixedWidthInteger>(_ value: T, _ width: Int) -> String {
                let text = String(value, radix: 16, uppercase: true)
                return String(repeating: "0", count: max(0, width - text.count)) + text
            }
            let tail = bytes[8..<16].map { hex($0, 2) }
            return "\(hex(data1, 8))-\(hex(data2, 4))-\(hex(data3, 4))-\(tail[0..<2].joined())-\(tail[2..<8].joined())"
        }
    }

    /// Region GUIDs (section 2.2.3.2).
    enum RegionID {
        static let blockAllocationTable = GUID(0x2DC2_7766, 0xF623, 0x4200, [0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08])
        static let metadata = GUID(0x8B7C_A206, 0x4790, 0x4B9A, [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E])
    }

    /// Metadata item GUIDs (section 2.6.2).
    enum MetadataID {
        static let fileParameters = GUID(0xCAA1_6737, 0xFA36, 0x4D43, [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B])
        static let virtualDiskSize = GUID(0x2FA5_4224, 0xCD1B, 0x4876, [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8])
        static let page83Data = GUID(0xBECA_12AB, 0xB2E6, 0x4523, [0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46])
        static let logicalSectorSize = GUID(0x8141_BF1D, 0xA96F, 0x4709, [0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F])
        static let physicalSectorSize = GUID(0xCDA3_48C7, 0x445D, 0x4471, [0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56])
        static let parentLocator = GUID(0xA8D3_5F2D, 0xB30B, 0x454D, [0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C])
    }
}
