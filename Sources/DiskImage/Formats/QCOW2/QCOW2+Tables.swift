extension QCOW2 {
    /// One used entry of the L1 table: L1 entries are kept only for the 512 MiB spans that
    /// hold data (8 bytes of entry per written L2 table), so a 2 PiB disk's 4 Mi-entry table
    /// (32 MiB) is never held in memory; `writeTables` writes it out a cluster at a time.
    struct L1Entry: Sendable, Equatable {
        var index: Int
        /// The entry as stored: the L2 table's offset, with QCOW_OFLAG_COPIED.
        var entry: UInt64
    }

    /// Where the L1 table and the refcount structures of a written image go: from cluster
    /// `firstFree` on, the L1 table, the refcount blocks, then the refcount table. The blocks
    /// count every cluster of the file, their own and the table's included, so their number
    /// is found by iterating to a fixed point as qemu's own sizing does (more blocks may need a
    /// longer table, which may need another block): qcow2.txt, "Host cluster management".
    struct TablePlacement: Sendable, Equatable {
        let clusterSize: UInt64
        let l1Size: Int
        let l1Offset: UInt64
        let l1Clusters: UInt64
        let blocksOffset: UInt64
        let blockCount: UInt64
        let tableOffset: UInt64
        let tableClusters: UInt64

        /// qemu refuses a refcount table over 8 MiB (QCOW_MAX_REFTABLE_SIZE; qcow2.txt's note
        /// under "Host cluster management"): 2 PiB of file at 64 KiB clusters.
        static let maximumTableBytes: UInt64 = 8 << 20

        /// The tables placed from cluster `firstFree`, for an L1 table of `l1Size` entries.
        /// Refuses a file whose refcount table qemu would refuse, or whose offsets do not fit
        /// the 56 bits L1 and L2 entries hold.
        init(geometry: Geometry, firstFree: UInt64, l1Size: Int) throws(DiskImageError) {
            let clusterSize = UInt64(geometry.clusterSize)
            let refcountEntries = UInt64(geometry.refcountEntries)
            self.clusterSize = clusterSize
            self.l1Size = l1Size
            l1Clusters = max(1, (UInt64(l1Size) * 8 + clusterSize - 1) / clusterSize)
            var blocks: UInt64 = 0
            var tableClusters: UInt64 = 0
            while true {
                let total = firstFree + l1Clusters + blocks + tableClusters
                let neededBlocks = (total + refcountEntries - 1) / refcountEntries
                let neededTable = max(1, (neededBlocks * 8 + clusterSize - 1) / clusterSize)
                if neededBlocks == blocks && neededTable == tableClusters { break }
                blocks = neededBlocks
                tableClusters = neededTable
            }
            blockCount = blocks
            self.tableClusters = tableClusters
            l1Offset = firstFree * clusterSize
            blocksOffset = l1Offset + l1Clusters * clusterSize
            tableOffset = blocksOffset + blocks * clusterSize
            let length = tableOffset + tableClusters * clusterSize
            if tableClusters * clusterSize > Self.maximumTableBytes {
                throw DiskImageError.sizeTooLarge(
                    path: nil, format: "a qcow2 file whose refcount table qemu reads (at most 8 MiB)", size: length,
                    limit: Self.maximumTableBytes / 8 * refcountEntries * clusterSize)
            }
            // "L1 table entry" and "Standard Cluster Descriptor": bits 9-55 of the offset.
            if length > UInt64(1) << 56 {
                throw DiskImageError.sizeTooLarge(path: nil, format: "a qcow2 file (56-bit cluster offsets)", size: length, limit: UInt64(1) << 56)
            }
        }

        /// The file's length: the end of the refcount table.
        var fileLength: UInt64 { tableOffset + tableClusters * clusterSize }
        /// The cluster the tables start at.
        var firstCluster: UInt64 { l1Offset / clusterSize }
        /// Every cluster from `firstCluster` to the end is one of the tables' (refcount 1).
        var clusterCount: UInt64 { fileLength / clusterSize }
    }

    /// Where `writeTables` puts bytes, in file order: `write` the next bytes, `skip` a run of
    /// zeros (a hole in a file, hashed and written for a stream).
    struct TableOutput {
        let write: (UnsafeRawBufferPointer) throws(DiskImageError) -> Void
        let skip: (UInt64) throws(DiskImageError) -> Void
    }

    /// Writes the L1 table (from `l1`, in index order), the refcount blocks (each filled by
    /// `refcounts` with the big-endian 16-bit counts of the clusters from the one given, the
    /// block zeroed before) and the refcount table, one cluster at a time: memory is one
    /// cluster whatever the disk's size. An all-zero cluster goes out as `skip`.
    static func writeTables(
        _ placement: TablePlacement, l1: [L1Entry], refcounts: (_ firstCluster: UInt64, _ block: UnsafeMutableRawBufferPointer) -> Void,
        to output: TableOutput
    ) throws(DiskImageError) {
        let clusterSize = Int(placement.clusterSize)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: clusterSize, alignment: 64)
        defer { buffer.deallocate() }
        func emit() throws(DiskImageError) {
            if isAllZero(UnsafeRawBufferPointer(buffer)) {
                try output.skip(UInt64(clusterSize))
            } else {
                try output.write(UnsafeRawBufferPointer(buffer))
            }
        }
        let perCluster = clusterSize / 8
        // The L1 table (qcow2.txt, "Cluster mapping"): entry i at byte 8 i.
        var next = 0
        for cluster in 0..<Int(placement.l1Clusters) {
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            let end = (cluster + 1) * perCluster
            while next < l1.count && l1[next].index < end {
                buffer.storeBigEndian(l1[next].entry, at: (l1[next].index - cluster * perCluster) * 8)
                next += 1
            }
            try emit()
        }
        // The refcount blocks, 16-bit counts (refcount_order 4).
        let blockEntries = UInt64(clusterSize / 2)
        for block in 0..<placement.blockCount {
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            refcounts(block * blockEntries, buffer)
            try emit()
        }
        // The refcount table: entry b points at block b ("Refcount table entry").
        for cluster in 0..<placement.tableClusters {
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            let first = cluster * UInt64(perCluster)
            for block in first..<min(first + UInt64(perCluster), placement.blockCount) {
                buffer.storeBigEndian(placement.blocksOffset + block * placement.clusterSize, at: Int(block - first) * 8)
            }
            try emit()
        }
    }

    /// Stores a refcount of one for the clusters of `ones` that fall in the block starting at
    /// cluster `first`.
    static func storeRefcountOne(_ ones: Range<UInt64>, inBlockFrom first: UInt64, _ block: UnsafeMutableRawBufferPointer) {
        let entries = UInt64(block.count / 2)
        let from = max(ones.lowerBound, first)
        let to = min(ones.upperBound, first + entries)
        guard from < to else { return }
        for cluster in from..<to { block.storeBigEndian(UInt16(1), at: Int(cluster - first) * 2) }
    }
}
