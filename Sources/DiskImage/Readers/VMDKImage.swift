/// A VMDK text descriptor: what imgship needs of it to read a disk and describe it.
struct VMDKDescriptorText {
    struct Extent {
        enum Kind: String {
            case flat = "FLAT", sparse = "SPARSE", zero = "ZERO", vmfs = "VMFS"
        }
        var sectors: UInt64
        var kind: Kind
        var fileName: String?
        /// Sectors into a flat file where the extent starts.
        var offset: UInt64
        /// The descriptor line (from 1) that names the extent.
        var line: Int
    }

    var createType: String?
    var parentCID: String?
    var parentFileNameHint: String?
    var adapterType: String?
    var extents: [Extent] = []

    /// Parses `text`; `path` names the file for errors.
    init(_ text: String, path: String) throws(DiskImageError) {
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: " \t\r\0")
            if line.isEmpty || line.hasPrefix("#") { continue }
            if let equals = line.firstIndex(of: "="), !line.hasPrefix("RW "), !line.hasPrefix("RDONLY "), !line.hasPrefix("NOACCESS ") {
                let key = line[..<equals].trimmingCharacters(in: " \t")
                let value = line[line.index(after: equals)...].trimmingCharacters(in: " \t").trimmingCharacters(in: "\"")
                switch key {
                case "createType": createType = value
                case "parentCID": parentCID = value
                case "parentFileNameHint": parentFileNameHint = value
                case "ddb.adapterType": adapterType = value
                default: break
                }
                continue
            }
            // RW 2048 FLAT "disk-flat.vmdk" 0
            let fields = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true).map(String.init)
            guard fields.count >= 3, ["RW", "RDONLY", "NOACCESS"].contains(fields[0]), let sectors = UInt64(fields[1]),
                  let kind = Extent.Kind(rawValue: fields[2]) else {
                throw DiskImageError.malformedImage(path: path, offset: 0, reason: "descriptor line \(number + 1) is not understood: \"\(line)\"")
            }
            var fileName: String?
            var offset: UInt64 = 0
            if fields.count == 4 {
                let rest = fields[3]
                guard rest.hasPrefix("\""), let close = rest.dropFirst().firstIndex(of: "\"") else {
                    throw DiskImageError.malformedImage(path: path, offset: 0, reason: "descriptor line \(number + 1): the extent file name must be in double quotes")
                }
                fileName = String(rest[rest.index(after: rest.startIndex)..<close])
                let tail = rest[rest.index(after: close)...].trimmingCharacters(in: " \t")
                if !tail.isEmpty {
                    guard let value = UInt64(tail) else {
                        throw DiskImageError.malformedImage(path: path, offset: 0, reason: "descriptor line \(number + 1): extent offset \"\(tail)\" is not a number")
                    }
                    offset = value
                }
            } else if kind != .zero {
                throw DiskImageError.malformedImage(path: path, offset: 0, reason: "descriptor line \(number + 1): a \(kind.rawValue) extent needs a file name")
            }
            extents.append(Extent(sectors: sectors, kind: kind, fileName: fileName, offset: offset, line: number + 1))
        }
        if let parentFileNameHint, !parentFileNameHint.isEmpty {
            throw DiskImageError.unsupportedSource(path: path, reason: "is a VMDK delta disk on the parent \"\(parentFileNameHint)\"; imgship reads standalone images only: consolidate the snapshot chain first")
        }
        if let parentCID, parentCID.lowercased() != "ffffffff" {
            throw DiskImageError.unsupportedSource(path: path, reason: "is a VMDK delta disk (parentCID \(parentCID)); imgship reads standalone images only")
        }
    }
}

private extension StringProtocol {
    /// Linear in the length: `dropFirst`/`dropLast` one character at a time walk the string
    /// from its start each time, which a damaged descriptor full of blanks turns quadratic.
    func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        guard let first = firstIndex(where: { !characters.contains($0) }),
              let last = lastIndex(where: { !characters.contains($0) }) else { return "" }
        return String(self[first...last])
    }
}

/// A hosted sparse VMDK extent (monolithicSparse, streamOptimized, or one extent of a
/// descriptor) opened for reading: the grain directory and tables are loaded and every entry
/// checked against the file.
final class VMDKSparseImage: ClusterMappedDisk {
    static let magic = Array("KDMV".utf8)
    private static let headerFlagsCompressed: UInt32 = 1 << 16
    private static let headerFlagsMarkers: UInt32 = 1 << 17

    let file: SourceImage
    let size: UInt64
    let clusterSize: Int
    let version: Int
    let isCompressed: Bool
    let hasMarkers: Bool
    let footerUsed: Bool
    /// The embedded descriptor, when the extent has one.
    let descriptor: VMDKDescriptorText?
    let allocatedGrains: Int
    private let grainTables: [UInt32]
    private let tableStart: [Int32]
    private let entriesPerTable: Int

    init(file: SourceImage) throws(DiskImageError) {
        self.file = file
        let path = file.path
        func malformed(_ offset: UInt64, _ reason: String) -> DiskImageError {
            .malformedImage(path: path, offset: offset, reason: reason)
        }
        var header = try file.bytes(512, at: 0, reading: "the VMDK sparse extent header")
        var headerOffset: UInt64 = 0
        guard Array(header[0..<4]) == Self.magic else { throw malformed(0, "no VMDK sparse extent magic \"KDMV\"") }
        // Stream-optimized extents written in one pass keep the real header in the footer.
        footerUsed = header.loadLittleEndian(UInt64.self, at: 56) == VMDK.SparseExtentHeader.gdAtEnd
        if footerUsed {
            guard file.fileSize >= 1536 else { throw malformed(56, "the header says the grain directory is in the footer, but the file is too short to hold one") }
            headerOffset = file.fileSize - 1024
            header = try file.bytes(512, at: headerOffset, reading: "the VMDK footer")
            guard Array(header[0..<4]) == Self.magic else { throw malformed(headerOffset, "no VMDK footer (\"KDMV\") 1024 bytes before the end of the file") }
        }
        version = Int(header.loadLittleEndian(UInt32.self, at: 4))
        guard (1...3).contains(version) else { throw malformed(headerOffset + 4, "VMDK version \(version); expected 1 to 3") }
        let flags = header.loadLittleEndian(UInt32.self, at: 8)
        isCompressed = flags & Self.headerFlagsCompressed != 0
        hasMarkers = flags & Self.headerFlagsMarkers != 0
        let capacity = header.loadLittleEndian(UInt64.self, at: 12)
        let grainSectors = header.loadLittleEndian(UInt64.self, at: 20)
        guard grainSectors >= 8, grainSectors <= 2048, grainSectors & (grainSectors - 1) == 0 else {
            throw malformed(headerOffset + 20, "grain size \(grainSectors) sectors; expected a power of two from 8 to 2048")
        }
        guard capacity <= 1 << 47 else { throw malformed(headerOffset + 12, "capacity \(capacity) sectors is absurd (over 64 PiB)") }
        size = capacity * 512
        clusterSize = Int(grainSectors) * 512
        let descriptorOffset = header.loadLittleEndian(UInt64.self, at: 28)
        let descriptorSectors = header.loadLittleEndian(UInt64.self, at: 36)
        entriesPerTable = Int(header.loadLittleEndian(UInt32.self, at: 44))
        guard entriesPerTable >= 1, entriesPerTable <= 1 << 16 else {
            throw malformed(headerOffset + 44, "\(entriesPerTable) grain table entries per table; expected 1 to 65536")
        }
        let directoryOffset = header.loadLittleEndian(UInt64.self, at: 56)
        if isCompressed {
            let algorithm = header.loadLittleEndian(UInt16.self, at: 77)
            guard algorithm == 1 else { throw malformed(headerOffset + 77, "compression algorithm \(algorithm); VMDK defines only 1 (deflate)") }
        }
        if descriptorOffset != 0 && descriptorSectors != 0 {
            guard descriptorSectors <= 2048, descriptorOffset < 1 << 47 else {
                throw malformed(headerOffset + 28, "embedded descriptor of \(descriptorSectors) sectors at sector \(descriptorOffset) is absurd")
            }
            let text = try file.bytes(Int(descriptorSectors) * 512, at: descriptorOffset * 512, reading: "the embedded descriptor")
            descriptor = try VMDKDescriptorText(String(decoding: text.prefix { $0 != 0 }, as: UTF8.self), path: path)
        } else {
            descriptor = nil
        }

        let grains = (capacity + grainSectors - 1) / grainSectors
        let tables = Int((grains + UInt64(entriesPerTable) - 1) / UInt64(entriesPerTable))
        guard directoryOffset < UInt64.max / 512 else { throw malformed(headerOffset + 56, "grain directory offset \(directoryOffset) is absurd") }
        try file.requireStored(directoryOffset * 512, length: UInt64(tables * 4), field: headerOffset + 56, what: "the grain directory")
        let directory = try file.bytes(tables * 4, at: directoryOffset * 512, reading: "the grain directory")
        var entries: [UInt32] = []
        var starts = [Int32](repeating: -1, count: tables)
        var allocated = 0
        let fileSize = file.fileSize
        var claims = FileSpaceClaims(fileSize: fileSize, unit: 512)
        for table in 0..<tables {
            let tableSector = UInt64(directory.loadLittleEndian(UInt32.self, at: table * 4))
            guard tableSector != 0 else { continue }
            let tableBytes = try file.bytes(entriesPerTable * 4, at: tableSector * 512, reading: "grain table \(table) (grain directory entry at \(directoryOffset * 512 + UInt64(table * 4)))")
            guard claims.claim(tableSector * 512, length: UInt64(entriesPerTable * 4)) else {
                throw malformed(directoryOffset * 512 + UInt64(table * 4), "grain directory entry \(table) points at sector \(tableSector), which another table or grain already uses")
            }
            // A table of zeros maps nothing (qemu leaves new tables as holes): keep none.
            if tableBytes.allSatisfy({ $0 == 0 }) { continue }
            starts[table] = Int32(entries.count)
            for slot in 0..<entriesPerTable {
                let grainSector = tableBytes.loadLittleEndian(UInt32.self, at: slot * 4)
                let grain = UInt64(table * entriesPerTable + slot)
                if grainSector > 1 && grain < grains {
                    let hostOffset = UInt64(grainSector) * 512
                    let needed = isCompressed ? UInt64(VMDK.grainMarkerSize) : min(UInt64(clusterSize), size - grain * UInt64(clusterSize))
                    guard hostOffset <= fileSize, needed <= fileSize - hostOffset else {
                        throw malformed(tableSector * 512 + UInt64(slot * 4), "grain \(grain) at sector \(grainSector) runs past the end of the file (\(fileSize) bytes)")
                    }
                    // A compressed grain's length is known only from its marker: its first sector is its own.
                    guard claims.claim(hostOffset, length: needed) else {
                        throw malformed(tableSector * 512 + UInt64(slot * 4), "grain \(grain) at sector \(grainSector) overlaps another grain or table; every grain has its own place in the file")
                    }
                    allocated += 1
                }
                entries.append(grainSector)
            }
        }
        grainTables = entries
        tableStart = starts
        allocatedGrains = allocated
    }

    var clustersPerTable: UInt64 { UInt64(entriesPerTable) }

    func hasTable(_ index: UInt64) -> Bool {
        index < UInt64(tableStart.count) && tableStart[Int(index)] >= 0
    }

    func location(ofCluster index: UInt64) -> ClusterLocation {
        let table = Int(index / UInt64(entriesPerTable))
        guard table < tableStart.count, tableStart[table] >= 0 else { return .unallocated }
        let sector = grainTables[Int(tableStart[table]) + Int(index % UInt64(entriesPerTable))]
        switch sector {
        case 0: return .unallocated
        case 1: return .zero  // a zeroed grain (version 2 and later)
        default: return isCompressed ? .compressed(UInt64(sector) * 512) : .stored(UInt64(sector) * 512)
        }
    }

    /// A compressed grain: lba (u64), compressed size (u32), then zlib data.
    func decompressCluster(_ index: UInt64, at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DiskImageError) {
        let marker = try file.bytes(VMDK.grainMarkerSize, at: offset, reading: "the marker of grain \(index)")
        let lba = marker.loadLittleEndian(UInt64.self, at: 0)
        let length = Int(marker.loadLittleEndian(UInt32.self, at: 8))
        let expected = index * UInt64(clusterSize / 512)
        guard lba == expected else {
            throw DiskImageError.malformedImage(path: path, offset: offset, reason: "grain marker says sector \(lba), but the grain table puts it at sector \(expected)")
        }
        guard length > 0, length <= 2 * clusterSize + 1024 else {
            throw DiskImageError.malformedImage(path: path, offset: offset + 8, reason: "compressed grain size \(length) is absurd for \(clusterSize)-byte grains")
        }
        let input = try file.bytes(length, at: offset + UInt64(VMDK.grainMarkerSize), reading: "compressed grain \(index)")
        let produced = input.withUnsafeBytes { DecompressorPool.shared.decompress($0, into: buffer, framing: .zlib) }
        // The last grain may inflate to only the bytes the disk still has.
        let remaining = Int(min(UInt64(clusterSize), size - index * UInt64(clusterSize)))
        guard let produced, produced >= remaining else {
            throw DiskImageError.malformedImage(path: path, offset: offset, reason: "grain \(index) does not inflate to \(remaining) bytes")
        }
        if produced < buffer.count {
            UnsafeMutableRawBufferPointer(rebasing: buffer[produced...]).initializeMemory(as: UInt8.self, repeating: 0)
        }
    }
}
