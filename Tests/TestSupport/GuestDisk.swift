import Foundation

/// Disks whose first sectors say how their guest boots, written byte by byte (neither sfdisk
/// nor sgdisk is needed): a sparse file with a little data after the partition table, so
/// every format stores something.
public enum GuestDisk {
    public enum Boot: Sendable {
        /// A protective MBR without boot code, a GPT whose first partition is an EFI system
        /// partition: what only UEFI boots.
        case uefiOnly
        /// An MBR with boot code in sector 0 and one Linux partition: what a BIOS boots.
        case biosMBR
        /// No partition table at all: a data disk.
        case nothing
    }

    /// Writes the disk at `path`, `size` bytes long (sparse).
    public static func write(_ path: String, size: UInt64, boot: Boot) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: size)
        func put(_ bytes: [UInt8], at offset: UInt64) throws {
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: Data(bytes))
        }
        switch boot {
        case .uefiOnly:
            try put(mbr(bootCode: false, type: 0xEE), at: 0)
            // C12A7328-F81F-11D2-BA4B-00A0C93EC93B, the EFI system partition type, as GPT stores it.
            let espType: [UInt8] = [0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B]
            var entries = espEntry(type: espType, firstLBA: espLBA)
            entries += [UInt8](repeating: 0, count: 128 * 128 - entries.count)
            try put(gptHeader(myLBA: 1, entryLBA: 2, entries: entries), at: 512)
            try put(entries, at: 1024)
            try put(espFAT(), at: espLBA * 512)
        case .biosMBR:
            try put(mbr(bootCode: true, type: 0x83), at: 0)
        case .nothing:
            break
        }
        let data = Array("imgship guest disk ".utf8)
        try put(Array(repeating: data, count: 4096).flatMap { $0 }, at: min(1 << 20, size / 2))
    }

    /// Where `uefiOnly` puts its EFI system partition: after the entry array, before 1 MiB.
    public static let espLBA: UInt64 = 64

    /// A 128-byte GPT entry of `type` (as GPT stores it) over `espFAT()`'s 128 sectors from
    /// `firstLBA`.
    public static func espEntry(type: [UInt8], firstLBA: UInt64) -> [UInt8] {
        var entry = type + [UInt8](repeating: 1, count: 16) + [UInt8](repeating: 0, count: 96)
        store(firstLBA, in: &entry, at: 32)
        store(firstLBA + 127, in: &entry, at: 40)
        return entry
    }

    /// A 64 KiB FAT12 filesystem (128 sectors of 512 bytes, one FAT, 16 root entries; the
    /// layout of Microsoft's FAT specification) holding `\EFI\BOOT\` and in it `loader`
    /// (an 8.3 name) of 512 bytes, unless nil: what UEFI firmware without boot entries starts.
    public static func espFAT(loader: String? = "BOOTX64.EFI") -> [UInt8] {
        var volume = [UInt8](repeating: 0, count: 128 * 512)
        volume.replaceSubrange(0..<11, with: [0xEB, 0x3C, 0x90] + Array("MSWIN4.1".utf8))
        store(UInt16(512), in: &volume, at: 11)  // bytes a sector
        volume[13] = 1  // sectors a cluster
        store(UInt16(1), in: &volume, at: 14)  // reserved sectors
        volume[16] = 1  // FATs
        store(UInt16(16), in: &volume, at: 17)  // root entries: one sector
        store(UInt16(128), in: &volume, at: 19)  // sectors
        volume[21] = 0xF8  // fixed disk
        store(UInt16(1), in: &volume, at: 22)  // sectors a FAT
        volume[510] = 0x55
        volume[511] = 0xAA
        // The FAT (sector 1): entries 0 and 1 reserved, clusters 2, 3, 4 each a whole chain
        // (0xFFF), 12 bits an entry, two entries in three bytes.
        volume.replaceSubrange(512..<(512 + 8), with: [0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        func entry(_ name: String, directory: Bool, cluster: UInt16, size: UInt32 = 0, at offset: Int) {
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            let base = Array(parts[0].utf8) + [UInt8](repeating: 0x20, count: 8 - parts[0].utf8.count)
            let ext = parts.count > 1 ? Array(parts[1].utf8) + [UInt8](repeating: 0x20, count: 3 - parts[1].utf8.count) : [0x20, 0x20, 0x20]
            volume.replaceSubrange(
                offset..<(offset + 11), with: name == "." || name == ".." ? Array(name.utf8) + [UInt8](repeating: 0x20, count: 11 - name.count) : base + ext)
            volume[offset + 11] = directory ? 0x10 : 0x20
            store(cluster, in: &volume, at: offset + 26)
            store(size, in: &volume, at: offset + 28)
        }
        // Root directory (sector 2); data from sector 3, cluster 2.
        entry("EFI", directory: true, cluster: 2, at: 2 * 512)
        entry(".", directory: true, cluster: 2, at: 3 * 512)
        entry("..", directory: true, cluster: 0, at: 3 * 512 + 32)
        entry("BOOT", directory: true, cluster: 3, at: 3 * 512 + 64)
        entry(".", directory: true, cluster: 3, at: 4 * 512)
        entry("..", directory: true, cluster: 2, at: 4 * 512 + 32)
        if let loader {
            entry(loader, directory: false, cluster: 4, size: 512, at: 4 * 512 + 64)
            volume.replaceSubrange((5 * 512)..<(6 * 512), with: efiApplication(machine: loader.uppercased().contains("AA64") ? 0xAA64 : 0x8664))
        }
        return volume
    }

    /// The first 512 bytes of a PE/COFF EFI application for `machine` (0x8664 x64, 0xAA64
    /// AArch64), as far as a firmware looks before starting one (Microsoft's PE format): "MZ",
    /// the PE header at 0x40, "PE\0\0", the machine, a PE32+ optional header whose Subsystem
    /// (at +68) is 10, EFI application.
    public static func efiApplication(machine: UInt16 = 0x8664) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 512)
        bytes.replaceSubrange(0..<2, with: Array("MZ".utf8))
        store(UInt32(0x40), in: &bytes, at: 0x3C)
        bytes.replaceSubrange(0x40..<0x44, with: [0x50, 0x45, 0, 0])
        store(machine, in: &bytes, at: 0x44)
        store(UInt16(240), in: &bytes, at: 0x40 + 20)  // SizeOfOptionalHeader (PE32+)
        store(UInt16(0x20B), in: &bytes, at: 0x40 + 24)  // PE32+ magic
        store(UInt16(10), in: &bytes, at: 0x40 + 24 + 68)  // Subsystem: EFI application
        return bytes
    }

    /// A 92-byte GPT header (UEFI 2.10 §5.3.2) at `myLBA` for `entries` (128-byte entries at
    /// `entryLBA`), with both CRC32s right unless `damage` flips a bit of the header's CRC.
    public static func gptHeader(
        myLBA: UInt64, entryLBA: UInt64, entries: [UInt8], damage: Bool = false, firstUsable: UInt64 = 34, lastUsable: UInt64 = UInt64(UInt32.max)
    ) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 92)
        header.replaceSubrange(0..<8, with: Array("EFI PART".utf8))
        store(UInt32(0x0001_0000), in: &header, at: 8)  // revision 1.0
        store(UInt32(92), in: &header, at: 12)  // header size
        store(myLBA, in: &header, at: 24)  // this header's LBA
        store(firstUsable, in: &header, at: 40)
        store(lastUsable, in: &header, at: 48)
        store(entryLBA, in: &header, at: 72)  // partition entries
        store(UInt32(entries.count / 128), in: &header, at: 80)  // entries
        store(UInt32(128), in: &header, at: 84)  // of 128 bytes
        store(crc32(entries), in: &header, at: 88)
        store(crc32(header) ^ (damage ? 1 : 0), in: &header, at: 16)
        return header
    }

    /// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bit by bit: the test's own, not
    /// zlib's that imgship uses.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    static func mbr(bootCode: Bool, type: UInt8) -> [UInt8] {
        var sector = [UInt8](repeating: 0, count: 512)
        if bootCode { sector.replaceSubrange(0..<3, with: [0xEB, 0x63, 0x90]) }  // jmp short; nop
        sector[446 + 4] = type
        store(UInt32(1), in: &sector, at: 446 + 8)  // first LBA
        store(UInt32(0xFFFF_FFFF), in: &sector, at: 446 + 12)  // sectors
        sector[510] = 0x55
        sector[511] = 0xAA
        return sector
    }

    static func store<Value: FixedWidthInteger>(_ value: Value, in bytes: inout [UInt8], at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<(offset + MemoryLayout<Value>.size), with: $0) }
    }
}
