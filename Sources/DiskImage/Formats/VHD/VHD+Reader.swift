extension VHD {
    /// Opens a VHD: the footer at the end decides fixed (the bytes before it are the disk) or
    /// dynamic (`DynamicDisk`); a differencing disk is refused, naming its parent.
    static func open(_ file: SourceImage) throws(DiskImageError) -> OpenedImage {
        guard file.fileSize >= 512 else {
            throw DiskImageError.malformedImage(path: file.path, offset: 0, reason: "\(file.fileSize) bytes is too short for a VHD footer")
        }
        let footerOffset = file.fileSize - 512
        let footerBytes = try file.bytes(Footer.size, at: footerOffset, reading: "the VHD footer")
        let footer = try Footer(decoding: footerBytes, fileOffset: footerOffset, path: file.path)
        let geometry = footer.geometry
        var details: [(String, ImageInfo.Detail)] = [
            ("disk type", "\(footer.diskType)"),
            ("creator", "\"\(footer.creatorApplication)\" on \"\(footer.creatorHostOS)\""),
            ("geometry", "\(geometry.cylinders)/\(geometry.heads)/\(geometry.sectorsPerTrack) (C/H/S)"),
            ("current size", .number(UInt64(footer.currentSize))),
        ]
        var findings: [(String, Bool)] = [("footer checksum", footer.checksumMatches)]
        switch footer.diskType {
        case .fixed:
            guard footer.virtualSize <= footerOffset else {
                throw DiskImageError.malformedImage(
                    path: file.path, offset: footerOffset + UInt64(Footer.Offset.currentSize),
                    reason: "a fixed VHD of \(footer.virtualSize) bytes needs a file of at least \(footer.virtualSize + 512) bytes; it has \(file.fileSize)")
            }
            let disk = try SourceImage(prefixOf: file, diskSize: footer.virtualSize)
            return OpenedImage(disk: disk, info: ImageReader.info(disk, file, .vhd, "fixed", details), findings: findings)
        case .dynamic:
            let image = try DynamicDisk(file: file, footer: footer, footerBytes: footerBytes)
            details.append(("block size", .number(UInt64(image.clusterSize))))
            details.append(("allocated blocks", .number(UInt64(image.allocatedBlocks))))
            findings.append(("dynamic header checksum", image.headerChecksumMatches))
            findings.append(("footer copy at the start equals the footer", image.headerCopyMatches))
            return OpenedImage(disk: image, info: ImageReader.info(image, file, .vhd, "dynamic", details), findings: findings)
        case .differencing:
            let header = try? file.bytes(DynamicHeader.size, at: footer.dataOffset, reading: "the dynamic header")
            let parent = header.map(DynamicHeader.parentName(in:)) ?? "?"
            throw DiskImageError.unsupportedSource(
                path: file.path,
                reason: "is a differencing VHD on the parent \"\(parent)\"; imgship reads standalone images only: merge it into its parent first")
        }
    }

    /// A dynamic VHD opened for reading: the BAT is loaded and every entry checked against the
    /// file. Blocks are read whole from the file: a dynamic disk's sector bitmaps only matter
    /// for differencing disks, which imgship refuses.
    final class DynamicDisk: BlockTableDisk {
        let file: SourceImage
        let footer: Footer
        let size: UInt64
        let clusterSize: Int
        let headerChecksumMatches: Bool
        let headerCopyMatches: Bool
        let allocatedBlocks: Int
        private let blockTable: [UInt32]
        private let bitmapBytes: UInt64

        init(file: SourceImage, footer: Footer, footerBytes: [UInt8]) throws(DiskImageError) {
            self.file = file
            self.footer = footer
            let path = file.path
            size = footer.virtualSize
            let headerOffset = footer.dataOffset
            func malformed(_ offset: UInt64, _ reason: String) -> DiskImageError {
                .malformedImage(path: path, offset: offset, reason: reason)
            }
            let header = try DynamicHeader(
                decoding: file.bytes(DynamicHeader.size, at: headerOffset, reading: "the VHD dynamic disk header"),
                at: headerOffset, path: path)
            headerChecksumMatches = header.checksumMatches
            let copy = try file.bytes(Footer.size, at: 0, reading: "the VHD footer copy")
            headerCopyMatches = copy == footerBytes
            let tableOffset = header.tableOffset
            let entries = Int(header.maxTableEntries)
            let blockSize = Int(header.blockSize)
            guard blockSize >= 512, blockSize <= 256 << 20, blockSize & (blockSize - 1) == 0 else {
                throw malformed(
                    headerOffset + UInt64(DynamicHeader.Offset.blockSize),
                    "block size \(blockSize); expected a power of two from 512 bytes to 256 MiB")
            }
            clusterSize = blockSize
            let needed = (size + UInt64(blockSize) - 1) / UInt64(blockSize)
            guard UInt64(entries) >= needed else {
                throw malformed(
                    headerOffset + UInt64(DynamicHeader.Offset.maxTableEntries),
                    "the BAT has \(entries) entries, too few for \(size) bytes in blocks of \(blockSize)")
            }
            let tableField = headerOffset + UInt64(DynamicHeader.Offset.tableOffset)
            let tableLength = needed * 4
            guard tableOffset <= file.fileSize, tableLength <= file.fileSize - tableOffset else {
                throw malformed(
                    tableField, "the block allocation table (\(tableLength) bytes at \(tableOffset)) runs past the end of the file (\(file.fileSize) bytes)")
            }
            try file.requireStored(tableOffset, length: tableLength, field: tableField, what: "the block allocation table")
            let bitmapBytes = roundUp(UInt64(blockSize / 512 + 7) / 8, toMultipleOf: 512)
            self.bitmapBytes = bitmapBytes
            let size = size
            var allocated = 0
            var claims = FileSpaceClaims(unit: 512)
            blockTable = try BlockTable.load(
                from: file, count: Int(needed), at: tableOffset, bigEndian: true, reading: "the block allocation table"
            ) { (index, sector, entryOffset) throws(DiskImageError) in
                guard sector != 0xFFFF_FFFF else { return }
                let dataStart = UInt64(sector) * 512 + bitmapBytes
                let used = min(UInt64(blockSize), size - UInt64(index) * UInt64(blockSize))
                guard dataStart <= file.fileSize, used <= file.fileSize - dataStart else {
                    throw malformed(entryOffset, "block \(index) at sector \(sector) runs past the end of the file (\(file.fileSize) bytes)")
                }
                guard claims.claim(UInt64(sector) * 512, length: bitmapBytes + used) else {
                    throw malformed(entryOffset, "block \(index) at sector \(sector) overlaps another block; every block has its own place in the file")
                }
                allocated += 1
            }
            allocatedBlocks = allocated
        }

        var blockCount: Int { blockTable.count }

        func storedOffset(ofBlock index: Int) -> UInt64? {
            let sector = blockTable[index]
            return sector == 0xFFFF_FFFF ? nil : UInt64(sector) * 512 + bitmapBytes
        }
    }
}
