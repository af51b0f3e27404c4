extension VHD {
    /// The type stored in the footer's Disk Type field.
    public enum DiskType: UInt32, Sendable {
        case fixed = 2
        case dynamic = 3
    }

    /// The 512-byte hard disk footer (spec section "Hard Disk Footer Format"), big-endian.
    public struct Footer: Equatable, Sendable {
        public static let size = 512
        public var diskType: DiskType
        /// Virtual size in bytes; written as both Original Size and Current Size.
        public var diskSize: UInt64
        /// Seconds since 2000-01-01 00:00:00 UTC.
        public var timestamp: UInt32
        public var uniqueID: [UInt8]

        /// Readers such as qemu take the exact Current Size only from creators they know,
        /// and otherwise round the size to the CHS geometry, which cannot express most sizes.
        /// "win " is the tag Hyper-V writes; Hyper-V and Azure, our targets, use Current Size.
        public static let creatorApplication = "win "
        public static let creatorVersion: UInt32 = 0x000A_0000
        public static let creatorHostOS = "Wi2k"

        public init(diskType: DiskType, diskSize: UInt64, timestamp: UInt32, uniqueID: [UInt8]) {
            precondition(uniqueID.count == 16)
            self.diskType = diskType
            self.diskSize = diskSize
            self.timestamp = timestamp
            self.uniqueID = uniqueID
        }

        public var geometry: Geometry { Geometry(totalSectors: diskSize / 512) }

        public func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: Footer.size)
            bytes.storeASCII("conectix", at: 0)                                  // 0 cookie
            bytes.storeBigEndian(UInt32(0x0000_0002), at: 8)                     // 8 features: reserved bit
            bytes.storeBigEndian(UInt32(0x0001_0000), at: 12)                    // 12 file format version 1.0
            let dataOffset: UInt64 = diskType == .fixed ? .max : 512
            bytes.storeBigEndian(dataOffset, at: 16)                             // 16 data offset: dynamic header
            bytes.storeBigEndian(timestamp, at: 24)                              // 24 time stamp
            bytes.storeASCII(Footer.creatorApplication, at: 28)                  // 28 creator application
            bytes.storeBigEndian(Footer.creatorVersion, at: 32)                  // 32 creator version
            bytes.storeASCII(Footer.creatorHostOS, at: 36)                       // 36 creator host OS
            bytes.storeBigEndian(diskSize, at: 40)                               // 40 original size
            bytes.storeBigEndian(diskSize, at: 48)                               // 48 current size
            let geometry = self.geometry
            bytes.storeBigEndian(geometry.cylinders, at: 56)                     // 56 cylinders
            bytes[58] = geometry.heads                                           // 58 heads
            bytes[59] = geometry.sectorsPerTrack                                 // 59 sectors per track
            bytes.storeBigEndian(diskType.rawValue, at: 60)                      // 60 disk type
            bytes.replaceSubrange(68..<84, with: uniqueID)                       // 68 unique id
            // 84 saved state and 85..<512 reserved stay zero.
            bytes.storeBigEndian(VHD.checksum(bytes), at: 64)                    // 64 checksum
            return bytes
        }
    }

    /// One's complement of the byte sum, computed with the checksum field still zero.
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var sum: UInt32 = 0
        for byte in bytes { sum &+= UInt32(byte) }
        return ~sum
    }
}
