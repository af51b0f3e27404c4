import Foundation

extension QCOW2 {
    /// Writes an uncompressed qcow2 image strictly in file order, header first, in one pass
    /// over the source: so the SHA-256 is taken as the bytes go out and `-o -` is a stream
    /// like any other format's.
    ///
    /// The header points at the L1 table and the refcount table (qcow2.txt, "Header"), so
    /// their place is fixed before any byte is read, from the source's allocation map alone:
    ///
    /// ```
    /// 0     cluster 1                                 bound                     file end
    /// +------+---------------------------------------+- - - - - -+----+--------+-------+
    /// |header| span 0's data | L2 | span 3's data | L2 |  (hole)   | L1 | refcount blocks |
    /// |      | (non-zero clusters, virtual order)   |            |    | table           |
    /// +------+---------------------------------------+- - - - - -+----+--------+-------+
    /// ```
    ///
    /// `bound` is the header, every cluster the allocation map says may hold data, and one
    /// L2 table for each 512 MiB span (at 64 KiB clusters) holding any: the most the data
    /// part can take. Clusters read as all zeros stay unallocated (qcow2.txt: an unallocated
    /// cluster reads as zeros without a backing file), so the data usually ends short of the
    /// bound; the gap up to the tables is a hole in a file (zeros in a stream), unreferenced,
    /// with refcount 0, which qcow2.txt ("Host cluster management") calls free: `qemu-img
    /// check` counts no leak. For a sparse source (a file with holes, or an image read through
    /// its tables) the gap is the source's written zeros only; a source without a map (a block
    /// device) makes every zero cluster part of the gap, which costs its hashing, not disk
    /// space.
    ///
    /// Workers read batches and find their non-zero clusters in parallel; `HostAllocator`
    /// hands out host offsets in batch order, so each worker stores its own clusters with
    /// `pwrite` when the output is a file, while the calling thread only hashes, in order, and
    /// writes the L2 tables, the gap and the tables. Memory: the pipeline's slabs, one L2
    /// table, the used L1 entries (16 bytes a 512 MiB span written) and one cluster for the
    /// tables, whatever the virtual size.
    static func writeStored(_ context: ExportContext, clusterBits: Int) throws(DiskImageError) {
        let geometry = Geometry(clusterBits: clusterBits)
        let clusterSize = geometry.clusterSize
        let unit = UInt64(clusterSize)
        let virtualSize = context.virtualSize
        let source = context.source
        let sink = context.sink
        let clusterCount = (virtualSize + unit - 1) / unit
        let l2Entries = UInt64(geometry.l2Entries)
        let perBatch = storedClustersPerBatch
        let batchBytes = perBatch * clusterSize
        let batchCount = Int((clusterCount + UInt64(perBatch) - 1) / UInt64(perBatch))

        let bound = try dataClusterBound(context, geometry: geometry)
        let placement = try TablePlacement(geometry: geometry, firstFree: bound, l1Size: geometry.l1Size(virtualSize: virtualSize))
        let origin = sink.position
        // A size the filesystem cannot hold fails now, before any reading.
        try sink.reserveLength(origin + placement.fileLength)
        let header = headerBytes(context.options.qcow2, clusterBits: clusterBits, virtualSize: virtualSize, tables: placement)
        try sink.write(header)
        try sink.writeZeros(unit - UInt64(header.count))

        let allocator = HostAllocator(start: unit, limit: placement.l1Offset, clusterSize: unit, path: source.path)
        let writer = sink.positionalWriter
        let writeback = context.writeback
        var l1: [L1Entry] = []
        var l2 = [UInt64](repeating: 0, count: geometry.l2Entries)
        var openSpan: UInt64?
        let tableBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: clusterSize, alignment: 64)
        defer { tableBuffer.deallocate() }
        // The open span's L2 table, at the sink's position (where the allocator put it).
        func closeTable() throws(DiskImageError) {
            guard let span = openSpan else { return }
            let offset = sink.position - origin
            tableBuffer.initializeMemory(as: UInt8.self, repeating: 0)
            for (slot, entry) in l2.enumerated() where entry != 0 { tableBuffer.storeBigEndian(entry, at: slot * 8) }
            try sink.write(UnsafeRawBufferPointer(tableBuffer))
            // qcow2.txt, "L1 table entry": bits 9-55 the offset, bit 63 refcount exactly one.
            l1.append(L1Entry(index: Int(span), entry: offset | QCOW2.copiedFlag))
            for slot in l2.indices { l2[slot] = 0 }
            openSpan = nil
        }

        let pipeline = OrderedPipeline(batchCount: batchCount, workerCount: context.workerCount, slabCapacity: batchBytes)
        try pipeline.run(
            skipTo: context.skipHoles(batchBytes: UInt64(batchBytes), batchCount: batchCount),
            makeWorker: {},
            sequencedWork: { (index, sequence, _, slab) throws(DiskImageError) -> StoredBatch in
                do throws(DiskImageError) {
                    let first = UInt64(index * perBatch)
                    let here = Int(min(UInt64(perBatch), clusterCount - first))
                    let start = first * unit
                    // Whole clusters, zero past the end of the disk.
                    let dataRanges = try source.read(start..<(start + UInt64(here * clusterSize)), into: slab, zeroingHolesWithin: clusterSize)
                    let runs = nonZeroClusters(UnsafeRawBufferPointer(slab), count: here, clusterSize: clusterSize, dataRanges: dataRanges)
                    let clusters = runs.reduce(0) { $0 + $1.count }
                    let placed = try allocator.place(sequence: sequence, span: first / l2Entries, clusters: clusters, virtualOffset: start)
                    if let writer, clusters > 0 {
                        var host = origin + placed.dataOffset
                        for run in runs {
                            let bytes = UnsafeRawBufferPointer(rebasing: slab[(run.lowerBound * clusterSize)..<(run.upperBound * clusterSize)])
                            try writer.write(bytes, at: host)
                            host += UInt64(bytes.count)
                        }
                        // Its writeback overlaps the export (`OutputWriteback`).
                        writeback?.start((origin + placed.dataOffset)..<host)
                    }
                    return StoredBatch(runs: runs, dataOffset: placed.dataOffset, closesTable: placed.closesTable)
                } catch {
                    allocator.abandon(error)
                    throw error
                }
            },
            consume: { (index, batch, slab) throws(DiskImageError) in
                let first = UInt64(index * perBatch)
                if batch.closesTable { try closeTable() }
                var host = batch.dataOffset
                for run in batch.runs {
                    let bytes = UnsafeRawBufferPointer(rebasing: slab[(run.lowerBound * clusterSize)..<(run.upperBound * clusterSize)])
                    try sink.write(bytes, alreadyStored: writer != nil)
                    for cluster in run {
                        // "Standard Cluster Descriptor": bits 9-55 the offset; bit 63 refcount one.
                        l2[Int((first + UInt64(cluster)) % l2Entries)] = host | QCOW2.copiedFlag
                        host += unit
                    }
                }
                if !batch.runs.isEmpty { openSpan = first / l2Entries }
                try context.checkpoint(.writing, completed: UInt64((index + 1) * batchBytes))
            })
        try closeTable()
        let dataEnd = sink.position - origin

        // The gap, in steps that keep Ctrl-C working through a long one.
        var remaining = placement.l1Offset - dataEnd
        while remaining > 0 {
            let step = min(remaining, 64 << 20)
            try sink.writeZeros(step)
            remaining -= step
            try context.checkpoint(.writing, completed: virtualSize)
        }
        let dataClusters = dataEnd / unit
        try writeTables(
            placement, l1: l1,
            refcounts: { first, block in
                // Header, data and L2 tables: one each, contiguous; the gap: none; the tables: one each.
                QCOW2.storeRefcountOne(0..<dataClusters, inBlockFrom: first, block)
                QCOW2.storeRefcountOne(placement.firstCluster..<placement.clusterCount, inBlockFrom: first, block)
            },
            to: TableOutput(
                write: { (bytes) throws(DiskImageError) in try sink.write(bytes) }, skip: { (count) throws(DiskImageError) in try sink.writeZeros(count) }))
    }

    /// What a worker did with one batch: the runs of its non-zero clusters (cluster indices
    /// in the batch), stored in that order from `dataOffset`, and whether the L2 table of the
    /// span before goes first.
    struct StoredBatch {
        var runs: [Range<Int>]
        var dataOffset: UInt64
        var closesTable: Bool
    }

    /// The runs of clusters among the first `count` of `buffer` that meet a data range and
    /// hold a non-zero byte.
    static func nonZeroClusters(_ buffer: UnsafeRawBufferPointer, count: Int, clusterSize: Int, dataRanges: [Range<Int>]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        for cluster in 0..<count {
            let range = (cluster * clusterSize)..<((cluster + 1) * clusterSize)
            guard dataRanges.contains(where: { $0.overlaps(range) }), !isAllZero(UnsafeRawBufferPointer(rebasing: buffer[range])) else { continue }
            if let last = runs.last, last.upperBound == cluster {
                runs[runs.count - 1] = last.lowerBound..<(cluster + 1)
            } else {
                runs.append(cluster..<(cluster + 1))
            }
        }
        return runs
    }

    /// The most clusters the header, data and L2 tables can take: the header, every cluster
    /// of the disk the source's allocation map says may hold data, and an L2 table for each
    /// span holding any. Reads no data: holes are skipped with the map.
    static func dataClusterBound(_ context: ExportContext, geometry: Geometry) throws(DiskImageError) -> UInt64 {
        let unit = UInt64(geometry.clusterSize)
        let span = unit * UInt64(geometry.l2Entries)
        let virtualSize = context.virtualSize
        let source = context.source
        var clusters: UInt64 = 1
        var offset: UInt64 = 0
        while offset < virtualSize, let next = source.nextDataOffset(from: offset), next < virtualSize {
            if context.options.isCancelled() { throw DiskImageError.cancelled }
            let spanEnd = min((next / span + 1) * span, virtualSize)
            var counted: UInt64 = 0
            var lastCounted: UInt64?
            for range in try source.dataRanges(in: next..<spanEnd) where !range.isEmpty {
                var first = range.lowerBound / unit
                if let lastCounted, first <= lastCounted { first = lastCounted + 1 }
                let last = (range.upperBound - 1) / unit
                guard last >= first else { continue }
                counted += last - first + 1
                lastCounted = last
            }
            if counted > 0 { clusters += counted + 1 }
            offset = spanEnd
        }
        return clusters
    }

    /// Host offsets for the data clusters of an uncompressed image, handed out in batch
    /// order (the pipeline's sequence numbers) as soon as each worker knows how many of its
    /// clusters are non-zero, so workers store their clusters in parallel. Before the data of
    /// a batch in a new span goes the L2 table of the span before it, if that held data.
    final class HostAllocator: @unchecked Sendable {
        // Every mutable field is read and written with `condition` held.
        private let condition = NSCondition()
        private var nextSequence = 0
        private var cursor: UInt64
        private var openSpan: UInt64?
        private var failure: DiskImageError?
        /// Where the tables start: data and L2 tables must end at or before it.
        let limit: UInt64
        let clusterSize: UInt64
        let path: String

        init(start: UInt64, limit: UInt64, clusterSize: UInt64, path: String) {
            cursor = start
            self.limit = limit
            self.clusterSize = clusterSize
            self.path = path
        }

        /// Places batch `sequence`'s `clusters` non-zero clusters, of span `span`, once every
        /// batch before it is placed. A failure of another worker (`abandon`) is thrown here
        /// too, so no worker waits for a batch that will never come.
        func place(sequence: Int, span: UInt64, clusters: Int, virtualOffset: UInt64) throws(DiskImageError) -> (
            dataOffset: UInt64, closesTable: Bool
        ) {
            condition.lock()
            defer { condition.unlock() }
            while nextSequence != sequence && failure == nil { condition.wait() }
            if let failure { throw failure }
            var closesTable = false
            if let open = openSpan, open != span {
                cursor += clusterSize
                openSpan = nil
                closesTable = true
            }
            let dataOffset = cursor
            if clusters > 0 {
                cursor += UInt64(clusters) * clusterSize
                openSpan = span
            }
            // Room for the data and the L2 table that follows it: the allocation map read at
            // the start promised it.
            if cursor + (openSpan == nil ? 0 : clusterSize) > limit {
                let error = DiskImageError.sourceChanged(
                    path: path, offset: virtualOffset,
                    reason: "holds more data than its allocation map showed when the export began; the qcow2 image's tables were placed by that map")
                failure = error
                condition.broadcast()
                throw error
            }
            nextSequence += 1
            condition.broadcast()
            return (dataOffset, closesTable)
        }

        /// A worker failed: the workers waiting for its batch fail with the same error.
        func abandon(_ error: DiskImageError) {
            condition.lock()
            if failure == nil { failure = error }
            condition.broadcast()
            condition.unlock()
        }
    }
}
