/// Microsoft Virtual Hard Disk (VHD) image format, "Virtual Hard Disk Image Format
/// Specification" v1.0. All integers are big-endian.
///
/// ```
/// fixed:    +---------------------------+-------------+
///           | disk bytes (virtual size) | footer 512  |
///           +---------------------------+-------------+
///
/// dynamic:  0            512                1536        1536 + BAT (padded to 512)
///           +------------+------------------+-----------+------------------------------+--------+
///           | footer     | dynamic header   | BAT       | blocks: sector bitmap 512 +  | footer |
///           | copy (512) | (1024, cxsparse) | u32/block | block data (2 MiB), in order |  512   |
///           +------------+------------------+-----------+------------------------------+--------+
///           BAT entries: the block's sector offset, 0xFFFFFFFF for a block not stored.
/// ```
/// Footer: spec section "Hard Disk Footer Format" (`VHD.Footer`); dynamic header: "Dynamic
/// Disk Header Format" (`VHD.DynamicHeader`); geometry: appendix "CHS Calculation"
/// (`VHD.Geometry`). Reading: `VHD+Reader.swift`; writing: `VHD+Writer.swift`.
enum VHD {
    /// Largest virtual size the format allows: 2040 GiB (0xFF000000 sectors).
    static let maximumSize: UInt64 = 0xFF00_0000 * 512
    /// Block size of the dynamic disks we write (the spec's default), in bytes.
    static let blockSize = 2 * 1024 * 1024
    /// VHD time stamps count seconds from 2000-01-01 00:00:00 UTC.
    static let epochOffset: UInt64 = 946_684_800

    /// One's complement of the byte sum, computed with the checksum field still zero; the
    /// checksum of the footer and of the dynamic header alike.
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var sum: UInt32 = 0
        for byte in bytes { sum &+= UInt32(byte) }
        return ~sum
    }

    /// The checksum of `bytes` with the 4-byte field at `field` read as zero.
    static func checksum(_ bytes: [UInt8], zeroing field: Int) -> UInt32 {
        var zeroed = bytes
        zeroed.replaceSubrange(field..<(field + 4), with: [0, 0, 0, 0])
        return checksum(zeroed)
    }
}
