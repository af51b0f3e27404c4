extension VHD {
    /// The type stored in the footer's Disk Type field.
    enum DiskType: UInt32, Sendable, CustomStringConvertible {
        case fixed = 2
        case dynamic = 3
        /// A disk of changes over a parent; read only to name the parent in the refusal.
        case differencing = 4

        var description: String {
            switch self {
            case .fixed: "fixed"
            case .dynamic: "dynamic"
            case .differencing: "differencing"
            }
        }
    }

    /// The 512-byte hard disk footer (spec section "Hard Disk Footer Format"), big-endian, at
    /// the end of every VHD and copied at offset 0 of a dynamic one.
    struct Footer: Equatable, Sendable {
        static let size = 512
        static let cookie = Array("conectix".utf8)

        /// Field offsets, as the spec's table gives them.
        enum Offset {
            static let cookie = 0
            static let features = 8
            static let fileFormatVersion = 12
            static let dataOffset = 16
            static let timestamp = 24
            static let creatorApplication = 28
            static let creatorVersion = 32
            static let creatorHostOS = 36
            static let originalSize = 40
            static let currentSize = 48
            static let cylinders = 56
            static let heads = 58
            static let sectorsPerTrack = 59
            static let diskType = 60
            static let checksum = 64
            static let uniqueID = 68
            static let savedState = 84
        }

        /// Readers such as qemu take the exact Current Size only from creators they know,
        /// and otherwise round the size to the CHS geometry, which cannot express most sizes.
        /// "win " is the tag Hyper-V writes; Hyper-V and Azure, our targets, use Current Size.
        static let creatorApplication = "win "
        static let creatorVersion: UInt32 = 0x000A_0000
        static let creatorHostOS = "Wi2k"

        var features: UInt32
        var fileFormatVersion: UInt32
        /// Absolute offset of the dynamic header; all ones for a fixed disk.
        var dataOffset: UInt64
        /// Seconds since 2000-01-01 00:00:00 UTC.
        var timestamp: UInt32
        /// Four ASCII characters.
        var creatorApplication: String
        var creatorVersion: UInt32
        var creatorHostOS: String
        var originalSize: UInt64
        /// Virtual size in bytes as the creator meant it (see `virtualSize`).
        var currentSize: UInt64
        var geometry: Geometry
        var diskType: DiskType
        /// 16 bytes.
        var uniqueID: [UInt8]
        var savedState: UInt8
        /// Whether the stored checksum matched the bytes (always true for a footer made here).
        var checksumMatches = true

        /// The footer imgship writes: the exact size as Original and Current Size, the spec's
        /// geometry, creator "win " on "Wi2k".
        init(diskType: DiskType, diskSize: UInt64, timestamp: UInt32, uniqueID: [UInt8]) {
            precondition(uniqueID.count == 16)
            features = 0x0000_0002
            fileFormatVersion = 0x0001_0000
            dataOffset = diskType == .fixed ? .max : UInt64(Footer.size)
            self.timestamp = timestamp
            creatorApplication = Footer.creatorApplication
            creatorVersion = Footer.creatorVersion
            creatorHostOS = Footer.creatorHostOS
            originalSize = diskSize
            currentSize = diskSize
            geometry = Geometry(totalSectors: diskSize / 512)
            self.diskType = diskType
            self.uniqueID = uniqueID
            savedState = 0
        }

        /// Virtual size in bytes: written as both Original Size and Current Size.
        var diskSize: UInt64 { currentSize }

        /// The virtual size, as the image's creator meant it: Virtual PC and old qemu size a
        /// disk by its CHS geometry, everyone else (Hyper-V, Disk2vhd, XenServer, qemu's
        /// `force_size`, imgship) by Current Size. A maximal geometry always means Current Size.
        var virtualSize: UInt64 {
            let geometrySized = creatorApplication == "vpc " || creatorApplication == "qemu"
            let maximal = geometry.cylinders == 65535 && geometry.heads == 16 && geometry.sectorsPerTrack == 255
            guard geometrySized && !maximal else { return currentSize }
            return UInt64(geometry.cylinders) * UInt64(geometry.heads) * UInt64(geometry.sectorsPerTrack) * 512
        }

        func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: Footer.size)
            bytes.storeASCII("conectix", at: Offset.cookie)  // 0 cookie
            bytes.storeBigEndian(features, at: Offset.features)  // 8 features: reserved bit
            bytes.storeBigEndian(fileFormatVersion, at: Offset.fileFormatVersion)  // 12 version 1.0
            bytes.storeBigEndian(dataOffset, at: Offset.dataOffset)  // 16 data offset: dynamic header
            bytes.storeBigEndian(timestamp, at: Offset.timestamp)  // 24 time stamp
            bytes.storeASCII(creatorApplication, at: Offset.creatorApplication)  // 28 creator application
            bytes.storeBigEndian(creatorVersion, at: Offset.creatorVersion)  // 32 creator version
            bytes.storeASCII(creatorHostOS, at: Offset.creatorHostOS)  // 36 creator host OS
            bytes.storeBigEndian(originalSize, at: Offset.originalSize)  // 40 original size
            bytes.storeBigEndian(currentSize, at: Offset.currentSize)  // 48 current size
            bytes.storeBigEndian(geometry.cylinders, at: Offset.cylinders)  // 56 cylinders
            bytes[Offset.heads] = geometry.heads  // 58 heads
            bytes[Offset.sectorsPerTrack] = geometry.sectorsPerTrack  // 59 sectors per track
            bytes.storeBigEndian(diskType.rawValue, at: Offset.diskType)  // 60 disk type
            bytes.replaceSubrange(Offset.uniqueID..<(Offset.uniqueID + 16), with: uniqueID)  // 68 unique id
            bytes[Offset.savedState] = savedState  // 84 saved state
            // 85..<512 reserved stay zero.
            bytes.storeBigEndian(VHD.checksum(bytes), at: Offset.checksum)  // 64 checksum
            return bytes
        }

        /// Decodes the 512 bytes of `bytes` from `start`, which lie at `offset` of the file
        /// `path` (for errors). A checksum mismatch is recorded in `checksumMatches`, not
        /// thrown: `verify` reports it as a finding.
        init(
            decoding bytes: [UInt8], at start: Int = 0, fileOffset offset: UInt64 = 0,
            path: String = "VHD footer"
        ) throws(DiskImageError) {
            func malformed(_ field: Int, _ reason: String) -> DiskImageError {
                .malformedImage(path: path, offset: offset + UInt64(field), reason: reason)
            }
            guard bytes.count >= start + Footer.size else {
                throw malformed(0, "\(bytes.count - start) bytes is too short for a VHD footer")
            }
            let footer = Array(bytes[start..<(start + Footer.size)])
            guard Array(footer[0..<8]) == Footer.cookie else { throw malformed(Offset.cookie, "no VHD footer cookie \"conectix\"") }
            checksumMatches = VHD.checksum(footer, zeroing: Offset.checksum) == footer.loadBigEndian(UInt32.self, at: Offset.checksum)
            let type = footer.loadBigEndian(UInt32.self, at: Offset.diskType)
            guard let diskType = DiskType(rawValue: type) else {
                throw malformed(Offset.diskType, "disk type \(type); VHD has 2 (fixed), 3 (dynamic) and 4 (differencing)")
            }
            self.diskType = diskType
            features = footer.loadBigEndian(UInt32.self, at: Offset.features)
            fileFormatVersion = footer.loadBigEndian(UInt32.self, at: Offset.fileFormatVersion)
            dataOffset = footer.loadBigEndian(UInt64.self, at: Offset.dataOffset)
            timestamp = footer.loadBigEndian(UInt32.self, at: Offset.timestamp)
            creatorApplication = String(decoding: footer[28..<32], as: UTF8.self)
            creatorVersion = footer.loadBigEndian(UInt32.self, at: Offset.creatorVersion)
            creatorHostOS = String(decoding: footer[36..<40], as: UTF8.self)
            originalSize = footer.loadBigEndian(UInt64.self, at: Offset.originalSize)
            currentSize = footer.loadBigEndian(UInt64.self, at: Offset.currentSize)
            geometry = Geometry(
                cylinders: footer.loadBigEndian(UInt16.self, at: Offset.cylinders),
                heads: footer[Offset.heads], sectorsPerTrack: footer[Offset.sectorsPerTrack])
            uniqueID = Array(footer[Offset.uniqueID..<(Offset.uniqueID + 16)])
            savedState = footer[Offset.savedState]
            guard virtualSize <= VHD.maximumSize else {
                throw malformed(Offset.currentSize, "virtual size \(virtualSize) bytes is over VHD's limit of 2040 GiB")
            }
        }
    }
}
