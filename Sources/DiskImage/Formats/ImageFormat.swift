/// The one table of output formats: every list of formats (argument parsing, help texts and
/// value lists, job files, job scheduling, reading an output back, the exporter's dispatch and
/// size checks) reads it. Adding a format is a folder under `Formats/` and one entry here.
public struct ImageFormat: Sendable {
    public let format: OutputFormat
    /// The canonical name (`OutputFormat.rawValue`).
    public var name: String { format.rawValue }
    /// Other names accepted, in any case (`vhd` for vhd-dynamic, AWS's `VMDK`, ...).
    public let aliases: [String]
    /// What the name means, for help texts: `vmdk (stream-optimized)`.
    public let help: String
    /// The file extension of outputs.
    public let fileExtension: String
    /// Compressing formats keep every core busy; a job runs them one at a time.
    public let compresses: Bool
    /// Stores whole 512-byte sectors: the virtual size is rounded up to one.
    public let sectorAligned: Bool
    /// Largest virtual size, and the name the error gives the format.
    public let sizeLimit: (name: String, bytes: UInt64)
    /// How an output is read back (info, verify, a job's resume check).
    public let verifiedAs: SourceFormat
    /// Declares a virtual machine around the disk (`--cpus`, `--memory-mib`, `--os-type`).
    public let declaresMachine: Bool
    /// Bytes a block device needs for `--to-device`, when known before writing.
    let deviceBytes: @Sendable (_ virtualSize: UInt64) -> UInt64?
    /// Writes the whole output to `context.sink`; `stagingFolder` is where a package may stage
    /// a member.
    let write: @Sendable (_ context: ExportContext, _ stagingFolder: String) throws(DiskImageError) -> Void

    /// In the order help texts list them.
    public static let all: [ImageFormat] = [
        ImageFormat(
            format: .raw, aliases: ["img"], help: "raw", fileExtension: "raw", compresses: false,
            sectorAligned: false, sizeLimit: ("raw (off_t)", RAW.maximumSize), verifiedAs: .raw,
            declaresMachine: false, deviceBytes: { $0 },
            write: { (context, _) throws(DiskImageError) in try RAW.writeBody(context) }),
        ImageFormat(
            format: .vhdDynamic, aliases: ["vhd", "vpc"], help: "vhd (= vhd-dynamic), vhd-dynamic", fileExtension: "vhd",
            compresses: false, sectorAligned: true, sizeLimit: ("vhd", VHD.maximumSize), verifiedAs: .vhd,
            declaresMachine: false, deviceBytes: { _ in nil },
            write: { (context, _) throws(DiskImageError) in try VHD.writeDynamic(context) }),
        ImageFormat(
            format: .vhdFixed, aliases: [], help: "vhd-fixed", fileExtension: "vhd", compresses: false,
            sectorAligned: true, sizeLimit: ("vhd", VHD.maximumSize), verifiedAs: .vhd,
            declaresMachine: false, deviceBytes: { $0 + 512 },
            write: { (context, _) throws(DiskImageError) in try VHD.writeFixed(context) }),
        ImageFormat(
            format: .vmdk, aliases: ["vmdk-stream", "streamoptimized"], help: "vmdk (stream-optimized)",
            fileExtension: "vmdk", compresses: true, sectorAligned: true,
            sizeLimit: ("a stream-optimized vmdk", VMDK.maximumSize), verifiedAs: .vmdk,
            declaresMachine: false, deviceBytes: { _ in nil },
            write: { (context, _) throws(DiskImageError) in try VMDK.writeStreamOptimized(context) }),
        ImageFormat(
            format: .vhdx, aliases: ["vhdx-dynamic"], help: "vhdx (dynamic, Hyper-V)", fileExtension: "vhdx",
            compresses: false, sectorAligned: true, sizeLimit: ("vhdx", VHDX.maximumSize), verifiedAs: .vhdx,
            declaresMachine: false, deviceBytes: { _ in nil },
            write: { (context, _) throws(DiskImageError) in try VHDX.writeDynamic(context) }),
        ImageFormat(
            format: .ova, aliases: [], help: "ova (OVF package of a stream-optimized VMDK)", fileExtension: "ova",
            compresses: true, sectorAligned: true, sizeLimit: ("a stream-optimized vmdk", VMDK.maximumSize),
            verifiedAs: .ova, declaresMachine: true, deviceBytes: { _ in nil },
            write: { (context, stagingFolder) throws(DiskImageError) in
                try OVA.writePackage(context, stagingFolder: stagingFolder)
            }),
    ]

    /// The entry of `format`.
    public static func entry(_ format: OutputFormat) -> ImageFormat {
        all.first { $0.format == format }!
    }

    /// Every name `OutputFormat(parsing:)` accepts that help texts show: the canonical names
    /// and the `vhd` shorthand.
    public static var valueNames: [String] {
        var names: [String] = []
        for entry in all {
            if entry.format == .vhdDynamic { names.append("vhd") }
            names.append(entry.name)
        }
        return names
    }

    /// "raw, vhd (= vhd-dynamic), vhd-dynamic, vhd-fixed, vmdk (stream-optimized), vhdx (dynamic, Hyper-V) or ova (...)".
    public static var helpList: String {
        let parts = all.map(\.help)
        return parts.dropLast().joined(separator: ", ") + " or " + parts.last!
    }

    /// The source formats for help texts: "raw, vhd, vhdx, vmdk, qcow2 or ova".
    public static var sourceList: String {
        let names = SourceFormat.allCases.map(\.rawValue)
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }
}

extension OutputFormat {
    /// This format's entry in the table.
    public var entry: ImageFormat { ImageFormat.entry(self) }

    /// Accepts the names and aliases case-insensitively, so AWS's `VMDK`, `RAW` and `VHD` work
    /// as given; plain `vhd` means dynamic, like qemu-img's `vpc` default.
    public init?(parsing text: String) {
        let name = text.lowercased()
        guard let entry = ImageFormat.all.first(where: { $0.name == name || $0.aliases.contains(name) }) else { return nil }
        self = entry.format
    }

    /// The file extension for outputs of this format.
    public var fileExtension: String { entry.fileExtension }
}

/// The one table of source formats, beside the output formats': how each is recognised by
/// its first sector and how it is opened. Detection tries them in this order, never trusting a
/// file's name; what none recognises is raw, unless its last sector is a VHD footer (a fixed
/// VHD). Adding a source format is a folder under `Formats/` and one entry here.
struct SourceFormatEntry: Sendable {
    struct OpenOptions {
        /// A VMDK descriptor's extents may be the user's files outside its folder.
        var allowExternalExtents: Bool
        /// The file is a copy of a stream: a VMDK descriptor in it may name no extents.
        var streamed: Bool
    }

    let format: SourceFormat
    /// Whether the first sector (up to 512 bytes) is this format's.
    let recognises: @Sendable (_ head: [UInt8]) -> Bool
    let open: @Sendable (_ file: SourceImage, _ options: OpenOptions) throws(DiskImageError) -> OpenedImage

    static let all: [SourceFormatEntry] = [
        SourceFormatEntry(
            format: .qcow2, recognises: { $0.starts(with: QCOW2.magic) },
            open: { (file, _) throws(DiskImageError) in try QCOW2.open(file) }),
        SourceFormatEntry(
            format: .vmdk,
            recognises: { $0.starts(with: VMDK.SparseExtentHeader.magic) || $0.starts(with: Array("# Disk DescriptorFile".utf8)) },
            open: { (file, options) throws(DiskImageError) in
                try VMDK.open(file, extents: options.streamed ? .none : .folder(descriptorPath: file.path, allowExternal: options.allowExternalExtents))
            }),
        SourceFormatEntry(
            format: .vhd, recognises: { $0.starts(with: VHD.Footer.cookie) },
            open: { (file, _) throws(DiskImageError) in try VHD.open(file) }),
        SourceFormatEntry(
            format: .vhdx, recognises: { $0.starts(with: VHDX.FileIdentifier.signature) },
            open: { (file, _) throws(DiskImageError) in try VHDX.open(file) }),
        // A tar header: "ustar" at offset 257 (POSIX.1-1988 ustar format).
        SourceFormatEntry(
            format: .ova, recognises: { $0.count == 512 && Array($0[257..<262]) == Array("ustar".utf8) },
            open: { (file, _) throws(DiskImageError) in try OVA.open(file) }),
        SourceFormatEntry(
            format: .raw, recognises: { _ in false },
            open: { (file, _) throws(DiskImageError) in RAW.open(file) }),
    ]

    /// The entry of `format`; every `SourceFormat` has one (`SourceFormatTableTests`).
    static func entry(_ format: SourceFormat) -> SourceFormatEntry {
        guard let entry = all.first(where: { $0.format == format }) else {
            preconditionFailure("SourceFormatEntry.all has no entry for \(format)")
        }
        return entry
    }
}
