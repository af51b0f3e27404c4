/// What the first sectors of a virtual disk say about booting the guest on it, whatever the
/// image format: the partition table, the EFI system partition, the BIOS boot code, and from
/// them the firmware that boots it (`firmware`) with the evidence for and against each path.
/// Targets decide firmware from it (an OVF's `firmware`, Hyper-V generation 2, AWS
/// `--boot-mode`); the rules are in `GuestInspection+BootPaths.swift`.
///
/// MBR: sector 0, boot code at 0..<440, four 16-byte partition entries at 446 (status at +0,
/// 0x80 active; type at +4; first LBA u32 at +8; sector count u32 at +12, little-endian),
/// signature 0x55 0xAA at 510. GPT (UEFI 2.10 chapter 5): a protective MBR (one entry of type
/// 0xEE), the header "EFI PART" at LBA 1 (little-endian: partition entry LBA u64 at 72, entry
/// count u32 at 80, entry size u32 at 84), entries whose first 16 bytes are the partition
/// type GUID, stored mixed-endian, first LBA u64 at 32 and attributes u64 at 48 (§5.3.3).
public struct GuestInspection: Equatable, Sendable {
    public enum PartitionTable: String, Sendable {
        /// No MBR signature and no GPT header: a bare filesystem or an empty disk.
        case none
        case mbr
        case gpt
    }

    /// The firmware that boots the disk, as firmware decides it (see `BootPaths`): `both` when
    /// a BIOS path and a UEFI path both exist, `none` when neither does (a data disk).
    public enum BootFirmware: String, Sendable, CaseIterable, Codable {
        case bios, efi, both, none
    }

    public var partitionTable: PartitionTable
    /// GPT only: sector 0 holds the protective MBR (a partition of type 0xEE).
    public var hasProtectiveMBR: Bool
    /// A GPT partition of type C12A7328-F81F-11D2-BA4B-00A0C93EC93B, or a primary MBR
    /// partition of type 0xEF.
    public var hasEFISystemPartition: Bool
    /// Sector 0 ends in 0x55 0xAA and its boot code area (bytes 0..<440) is not all zero.
    /// Code alone does not make a BIOS path: see `biosPath`.
    public var hasBIOSBootCode: Bool
    /// The logical sector size the GPT header was found with (512 or 4096); nil without GPT.
    public var gptSectorSize: Int?
    /// Why a BIOS boots the disk, nil when it does not.
    public var biosPath: String?
    /// Why UEFI firmware boots the disk, nil when it does not.
    public var uefiPath: String?
    /// One line for each path, for or against it: what `info` prints under `firmware`.
    public var evidence: [String]

    /// The firmware the paths found give.
    public var firmware: BootFirmware {
        switch (biosPath != nil, uefiPath != nil) {
        case (true, true): .both
        case (true, false): .bios
        case (false, true): .efi
        case (false, false): .none
        }
    }

    /// The evidence line that says why `firmware` (`.bios` or `.efi`) has no path; empty when
    /// there is none such.
    public func evidence(against firmware: BootFirmware) -> String {
        let prefix = firmware == .efi ? "no UEFI path: " : "no BIOS path: "
        return evidence.first { $0.hasPrefix(prefix) } ?? ""
    }

    /// The disk boots with UEFI and not with a BIOS.
    public var bootsWithUEFIOnly: Bool { firmware == .efi }

    /// The UEFI path is an EFI system partition in a GPT, the case virt-v2v converts for UEFI
    /// whatever else the disk holds (convert/inspect_source.ml).
    public var hasGPTEFISystemPartition: Bool { partitionTable == .gpt && uefiPath != nil }

    /// The findings as `imgship info` prints them, in a fixed order (the firmware and its
    /// evidence follow them, printed by `info`).
    public var fields: [(key: String, value: String)] {
        var table = partitionTable.rawValue
        if partitionTable == .gpt { table += hasProtectiveMBR ? " (protective MBR)" : " (no protective MBR)" }
        return [
            ("partition table", table),
            ("efi system partition", hasEFISystemPartition ? "yes" : "no"),
            ("bios boot code", hasBIOSBootCode ? "yes" : "no"),
        ]
    }

    /// What `firmware` means, for `info`'s `firmware: efi (...)` line.
    public var firmwareSummary: String {
        switch firmware {
        case .bios: "a BIOS boots it, UEFI firmware does not"
        case .efi: "UEFI firmware boots it, a BIOS does not"
        case .both: "a BIOS and UEFI firmware both boot it"
        case .none: "nothing boots it: no BIOS path and no EFI system partition"
        }
    }

    static let mbrBootCode = 0..<440
    static let mbrEntries = 446
    static let mbrEntrySize = 16
    static let mbrTypeOffset = 4
    static let protectiveType: UInt8 = 0xEE
    static let efiSystemType: UInt8 = 0xEF
    static let gptSignature = Array("EFI PART".utf8)
    /// C12A7328-F81F-11D2-BA4B-00A0C93EC93B as GPT stores it.
    static let efiSystemPartitionGUID: [UInt8] = [
        0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11,
        0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B,
    ]
    /// 21686148-6449-6E6F-744E-656564454649 ("Hah!IdontNeedEFI") as GPT stores it: the BIOS
    /// boot partition GRUB embeds core.img in on a GPT disk (GRUB manual, "BIOS installation").
    static let biosBootPartitionGUID: [UInt8] = Array("Hah!IdontNeedEFI".utf8)
    /// The partition entry array read at most: 128 entries of 128 bytes is the usual 16 KiB;
    /// a header asking for more than 1 MiB is not believed.
    static let maximumEntryArrayBytes: UInt64 = 1 << 20

    public init(
        partitionTable: PartitionTable, hasProtectiveMBR: Bool = false, hasEFISystemPartition: Bool = false,
        hasBIOSBootCode: Bool = false, gptSectorSize: Int? = nil, biosPath: String? = nil, uefiPath: String? = nil,
        evidence: [String] = []
    ) {
        self.partitionTable = partitionTable
        self.hasProtectiveMBR = hasProtectiveMBR
        self.hasEFISystemPartition = hasEFISystemPartition
        self.hasBIOSBootCode = hasBIOSBootCode
        self.gptSectorSize = gptSectorSize
        self.biosPath = biosPath
        self.uefiPath = uefiPath
        self.evidence = evidence
    }

    /// Reads sector 0, the GPT header (at 512, else at 4096), its partition entries and the
    /// first sector of the partitions a loader would chain to. Values a damaged table gives
    /// (an entry array past the disk's end, absurd sizes) end the look at the partitions,
    /// never the inspection.
    public static func inspect(_ disk: any VirtualDisk) throws(DiskImageError) -> GuestInspection {
        let reader = SectorReader(disk: disk)
        guard let sector = try reader.read(512, at: 0) else {
            var empty = GuestInspection(partitionTable: .none)
            try empty.decideBootPaths(sector: nil, mbr: [], gpt: nil, reader: reader)
            return empty
        }
        let hasSignature = sector[510] == 0x55 && sector[511] == 0xAA
        let mbr = hasSignature ? (0..<4).map { MBREntry(sector, index: $0) } : []
        var inspection = GuestInspection(partitionTable: hasSignature ? .mbr : .none)
        inspection.hasBIOSBootCode = hasSignature && sector[mbrBootCode].contains { $0 != 0 }

        for sectorSize in [512, 4096] {
            guard let header = try reader.read(512, at: UInt64(sectorSize)), Array(header[0..<8]) == gptSignature else { continue }
            inspection.partitionTable = .gpt
            inspection.gptSectorSize = sectorSize
            inspection.hasProtectiveMBR = mbr.contains { $0.type == protectiveType }
            let entries = try gptEntries(header, sectorSize: sectorSize, reader: reader)
            inspection.hasEFISystemPartition = entries.contains { $0.type == efiSystemPartitionGUID }
            try inspection.decideBootPaths(sector: sector, mbr: mbr, gpt: (entries, sectorSize), reader: reader)
            return inspection
        }
        inspection.hasEFISystemPartition = mbr.contains { $0.type == efiSystemType }
        try inspection.decideBootPaths(sector: sector, mbr: mbr, gpt: nil, reader: reader)
        return inspection
    }

    /// The used entries (type GUID not all zero) of the GPT whose header is `header`, numbered
    /// from 1 as partitioning tools number them.
    private static func gptEntries(_ header: [UInt8], sectorSize: Int, reader: SectorReader) throws(DiskImageError) -> [GPTEntry] {
        let entryLBA = header.loadLittleEndian(UInt64.self, at: 72)
        let entryCount = UInt64(header.loadLittleEndian(UInt32.self, at: 80))
        let entrySize = UInt64(header.loadLittleEndian(UInt32.self, at: 84))
        let (start, overflow) = entryLBA.multipliedReportingOverflow(by: UInt64(sectorSize))
        guard !overflow, entrySize >= 128, entrySize % 8 == 0, entryCount > 0,
            entryCount <= maximumEntryArrayBytes / entrySize
        else { return [] }
        guard let bytes = try reader.read(Int(entryCount * entrySize), at: start) else { return [] }
        return stride(from: 0, to: bytes.count, by: Int(entrySize)).enumerated().compactMap { index, offset in
            let entry = GPTEntry(bytes, at: offset, number: index + 1)
            return entry.type.allSatisfy { $0 == 0 } ? nil : entry
        }
    }
}

/// One primary entry of an MBR partition table.
struct MBREntry {
    /// 1 to 4.
    var number: Int
    /// 0x80: the active ("bootable") partition a standard MBR's code chains to.
    var status: UInt8
    var type: UInt8
    var firstLBA: UInt32

    init(_ sector: [UInt8], index: Int) {
        let offset = GuestInspection.mbrEntries + index * GuestInspection.mbrEntrySize
        number = index + 1
        status = sector[offset]
        type = sector[offset + GuestInspection.mbrTypeOffset]
        firstLBA = sector.loadLittleEndian(UInt32.self, at: offset + 8)
    }
}

/// One used entry of a GPT partition entry array (UEFI 2.10 §5.3.3, Table 5-6).
struct GPTEntry {
    /// 1-based, as partitioning tools number entries.
    var number: Int
    /// The partition type GUID as stored (mixed-endian).
    var type: [UInt8]
    var firstLBA: UInt64
    /// Bit 2: LegacyBIOSBootable (UEFI 2.10 §5.3.3, Table 5-7).
    var attributes: UInt64

    init(_ bytes: [UInt8], at offset: Int, number: Int) {
        self.number = number
        type = Array(bytes[offset..<(offset + 16)])
        firstLBA = bytes.loadLittleEndian(UInt64.self, at: offset + 32)
        attributes = bytes.loadLittleEndian(UInt64.self, at: offset + 48)
    }

    var isLegacyBIOSBootable: Bool { attributes & (1 << 2) != 0 }
}

/// Reads whole byte ranges of a disk, nil for a range past its end.
struct SectorReader {
    let disk: any VirtualDisk

    func read(_ count: Int, at offset: UInt64) throws(DiskImageError) -> [UInt8]? {
        guard offset <= disk.size, UInt64(count) <= disk.size - offset else { return nil }
        var bytes = [UInt8](repeating: 0, count: count)
        var failure: DiskImageError?
        bytes.withUnsafeMutableBytes { buffer in
            do throws(DiskImageError) { try disk.readExactly(into: buffer, at: offset) } catch { failure = error }
        }
        if let failure { throw failure }
        return bytes
    }

    /// The 512-byte sector at `lba` (of `sectorSize`-byte sectors), nil past the end or on
    /// overflow.
    func sector(_ lba: UInt64, sectorSize: Int = 512) throws(DiskImageError) -> [UInt8]? {
        let (offset, overflow) = lba.multipliedReportingOverflow(by: UInt64(sectorSize))
        return overflow ? nil : try read(512, at: offset)
    }
}
