extension QCOW2 {
    /// Opens a qcow2 image: every table is loaded and checked (`Disk`).
    static func open(_ file: SourceImage) throws(DiskImageError) -> OpenedImage {
        guard try file.bytes(4, at: 0, reading: "the qcow2 magic") == QCOW2.magic else {
            throw DiskImageError.malformedImage(path: file.path, offset: 0, reason: "no qcow2 magic \"QFI\\xfb\"")
        }
        let image = try Disk(file: file)
        var details: [(String, ImageInfo.Detail)] = [
            ("version", "\(image.version) (compat \(image.version == 2 ? "0.10" : "1.1"))"),
            ("cluster size", .number(UInt64(image.clusterSize))),
            (
                "compression",
                image.compressedClusterCount > 0
                    ? "\(image.compressionType == 1 ? "zstd" : "deflate") (\(image.compressedClusterCount) compressed clusters)" : "none"
            ),
        ]
        if image.snapshotCount > 0 { details.append(("snapshots", "\(image.snapshotCount) (the active state is read)")) }
        if image.isDirty { details.append(("dirty", "yes (not closed cleanly; the data is read as it is)")) }
        return OpenedImage(disk: image, info: ImageReader.info(image, file, .qcow2, "v\(image.version)", details), findings: [])
    }

    /// A qcow2 image (versions 2 and 3) opened for reading: standalone, unencrypted, with
    /// uncompressed, zero and compressed clusters (DEFLATE, or zstd: compression type 1). The active L1/L2 tables are loaded and
    /// every entry checked against the file when the image is opened.
    final class Disk: ClusterMappedDisk {
        /// Bits 9-55 of L1 and standard L2 entries: the host offset.
        private static let offsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00
        private static let compressedFlag: UInt64 = 1 << 62
        private static let zeroFlag: UInt64 = 1

        let file: SourceImage
        let size: UInt64
        let clusterSize: Int
        let version: Int
        let isDirty: Bool
        let compressedClusterCount: Int
        let snapshotCount: Int
        /// The header's compression_type: 0 DEFLATE, 1 zstd.
        let compressionType: UInt8
        private let l2Bits: Int
        /// L2 entries of every allocated L2 table, one after another; `l2Start[l1]` is where the
        /// table of L1 entry `l1` begins, or -1 when it has none.
        private let l2Entries: [UInt64]
        private let l2Start: [Int32]
        private let compressedSizeShift: UInt64
        private let compressedSizeMask: UInt64

        init(file: SourceImage) throws(DiskImageError) {
            self.file = file
            let path = file.path
            func malformed(_ offset: UInt64, _ reason: String) -> DiskImageError {
                .malformedImage(path: path, offset: offset, reason: reason)
            }
            typealias Field = Header.Offset
            let fixed = try file.bytes(Header.version2Size, at: 0, reading: "the qcow2 header")
            var header = try Header(decoding: fixed, path: path)
            version = Int(header.version)
            guard version == 2 || version == 3 else {
                throw malformed(UInt64(Field.version), "qcow2 version \(version); imgship reads versions 2 and 3")
            }
            let backingOffset = header.backingFileOffset
            let backingLength = header.backingFileSize
            if backingOffset != 0 {
                let name =
                    backingLength > 0 && backingLength <= 1023
                    ? (try? file.bytes(Int(backingLength), at: backingOffset, reading: "the backing file name")).map { String(decoding: $0, as: UTF8.self) }
                    : nil
                throw DiskImageError.unsupportedSource(
                    path: path,
                    reason:
                        "is a qcow2 overlay on the backing file \"\(name ?? "?")\"; imgship reads standalone images only: flatten the chain first (qemu-img convert, or qemu-img rebase -b '')"
                )
            }
            let clusterBits = Int(header.clusterBits)
            guard (9...21).contains(clusterBits) else {
                throw malformed(UInt64(Field.clusterBits), "cluster_bits \(clusterBits); qcow2 allows 9 to 21")
            }
            clusterSize = 1 << clusterBits
            size = header.size
            guard size <= 1 << 56 else { throw malformed(UInt64(Field.size), "virtual size \(size) bytes is absurd (over 64 PiB)") }
            if header.cryptMethod != 0 {
                throw DiskImageError.unsupportedSource(path: path, reason: "is an encrypted qcow2 image; imgship reads unencrypted images only")
            }
            let l1Size = Int(header.l1Size)
            let l1Offset = header.l1TableOffset
            snapshotCount = Int(header.nbSnapshots)

            var dirty = false
            var compressionType: UInt8 = 0
            if version == 3 {
                let extended = try file.bytes(
                    Header.version3Size - Header.version2Size, at: UInt64(Header.version2Size),
                    reading: "the qcow2 version 3 header")
                header = try Header(decoding: fixed + extended, path: path)
                let incompatible = header.incompatibleFeatures
                let headerLength = Int(header.headerLength)
                guard headerLength >= 104, headerLength % 8 == 0, UInt64(headerLength) <= file.fileSize else {
                    throw malformed(UInt64(Field.headerLength), "header_length \(headerLength); version 3 needs at least 104, a multiple of 8, within the file")
                }
                if headerLength > 104 { compressionType = try file.bytes(1, at: UInt64(Field.compressionType), reading: "the compression type")[0] }
                let known: [(UInt64, String?)] = [
                    (1 << 0, nil),  // dirty: refcounts may be stale, the data is whole
                    (1 << 1, "is marked corrupt by qemu; repair it with qemu-img check -r all first"),
                    (1 << 2, "keeps its data in an external data file; imgship reads self-contained images only"),
                    (1 << 3, compressionType <= 1 ? nil : "uses compression type \(compressionType); imgship reads DEFLATE (0) and zstd (1)"),
                    (1 << 4, "uses extended L2 entries (subclusters); imgship does not read them"),
                ]
                for (bit, refusal) in known where incompatible & bit != 0 {
                    if let refusal { throw DiskImageError.unsupportedSource(path: path, reason: refusal) }
                }
                let unknown = incompatible & ~UInt64(0x1F)
                if unknown != 0 {
                    throw DiskImageError.unsupportedSource(
                        path: path, reason: "has unknown incompatible qcow2 features (0x\(String(unknown, radix: 16))); imgship cannot read it safely")
                }
                // qcow2.txt, "compression_type": non-zero exactly when incompatible bit 3 is set.
                if (incompatible & (1 << 3) != 0) != (compressionType != 0) {
                    throw malformed(
                        UInt64(Field.compressionType),
                        "compression_type \(compressionType) with the compression type feature bit \(incompatible & (1 << 3) != 0 ? "set" : "clear"); qcow2 sets the bit exactly when the type is not 0 (zlib)"
                    )
                }
                dirty = incompatible & 1 != 0
            }
            isDirty = dirty
            self.compressionType = compressionType

            l2Bits = clusterBits - 3
            let l2Count = 1 << l2Bits
            let bytesPerL2 = UInt64(clusterSize) << UInt64(l2Bits)
            let needed = (size + bytesPerL2 - 1) / bytesPerL2
            guard UInt64(l1Size) >= needed else {
                throw malformed(UInt64(Field.l1Size), "l1_size \(l1Size) cannot cover the virtual size \(size); at least \(needed) entries needed")
            }
            guard l1Size <= 1 << 22 else { throw malformed(UInt64(Field.l1Size), "l1_size \(l1Size) is absurd (qemu allows at most 4 Mi entries)") }
            guard l1Offset % UInt64(clusterSize) == 0 else {
                throw malformed(UInt64(Field.l1TableOffset), "L1 table offset \(l1Offset) is not cluster-aligned")
            }
            guard l1Offset <= file.fileSize, UInt64(l1Size * 8) <= file.fileSize - l1Offset else {
                throw malformed(l1Offset, "the L1 table (\(l1Size * 8) bytes) runs past the end of the file (\(file.fileSize) bytes)")
            }
            compressedSizeShift = UInt64(62 - (clusterBits - 8))
            compressedSizeMask = (1 << UInt64(clusterBits - 8)) - 1

            var entries: [UInt64] = []
            var starts = [Int32](repeating: -1, count: Int(needed))
            var compressed = 0
            let fileSize = file.fileSize
            var claims = FileSpaceClaims(unit: clusterSize)
            // Compressed clusters share host clusters, byte-packed; only their starts must differ.
            var compressedStarts: [UInt64] = []
            // The L1 table is read 1 MiB at a time (at 2 PiB it is 32 MiB), and a run of zero
            // entries, which name no table, is passed over at once.
            let piece = 1 << 17
            var l1: [UInt8] = []
            var l1Piece = -1
            var knownHole: Range<UInt64> = 0..<0
            var index = 0
            while index < Int(needed) {
                if index / piece != l1Piece {
                    l1Piece = index / piece
                    let first = l1Piece * piece
                    let count = min(piece, Int(needed) - first)
                    l1 = try file.bytes(count * 8, at: l1Offset + UInt64(first * 8), reading: "the L1 table")
                    if l1.isAllZero {
                        index = first + count
                        continue
                    }
                }
                defer { index += 1 }
                let entryOffset = l1Offset + UInt64(index * 8)
                let tableOffset = l1.loadBigEndian(UInt64.self, at: (index % piece) * 8) & Self.offsetMask
                guard tableOffset != 0 else { continue }
                guard tableOffset % UInt64(clusterSize) == 0 else {
                    throw malformed(entryOffset, "L1 entry \(index) points at \(tableOffset), which is not cluster-aligned")
                }
                // A table in a hole of the file maps nothing: it is claimed, not read.
                let inHole = file.isHole(tableOffset..<(tableOffset + UInt64(clusterSize)), known: &knownHole)
                let table = inHole ? [] : try file.bytes(clusterSize, at: tableOffset, reading: "the L2 table of L1 entry \(index)")
                guard claims.claim(tableOffset, length: UInt64(clusterSize)) else {
                    throw malformed(
                        entryOffset,
                        "L1 entry \(index) points at \(tableOffset), a cluster another table entry already uses; a standalone image never shares clusters")
                }
                // A table of zeros maps nothing (it may be a hole of a sparse file): keep none,
                // so memory follows the entries that point somewhere, not the tables named.
                if inHole || table.isAllZero { continue }
                // Appending grows the array geometrically; reserving exactly one more table each
                // time (as this did) copied every earlier table again: quadratic in the tables.
                starts[index] = Int32(entries.count)
                for slot in 0..<l2Count {
                    let entry = table.loadBigEndian(UInt64.self, at: slot * 8)
                    let where_ = tableOffset + UInt64(slot * 8)
                    let virtual = (UInt64(index) << UInt64(l2Bits) + UInt64(slot)) * UInt64(clusterSize)
                    if entry & Self.compressedFlag != 0 {
                        let hostOffset = entry & ((1 << compressedSizeShift) - 1)
                        guard hostOffset < fileSize else {
                            throw malformed(
                                where_, "compressed cluster at virtual offset \(virtual) points at \(hostOffset), past the end of the file (\(fileSize) bytes)")
                        }
                        compressed += 1
                        compressedStarts.append(hostOffset)
                    } else {
                        if version == 2 && entry & Self.zeroFlag != 0 {
                            throw malformed(where_, "L2 entry has the zero flag, which qcow2 version 2 does not have")
                        }
                        let hostOffset = entry & Self.offsetMask
                        if hostOffset != 0 && entry & Self.zeroFlag == 0 {
                            guard hostOffset % UInt64(clusterSize) == 0 else {
                                throw malformed(where_, "cluster at virtual offset \(virtual) points at \(hostOffset), which is not cluster-aligned")
                            }
                            let used = min(UInt64(clusterSize), size > virtual ? size - virtual : 0)
                            guard hostOffset <= fileSize, used <= fileSize - hostOffset else {
                                throw malformed(
                                    where_, "cluster at virtual offset \(virtual) points at \(hostOffset), past the end of the file (\(fileSize) bytes)")
                            }
                            guard claims.claim(hostOffset, length: UInt64(clusterSize)) else {
                                throw malformed(
                                    where_,
                                    "cluster at virtual offset \(virtual) points at \(hostOffset), a cluster another table entry already uses; a standalone image never shares clusters"
                                )
                            }
                        }
                    }
                    entries.append(entry)
                }
            }
            compressedStarts.sort()
            for (earlier, later) in zip(compressedStarts, compressedStarts.dropFirst()) where earlier == later {
                throw malformed(later, "two compressed clusters start at \(later); a standalone image never shares clusters")
            }
            l2Entries = entries
            l2Start = starts
            compressedClusterCount = compressed
        }

        var clustersPerTable: UInt64 { 1 << UInt64(l2Bits) }

        func hasTable(_ index: UInt64) -> Bool {
            index < UInt64(l2Start.count) && l2Start[Int(index)] >= 0
        }

        func location(ofCluster index: UInt64) -> ClusterLocation {
            let l1 = Int(index >> UInt64(l2Bits))
            guard l1 < l2Start.count else { return .unallocated }
            let start = l2Start[l1]
            guard start >= 0 else { return .unallocated }
            let entry = l2Entries[Int(start) + Int(index & ((1 << UInt64(l2Bits)) - 1))]
            if entry & Self.compressedFlag != 0 {
                return .compressed(entry & ((1 << compressedSizeShift) - 1))
            }
            if entry & Self.zeroFlag != 0 { return .zero }
            let hostOffset = entry & Self.offsetMask
            return hostOffset == 0 ? .unallocated : .stored(hostOffset)
        }

        func decompressCluster(_ index: UInt64, at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DiskImageError) {
            let entry = l2Entries[Int(l2Start[Int(index >> UInt64(l2Bits))]) + Int(index & ((1 << UInt64(l2Bits)) - 1))]
            let sectors = (entry >> compressedSizeShift) & compressedSizeMask + 1
            // The stored length runs to a sector boundary; the file may end before it.
            let length = min(Int(sectors * 512 - (offset & 511)), Int(file.fileSize - offset))
            let input = try file.bytes(length, at: offset, reading: "compressed cluster \(index)")
            let produced = input.withUnsafeBytes { DecompressorPool.shared.decompress($0, into: buffer, framing: compressionType == 1 ? .zstd : .deflate) }
            guard produced == buffer.count else {
                throw DiskImageError.malformedImage(
                    path: path, offset: offset,
                    reason: "compressed cluster at virtual offset \(index * UInt64(clusterSize)) does not inflate to \(clusterSize) bytes")
            }
        }
    }
}
