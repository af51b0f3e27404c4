internal import CZlib

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
        /// No MBR partition table and no GPT header: a bare filesystem or an empty disk.
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
    /// Sector 0 ends in 0x55 0xAA and its boot code area (bytes 0..<440; a FAT boot sector's
    /// after its BPB) is not all zero. Code alone does not make a BIOS path: see `biosPath`.
    public var hasBIOSBootCode: Bool
    /// The logical sector size the GPT header was found with (512 or 4096); nil without GPT.
    public var gptSectorSize: Int?
    /// Why UEFI firmware does not read the GPT (no protective MBR entry, neither header
    /// valid), nil when it does or there is none: its partitions, the EFI system partition
    /// among them, are then invisible to the firmware.
    public var gptProblem: String?
    /// Sector 0 ends 0x55AA but is no partition table: the boot sector of a filesystem that
    /// fills the disk (`"FAT"`), or `"unknown"`; nil otherwise.
    public var bootSectorFilesystem: String?
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
        if partitionTable == .gpt, gptProblem != nil { table += ", not read by UEFI firmware" }
        if let bootSectorFilesystem {
            table += bootSectorFilesystem == "FAT" ? " (sector 0 is a FAT filesystem's boot sector)" : " (sector 0 is a boot sector, not a partition table)"
        }
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
        case .none: "nothing boots it: no BIOS path and no UEFI path"
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
    /// The partition entry array read at most: 128 entries of 128 bytes is the usual 16 KiB,
    /// `sgdisk --resize-table` makes larger ones; a header asking for more than 4 MiB (32,768
    /// entries) is not believed.
    static let maximumEntryArrayBytes: UInt64 = 4 << 20

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
        let sectorEntries = (0..<4).map { MBREntry(sector, index: $0) }
        // A 0x55AA sector is a partition table unless it is a filesystem's boot sector. Linux's
        // msdos_partition (block/partitions/msdos.c) refuses one with an entry whose status is
        // neither 0 nor 0x80 (boot code or text at 446); libblkid's dos prober
        // (libblkid/src/partitions/dos.c) ignores one that is a FAT boot sector. A FAT boot
        // sector counts as one here when no entry starts past LBA 0: mkfs.fat writes no
        // entries, or with --mbr one covering the filesystem from sector 0; a partitioned disk
        // whose sector 0 kept an old BPB has real partitions.
        let fat = hasSignature && isFATBootSector(sector) && sectorEntries.allSatisfy { $0.type == 0 || $0.firstLBA == 0 }
        let isPartitionTable = hasSignature && !fat && sectorEntries.allSatisfy { $0.status == 0 || $0.status == 0x80 }
        let mbr = isPartitionTable ? sectorEntries : []
        var inspection = GuestInspection(partitionTable: isPartitionTable ? .mbr : .none)
        inspection.hasBIOSBootCode = hasSignature && sector[mbrBootCode].contains { $0 != 0 }
        if hasSignature && !isPartitionTable { inspection.bootSectorFilesystem = fat ? "FAT" : "unknown" }
        if fat { inspection.hasBIOSBootCode = sector[fatBootCode(sector)].contains { $0 != 0 } }

        let hasProtectiveType = sectorEntries.contains { $0.type == protectiveType }
        for sectorSize in [512, 4096] {
            guard let header = try reader.read(512, at: UInt64(sectorSize)) else { continue }
            // A wiped primary header with a valid backup is a GPT still: the firmware restores
            // the primary from it (EDK2 PartitionDxe).
            if Array(header[0..<8]) != gptSignature {
                guard hasProtectiveType, case .valid = try validGPT(at: lastLBA(reader, sectorSize), sectorSize: sectorSize, reader: reader) else {
                    continue
                }
            }
            inspection.partitionTable = .gpt
            inspection.bootSectorFilesystem = nil
            inspection.gptSectorSize = sectorSize
            inspection.hasProtectiveMBR = hasProtectiveType
            let table = try readGPT(primary: header, sectorSize: sectorSize, sector0: sectorEntries, reader: reader)
            inspection.gptProblem = table.problem
            inspection.hasEFISystemPartition = table.entries.contains { $0.type == efiSystemPartitionGUID }
            try inspection.decideBootPaths(sector: sector, mbr: sectorEntries, gpt: (table.entries, sectorSize, table.ignored), reader: reader)
            return inspection
        }
        inspection.hasEFISystemPartition = mbr.contains { $0.type == efiSystemType }
        try inspection.decideBootPaths(sector: sector, mbr: mbr, gpt: nil, reader: reader)
        return inspection
    }

    /// The disk's last LBA in `sectorSize`-byte sectors, where the backup GPT header lies.
    static func lastLBA(_ reader: SectorReader, _ sectorSize: Int) -> UInt64 {
        max(reader.disk.size / UInt64(sectorSize), 1) - 1
    }

    /// The GPT as UEFI firmware reads it (EDK2's PartitionDxe, Gpt.c, after UEFI 2.10 §5.2.3
    /// and §5.3.2): sector 0 must hold a protective entry (type 0xEE, first LBA 1; its
    /// BootIndicator "shall be ignored", §5.2.3 Table 5-4, and today's EDK2 does); the primary
    /// header must be valid (signature, HeaderSize at most a sector, its CRC32, MyLBA, entry
    /// size at least 128, the entry array's CRC32), else the backup header in the disk's last
    /// sector, whose entries are then used. With neither, the firmware sees no partitions; the
    /// primary's entries are still read, for the BIOS rules and evidence. Of a valid table the
    /// firmware ignores (`ignored`, by entry number, with why) the entries EDK2's
    /// PartitionCheckGptEntry marks: outside the usable LBAs or ending before they start,
    /// overlapping another, or with attribute bit 1 (No Block IO Protocol, §5.3.3 Table 5-7).
    private static func readGPT(
        primary: [UInt8], sectorSize: Int, sector0: [MBREntry], reader: SectorReader
    ) throws(DiskImageError) -> (entries: [GPTEntry], problem: String?, ignored: [Int: String]) {
        let hasProtectiveEntry = sector0.contains { $0.type == protectiveType && $0.firstLBA == 1 }
        let lastLBA = lastLBA(reader, sectorSize)
        var problem: String?
        var table: ValidGPT
        switch try validGPT(at: 1, sectorSize: sectorSize, reader: reader) {
        case let .valid(valid):
            table = valid
        case let .invalid(primaryProblem):
            switch try validGPT(at: lastLBA, sectorSize: sectorSize, reader: reader) {
            case let .valid(valid):
                table = valid
            case let .invalid(backupProblem):
                problem = "neither GPT header is valid: the primary (LBA 1) \(primaryProblem), the backup (LBA \(lastLBA)) \(backupProblem)"
                table = ValidGPT(entries: try gptEntries(primary, sectorSize: sectorSize, reader: reader), firstUsable: 0, lastUsable: 0)
            }
        }
        if !hasProtectiveEntry {
            problem = "sector 0 has no protective MBR entry (type 0xEE, from LBA 1), which UEFI firmware needs before it reads a GPT (UEFI 2.10 §5.2.3)"
        }
        return (table.entries, problem, problem == nil ? ignoredEntries(table) : [:])
    }

    /// A header and entry array that passed the checks: the used entries, and the LBAs from
    /// FirstUsableLBA to LastUsableLBA.
    struct ValidGPT {
        var entries: [GPTEntry]
        var firstUsable: UInt64
        var lastUsable: UInt64
    }

    enum GPTCheck {
        case valid(ValidGPT)
        case invalid(String)
    }

    /// The entries UEFI firmware installs no partition for, and why (EDK2's
    /// PartitionCheckGptEntry): sorted by first LBA, each range is compared with the furthest
    /// end before it, so overlaps cost n log n, not n².
    static func ignoredEntries(_ table: ValidGPT) -> [Int: String] {
        var ignored: [Int: String] = [:]
        var inRange: [GPTEntry] = []
        for entry in table.entries {
            guard entry.firstLBA <= entry.lastLBA, entry.firstLBA >= table.firstUsable, entry.lastLBA <= table.lastUsable else {
                ignored[entry.number] =
                    "lies outside the GPT's usable LBAs \(table.firstUsable) to \(table.lastUsable) (LBA \(entry.firstLBA) to \(entry.lastLBA))"
                continue
            }
            if entry.attributes & (1 << 1) != 0 {
                ignored[entry.number] = "has attribute bit 1 (No Block IO Protocol), so firmware makes no device of it"
            }
            inRange.append(entry)
        }
        var furthest: GPTEntry?
        for entry in inRange.sorted(by: { ($0.firstLBA, $0.number) < ($1.firstLBA, $1.number) }) {
            if let before = furthest, before.lastLBA >= entry.firstLBA {
                ignored[entry.number] = "overlaps partition \(before.number)"
                ignored[before.number] = ignored[before.number] ?? "overlaps partition \(entry.number)"
            }
            if furthest.map({ entry.lastLBA > $0.lastLBA }) ?? true { furthest = entry }
        }
        return ignored
    }

    /// The GPT header at `lba` checked as UEFI firmware checks it, with its used entries.
    private static func validGPT(at lba: UInt64, sectorSize: Int, reader: SectorReader) throws(DiskImageError) -> GPTCheck {
        guard let header = try reader.sector(lba, sectorSize: sectorSize, count: sectorSize) else { return .invalid("lies past the disk's end") }
        guard Array(header[0..<8]) == gptSignature else { return .invalid("has no \"EFI PART\" signature") }
        let headerSize = Int(header.loadLittleEndian(UInt32.self, at: 12))
        guard (1...sectorSize).contains(headerSize) else { return .invalid("has a HeaderSize of \(headerSize), not 1 to \(sectorSize)") }
        let storedCRC = header.loadLittleEndian(UInt32.self, at: 16)
        var crcInput = Array(header[0..<headerSize])
        crcInput.replaceSubrange(16..<20, with: [0, 0, 0, 0])
        let computedCRC = crc32(crcInput)
        guard storedCRC == computedCRC else {
            return .invalid(String(format: "has a header CRC32 of 0x%08x where its bytes give 0x%08x", storedCRC, computedCRC))
        }
        let myLBA = header.loadLittleEndian(UInt64.self, at: 24)
        guard myLBA == lba else { return .invalid("says it lies at LBA \(myLBA)") }
        let entryLBA = header.loadLittleEndian(UInt64.self, at: 72)
        let entryCount = UInt64(header.loadLittleEndian(UInt32.self, at: 80))
        let entrySize = UInt64(header.loadLittleEndian(UInt32.self, at: 84))
        guard entrySize >= 128 else { return .invalid("has entries of \(entrySize) bytes, fewer than 128") }
        guard entryCount <= maximumEntryArrayBytes / entrySize else {
            return .invalid("has an entry array over \(maximumEntryArrayBytes >> 20) MiB, which imgship does not read")
        }
        let (start, overflow) = entryLBA.multipliedReportingOverflow(by: UInt64(sectorSize))
        guard !overflow, let array = try reader.read(Int(entryCount * entrySize), at: start) else {
            return .invalid("has its entry array (LBA \(entryLBA)) past the disk's end")
        }
        let storedArrayCRC = header.loadLittleEndian(UInt32.self, at: 88)
        let computedArrayCRC = crc32(array)
        guard storedArrayCRC == computedArrayCRC else {
            return .invalid(String(format: "has an entry array CRC32 of 0x%08x where the entries give 0x%08x", storedArrayCRC, computedArrayCRC))
        }
        let firstUsable = header.loadLittleEndian(UInt64.self, at: 40)
        let lastUsable = header.loadLittleEndian(UInt64.self, at: 48)
        return .valid(ValidGPT(entries: usedEntries(array, entrySize: Int(entrySize)), firstUsable: firstUsable, lastUsable: lastUsable))
    }

    /// Where a FAT boot sector's code lies: after the BPB, which ends at 0x3E on FAT12 and
    /// FAT16 and at 0x5A on FAT32 (whose 16-bit FAT size at 22 is 0), up to the signature.
    static func fatBootCode(_ sector: [UInt8]) -> Range<Int> {
        (sector.loadLittleEndian(UInt16.self, at: 22) == 0 ? 0x5A : 0x3E)..<510
    }

    /// The CRC-32 of IEEE 802.3 (zlib's), as UEFI's CalculateCrc32 computes it.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { buffer in
            UInt32(CZlib.crc32(0, buffer.baseAddress, uInt(buffer.count)))
        }
    }

    /// Sector 0 is a FAT boot sector (Microsoft's FAT specification, "Boot Sector and BPB"):
    /// a jump (EB xx 90 or E9 xx xx), 512 to 4096 bytes a sector, a power of two sectors a
    /// cluster, reserved sectors, at least one FAT, a media byte Linux's fat_valid_media takes.
    static func isFATBootSector(_ sector: [UInt8]) -> Bool {
        let jump = (sector[0] == 0xEB && sector[2] == 0x90) || sector[0] == 0xE9
        let bytesPerSector = sector.loadLittleEndian(UInt16.self, at: 11)
        let sectorsPerCluster = sector[13]
        let reserved = sector.loadLittleEndian(UInt16.self, at: 14)
        let media = sector[21]
        return jump && [512, 1024, 2048, 4096].contains(bytesPerSector) && sectorsPerCluster != 0 && sectorsPerCluster & (sectorsPerCluster - 1) == 0
            && reserved != 0 && sector[16] != 0 && (media >= 0xF8 || media == 0xF0)
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
        return usedEntries(bytes, entrySize: Int(entrySize))
    }

    /// The entries of `array` whose type GUID is not all zero, numbered from 1.
    private static func usedEntries(_ array: [UInt8], entrySize: Int) -> [GPTEntry] {
        stride(from: 0, to: array.count, by: entrySize).enumerated().compactMap { index, offset in
            let entry = GPTEntry(array, at: offset, number: index + 1)
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
    var lastLBA: UInt64
    /// Bit 1: no firmware use; bit 2: LegacyBIOSBootable (UEFI 2.10 §5.3.3, Table 5-7).
    var attributes: UInt64

    init(_ bytes: [UInt8], at offset: Int, number: Int) {
        self.number = number
        type = Array(bytes[offset..<(offset + 16)])
        firstLBA = bytes.loadLittleEndian(UInt64.self, at: offset + 32)
        lastLBA = bytes.loadLittleEndian(UInt64.self, at: offset + 40)
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

    /// The first `count` bytes (512 unless told) of the sector at `lba` (of `sectorSize`-byte
    /// sectors), nil past the end or on overflow.
    func sector(_ lba: UInt64, sectorSize: Int = 512, count: Int = 512) throws(DiskImageError) -> [UInt8]? {
        let (offset, overflow) = lba.multipliedReportingOverflow(by: UInt64(sectorSize))
        return overflow ? nil : try read(count, at: offset)
    }
}
