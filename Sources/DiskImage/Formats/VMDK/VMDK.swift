/// VMware's stream-optimized sparse VMDK (Virtual Disk Format 5.0, "Stream-Optimized
/// Compressed Sparse Extents"), the form ESXi, vSphere, AWS VM Import and VirtualBox import.
/// All integers are little-endian; every structure starts on a 512-byte sector.
///
/// ```
/// sector 0   1            21        128 (overHead)
/// +--------+------------+---------+------------------------------------------------------+
/// | header | descriptor | zeros   | grain: lba u64, size u32, zlib data (padded to 512)  |
/// | KDMV   | text, 20   |         | ... ascending LBA; after each 32 MiB span with data: |
/// | gd=-1  | sectors    |         | GT marker + grain table (512 x u32 sector offsets)   |
/// +--------+------------+---------+------------------------------------------------------+
/// ... | GD marker + grain directory | FOOTER marker | footer (header, real gdOffset) | EOS |
/// ```
/// Header: "Hosted Sparse Extent Header" (`VMDK.SparseExtentHeader`); markers: "Stream-
/// Optimized Compressed Sparse Extents" (`VMDK.MetadataMarker`, `VMDK.GrainMarker`);
/// descriptor: "The Descriptor File" (`VMDK.Descriptor`). Reading: `VMDK+Reader.swift`
/// (and `VMDK+Extents.swift` for a descriptor's extent files); the grain writer:
/// `VMDK+Writer.swift`.
public enum VMDK {
    /// Bytes per sector.
    static let sectorSize = 512
    /// Grain size in sectors (64 KiB).
    static let grainSectors: UInt64 = 128
    static let grainBytes = Int(grainSectors) * sectorSize
    /// Grain table entries per grain table: one table covers 32 MiB.
    static let grainTableEntries = 512
    /// Sectors reserved for the embedded descriptor; VirtualBox rewrites it in place.
    static let descriptorSectors: UInt64 = 20
    /// Sectors before the first grain: header and descriptor, rounded up to a grain.
    static let overheadSectors: UInt64 = roundUp(1 + descriptorSectors, toMultipleOf: grainSectors)

    /// Largest virtual size imgship writes: 62 TiB, the largest virtual disk VMware attaches
    /// (vSphere configuration maximums, VMFS 5 and 6: 62 TB). The header's capacity field would
    /// hold 2^64 sectors, but nothing reads that: qemu refuses grain directories of over 32 Mi
    /// entries (1 PiB of 64 KiB grains in 512-entry tables), and every grain table entry is a
    /// 32-bit sector offset, so at most 2 TiB of compressed grains fit in the file anyway. At
    /// 62 TiB the grain directory is 7.75 MiB, in the output and in memory.
    static let maximumSize: UInt64 = 62 << 40

    /// The disk controller written to `ddb.adapterType`; it also decides the geometry.
    public enum Adapter: String, Sendable, CaseIterable {
        case lsilogic, ide, buslogic
    }
}
