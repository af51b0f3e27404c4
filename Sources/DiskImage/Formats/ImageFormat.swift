/// The containers `Exporter` writes.
public enum OutputFormat: String, Sendable, CaseIterable, Codable {
    case raw
    case vhdFixed = "vhd-fixed"
    case vhdDynamic = "vhd-dynamic"
    case vmdk
    /// Dynamic VHDX (Hyper-V), 32 MiB blocks.
    case vhdx
    /// An OVF package: descriptor, manifest and a stream-optimized VMDK in one tar archive.
    case ova
    /// qcow2 (version 3 by default, or 2), 64 KiB clusters, compressed on request.
    case qcow2
    /// A Google Compute Engine image: `disk.raw` in a gzip-compressed GNU tar archive.
    case gce
}

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
    /// The subformat `info` reads back from an output (nil: any), so `check --target` knows an
    /// image made elsewhere as this format.
    let readBackSubformat: String?
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
            sectorAligned: false, sizeLimit: ("raw (off_t)", RAW.maximumSize), verifiedAs: .raw, readBackSubformat: nil,
            declaresMachine: false, deviceBytes: { $0 },
            write: { (context, _) throws(DiskImageError) in try RAW.writeBody(context) }),
        ImageFormat(
            format: .vhdDynamic, aliases: ["vhd", "vpc"], help: "vhd (= vhd-dynamic), vhd-dynamic", fileExtension: "vhd",
            compresses: false, sectorAligned: true, sizeLimit: ("vhd", VHD.maximumSize), verifiedAs: .vhd, readBackSubformat: "dynamic",
            declaresMachine: false, deviceBytes: { _ in nil },
            write: { (context, _) throws(DiskImageError) in try VHD.writeDynamic(context) }),
        ImageFormat(
            format: .vhdFixed, aliases: [], help: "vhd-fixed", fileExtension: "vhd", compresses: false,
            sectorAligned: true, sizeLimit: ("vhd", VHD.maximumSize), verifiedAs: .vhd, readBackSubformat: "fixed",
            declaresMachine: false, deviceBytes: { $0 + 512 },
            write: { (context, _) throws(DiskImageError) in try VHD.writeFixed(context) }),
        ImageFormat(
            format: .vmdk, aliases: ["vmdk-stream", "streamoptimized"], help: "vmdk (stream-optimized)",
            fileExtension: "vmdk", compresses: true, sectorAligned: true,
            sizeLimit: ("a stream-optimized vmdk", VMDK.maximumSize), verifiedAs: .vmdk, readBackSubformat: "streamOptimized",
            declaresMachine: false, deviceBytes: { _ in nil },
            write: { (context, _) throws(DiskImageError) in try VMDK.writeStreamOptimized(context) }),
        ImageFormat(
            format: .vhdx, aliases: ["vhdx-dynamic"], help: "vhdx (dynamic, Hyper-V)", fileExtension: "vhdx",
            compresses: false, sectorAligned: true, sizeLimit: ("vhdx", VHDX.maximumSize), verifiedAs: .vhdx, readBackSubformat: nil,
            declaresMachine: false, deviceBytes: { _ in nil },
            write: { (context, _) throws(DiskImageError) in try VHDX.writeDynamic(context) }),
        ImageFormat(
            format: .ova, aliases: [], help: "ova (OVF package of a stream-optimized VMDK)", fileExtension: "ova",
            compresses: true, sectorAligned: true, sizeLimit: ("a stream-optimized vmdk", VMDK.maximumSize),
            verifiedAs: .ova, readBackSubformat: "vmdk streamOptimized", declaresMachine: true, deviceBytes: { _ in nil },
            write: { (context, stagingFolder) throws(DiskImageError) in
                try OVA.writePackage(context, stagingFolder: stagingFolder)
            }),
        // qemu reads the size in 512-byte sectors (block/qcow2.c: total_sectors = size / 512).
        ImageFormat(
            format: .qcow2, aliases: [], help: "qcow2 (KVM, OpenStack, Proxmox; --compress)", fileExtension: "qcow2",
            compresses: false, sectorAligned: true, sizeLimit: ("qcow2", QCOW2.maximumSize), verifiedAs: .qcow2, readBackSubformat: nil,
            declaresMachine: false, deviceBytes: { _ in nil },
            write: { (context, stagingFolder) throws(DiskImageError) in try QCOW2.write(context, stagingFolder: stagingFolder) }),
        ImageFormat(
            format: .gce, aliases: ["tar.gz"], help: "gce (disk.raw in a gzip'd tar, Google Compute Engine)", fileExtension: "tar.gz",
            compresses: true, sectorAligned: true, sizeLimit: ("gce", GCE.maximumSize), verifiedAs: .gce, readBackSubformat: nil,
            declaresMachine: false, deviceBytes: { _ in nil },
            write: { (context, _) throws(DiskImageError) in try GCE.writeImage(context) }),
    ]

    /// The entry of `format`.
    public static func entry(_ format: OutputFormat) -> ImageFormat {
        // Every case has an entry (SourceFormatTableTests); raw stands in for a missing one.
        all.first { $0.format == format } ?? all[0]
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
        return parts.dropLast().joined(separator: ", ") + " or " + (parts.last ?? "")
    }

    /// The formats detection recognises and refuses by name, for help texts: "qcow (v1),
    /// QED, ... or bzip2".
    public static var refusedList: String {
        let names = ForeignFormatEntry.all.map(\.label)
        return names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "")
    }

    /// The source formats for help texts: "raw, vhd, vhdx, vmdk, qcow2, vdi or ova".
    public static var sourceList: String {
        let names = SourceFormat.allCases.map(\.rawValue)
        return names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "")
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

/// The formats imgship reads.
public enum SourceFormat: String, CaseIterable, Sendable {
    case raw, vhd
    /// Hyper-V's VHDX, fixed or dynamic.
    case vhdx
    case vmdk, qcow2
    /// VirtualBox's VDI, fixed or dynamic (normal).
    case vdi
    /// An OVF package (tar) holding one disk: its disk is what is read.
    case ova
    /// A Google Compute Engine image: `disk.raw` in a gzip-compressed tar archive.
    case gce
}

/// The one table of source formats, beside the output formats': how each is recognised by
/// its first sector and how it is opened. Detection tries them in this order, never trusting a
/// file's name; then a VHD footer in the last sector (a fixed VHD), then the formats imgship
/// recognises but does not read (`ForeignFormatEntry`, refused by name); only what nothing
/// recognises is raw. Adding a source format is a folder under `Formats/` and one entry here.
struct SourceFormatEntry: Sendable {
    struct OpenOptions {
        /// A VMDK descriptor's extents may be the user's files outside its folder.
        var allowExternalExtents: Bool
        /// The file is a copy of a stream: a VMDK descriptor in it may name no extents.
        var streamed: Bool
        /// The OVA the file is a member of: a VMDK descriptor in it names members of the
        /// package, never files outside it, and an OVA in it is refused.
        var package: (archive: SourceImage, members: [OVA.Archive.Member])? = nil
    }

    let format: SourceFormat
    /// The name endings of a member of an OVA that holds a disk of this format.
    let memberExtensions: [String]
    /// Whether the first sector (up to 512 bytes) is this format's.
    let recognises: @Sendable (_ head: [UInt8]) -> Bool
    let open: @Sendable (_ file: SourceImage, _ options: OpenOptions) throws(DiskImageError) -> OpenedImage

    static let all: [SourceFormatEntry] = [
        // The magic of qcow2 and of qcow version 1 alike; version 1 is a foreign format.
        SourceFormatEntry(
            format: .qcow2, memberExtensions: [".qcow2"], recognises: { $0.starts(with: QCOW2.magic) && !ForeignFormatEntry.isQcowVersion1($0) },
            open: { (file, _) throws(DiskImageError) in try QCOW2.open(file) }),
        SourceFormatEntry(
            format: .vmdk, memberExtensions: [".vmdk"],
            recognises: { $0.starts(with: VMDK.SparseExtentHeader.magic) || $0.starts(with: Array("# Disk DescriptorFile".utf8)) },
            open: { (file, options) throws(DiskImageError) in
                let extents: ExtentSource =
                    if let package = options.package {
                        .archive(package.archive, members: package.members)
                    } else if options.streamed {
                        .none
                    } else {
                        .folder(descriptorPath: file.path, allowExternal: options.allowExternalExtents)
                    }
                return try VMDK.open(file, extents: extents)
            }),
        SourceFormatEntry(
            format: .vhd, memberExtensions: [".vhd"], recognises: { $0.starts(with: VHD.Footer.cookie) },
            open: { (file, _) throws(DiskImageError) in try VHD.open(file) }),
        SourceFormatEntry(
            format: .vhdx, memberExtensions: [".vhdx"], recognises: { $0.starts(with: VHDX.FileIdentifier.signature) },
            open: { (file, _) throws(DiskImageError) in try VHDX.open(file) }),
        SourceFormatEntry(
            format: .vdi, memberExtensions: [".vdi"], recognises: VDI.recognises,
            open: { (file, _) throws(DiskImageError) in try VDI.open(file) }),
        // A tar header: "ustar" at offset 257 (POSIX.1-1988 ustar format).
        SourceFormatEntry(
            format: .ova, memberExtensions: [], recognises: { $0.count == 512 && Array($0[257..<262]) == Array("ustar".utf8) },
            open: { (file, options) throws(DiskImageError) in
                guard options.package == nil else { throw DiskImageError.unsupportedSource(path: file.path, reason: "is an OVA inside an OVA") }
                return try OVA.open(file)
            }),
        // A gzip file whose first member inflates to a tar header (RFC 1952 ID1 ID2 CM, then
        // "ustar" at 257); other gzip files are foreign.
        SourceFormatEntry(
            format: .gce, memberExtensions: [], recognises: GCE.recognises,
            open: { (file, options) throws(DiskImageError) in
                guard options.package == nil else { throw DiskImageError.unsupportedSource(path: file.path, reason: "is a GCE image inside an OVA") }
                return try GCE.open(file)
            }),
        SourceFormatEntry(
            format: .raw, memberExtensions: [".img", ".raw"], recognises: { _ in false },
            open: { (file, _) throws(DiskImageError) in RAW.open(file) }),
    ]

    /// Every name ending of a disk member of an OVA, in table order.
    static var memberExtensions: [String] { all.flatMap(\.memberExtensions) }

    /// The entry of `format`; every `SourceFormat` has one (`SourceFormatTableTests`).
    static func entry(_ format: SourceFormat) -> SourceFormatEntry {
        guard let entry = all.first(where: { $0.format == format }) else {
            preconditionFailure("SourceFormatEntry.all has no entry for \(format)")
        }
        return entry
    }
}

/// The formats imgship recognises but does not read, beside the source table: the other image
/// formats qemu-img detects (the `*_probe` functions of qemu's `block/*.c`, whose magic numbers
/// these rows check) and compressed files. Left to the raw reader, each would be exported as
/// if the container's own bytes were the disk; detection refuses them by name instead, with
/// the command that turns them into something imgship reads. `--source-format raw` still
/// exports their bytes as they are. README, "Reading images", lists them.
struct ForeignFormatEntry: Sendable {
    /// The format's short name, for help texts: "QED".
    let label: String
    /// What the file is, after "is ": "a QED image".
    let name: String
    let remedy: Remedy
    /// Whether the first sector (`head`, up to 512 bytes) and the last 512 bytes (`tail`;
    /// empty when unknown, for a stream not yet copied) are this format's.
    let recognises: @Sendable (_ head: [UInt8], _ tail: [UInt8]) -> Bool

    enum Remedy: Sendable {
        /// qemu-img reads it as this format: convert it to raw.
        case qemuImg(format: String)
        /// A compressed file: decompress it with `tool -dc`, into a pipe imgship reads.
        case decompress(tool: String)
        /// Neither: what to do, in words.
        case advice(String)
    }

    static let all: [ForeignFormatEntry] = [
        // block/qcow.c qcow_probe: the qcow2 magic with version 1, big-endian.
        ForeignFormatEntry(label: "qcow (v1)", name: "a qcow (version 1) image", remedy: .qemuImg(format: "qcow")) { head, _ in isQcowVersion1(head) },
        // block/qed.c qed_probe: QED_MAGIC, "QED\0" as a little-endian u32.
        ForeignFormatEntry(label: "QED", name: "a QED image", remedy: .qemuImg(format: "qed")) { head, _ in head.starts(with: Array("QED\0".utf8)) },
        // block/parallels.c parallels_probe: either signature, then version 2 (le32 at 16).
        ForeignFormatEntry(label: "Parallels", name: "a Parallels image", remedy: .qemuImg(format: "parallels")) { head, _ in
            head.count >= 64 && ["WithoutFreeSpace", "WithouFreSpacExt"].contains { head.starts(with: Array($0.utf8)) }
                && head.loadLittleEndian(UInt32.self, at: 16) == 2
        },
        // block/bochs.c bochs_probe: NUL-terminated magic, type and subtype in 32-, 16- and
        // 16-byte fields, then version 1 or 2 (le32 at 64).
        ForeignFormatEntry(label: "Bochs", name: "a Bochs growing image", remedy: .qemuImg(format: "bochs")) { head, _ in
            head.count >= 68 && head.starts(with: Array("Bochs Virtual HD Image\0".utf8))
                && head[32...].starts(with: Array("Redolog\0".utf8)) && head[48...].starts(with: Array("Growing\0".utf8))
                && [0x0001_0000, 0x0002_0000].contains(head.loadLittleEndian(UInt32.self, at: 64))
        },
        // block/cloop.c cloop_probe: the shell header of the V2.0 format.
        ForeignFormatEntry(label: "cloop", name: "a cloop compressed image", remedy: .qemuImg(format: "cloop")) { head, _ in
            head.starts(with: Array("#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n".utf8))
        },
        // block/vmdk.c vmdk_probe: VMDK3_MAGIC, the hosted sparse extent of VMware 3 / ESX 2.
        ForeignFormatEntry(label: "VMDK COWD", name: "a VMDK version 3 (COWD) sparse extent", remedy: .qemuImg(format: "vmdk")) { head, _ in
            head.starts(with: Array("COWD".utf8))
        },
        // crypto/block-luks.c: the LUKS magic "LUKS\xba\xbe" (block/crypto.c probes with it).
        ForeignFormatEntry(
            label: "LUKS", name: "a LUKS encrypted volume",
            remedy: .advice("decrypt it first (cryptsetup open) and export the mapped device, /dev/mapper/NAME")
        ) { head, _ in head.starts(with: [0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE]) },
        // block/dmg.c dmg_open: the "koly" trailer in the last 512 bytes (qemu probes a DMG by
        // its name; its bytes say so only at the end).
        ForeignFormatEntry(label: "DMG", name: "an Apple disk image (DMG)", remedy: .qemuImg(format: "dmg")) { _, tail in tail.starts(with: Array("koly".utf8))
        },
        // RFC 1952 section 2.3.1: ID1 ID2, then CM 8 (deflate).
        ForeignFormatEntry(label: "gzip", name: "a gzip-compressed file", remedy: .decompress(tool: "gzip")) { head, _ in head.starts(with: [0x1F, 0x8B, 0x08])
        },
        // The .xz file format 1.0.4, section 2.1.1.1: the stream header magic.
        ForeignFormatEntry(label: "xz", name: "an xz-compressed file", remedy: .decompress(tool: "xz")) { head, _ in
            head.starts(with: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00])
        },
        // RFC 8878 section 3.1.1: the frame magic 0xFD2FB528, little-endian.
        ForeignFormatEntry(label: "zstd", name: "a zstd-compressed file", remedy: .decompress(tool: "zstd")) { head, _ in
            head.starts(with: [0x28, 0xB5, 0x2F, 0xFD])
        },
        // bzip2: "BZh", the block size digit, then a block's magic (BCD pi) or the end of an
        // empty stream (BCD sqrt(pi)).
        ForeignFormatEntry(label: "bzip2", name: "a bzip2-compressed file", remedy: .decompress(tool: "bzip2")) { head, _ in
            head.count >= 10 && head.starts(with: Array("BZh".utf8)) && (0x31...0x39).contains(head[3])
                && ([[0x31, 0x41, 0x59, 0x26, 0x53, 0x59], [0x17, 0x72, 0x45, 0x38, 0x50, 0x90]] as [[UInt8]]).contains { head[4...].starts(with: $0) }
        },
        // The LZ4 frame format 1.6.4, "General Structure": the magic 0x184D2204, little-endian.
        ForeignFormatEntry(label: "lz4", name: "an lz4-compressed file", remedy: .decompress(tool: "lz4")) { head, _ in
            head.starts(with: [0x04, 0x22, 0x4D, 0x18])
        },
        // PKWARE APPNOTE.TXT 6.3.10, 4.3.7: a local file header (PK 3 4), the end of an empty
        // archive's central directory (PK 5 6) or the split-archive marker (PK 7 8, 8.5.3).
        // Zipped disk images are a common download (Raspberry Pi OS, appliances).
        ForeignFormatEntry(
            label: "zip", name: "a zip archive",
            remedy: .advice("extract the disk image from it (`unzip -p ARCHIVE MEMBER | imgship export - ...`)")
        ) { head, _ in
            ([[0x50, 0x4B, 0x03, 0x04], [0x50, 0x4B, 0x05, 0x06], [0x50, 0x4B, 0x07, 0x08]] as [[UInt8]]).contains { head.starts(with: $0) }
        },
        // 7-Zip's 7zFormat.txt, "SignatureHeader": '7' 'z' 0xBC 0xAF 0x27 0x1C.
        ForeignFormatEntry(
            label: "7z", name: "a 7-Zip archive", remedy: .advice("extract the disk image from it (`7z x ARCHIVE`) and export that")
        ) { head, _ in head.starts(with: [0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) },
        // RAR 5.0 archive format, "General archive structure": "Rar!" 0x1A 0x07, then 0x01 0x00
        // (RAR 5) or 0x00 (RAR 1.5-4).
        ForeignFormatEntry(
            label: "RAR", name: "a RAR archive", remedy: .advice("extract the disk image from it (`unrar x ARCHIVE`) and export that")
        ) { head, _ in head.starts(with: Array("Rar!".utf8) + [0x1A, 0x07]) },
    ]

    /// The qcow2 magic followed by version 1 (big-endian), qemu's original qcow.
    static func isQcowVersion1(_ head: [UInt8]) -> Bool {
        head.count >= 8 && head.starts(with: QCOW2.magic) && head.loadBigEndian(UInt32.self, at: 4) == 1
    }

    /// The first entry that recognises `head` and `tail`.
    static func recognising(head: [UInt8], tail: [UInt8]) -> ForeignFormatEntry? {
        all.first { $0.recognises(head, tail) }
    }

    /// The refusal of `path` (a stream when `stream`: standard input or a FIFO).
    func refusal(path: String, stream: Bool) -> DiskImageError {
        let instead = "or pass --source-format raw to export its bytes as they are"
        let advice: String
        switch remedy {
        case let .qemuImg(format):
            if stream {
                advice = "save it to a file and convert that with `qemu-img convert -f \(format) -O raw FILE disk.raw`, \(instead)"
            } else {
                advice =
                    "convert it with `qemu-img convert -f \(format) -O raw \(shellWord(path)) \(shellWord(Self.rawName(for: path)))` and export that, \(instead)"
            }
        case let .decompress(tool):
            if stream {
                advice = "decompress it in the pipe (`... | \(tool) -dc | imgship export - ...`), \(instead)"
            } else {
                advice = "decompress it into imgship (`\(tool) -dc \(shellWord(path)) | imgship export - ...`), \(instead)"
            }
        case let .advice(text):
            advice = "\(text), \(instead)"
        }
        return .unsupportedSource(path: path, reason: "is \(name), which imgship does not read; \(advice)")
    }

    /// `images/disk.qed` -> `images/disk.raw`; a name that already ends in .raw gets
    /// `.converted.raw`, so the suggestion never overwrites its input.
    static func rawName(for path: String) -> String {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let name = path[slash...]
        let stem = name.lastIndex(of: ".").flatMap { $0 > name.startIndex ? path[..<$0] : nil } ?? Substring(path)
        return stem + (path.hasSuffix(".raw") ? ".converted.raw" : ".raw")
    }
}

/// `text` as one shell word: as it is when it holds only characters no shell treats
/// specially, otherwise in single quotes (a quote inside as '\'').
func shellWord(_ text: String) -> String {
    let plain =
        !text.isEmpty
        && text.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "._-/+:@%,=".unicodeScalars.contains(scalar))
        }
    guard !plain else { return text }
    return "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
}
