#if canImport(Glibc)
import Glibc
#endif

extension QCOW2 {
    /// The cluster size written: qemu-img's default, 64 KiB.
    static let writtenClusterBits = 16
    /// Clusters a pipeline batch holds (2 MiB stored, 1 MiB compressed); both divide an L2
    /// table's entries at any cluster size from 4 KiB.
    static let storedClustersPerBatch = 32
    static let compressedClustersPerBatch = 16

    /// The largest virtual size: qemu's 32 MiB limit on the L1 table (QCOW_MAX_L1_SIZE,
    /// qcow2.txt's note on `size`), 4 Mi entries of 512 MiB at 64 KiB clusters: 2 PiB.
    static let maximumSize: UInt64 = 1 << 51

    /// One worker's compressor and a buffer for its batch's source bytes.
    final class WorkerState {
        let input: UnsafeMutableRawBufferPointer
        let deflate: GrainCompressor?
        let zstd: ZstdCompressor?

        init(batchBytes: Int, compression: WriteOptions.CompressionType?, level: DeflateLevel) {
            input = UnsafeMutableRawBufferPointer.allocate(byteCount: batchBytes, alignment: 4096)
            deflate = compression == .zlib ? GrainCompressor(level: level, framing: .deflate) : nil
            zstd = compression == .zstd ? ZstdCompressor(level: QCOW2.zstdLevel(level)) : nil
        }

        deinit { input.deallocate() }

        /// Compresses one cluster into `output` (a cluster less one byte: qemu's writer
        /// likewise stores a cluster as it is when compression does not make it smaller,
        /// qcow2_co_pwritev_compressed_task); nil when it does not fit.
        func compress(_ cluster: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
            if let deflate { return deflate.compress(cluster, into: output) }
            return zstd?.compress(cluster, into: output)
        }
    }

    /// The zstd level for `--level`: fast is zstd 1, the default zstd 3 (zstd's own default,
    /// which qemu's writer uses too), best zstd 19; 1 to 12 map to themselves.
    static func zstdLevel(_ level: DeflateLevel) -> Int32 {
        switch level {
        case .fast: 1
        case .standard: 3
        case .best: 19
        case let .libdeflate(number): Int32(number)
        }
    }

    /// One cluster of a batch, ready to place: where its bytes are in the slab.
    struct PreparedCluster {
        var index: UInt64
        var slabOffset: Int
        var length: Int
        var compressed: Bool
    }

    /// Writes a qcow2 image in one pass over the source. Uncompressed, the layout is fixed
    /// from the source's allocation map before any byte is read, and the file goes out in
    /// order, header first, hashed as it goes (`writeStored`). Compressed, how much each
    /// cluster shrinks decides where everything after it goes: the data clusters go out in
    /// virtual order from cluster 1, each L2 table after the clusters it maps, the L1 table
    /// and the refcount structures at the end (`HostLayout`), and the header, which points at
    /// them, is written last into cluster 0. So those bytes are stored with `pwrite`, and the
    /// output's SHA-256 is taken by reading the finished file back in order (cheap next to
    /// compressing: it was just written and is still in the page cache, whose pages are
    /// dropped behind that reading, not behind the writing, `OutputWriteback`). A stream
    /// (standard output) gets a compressed image from a staged copy in `stagingFolder`,
    /// hashed as it is copied.
    static func write(_ context: ExportContext, stagingFolder: String) throws(DiskImageError) {
        let sink = context.sink
        let options = context.options.qcow2
        if let problem = options.problem { throw DiskImageError.unsupportedSource(path: context.source.path, reason: problem) }
        guard options.compression != nil else { return try writeStored(context, clusterBits: options.clusterBits) }
        let clusterBits = options.clusterBits
        if let writer = sink.positionalWriter {
            // Hashed, the file is read back next: its pages stay until that reading passes them.
            var writeback = context.writeback
            writeback?.dropsBehind = !sink.isHashing
            let length = try writeImage(context, to: writer, clusterBits: clusterBits, writeback: writeback)
            try hand(file: sink.descriptor, path: sink.path, length: length, to: sink, stored: true, context: context)
            return
        }
        OutputSafety.removeStaleTemporaries(in: stagingFolder)
        let staged = try StagedFile(finalPath: stagingFolder + "/" + context.outputName, overwrite: true, mode: 0o600, scratch: true)
        defer { staged.discard() }
        let writer = PositionalWriter(descriptor: staged.descriptor, path: staged.temporaryPath)
        let length = try writeImage(context, to: writer, clusterBits: clusterBits)
        try hand(file: staged.descriptor, path: staged.temporaryPath, length: length, to: sink, stored: false, context: context)
    }

    /// The header (qcow2.txt, "Header") of an image whose tables are at `tables`, and the end
    /// of its extension area: the bytes at the start of cluster 0, whose rest is zeros.
    static func headerBytes(_ options: WriteOptions, clusterBits: Int, virtualSize: UInt64, tables: TablePlacement) -> [UInt8] {
        var header = Header(
            version: options.compatibility.version, clusterBits: UInt32(clusterBits), size: virtualSize, l1Size: UInt32(tables.l1Size),
            l1TableOffset: tables.l1Offset, refcountTableOffset: tables.tableOffset,
            refcountTableClusters: UInt32(tables.tableClusters))
        if options.compatibility == .version3 {
            // 104 bytes, the compression type byte and 7 of padding: header_length is a
            // multiple of 8 (qcow2.txt, "Header padding"), as qemu 5.1 and later write it.
            header.headerLength = UInt32(Header.version3Size + 8)
            if options.compression == .zstd {
                header.compressionType = 1
                header.incompatibleFeatures = 1 << 3  // bit 3: compression type
            }
        }
        // The header extension area ends at once: the zeros after the header are the end
        // marker (type 0, qcow2.txt "Header extensions").
        return header.encoded() + [UInt8](repeating: 0, count: 8)
    }

    /// Gives the sink the `length` bytes of the written file: hashed (and written, unless
    /// `stored`) in order, 4 MiB at a time; a stored file whose writeback is started, and
    /// whose pages are dropped behind the reading, as it goes. A stored file is not read at
    /// all when the sink does not hash.
    static func hand(file descriptor: Int32, path: String, length: UInt64, to sink: OutputSink, stored: Bool, context: ExportContext)
        throws(DiskImageError)
    {
        if stored && !sink.isHashing {
            sink.advance(overStored: length)
            context.startWriteback(0..<length)
            return
        }
        let chunk = 4 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var offset: UInt64 = 0
        while offset < length {
            let count = Int(min(UInt64(chunk), length - offset))
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
            var done = 0
            while done < count {
                let got = try retryingInterrupts("pread", path: path) {
                    // swift-format-ignore: NeverForceUnwrap
                    SystemCalls.pread(descriptor, part.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                }
                guard got > 0 else {
                    throw DiskImageError.malformedImage(path: path, offset: offset + UInt64(done), reason: "the qcow2 image being written ends early")
                }
                done += got
            }
            try sink.write(UnsafeRawBufferPointer(part), alreadyStored: stored)
            if stored { context.startWriteback(offset..<(offset + UInt64(count))) }
            offset += UInt64(count)
            if context.options.isCancelled() { throw DiskImageError.cancelled }
        }
    }

    /// Writes the whole compressed image with `writer`; returns the file's length.
    static func writeImage(_ context: ExportContext, to writer: PositionalWriter, clusterBits: Int, writeback: OutputWriteback? = nil)
        throws(DiskImageError) -> UInt64
    {
        let options = context.options.qcow2
        let geometry = Geometry(clusterBits: clusterBits)
        let clusterSize = geometry.clusterSize
        let virtualSize = context.virtualSize
        let clusterCount = (virtualSize + UInt64(clusterSize) - 1) / UInt64(clusterSize)
        let compression = options.compression
        let perBatch = compressedClustersPerBatch
        let batchBytes = perBatch * clusterSize
        let batchCount = Int((clusterCount + UInt64(perBatch) - 1) / UInt64(perBatch))
        let layout = HostLayout(geometry: geometry, virtualSize: virtualSize, writer: writer, writeback: writeback)
        let source = context.source
        let level = context.options.level

        let pipeline = OrderedPipeline(batchCount: batchCount, workerCount: context.workerCount, slabCapacity: batchBytes)
        try pipeline.run(
            skipTo: context.skipHoles(batchBytes: UInt64(batchBytes), batchCount: batchCount),
            makeWorker: { WorkerState(batchBytes: batchBytes, compression: compression, level: level) },
            work: { (index, state, slab) throws(DiskImageError) -> [PreparedCluster] in
                let first = UInt64(index * perBatch)
                let here = Int(min(UInt64(perBatch), clusterCount - first))
                let start = first * UInt64(clusterSize)
                // Whole clusters, zero past the end of the disk: a compressed cluster inflates
                // to a whole cluster, and a stored one is read as one.
                let window = start..<(start + UInt64(here * clusterSize))
                let buffer = state.input
                let dataRanges = try source.read(window, into: buffer, zeroingHolesWithin: clusterSize)
                var prepared: [PreparedCluster] = []
                var used = 0
                for cluster in 0..<here {
                    let range = (cluster * clusterSize)..<((cluster + 1) * clusterSize)
                    guard dataRanges.contains(where: { $0.overlaps(range) }) else { continue }
                    let bytes = UnsafeRawBufferPointer(rebasing: buffer[range])
                    // Zero clusters stay unallocated (qcow2.txt: an unallocated cluster reads
                    // as zeros when there is no backing file).
                    if isAllZero(bytes) { continue }
                    let clusterIndex = first + UInt64(cluster)
                    let output = UnsafeMutableRawBufferPointer(rebasing: slab[used..<(used + clusterSize - 1)])
                    if let size = state.compress(bytes, into: output) {
                        prepared.append(PreparedCluster(index: clusterIndex, slabOffset: used, length: size, compressed: true))
                        used += size
                    } else {
                        UnsafeMutableRawBufferPointer(rebasing: slab[used..<(used + clusterSize)]).copyMemory(from: bytes)
                        prepared.append(PreparedCluster(index: clusterIndex, slabOffset: used, length: clusterSize, compressed: false))
                        used += clusterSize
                    }
                }
                return prepared
            },
            consume: { (index, prepared, slab) throws(DiskImageError) in
                for cluster in prepared {
                    let bytes = UnsafeRawBufferPointer(rebasing: slab[cluster.slabOffset..<(cluster.slabOffset + cluster.length)])
                    if cluster.compressed {
                        try layout.addCompressed(cluster.index, bytes)
                    } else {
                        try layout.addStored(cluster.index, bytes)
                    }
                }
                try context.checkpoint(.writing, completed: UInt64((index + 1) * batchBytes))
            })
        let tables = try layout.finish()
        let bytes = headerBytes(options, clusterBits: clusterBits, virtualSize: virtualSize, tables: tables)
        var failure: DiskImageError?
        bytes.withUnsafeBytes { buffer in
            do throws(DiskImageError) { try writer.write(buffer, at: 0) } catch { failure = error }
        }
        if let failure { throw failure }
        return tables.fileLength
    }
}
