/// What `imgship info` shows of an image.
public struct ImageInfo: Sendable {
    public var path: String
    public var format: SourceFormat
    /// fixed, dynamic, streamOptimized, monolithicSparse, monolithicFlat, ...; for raw, file or
    /// block device.
    public var subformat: String
    public var virtualSize: UInt64
    /// The size of the image's files together.
    public var fileSize: UInt64
    /// Bytes the files occupy on disk.
    public var allocatedBytes: UInt64
    /// The format's own fields worth knowing, in a fixed order.
    public var details: [(key: String, value: Detail)]

    /// One field's value: a number (a count or a size in bytes), which `info --json` writes as
    /// a JSON number, or text. String literals and interpolations are text.
    public enum Detail: Sendable, Equatable, CustomStringConvertible, ExpressibleByStringInterpolation {
        case number(UInt64)
        case text(String)

        public init(stringLiteral value: String) { self = .text(value) }

        public var description: String {
            switch self {
            case let .number(value): String(value)
            case let .text(value): value
            }
        }
    }
    /// What the disk's first sectors say about the guest (`GuestInspection.fields` for
    /// display); nil when they could not be read.
    public var guest: GuestInspection? = nil
}

/// An image opened for reading: its disk, for export and verification, and what it is.
public struct OpenedImage: Sendable {
    public let disk: any VirtualDisk
    public let info: ImageInfo
    /// Structure checks that do not stop reading (checksums, the footer copy), as found.
    public let findings: [(check: String, passed: Bool)]

    /// The names of the findings that failed, in order: what `info`, `export` and `check`
    /// report of a damaged file.
    public var failedChecks: [String] { findings.filter { !$0.passed }.map(\.check) }
}

public enum ImageReader {
    /// The format, from the file's first and last bytes; never from its name.
    public static func detect(path: String) throws(DiskImageError) -> SourceFormat {
        let file = try SourceImage(path: path)
        return try detect(file)
    }

    /// Throws `unsupportedSource` for a format imgship recognises but does not read
    /// (`ForeignFormatEntry`); `stream` says the file is a copy of standard input or a FIFO,
    /// for the advice.
    static func detect(_ file: SourceImage, stream: Bool = false) throws(DiskImageError) -> SourceFormat {
        let head = try file.bytes(Int(min(512, file.fileSize)), at: 0, reading: "the first sector")
        if let entry = SourceFormatEntry.all.first(where: { $0.recognises(head) }) { return entry.format }
        // A fixed VHD is raw data with a footer, a DMG has its "koly" trailer: only their last
        // sector says what they are.
        var tail: [UInt8] = []
        if file.fileSize >= 512, !file.isBlockDevice || file.fileSize % 512 == 0 {
            tail = try file.bytes(512, at: file.fileSize - 512, reading: "the last sector")
            if tail.starts(with: VHD.Footer.cookie) { return .vhd }
        }
        if let foreign = ForeignFormatEntry.recognising(head: head, tail: tail) {
            throw foreign.refusal(path: file.path, stream: stream)
        }
        return .raw
    }

    /// Refuses a stream whose first bytes (`head`, up to 512) are a format imgship does not
    /// read, before the rest of it is copied; what only the end can tell is checked later.
    static func refuseForeignStream(head: [UInt8], label: String) throws(DiskImageError) {
        if SourceFormatEntry.all.contains(where: { $0.recognises(head) }) { return }
        if let foreign = ForeignFormatEntry.recognising(head: head, tail: []) {
            throw foreign.refusal(path: label, stream: true)
        }
    }

    /// Opens `path` as `format`, or as what its bytes say when `format` is nil. Every table
    /// is read and checked here, before any data is.
    ///
    /// A VMDK descriptor's extents must be regular files in the descriptor's folder;
    /// `allowExternalExtents` lets them be the user's own files elsewhere (still regular files).
    public static func open(path: String, format: SourceFormat? = nil, allowExternalExtents: Bool = false) throws(DiskImageError) -> OpenedImage {
        let file = try SourceImage(path: path)
        let resolved: SourceFormat
        if let format { resolved = format } else { resolved = try detect(file) }
        let opened = try open(file: file, as: resolved, allowExternalExtents: allowExternalExtents)
        var info = opened.info
        // A few sectors; a disk whose first cluster cannot be read still opens.
        info.guest = try? GuestInspection.inspect(opened.disk)
        return OpenedImage(disk: opened.disk, info: info, findings: opened.findings)
    }

    /// `streamed`: the file is a copy of a stream, so a VMDK descriptor in it may name no extents.
    static func open(file: SourceImage, as format: SourceFormat, allowExternalExtents: Bool = false, streamed: Bool = false) throws(DiskImageError)
        -> OpenedImage
    {
        try SourceFormatEntry.entry(format).open(file, SourceFormatEntry.OpenOptions(allowExternalExtents: allowExternalExtents, streamed: streamed))
    }

    static func info(
        _ disk: any VirtualDisk, _ file: SourceImage, _ format: SourceFormat, _ subformat: String,
        _ details: [(String, ImageInfo.Detail)]
    ) -> ImageInfo {
        ImageInfo(
            path: file.path, format: format, subformat: subformat, virtualSize: disk.size, fileSize: file.fileSize,
            allocatedBytes: file.allocatedBytes, details: details.map { (key: $0.0, value: $0.1) })
    }
}
