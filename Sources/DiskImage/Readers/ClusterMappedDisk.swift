internal import CDeflate
import Synchronization

/// Where one cluster (qcow2), grain (VMDK) or block (VHD) of a virtual disk is kept.
enum ClusterLocation: Equatable {
    /// Never written: reads as zeros.
    case unallocated
    /// Marked as zeros by the format.
    case zero
    /// Stored as is at this file offset.
    case stored(UInt64)
    /// Stored compressed; the reader knows its framing.
    case compressed(UInt64)
}

/// A disk kept in a container file as fixed-size clusters located through tables the reader
/// loaded and checked when it opened the file. The tables are never changed afterwards, so
/// workers read concurrently.
protocol ClusterMappedDisk: VirtualDisk {
    var file: SourceImage { get }
    /// Bytes per cluster; a power of two.
    var clusterSize: Int { get }
    func location(ofCluster index: UInt64) -> ClusterLocation
    /// Clusters per second-level table (L2 table, grain table); 1 where there is none.
    var clustersPerTable: UInt64 { get }
    /// Whether second-level table `index` exists: scans skip the clusters of a missing one,
    /// so a huge, empty disk costs nothing to walk.
    func hasTable(_ index: UInt64) -> Bool
    /// Fills `buffer` (`clusterSize` bytes) with the cluster stored compressed at `offset`.
    func decompressCluster(_ index: UInt64, at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DiskImageError)
}

extension ClusterMappedDisk {
    var path: String { file.path }

    private var clusterCount: UInt64 { (size + UInt64(clusterSize) - 1) / UInt64(clusterSize) }

    /// The stored and compressed clusters of `window`, less the holes of the file under the
    /// stored ones: a table may point into a hole of a sparse file (a fixed VHDX on a sparse
    /// file is all holes), which reads as zeros and must cost no more than a raw file's hole.
    /// Runs of clusters stored one after another are asked about with one `SEEK_DATA` each.
    func dataRanges(in window: Range<UInt64>) throws(DiskImageError) -> [Range<UInt64>] {
        let end = min(window.upperBound, size)
        guard window.lowerBound < end else { return [] }
        let unit = UInt64(clusterSize)
        var ranges: [Range<UInt64>] = []
        func add(_ range: Range<UInt64>) {
            guard !range.isEmpty else { return }
            if let last = ranges.last, last.upperBound == range.lowerBound {
                ranges[ranges.count - 1] = last.lowerBound..<range.upperBound
            } else {
                ranges.append(range)
            }
        }
        // A run of stored clusters contiguous both on the disk and in the file.
        var run: (virtual: Range<UInt64>, host: UInt64)?
        func flush() throws(DiskImageError) {
            guard let current = run else { return }
            run = nil
            let host = current.host..<(current.host + UInt64(current.virtual.count))
            for stored in try file.dataRanges(in: host) {
                add((current.virtual.lowerBound + (stored.lowerBound - host.lowerBound))..<(current.virtual.lowerBound + (stored.upperBound - host.lowerBound)))
            }
        }
        var cluster = window.lowerBound / unit
        while cluster * unit < end {
            // A missing second-level table holds no data: its clusters are skipped whole, so
            // a huge, empty disk costs its tables to walk, not its size (as `nextDataOffset`).
            if cluster % clustersPerTable == 0 || cluster == window.lowerBound / unit, !hasTable(cluster / clustersPerTable) {
                try flush()
                cluster = (cluster / clustersPerTable + 1) * clustersPerTable
                continue
            }
            let start = max(cluster * unit, window.lowerBound)
            let stop = min((cluster + 1) * unit, end)
            switch location(ofCluster: cluster) {
            case let .stored(hostOffset):
                let host = hostOffset + (start - cluster * unit)
                if let current = run, current.virtual.upperBound == start, current.host + UInt64(current.virtual.count) == host {
                    run = (current.virtual.lowerBound..<stop, current.host)
                } else {
                    try flush()
                    run = (start..<stop, host)
                }
            case .compressed:
                try flush()
                add(start..<stop)
            case .unallocated, .zero:
                try flush()
            }
            cluster += 1
        }
        try flush()
        return ranges
    }

    func nextDataOffset(from offset: UInt64) -> UInt64? {
        guard offset < size else { return nil }
        let unit = UInt64(clusterSize)
        var cluster = offset / unit
        while cluster < clusterCount {
            if cluster % clustersPerTable == 0 || cluster == offset / unit, !hasTable(cluster / clustersPerTable) {
                cluster = (cluster / clustersPerTable + 1) * clustersPerTable
                continue
            }
            switch location(ofCluster: cluster) {
            case .stored, .compressed: return max(offset, cluster * unit)
            case .unallocated, .zero: cluster += 1
            }
        }
        return nil
    }

    func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskImageError) {
        let unit = UInt64(clusterSize)
        var done = 0
        var scratch: UnsafeMutableRawBufferPointer?
        defer { scratch?.deallocate() }
        while done < buffer.count {
            let position = offset + UInt64(done)
            let cluster = position / unit
            let within = Int(position % unit)
            let length = min(buffer.count - done, clusterSize - within)
            let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + length)])
            switch location(ofCluster: cluster) {
            case .unallocated, .zero:
                piece.initializeMemory(as: UInt8.self, repeating: 0)
            case let .stored(hostOffset):
                try file.readExactly(into: piece, at: hostOffset + UInt64(within))
            case let .compressed(hostOffset):
                if length == clusterSize {
                    try decompressCluster(cluster, at: hostOffset, into: piece)
                } else {
                    let whole = scratch ?? .allocate(byteCount: clusterSize, alignment: 64)
                    scratch = whole
                    try decompressCluster(cluster, at: hostOffset, into: whole)
                    piece.copyMemory(from: UnsafeRawBufferPointer(rebasing: whole[within..<(within + length)]))
                }
            }
            done += length
        }
    }
}

/// A disk located by one flat table of blocks (VHD, VHDX): no second-level tables, nothing
/// compressed.
protocol BlockTableDisk: ClusterMappedDisk {
    var blockCount: Int { get }
    /// Where block `index` (below `blockCount`) is stored; nil when it reads as zeros.
    func storedOffset(ofBlock index: Int) -> UInt64?
}

extension BlockTableDisk {
    var clustersPerTable: UInt64 { 1 }

    func hasTable(_ index: UInt64) -> Bool {
        index < UInt64(blockCount) && storedOffset(ofBlock: Int(index)) != nil
    }

    func location(ofCluster index: UInt64) -> ClusterLocation {
        guard index < UInt64(blockCount), let offset = storedOffset(ofBlock: Int(index)) else { return .unallocated }
        return .stored(offset)
    }

    func decompressCluster(_ index: UInt64, at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DiskImageError) {
        preconditionFailure("blocks of a flat block table are never compressed")
    }
}

/// Shared libdeflate decompressors: one is not safe to use from two threads at once, and
/// making one per cluster would cost more than the decompression.
final class DecompressorPool: Sendable {
    static let shared = DecompressorPool()
    /// A decompressor is used by one thread at a time: the pool hands it out and takes it back.
    private struct Decompressor: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private let idle = Mutex<[Decompressor]>([])

    enum Framing {
        /// qcow2: raw DEFLATE (RFC 1951).
        case deflate
        /// VMDK: zlib (RFC 1950).
        case zlib
        /// qcow2 compression type 1: zstd frames (RFC 8878), decompressed by libzstd.
        case zstd
    }

    /// Decompresses `input` (which may run on past the stream's end) into `output`; the
    /// number of bytes produced, nil when the data is not a valid stream or does not fit.
    func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, framing: Framing) -> Int? {
        if framing == .zstd { return ZstdDecompressor.decompress(input, into: output) }
        // swift-format-ignore: NeverForceUnwrap
        let taken = idle.withLock { $0.popLast() } ?? Decompressor(pointer: libdeflate_alloc_decompressor()!)
        defer { idle.withLock { $0.append(taken) } }
        let decompressor = taken.pointer
        var produced = 0
        var consumed = 0
        let result: libdeflate_result =
            switch framing {
            case .deflate:
                libdeflate_deflate_decompress_ex(decompressor, input.baseAddress, input.count, output.baseAddress, output.count, &consumed, &produced)
            case .zlib, .zstd:
                libdeflate_zlib_decompress_ex(decompressor, input.baseAddress, input.count, output.baseAddress, output.count, &consumed, &produced)
            }
        return result == LIBDEFLATE_SUCCESS ? produced : nil
    }
}

/// The parts of an image file its tables hand out, each of which may be handed out once.
///
/// A standalone image never maps two places of its disk, or two tables, onto the same stored
/// bytes: sharing comes only with internal snapshots and backing files, which are not part
/// of the disk imgship reads. Left unchecked, a damaged file of a few megabytes could map one
/// cluster or one table a million times over, and a reader would hold, read and inflate
/// terabytes from it.
///
/// The claims are kept as a set of disjoint intervals, adjacent ones merged, so memory
/// follows the number of claims (the tables), never the file's apparent size: a 16 TiB
/// sparse file storing a few kilobytes costs a few intervals, not a bitmap of gigabytes.
/// The set is a sorted list of sorted chunks of at most `chunkLimit` intervals, so a claim
/// in any order costs a binary search and a short move, not a shift of the whole list.
struct FileSpaceClaims {
    private var chunks: [[Range<UInt64>]] = []
    private let unitShift: UInt64
    private static let chunkLimit = 512

    /// `unit` (a power of two) is the granularity of every claim: the sector for VHD and
    /// VMDK, the cluster for qcow2, the megabyte for VHDX, whose structures all start and end
    /// on that boundary.
    init(unit: Int) {
        unitShift = UInt64(unit.trailingZeroBitCount)
    }

    /// Claims the units that `length` bytes at `offset` touch (`offset + length` lies within
    /// the file: callers check that first); false when any of them was already claimed.
    mutating func claim(_ offset: UInt64, length: UInt64) -> Bool {
        // Units are at least 512 bytes, so the last one's number is below UInt64.max.
        let units = (offset >> unitShift)..<(((offset + max(length, 1) - 1) >> unitShift) + 1)
        guard !chunks.isEmpty else {
            chunks.append([units])
            return true
        }
        // The last chunk whose first interval starts at or before the claim (or the first).
        var low = 0
        var high = chunks.count
        while low < high {
            let middle = (low + high) / 2
            if chunks[middle][0].lowerBound <= units.lowerBound { low = middle + 1 } else { high = middle }
        }
        let chunk = max(low - 1, 0)
        // The first interval of that chunk starting after the claim.
        let position = chunks[chunk].partitioningIndex { $0.lowerBound > units.lowerBound }
        let before: Range<UInt64>? =
            position > 0 ? chunks[chunk][position - 1] : chunk > 0 ? chunks[chunk - 1].last : nil
        let after: Range<UInt64>? =
            position < chunks[chunk].count ? chunks[chunk][position] : chunk + 1 < chunks.count ? chunks[chunk + 1].first : nil
        if let before, before.upperBound > units.lowerBound { return false }
        if let after, after.lowerBound < units.upperBound { return false }
        // Merge with a neighbour of the same chunk that touches the claim, else insert.
        if position > 0, chunks[chunk][position - 1].upperBound == units.lowerBound {
            let lower = chunks[chunk][position - 1].lowerBound
            if position < chunks[chunk].count, chunks[chunk][position].lowerBound == units.upperBound {
                chunks[chunk][position - 1] = lower..<chunks[chunk][position].upperBound
                chunks[chunk].remove(at: position)
            } else {
                chunks[chunk][position - 1] = lower..<units.upperBound
            }
            return true
        }
        if position < chunks[chunk].count, chunks[chunk][position].lowerBound == units.upperBound {
            chunks[chunk][position] = units.lowerBound..<chunks[chunk][position].upperBound
            return true
        }
        chunks[chunk].insert(units, at: position)
        if chunks[chunk].count > Self.chunkLimit {
            let upper = Array(chunks[chunk][(Self.chunkLimit / 2)...])
            chunks[chunk].removeSubrange((Self.chunkLimit / 2)...)
            chunks.insert(upper, at: chunk + 1)
        }
        return true
    }

    /// How many disjoint intervals the claims make (for tests of the memory they cost).
    var intervalCount: Int { chunks.reduce(0) { $0 + $1.count } }
}

extension Array {
    /// The index of the first element for which `isAfter` holds, in an array where it holds
    /// for a suffix.
    fileprivate func partitioningIndex(where isAfter: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if isAfter(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
