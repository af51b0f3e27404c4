/// A Google Compute Engine image file: a gzip-compressed tar archive holding one member,
/// `disk.raw`, the raw disk.
///
/// ```
/// gzip member | gzip member | gzip member | ...           | gzip member
/// +-----------+-------------+-------------+---------------+-------------------------------+
/// | GNU header| stored data | stored data |  (2 MiB of    | padding to 512, two zero      |
/// | 'S' + ext.| 2 MiB       | 2 MiB       |  data each)   | blocks, padding to 10,240     |
/// +-----------+-------------+-------------+---------------+-------------------------------+
///   tar stream, cut into independent gzip members (RFC 1952 section 2.2: a gzip file is a
///   series of members; gzip, zlib's gzread, Python's gzip module and GNU tar read them all)
/// ```
///
/// What Google asks of the file ("Import a custom image", "Requirements for the image file",
/// https://cloud.google.com/compute/docs/import/import-existing-image): the disk in a file
/// named `disk.raw`, its size a whole multiple of 1 GB (GiB: the examples are 10 GB and
/// 11 GB disks of whole GiB), archived by tar with `--format=oldgnu` and compressed with
/// gzip into a `.tar.gz`; the page's own command is `tar --format=oldgnu -Sczf`, whose `-S`
/// stores a file with holes as a GNU sparse member (type 'S'), so the importer takes those.
/// Google's own exporter (GoogleCloudPlatform/compute-image-tools, gce_export/main.go)
/// writes the member with Go's `tar.FormatGNU` (the same "ustar  " magic) without a sparse
/// map, and its Debian build (daisy_workflows/image_build/debian/build_fai.py) with Python's
/// `tarfile.GNU_FORMAT`.
///
/// imgship writes the old GNU format with a sparse map taken from the source's allocation
/// (SEEK_DATA/SEEK_HOLE, or the image's tables), as `tar -S` does on a file system with
/// SEEK_HOLE: holes cost neither reads nor bytes, and `tar -x` makes `disk.raw` sparse again.
/// Sizes over 8 GiB - 1 use GNU's base-256 numbers, as GNU tar itself does.
public enum GCE {
    /// The one member's name, as Google requires it.
    public static let memberName = "disk.raw"
    /// Uncompressed tar-stream bytes of stored data per gzip member: independent members,
    /// so workers compress them in parallel and a reader can restart at each one.
    static let batchSize = 2 * 1024 * 1024
    /// Holes shorter than this are stored as data (their zeros compress to almost nothing),
    /// so a fragmented file does not make a huge sparse map; doubled when the map would
    /// still exceed `maximumMapEntries`.
    static let minimumHole: UInt64 = 64 * 1024
    /// Bounds the map (16 bytes an entry here, 24 in the archive): memory stays flat.
    static let maximumMapEntries = 1 << 16
    /// GNU tar writes archives in records of 20 blocks (its default blocking factor).
    static let recordSize = 20 * 512
    /// The tar member holds up to 2^63 - 1 bytes (off_t); Google states no smaller limit
    /// on the page above.
    public static let maximumSize = UInt64(Int64.max)
    /// disk.raw's size is a whole multiple of this (the requirements page's "1 GB").
    public static let sizeUnit: UInt64 = 1 << 30
    /// The page Google's rules come from.
    static let requirementsSource = "https://cloud.google.com/compute/docs/import/import-existing-image#requirements_for_the_image_file"
}
