/// QEMU Copy-On-Write version 2 and 3 (qemu's docs/interop/qcow2.txt). All integers are
/// big-endian; the file is made of clusters (512 bytes to 2 MiB, 64 KiB by default).
///
/// ```
/// 0          72 (v2) / 104+ (v3)        cluster-aligned
/// +----------+----------------------+   +----------+   +--------------------+   +---------+
/// | header   | extensions, backing  |...| L1 table |...| L2 tables          |...| data    |
/// | QFI\xfb  | file name            |   | u64 each |   | u64 each, 1 clus.  |   | clusters|
/// +----------+----------------------+   +----------+   +--------------------+   +---------+
/// L1 entry: bits 9-55 the L2 table's offset.  L2 entry: bits 9-55 the cluster's offset,
/// bit 0 reads as zeros (v3), bit 62 compressed (then bits 0..x the host offset and the
/// sector count above it), refcount tables not needed to read.
/// ```
/// Header: section "Header" (`QCOW2.Header`). Reading: `QCOW2+Reader.swift`. Writing:
/// `QCOW2+Writer.swift`, which lays a file out as header | data clusters, each L2 table after
/// its span | L1 | refcount blocks | refcount table (`QCOW2+Tables.swift`): uncompressed, with
/// the tables placed from the source's allocation map and the file written in order, header
/// first (`QCOW2+StoredLayout.swift`); compressed, with the header written last
/// (`QCOW2+HostLayout.swift`).
package enum QCOW2 {
    static let magic: [UInt8] = [0x51, 0x46, 0x49, 0xFB]  // "QFI\xfb"
}
