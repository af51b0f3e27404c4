extension QCOW2 {
    /// The sizes of a written image, from its cluster size (qcow2.txt): 64 KiB by default;
    /// tests use 4 KiB to cross L2 spans and refcount blocks with small images.
    struct Geometry: Sendable {
        let clusterBits: Int
        var clusterSize: Int { 1 << clusterBits }
        /// Entries of an L2 table (one cluster of u64): clusters a table maps.
        var l2Entries: Int { clusterSize / 8 }
        /// Entries of a refcount block at refcount_order 4 (16-bit counts).
        var refcountEntries: Int { clusterSize / 2 }
        /// "Compressed Clusters Descriptor": x = 62 - (cluster_bits - 8) bits of host offset,
        /// then the additional sector count up to bit 61.
        var compressedOffsetBits: Int { 62 - (clusterBits - 8) }

        /// L1 entries covering `virtualSize`.
        func l1Size(virtualSize: UInt64) -> Int {
            let span = UInt64(clusterSize) * UInt64(l2Entries)
            return Int((virtualSize + span - 1) / span)
        }
    }

    /// Bit 63 of L1 and standard L2 entries (QCOW_OFLAG_COPIED): the refcount is exactly one.
    static let copiedFlag: UInt64 = 1 << 63
    /// Bit 62 of an L2 entry: a compressed cluster.
    static let compressedFlag: UInt64 = 1 << 62

    /// Places the clusters of a compressed image being written, strictly appending to the
    /// file: data clusters in virtual order (compressed ones byte-packed, one after another,
    /// as qemu's `qcow2_alloc_bytes` packs them; stored ones on cluster boundaries), each L2
    /// table right after the data of the 512 MiB (at 64 KiB clusters) it maps, then at the
    /// end the L1 table, the refcount blocks and the refcount table (`finish`). Cluster 0, the
    /// header, is the caller's to write last: how much the clusters compress decides where
    /// the tables go. (Uncompressed images are laid out before any byte is read instead:
    /// `StoredLayout`.)
    ///
    /// A stored cluster that comes while a host cluster is part-filled with compressed bytes
    /// waits (at most `pendingLimit` of them) until the compressed bytes reach a cluster
    /// boundary, or come within `acceptedWaste` of one, so the space between them and the next
    /// boundary is rarely left empty.
    ///
    /// Memory: one L2 table, the waiting clusters, the used L1 entries (16 bytes a 512 MiB
    /// span holding data) and a 16-bit refcount for every cluster of the data (32 MiB per
    /// TiB written); the tables are written a cluster at a time.
    final class HostLayout {
        let geometry: Geometry
        let path: String
        private let appender: FileAppender
        /// The next free byte of the file.
        private(set) var cursor: UInt64
        private var refcounts: [UInt16] = []
        /// The L1 entries of the spans written so far, in order.
        private(set) var l1: [L1Entry] = []
        let l1Size: Int
        private var l2: [UInt64]
        private var l2Index = 0
        private var l2Used = false
        private let pending: UnsafeMutableRawBufferPointer
        private var pendingClusters: [UInt64] = []
        let pendingLimit = 16
        /// Compressed bytes (a sixteenth of a cluster) worth leaving a gap of to place the
        /// stored clusters waiting.
        var acceptedWaste: Int { geometry.clusterSize / 16 }
        /// Counts, for reports and tests.
        private(set) var compressedClusters = 0
        private(set) var storedClusters = 0

        init(geometry: Geometry, virtualSize: UInt64, writer: PositionalWriter, writeback: OutputWriteback? = nil) {
            self.geometry = geometry
            path = writer.path
            appender = FileAppender(writer: writer, writeback: writeback)
            cursor = UInt64(geometry.clusterSize)
            l1Size = geometry.l1Size(virtualSize: virtualSize)
            l2 = [UInt64](repeating: 0, count: geometry.l2Entries)
            pending = UnsafeMutableRawBufferPointer.allocate(byteCount: pendingLimit * geometry.clusterSize, alignment: 64)
            refcounts = [1]  // cluster 0: the header
        }

        deinit { pending.deallocate() }

        private var clusterSize: UInt64 { UInt64(geometry.clusterSize) }

        /// Adds one to the refcount of every cluster `range` of the file touches.
        private func reference(_ range: Range<UInt64>) throws(DiskImageError) {
            guard !range.isEmpty else { return }
            let first = Int(range.lowerBound / clusterSize)
            let last = Int((range.upperBound - 1) / clusterSize)
            if refcounts.count <= last { refcounts += [UInt16](repeating: 0, count: last + 1 - refcounts.count) }
            for cluster in first...last {
                guard refcounts[cluster] < UInt16.max else {
                    throw DiskImageError.compression(
                        offset: UInt64(cluster) * clusterSize, reason: "more compressed clusters share one host cluster than a 16-bit refcount counts")
                }
                refcounts[cluster] += 1
            }
        }

        /// Moves to the L2 table of virtual cluster `index`, writing the previous one if it
        /// maps anything.
        private func enterTable(of index: UInt64) throws(DiskImageError) {
            let table = Int(index / UInt64(geometry.l2Entries))
            if table != l2Index {
                try closeTable()
                l2Index = table
            }
        }

        /// Writes the current L2 table (after any waiting stored clusters) and points its L1
        /// entry at it.
        private func closeTable() throws(DiskImageError) {
            try placePending()
            guard l2Used else { return }
            let offset = try allocateClusters(1)
            var bytes = [UInt8](repeating: 0, count: geometry.clusterSize)
            for (slot, entry) in l2.enumerated() where entry != 0 { bytes.storeBigEndian(entry, at: slot * 8) }
            try append(bytes, at: offset)
            // qcow2.txt, "L1 table entry": bits 9-55 the offset, bit 63 refcount exactly one.
            l1.append(L1Entry(index: l2Index, entry: offset | QCOW2.copiedFlag))
            for slot in l2.indices { l2[slot] = 0 }
            l2Used = false
        }

        /// Takes `count` whole clusters at the next cluster boundary; their offset.
        private func allocateClusters(_ count: Int) throws(DiskImageError) -> UInt64 {
            let offset = roundUp(cursor, toMultipleOf: clusterSize)
            let length = UInt64(count) * clusterSize
            try reference(offset..<(offset + length))
            cursor = offset + length
            return offset
        }

        private func append(_ bytes: [UInt8], at offset: UInt64) throws(DiskImageError) {
            var failure: DiskImageError?
            bytes.withUnsafeBytes { buffer in
                do throws(DiskImageError) { try appender.append(buffer, at: offset) } catch { failure = error }
            }
            if let failure { throw failure }
        }

        /// Virtual cluster `index` compressed into `bytes` (fewer than a cluster).
        func addCompressed(_ index: UInt64, _ bytes: UnsafeRawBufferPointer) throws(DiskImageError) {
            try enterTable(of: index)
            let length = UInt64(bytes.count)
            let within = cursor % clusterSize
            if !pendingClusters.isEmpty
                && (within == 0 || (within + length > clusterSize && (clusterSize - within <= UInt64(acceptedWaste) || pendingClusters.count == pendingLimit)))
            {
                try placePending()
            }
            let offset = cursor
            // The descriptor's offset field is x bits wide.
            guard offset + length < UInt64(1) << UInt64(geometry.compressedOffsetBits) else {
                throw DiskImageError.sizeTooLarge(
                    path: path, format: "qcow2 compressed clusters (\(geometry.compressedOffsetBits)-bit offsets)", size: offset + length,
                    limit: UInt64(1) << UInt64(geometry.compressedOffsetBits))
            }
            // "Compressed Clusters Descriptor": the sectors after the one holding the offset
            // that the data reaches into. qemu (qcow2_parse_compressed_l2_entry, and its check)
            // counts a reference on every cluster of those sectors.
            let additionalSectors = ((offset + length - 1) >> 9) - (offset >> 9)
            let sectorRange = (offset & ~511)..<roundUp(offset + length, toMultipleOf: 512)
            try reference(sectorRange)
            try appender.append(bytes, at: offset)
            cursor = offset + length
            l2[Int(index % UInt64(geometry.l2Entries))] = QCOW2.compressedFlag | additionalSectors << UInt64(geometry.compressedOffsetBits) | offset
            l2Used = true
            compressedClusters += 1
        }

        /// Virtual cluster `index` stored as it is (`bytes` is a whole cluster).
        func addStored(_ index: UInt64, _ bytes: UnsafeRawBufferPointer) throws(DiskImageError) {
            try enterTable(of: index)
            if cursor % clusterSize == 0 && pendingClusters.isEmpty {
                try place(index, bytes)
                return
            }
            let slot = pendingClusters.count
            UnsafeMutableRawBufferPointer(rebasing: pending[(slot * geometry.clusterSize)..<((slot + 1) * geometry.clusterSize)]).copyMemory(from: bytes)
            pendingClusters.append(index)
            if pendingClusters.count == pendingLimit { try placePending() }
        }

        private func place(_ index: UInt64, _ bytes: UnsafeRawBufferPointer) throws(DiskImageError) {
            let offset = try allocateClusters(1)
            try appender.append(bytes, at: offset)
            // "Standard Cluster Descriptor": bits 9-55 the offset; bit 63 refcount exactly one.
            l2[Int(index % UInt64(geometry.l2Entries))] = offset | QCOW2.copiedFlag
            l2Used = true
            storedClusters += 1
        }

        private func placePending() throws(DiskImageError) {
            for (slot, index) in pendingClusters.enumerated() {
                try place(index, UnsafeRawBufferPointer(rebasing: pending[(slot * geometry.clusterSize)..<((slot + 1) * geometry.clusterSize)]))
            }
            pendingClusters.removeAll(keepingCapacity: true)
        }

        /// Writes the last L2 table, then the L1 table and the refcount structures
        /// (`writeTables`), and sets the file's length; returns where they are.
        func finish() throws(DiskImageError) -> TablePlacement {
            try closeTable()
            let placement = try TablePlacement(geometry: geometry, firstFree: (cursor + clusterSize - 1) / clusterSize, l1Size: l1Size)
            var offset = placement.l1Offset
            let output = TableOutput(
                write: { (bytes) throws(DiskImageError) in
                    try self.appender.append(bytes, at: offset)
                    offset += UInt64(bytes.count)
                },
                skip: { count in offset += count })
            let counted = refcounts
            try writeTables(
                placement, l1: l1,
                refcounts: { first, block in
                    let entries = UInt64(block.count / 2)
                    if first < UInt64(counted.count) {
                        for cluster in first..<min(first + entries, UInt64(counted.count)) where counted[Int(cluster)] != 0 {
                            block.storeBigEndian(counted[Int(cluster)], at: Int(cluster - first) * 2)
                        }
                    }
                    QCOW2.storeRefcountOne(placement.firstCluster..<placement.clusterCount, inBlockFrom: first, block)
                }, to: output)
            try appender.flush()
            // A last cluster of zeros was skipped, not written: the length is set here.
            try appender.writer.setLength(placement.fileLength)
            cursor = placement.fileLength
            return placement
        }
    }

    /// Sequential writes at increasing offsets, gathered into one `pwrite` a few MiB; a jump
    /// forward leaves a hole. Each piece's writeback starts as it is written (`writeback`), so
    /// the fsync before the rename does not wait for the whole file.
    final class FileAppender {
        let writer: PositionalWriter
        let writeback: OutputWriteback?
        private let buffer: UnsafeMutableRawBufferPointer
        private var start: UInt64 = 0
        private var used = 0

        init(writer: PositionalWriter, writeback: OutputWriteback? = nil, capacity: Int = 4 << 20) {
            self.writer = writer
            self.writeback = writeback
            buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 4096)
        }

        deinit { buffer.deallocate() }

        /// `bytes` at `offset`, at or after the end of what was appended before.
        func append(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(DiskImageError) {
            if offset != start + UInt64(used) {
                try flush()
                start = offset
            }
            var done = 0
            while done < bytes.count {
                if used == buffer.count { try flush() }
                let step = min(bytes.count - done, buffer.count - used)
                UnsafeMutableRawBufferPointer(rebasing: buffer[used..<(used + step)]).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: bytes[done..<(done + step)]))
                used += step
                done += step
            }
        }

        func flush() throws(DiskImageError) {
            guard used > 0 else { return }
            try writer.write(UnsafeRawBufferPointer(rebasing: buffer[0..<used]), at: start)
            writeback?.start(start..<(start + UInt64(used)))
            start += UInt64(used)
            used = 0
        }
    }
}
