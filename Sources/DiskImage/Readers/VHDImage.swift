/// What a VHD's footer says, read and checked; shared by the fixed and dynamic readers.
struct VHDFooter {
    static let cookie = Array("conectix".utf8)
    enum DiskType: UInt32 {
        case fixed = 2, dynamic = 3, differencing = 4
    }

    var diskType: DiskType
    var dataOffset: UInt64
    var currentSize: UInt64
    var cylinders: Int
    var heads: Int
    var sectorsPerTrack: Int
    var creatorApplication: String
    var creatorHostOS: String
    var checksumMatches: Bool
    var bytes: [UInt8]

    /// The virtual size, as the image's creator meant it: Virtual PC and old qemu size a
    /// disk by its CHS geometry, everyone else (Hyper-V, Disk2vhd, XenServer, qemu's
    /// `force_size`, imgship) by Current Size. A maximal geometry always means Current Size.
    var virtualSize: UInt64 {
        let geometrySized = creatorApplication == "vpc " || creatorApplication == "qemu"
        let maximal = cylinders == 65535 && heads == 16 && sectorsPerTrack == 255
        return geometrySized && !maximal ? UInt64(cylinders * heads * sectorsPerTrack) * 512 : currentSize
    }

    init(_ bytes: [UInt8], path: String, at offset: UInt64) throws(DiskImageError) {
        func malformed(_ field: Int, _ reason: String) -> DiskImageError {
            .malformedImage(path: path, offset: offset + UInt64(field), reason: reason)
        }
        guard Array(bytes[0..<8]) == Self.cookie else { throw malformed(0, "no VHD footer cookie \"conectix\"") }
        var zeroed = bytes
        zeroed.replaceSubrange(64..<68, with: [0, 0, 0, 0])
        checksumMatches = VHD.checksum(zeroed) == bytes.loadBigEndian(UInt32.self, at: 64)
        let type = bytes.loadBigEndian(UInt32.self, at: 60)
        guard let diskType = DiskType(rawValue: type) else {
            throw malformed(60, "disk type \(type); VHD has 2 (fixed), 3 (dynamic) and 4 (differencing)")
        }
        self.diskType = diskType
        dataOffset = bytes.loadBigEndian(UInt64.self, at: 16)
        currentSize = bytes.loadBigEndian(UInt64.self, at: 48)
        cylinders = Int(bytes.loadBigEndian(UInt16.self, at: 56))
        heads = Int(bytes[58])
        sectorsPerTrack = Int(bytes[59])
        creatorApplication = String(decoding: bytes[28..<32], as: UTF8.self)
        creatorHostOS = String(decoding: bytes[36..<40], as: UTF8.self)
        self.bytes = bytes
        guard virtualSize <= VHD.maximumSize else {
            throw malformed(48, "virtual size \(virtualSize) bytes is over VHD's limit of 2040 GiB")
        }
    }
}

/// A dynamic VHD opened for reading: the BAT is loaded and every entry checked against the
/// file. Blocks are read whole from the file: a dynamic disk's sector bitmaps only matter for
/// differencing disks, which imgship refuses.
final class VHDDynamicImage: ClusterMappedDisk {
    let file: SourceImage
    let footer: VHDFooter
    let size: UInt64
    let clusterSize: Int
    let headerChecksumMatches: Bool
    let headerCopyMatches: Bool
    let allocatedBlocks: Int
    private let blockTable: [UInt32]
    private let bitmapBytes: UInt64

    init(file: SourceImage, footer: VHDFooter) throws(DiskImageError) {
        self.file = file
        self.footer = footer
        let path = file.path
        size = footer.virtualSize
        let headerOffset = footer.dataOffset
        func malformed(_ offset: UInt64, _ reason: String) -> DiskImageError {
            .malformedImage(path: path, offset: offset, reason: reason)
        }
        let header = try file.bytes(1024, at: headerOffset, reading: "the VHD dynamic disk header")
        guard Array(header[0..<8]) == Array("cxsparse".utf8) else {
            throw malformed(headerOffset, "no dynamic disk header cookie \"cxsparse\" where the footer's data offset points")
        }
        var zeroed = header
        zeroed.replaceSubrange(36..<40, with: [0, 0, 0, 0])
        headerChecksumMatches = VHD.checksum(zeroed) == header.loadBigEndian(UInt32.self, at: 36)
        let copy = try file.bytes(512, at: 0, reading: "the VHD footer copy")
        headerCopyMatches = copy == footer.bytes
        let tableOffset = header.loadBigEndian(UInt64.self, at: 16)
        let entries = Int(header.loadBigEndian(UInt32.self, at: 28))
        let blockSize = Int(header.loadBigEndian(UInt32.self, at: 32))
        guard blockSize >= 512, blockSize <= 256 << 20, blockSize & (blockSize - 1) == 0 else {
            throw malformed(headerOffset + 32, "block size \(blockSize); expected a power of two from 512 bytes to 256 MiB")
        }
        clusterSize = blockSize
        let needed = (size + UInt64(blockSize) - 1) / UInt64(blockSize)
        guard UInt64(entries) >= needed else {
            throw malformed(headerOffset + 28, "the BAT has \(entries) entries, too few for \(size) bytes in blocks of \(blockSize)")
        }
        let tableLength = needed * 4
        guard tableOffset <= file.fileSize, tableLength <= file.fileSize - tableOffset else {
            throw malformed(headerOffset + 16, "the block allocation table (\(tableLength) bytes at \(tableOffset)) runs past the end of the file (\(file.fileSize) bytes)")
        }
        try file.requireStored(tableOffset, length: tableLength, field: headerOffset + 16, what: "the block allocation table")
        bitmapBytes = roundUp(UInt64(blockSize / 512 + 7) / 8, toMultipleOf: 512)
        var table: [UInt32] = []
        table.reserveCapacity(Int(needed))
        var allocated = 0
        var claims = FileSpaceClaims(fileSize: file.fileSize, unit: 512)
        // Read in 1 MiB pieces: the table is held once, as entries, never twice.
        let piece = 1 << 18
        var index = 0
        while index < Int(needed) {
            let count = min(piece, Int(needed) - index)
            let tableBytes = try file.bytes(count * 4, at: tableOffset + UInt64(index * 4), reading: "the block allocation table")
            for slot in 0..<count {
                let sector = tableBytes.loadBigEndian(UInt32.self, at: slot * 4)
                if sector != 0xFFFF_FFFF {
                    let dataStart = UInt64(sector) * 512 + bitmapBytes
                    let used = min(UInt64(blockSize), size - UInt64(index) * UInt64(blockSize))
                    guard dataStart <= file.fileSize, used <= file.fileSize - dataStart else {
                        throw malformed(tableOffset + UInt64(index * 4), "block \(index) at sector \(sector) runs past the end of the file (\(file.fileSize) bytes)")
                    }
                    guard claims.claim(UInt64(sector) * 512, length: bitmapBytes + used) else {
                        throw malformed(tableOffset + UInt64(index * 4), "block \(index) at sector \(sector) overlaps another block; every block has its own place in the file")
                    }
                    allocated += 1
                }
                table.append(sector)
                index += 1
            }
        }
        blockTable = table
        allocatedBlocks = allocated
    }

    var clustersPerTable: UInt64 { 1 }

    func hasTable(_ index: UInt64) -> Bool {
        index < UInt64(blockTable.count) && blockTable[Int(index)] != 0xFFFF_FFFF
    }

    func location(ofCluster index: UInt64) -> ClusterLocation {
        guard index < UInt64(blockTable.count) else { return .unallocated }
        let sector = blockTable[Int(index)]
        return sector == 0xFFFF_FFFF ? .unallocated : .stored(UInt64(sector) * 512 + bitmapBytes)
    }

    func decompressCluster(_ index: UInt64, at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DiskImageError) {
        preconditionFailure("VHD blocks are never compressed")
    }
}
