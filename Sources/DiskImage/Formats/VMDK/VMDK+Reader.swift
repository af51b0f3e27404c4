extension VMDK {
    /// Opens a VMDK: a sparse extent, or a text descriptor whose extents come from `extents`.
    static func open(_ file: SourceImage, extents: ExtentSource) throws(DiskImageError) -> OpenedImage {
        let head = try file.bytes(Int(min(512, file.fileSize)), at: 0, reading: "the first sector")
        if head.starts(with: SparseExtentHeader.magic) {
            let image = try SparseDisk(file: file)
            let createType = image.descriptor?.createType ?? (image.hasMarkers ? "streamOptimized" : "monolithicSparse")
            var details: [(String, ImageInfo.Detail)] = [
                ("create type", .text(createType)),
                ("version", .number(UInt64(image.version))),
                ("grain size", .number(UInt64(image.clusterSize))),
                ("compression", image.isCompressed ? "deflate" : "none"),
                ("allocated grains", .number(UInt64(image.allocatedGrains))),
            ]
            if let adapter = image.descriptor?.adapterType { details.insert(("adapter", .text(adapter)), at: 1) }
            return OpenedImage(disk: image, info: ImageReader.info(image, file, .vmdk, createType, details), findings: [])
        }
        // A descriptor file naming extents beside it.
        guard file.fileSize <= 1 << 20 else {
            throw DiskImageError.malformedImage(path: file.path, offset: 0, reason: "a VMDK descriptor of \(file.fileSize) bytes is absurd")
        }
        let text = String(decoding: try file.bytes(Int(file.fileSize), at: 0, reading: "the descriptor"), as: UTF8.self)
        let descriptor = try Descriptor(parsing: text, path: file.path)
        guard !descriptor.extents.isEmpty else {
            throw DiskImageError.malformedImage(path: file.path, offset: 0, reason: "the descriptor names no extents")
        }
        var parts: [ConcatenatedDisk.Part] = []
        var fileSize = file.fileSize
        var allocated = file.allocatedBytes
        var start: UInt64 = 0
        var claims = ExtentClaims(descriptor: file.path)
        for extent in descriptor.extents {
            // Text numbers can be anything: keep every sum inside 64 bits and 64 PiB.
            let limit: UInt64 = 1 << 56
            guard extent.sectors < limit / 512, extent.offset < limit / 512, start + extent.sectors * 512 <= limit else {
                throw DiskImageError.malformedImage(
                    path: file.path, offset: 0, reason: "extent of \(extent.sectors) sectors at sector \(extent.offset) is absurd")
            }
            let length = extent.sectors * 512
            var disk: (any VirtualDisk)?
            if let name = extent.fileName {
                let extentFile = try extents.open(name, line: extent.line, descriptor: file.path)
                let extentPath = extentFile.path
                fileSize += extentFile.fileSize
                allocated += extentFile.allocatedBytes
                switch extent.kind {
                case .flat, .vmfs:
                    guard extent.offset * 512 + length <= extentFile.fileSize else {
                        throw DiskImageError.malformedImage(
                            path: extentPath, offset: 0,
                            reason: "the flat extent of \(length) bytes at sector \(extent.offset) runs past the end of the file (\(extentFile.fileSize) bytes)"
                        )
                    }
                    try claims.add(extentFile, (extent.offset * 512)..<(extent.offset * 512 + length), extent: name, line: extent.line)
                    disk = FlatExtent(file: extentFile, start: extent.offset * 512, size: length)
                case .sparse:
                    try claims.add(extentFile, nil, extent: name, line: extent.line)
                    let sparse = try SparseDisk(file: extentFile)
                    guard sparse.size >= length else {
                        throw DiskImageError.malformedImage(
                            path: extentPath, offset: 12, reason: "the sparse extent holds \(sparse.size) bytes; the descriptor says \(length)")
                    }
                    disk = sparse
                case .zero:
                    disk = nil
                }
            }
            parts.append(ConcatenatedDisk.Part(start: start, size: length, disk: disk))
            start += length
        }
        let disk = ConcatenatedDisk(path: file.path, size: start, parts: parts)
        let createType = descriptor.createType ?? "unknown"
        var details: [(String, ImageInfo.Detail)] = [("create type", .text(createType)), ("extents", .number(UInt64(descriptor.extents.count)))]
        if let adapter = descriptor.adapterType { details.insert(("adapter", .text(adapter)), at: 1) }
        let info = ImageInfo(
            path: file.path, format: .vmdk, subformat: createType, virtualSize: start, fileSize: fileSize,
            allocatedBytes: allocated, details: details.map { (key: $0.0, value: $0.1) })
        return OpenedImage(disk: disk, info: info, findings: [])
    }
}

extension VMDK {
    /// A hosted sparse VMDK extent (monolithicSparse, streamOptimized, or one extent of a
    /// descriptor) opened for reading: the grain directory and tables are loaded and every entry
    /// checked against the file.
    final class SparseDisk: ClusterMappedDisk {

        let file: SourceImage
        let size: UInt64
        let clusterSize: Int
        let version: Int
        let isCompressed: Bool
        let hasMarkers: Bool
        let footerUsed: Bool
        /// The embedded descriptor, when the extent has one.
        let descriptor: Descriptor?
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
            typealias Field = SparseExtentHeader.Offset
            var header = try SparseExtentHeader(
                decoding: file.bytes(SparseExtentHeader.size, at: 0, reading: "the VMDK sparse extent header"),
                path: path)
            var headerOffset: UInt64 = 0
            // Stream-optimized extents written in one pass keep the real header in the footer.
            footerUsed = header.gdOffset == SparseExtentHeader.gdAtEnd
            if footerUsed {
                guard file.fileSize >= 1536 else {
                    throw malformed(UInt64(Field.gdOffset), "the header says the grain directory is in the footer, but the file is too short to hold one")
                }
                headerOffset = file.fileSize - 1024
                header = try SparseExtentHeader(
                    decoding: file.bytes(SparseExtentHeader.size, at: headerOffset, reading: "the VMDK footer"),
                    at: headerOffset, path: path,
                    missing: "no VMDK footer (\"KDMV\") 1024 bytes before the end of the file")
            }
            func field(_ offset: Int) -> UInt64 { headerOffset + UInt64(offset) }
            version = Int(header.version)
            guard (1...3).contains(version) else { throw malformed(field(Field.version), "VMDK version \(version); expected 1 to 3") }
            isCompressed = header.isCompressed
            hasMarkers = header.hasMarkers
            let capacity = header.capacity
            let grainSectors = header.grainSize
            guard grainSectors >= 8, grainSectors <= 2048, grainSectors & (grainSectors - 1) == 0 else {
                throw malformed(field(Field.grainSize), "grain size \(grainSectors) sectors; expected a power of two from 8 to 2048")
            }
            guard capacity <= 1 << 47 else { throw malformed(field(Field.capacity), "capacity \(capacity) sectors is absurd (over 64 PiB)") }
            size = capacity * 512
            clusterSize = Int(grainSectors) * 512
            let descriptorOffset = header.descriptorOffset
            let descriptorSectors = header.descriptorSize
            entriesPerTable = Int(header.numGTEsPerGT)
            guard entriesPerTable >= 1, entriesPerTable <= 1 << 16 else {
                throw malformed(field(Field.numGTEsPerGT), "\(entriesPerTable) grain table entries per table; expected 1 to 65536")
            }
            let directoryOffset = header.gdOffset
            if isCompressed {
                let algorithm = header.compressAlgorithm
                guard algorithm == 1 else {
                    throw malformed(field(Field.compressAlgorithm), "compression algorithm \(algorithm); VMDK defines only 1 (deflate)")
                }
            }
            if descriptorOffset != 0 && descriptorSectors != 0 {
                guard descriptorSectors <= 2048, descriptorOffset < 1 << 47 else {
                    throw malformed(
                        field(Field.descriptorOffset), "embedded descriptor of \(descriptorSectors) sectors at sector \(descriptorOffset) is absurd")
                }
                let text = try file.bytes(Int(descriptorSectors) * 512, at: descriptorOffset * 512, reading: "the embedded descriptor")
                descriptor = try Descriptor(decoding: text, path: path)
            } else {
                descriptor = nil
            }

            let grains = (capacity + grainSectors - 1) / grainSectors
            let tables = Int((grains + UInt64(entriesPerTable) - 1) / UInt64(entriesPerTable))
            guard directoryOffset < UInt64.max / 512 else { throw malformed(field(Field.gdOffset), "grain directory offset \(directoryOffset) is absurd") }
            try file.requireStored(directoryOffset * 512, length: UInt64(tables * 4), field: field(Field.gdOffset), what: "the grain directory")
            let directory = try file.bytes(tables * 4, at: directoryOffset * 512, reading: "the grain directory")
            var entries: [UInt32] = []
            var starts = [Int32](repeating: -1, count: tables)
            var allocated = 0
            let fileSize = file.fileSize
            var claims = FileSpaceClaims(unit: 512)
            var knownHole: Range<UInt64> = 0..<0
            for table in 0..<tables {
                let tableSector = UInt64(directory.loadLittleEndian(UInt32.self, at: table * 4))
                guard tableSector != 0 else { continue }
                // A table of zeros maps nothing (qemu leaves new tables as holes): keep none,
                // and read none that lies in a hole.
                let tableLength = UInt64(entriesPerTable * 4)
                let inHole = file.isHole((tableSector * 512)..<(tableSector * 512 + tableLength), known: &knownHole)
                let tableBytes =
                    inHole
                    ? []
                    : try file.bytes(
                        entriesPerTable * 4, at: tableSector * 512,
                        reading: "grain table \(table) (grain directory entry at \(directoryOffset * 512 + UInt64(table * 4)))")
                guard claims.claim(tableSector * 512, length: tableLength) else {
                    throw malformed(
                        directoryOffset * 512 + UInt64(table * 4),
                        "grain directory entry \(table) points at sector \(tableSector), which another table or grain already uses")
                }
                if inHole || tableBytes.isAllZero { continue }
                starts[table] = Int32(entries.count)
                for slot in 0..<entriesPerTable {
                    let grainSector = tableBytes.loadLittleEndian(UInt32.self, at: slot * 4)
                    let grain = UInt64(table * entriesPerTable + slot)
                    if grainSector > 1 && grain < grains {
                        let hostOffset = UInt64(grainSector) * 512
                        let needed = isCompressed ? UInt64(VMDK.grainMarkerSize) : min(UInt64(clusterSize), size - grain * UInt64(clusterSize))
                        guard hostOffset <= fileSize, needed <= fileSize - hostOffset else {
                            throw malformed(
                                tableSector * 512 + UInt64(slot * 4),
                                "grain \(grain) at sector \(grainSector) runs past the end of the file (\(fileSize) bytes)")
                        }
                        // A compressed grain's length is known only from its marker: its first sector is its own.
                        guard claims.claim(hostOffset, length: needed) else {
                            throw malformed(
                                tableSector * 512 + UInt64(slot * 4),
                                "grain \(grain) at sector \(grainSector) overlaps another grain or table; every grain has its own place in the file")
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
            let marker = try GrainMarker(decoding: file.bytes(GrainMarker.size, at: offset, reading: "the marker of grain \(index)"))
            let lba = marker.lba
            let length = Int(marker.compressedSize)
            let expected = index * UInt64(clusterSize / 512)
            guard lba == expected else {
                throw DiskImageError.malformedImage(
                    path: path, offset: offset, reason: "grain marker says sector \(lba), but the grain table puts it at sector \(expected)")
            }
            guard length > 0, length <= 2 * clusterSize + 1024 else {
                throw DiskImageError.malformedImage(
                    path: path, offset: offset + UInt64(GrainMarker.Offset.compressedSize),
                    reason: "compressed grain size \(length) is absurd for \(clusterSize)-byte grains")
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
}

/// A flat extent: a window of a raw file.
final class FlatExtent: VirtualDisk {
    let file: SourceImage
    let start: UInt64
    let size: UInt64
    var path: String { file.path }

    init(file: SourceImage, start: UInt64, size: UInt64) {
        self.file = file
        self.start = start
        self.size = size
    }

    func dataRanges(in window: Range<UInt64>) throws(DiskImageError) -> [Range<UInt64>] {
        let end = min(window.upperBound, size)
        guard window.lowerBound < end else { return [] }
        return try file.dataRanges(in: (start + window.lowerBound)..<(start + end)).map { ($0.lowerBound - start)..<($0.upperBound - start) }
    }

    func nextDataOffset(from offset: UInt64) -> UInt64? {
        guard offset < size, let found = file.nextDataOffset(from: start + offset), found < start + size else { return nil }
        return found - start
    }

    func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskImageError) {
        try file.readExactly(into: buffer, at: start + offset)
    }
}

/// Extents one after another (a VMDK descriptor's); a missing disk is a ZERO extent.
final class ConcatenatedDisk: VirtualDisk {
    struct Part {
        var start: UInt64
        var size: UInt64
        var disk: (any VirtualDisk)?
    }

    let path: String
    let size: UInt64
    let parts: [Part]

    init(path: String, size: UInt64, parts: [Part]) {
        self.path = path
        self.size = size
        self.parts = parts
    }

    /// The index of the first part that ends after `offset` (binary search: a split disk has
    /// thousands of parts, and every window would otherwise walk them from the first).
    private func firstPart(endingAfter offset: UInt64) -> Int {
        var low = 0
        var high = parts.count
        while low < high {
            let middle = (low + high) / 2
            if parts[middle].start + parts[middle].size > offset { high = middle } else { low = middle + 1 }
        }
        return low
    }

    func dataRanges(in window: Range<UInt64>) throws(DiskImageError) -> [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        for part in parts[firstPart(endingAfter: window.lowerBound)...] {
            if part.start >= window.upperBound { break }
            guard let disk = part.disk, part.size > 0 else { continue }
            let local = (max(window.lowerBound, part.start) - part.start)..<(min(window.upperBound, part.start + part.size) - part.start)
            for range in try disk.dataRanges(in: local) {
                let shifted = (range.lowerBound + part.start)..<(range.upperBound + part.start)
                if let last = ranges.last, last.upperBound == shifted.lowerBound {
                    ranges[ranges.count - 1] = last.lowerBound..<shifted.upperBound
                } else {
                    ranges.append(shifted)
                }
            }
        }
        return ranges
    }

    func nextDataOffset(from offset: UInt64) -> UInt64? {
        for part in parts[firstPart(endingAfter: offset)...] {
            guard let disk = part.disk, part.size > 0 else { continue }
            if let found = disk.nextDataOffset(from: offset > part.start ? offset - part.start : 0), found < part.size {
                return part.start + found
            }
        }
        return nil
    }

    func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskImageError) {
        var done = 0
        for part in parts[firstPart(endingAfter: offset)...] where done < buffer.count {
            let position = offset + UInt64(done)
            guard position < part.start + part.size, position >= part.start else { continue }
            let length = Int(min(UInt64(buffer.count - done), part.start + part.size - position))
            let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + length)])
            if let disk = part.disk {
                try disk.readExactly(into: piece, at: position - part.start)
            } else {
                piece.initializeMemory(as: UInt8.self, repeating: 0)
            }
            done += length
        }
    }
}
