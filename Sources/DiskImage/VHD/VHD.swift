/// Microsoft Virtual Hard Disk (VHD) image format, specification v1.0. All integers are
/// big-endian. A fixed VHD is the raw disk followed by a 512-byte footer; a dynamic VHD is a
/// footer copy, a dynamic header, a block allocation table (BAT), allocated 2 MiB blocks, and
/// the footer.
public enum VHD {
    /// Largest virtual size the format allows: 2040 GiB (0xFF000000 sectors).
    public static let maximumSize: UInt64 = 0xFF00_0000 * 512
    /// Block size of the dynamic disks we write (the spec's default), in bytes.
    public static let blockSize = 2 * 1024 * 1024
    /// VHD time stamps count seconds from 2000-01-01 00:00:00 UTC.
    static let epochOffset: UInt64 = 946_684_800
}
