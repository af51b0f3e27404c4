/// A raw disk image: the virtual disk's bytes, nothing else, no header and no footer.
///
/// ```
/// 0                                                         virtual size
/// +---------------------------------------------------------+
/// | sector 0 | sector 1 | ...         (holes: zero pages)   |
/// +---------------------------------------------------------+
/// ```
/// No spec beyond that; written sparse as qemu-img does (`-S 4k`): zero pages of the source
/// become holes in a regular file. Reading: `RAW+Reader.swift`; writing: `RAW+Writer.swift`.
enum RAW {
    /// Zero detection granularity, as qemu-img's default `-S 4k`.
    static let pageSize = 4096
    /// Largest virtual size: a file's length is an off_t (Int64). Filesystems allow less
    /// (ext4: 16 TiB, XFS: 8 EiB); ftruncate then fails with EFBIG before anything is written.
    static let maximumSize = UInt64(Int64.max)
    /// Bytes per pipeline batch.
    static let batchSize = 2 * 1024 * 1024
}
