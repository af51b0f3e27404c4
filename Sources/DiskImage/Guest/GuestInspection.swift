/// What the first sectors of a virtual disk say about booting the guest on it, whatever the
/// image format: the partition table, whether an EFI system partition exists, and whether
/// sector 0 carries BIOS boot code. Targets decide firmware from it (an OVF's `firmware`,
/// Hyper-V generation 2, AWS `--boot-mode`).
///
/// MBR: sector 0, boot code at 0..<440, four 16-byte partition entries at 446 (type byte at
/// +4), signature 0x55 0xAA at 510. GPT (UEFI 2.x, chapter 5): a protective MBR (one entry
/// of type 0xEE), the header "EFI PART" at LBA 1 (little-endian: partition entry LBA u64 at
/// 72, entry count u32 at 80, entry size u32 at 84), entries whose first 16 bytes are the
/// partition type GUID, stored mixed-endian.
public struct GuestInspection: Equatable, Sendable {
    public enum PartitionTable: String, Sendable {
        /// No MBR signature and no GPT header: a bare filesystem or an empty disk.
        case none
        case mbr
        case gpt
    }

    public var partitionTable: PartitionTable
    /// GPT only: sector 0 holds the protective MBR (a partition of type 0xEE).
    public var hasProtectiveMBR: Bool
    /// A GPT partition of type C12A7328-F81F-11D2-BA4B-00A0C93EC93B, or a primary MBR
    /// partition of type 0xEF.
    public var hasEFISystemPartition: Bool
    /// Sector 0 ends in 0x55 0xAA and its boot code area (bytes 0..<440) is not all zero.
    public var hasBIOSBootCode: Bool
    /// The logical sector size the GPT header was found with (512 or 4096); nil without GPT.
    public var gptSectorSize: Int?

    /// A GPT disk with an EFI system partition and no BIOS boot code boots only with UEFI.
    public var bootsWithUEFIOnly: Bool {
        partitionTable == .gpt && hasEFISystemPartition && !hasBIOSBootCode
    }

    /// The findings as `imgship info` prints them, in a fixed order.
    public var fields: [(key: String, value: String)] {
        var table = partitionTable.rawValue
        if partitionTable == .gpt { table += hasProtectiveMBR ? " (protective MBR)" : " (no protective MBR)" }
        return [
            ("partition table", table),
            ("efi system partition", hasEFISystemPartition ? "yes" : "no"),
            ("bios boot code", hasBIOSBootCode ? "yes" : "no"),
        ]
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
    /// The partition entry array read at most: 128 entries of 128 bytes is the usual 16 KiB;
    /// a header asking for more than 1 MiB is not believed.
    static let maximumEntryArrayBytes: UInt64 = 1 << 20

    public init(
        partitionTable: PartitionTable, hasProtectiveMBR: Bool = false, hasEFISystemPartition: Bool = false,
        hasBIOSBootCode: Bool = false, gptSectorSize: Int? = nil
    ) {
        self.partitionTable = partitionTable
        self.hasProtectiveMBR = hasProtectiveMBR
        self.hasEFISystemPartition = hasEFISystemPartition
        self.hasBIOSBootCode = hasBIOSBootCode
        self.gptSectorSize = gptSectorSize
    }

    /// Reads sector 0, the GPT header (at 512, else at 4096) and its partition entries.
    /// Values a damaged table gives (an entry array past the disk's end, absurd sizes) end the
    /// look at the partitions, never the inspection.
    public static func inspect(_ disk: any VirtualDisk) throws(DiskImageError) -> GuestInspection {
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
        guard let sector = try read(512, at: 0) else { return GuestInspection(partitionTable: .none) }
        let hasSignature = sector[510] == 0x55 && sector[511] == 0xAA
        let types = (0..<4).map { sector[mbrEntries + $0 * mbrEntrySize + mbrTypeOffset] }
        var inspection = GuestInspection(partitionTable: hasSignature ? .mbr : .none)
        inspection.hasBIOSBootCode = hasSignature && sector[mbrBootCode].contains { $0 != 0 }

        for sectorSize in [512, 4096] {
            guard let header = try read(512, at: UInt64(sectorSize)), Array(header[0..<8]) == gptSignature else { continue }
            inspection.partitionTable = .gpt
            inspection.gptSectorSize = sectorSize
            inspection.hasProtectiveMBR = hasSignature && types.contains(protectiveType)
            inspection.hasEFISystemPartition = try gptHasEFISystemPartition(header, sectorSize: sectorSize, read: read)
            return inspection
        }
        inspection.hasEFISystemPartition = hasSignature && types.contains(efiSystemType)
        return inspection
    }

    private static func gptHasEFISystemPartition(
        _ header: [UInt8], sectorSize: Int,
        read: (Int, UInt64) throws(DiskImageError) -> [UInt8]?
    ) throws(DiskImageError) -> Bool {
        let entryLBA = header.loadLittleEndian(UInt64.self, at: 72)
        let entryCount = UInt64(header.loadLittleEndian(UInt32.self, at: 80))
        let entrySize = UInt64(header.loadLittleEndian(UInt32.self, at: 84))
        let (start, overflow) = entryLBA.multipliedReportingOverflow(by: UInt64(sectorSize))
        guard !overflow, entrySize >= 128, entrySize % 8 == 0, entryCount > 0,
            entryCount <= maximumEntryArrayBytes / entrySize
        else { return false }
        guard let entries = try read(Int(entryCount * entrySize), start) else { return false }
        return stride(from: 0, to: entries.count, by: Int(entrySize)).contains { offset in
            Array(entries[offset..<(offset + 16)]) == efiSystemPartitionGUID
        }
    }
}
