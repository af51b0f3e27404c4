/// VMware's stream-optimized sparse VMDK (Virtual Disk Format 5.0, "Stream-Optimized
/// Compressed Sparse Extents"), the form ESXi, vSphere, AWS VM Import and VirtualBox import.
/// All integers are little-endian; every structure starts on a 512-byte sector.
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

    /// The disk controller written to `ddb.adapterType`; it also decides the geometry.
    public enum Adapter: String, Sendable, CaseIterable {
        case lsilogic, ide, buslogic
    }
}
