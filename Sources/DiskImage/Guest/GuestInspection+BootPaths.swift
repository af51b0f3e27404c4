/// How firmware finds a boot loader on a disk, the rules `GuestInspection` decides `firmware`
/// by. Each path found or refused leaves one line of evidence.
///
/// BIOS, MBR disk. A BIOS runs the code in sector 0. The standard MBR code (Windows' MBR,
/// syslinux's mbr.bin) looks for the active partition (status 0x80), loads its first sector
/// and jumps to it only if it ends 0x55AA; with no active partition it stops ("Missing
/// operating system"). GRUB's boot.img instead loads core.img from the LBA stored at offset
/// 0x5C of sector 0 (grub-core/boot/i386/pc/boot.S, GRUB_BOOT_MACHINE_KERNEL_SECTOR) and needs
/// no active partition. Rule: a BIOS path exists when sector 0 has boot code and either an
/// active partition's first sector is a boot sector, or the code is GRUB's boot.img whose
/// core.img sector is not empty, or there is no active partition, no EFI system partition,
/// and the code is not a standard MBR's (code of another loader that loads from fixed
/// sectors; nothing else boots such a disk). Standard code is known by its messages: Windows'
/// and DOS's "Invalid partition table", syslinux mbr.bin's "Multiple active partitions". An
/// MBR disk with an EFI system partition (type 0xEF, UEFI 2.10 §5.2.1) and none of the first
/// two boots with UEFI only.
///
/// BIOS, no partition table. Sector 0 ends 0x55AA but is a FAT boot sector without real
/// partitions (libblkid's dos prober), or an entry's status is neither 0 nor 0x80 (Linux's
/// block/partitions/msdos.c): the boot sector of a filesystem filling the disk. A BIOS runs its code: the filesystem's own loader
/// (syslinux installs one so), unless it is mkfs.fat's stub, which prints "This is not a
/// bootable disk" and stops.
///
/// BIOS, GPT disk. The protective MBR's code has to find its next stage: GRUB embeds core.img
/// in a BIOS boot partition (type 21686148-6449-6E6F-744E-656564454649; GRUB manual, "BIOS
/// installation": without one, grub-install refuses to embed), and syslinux's gptmbr.bin
/// chains to the partition whose LegacyBIOSBootable attribute (bit 2, UEFI 2.10 §5.3.3,
/// Table 5-7) is set (syslinux wiki, "Hard disk images: GPT"). GRUB's boot.img loads core.img
/// from its fixed sector whatever the table (`grub-install --force` on a GPT without a BIOS
/// boot partition). A hybrid MBR (gdisk's, or xorriso's for hybrid ISOs) lists partitions
/// beside the 0xEE entry, and standard MBR code chains to its active one as on an MBR disk.
/// Boot code left in sector 0 by a tool that kept the old MBR's first 440 bytes (sgdisk -o,
/// sfdisk without --wipe) has none of these, and a BIOS gets nowhere with it.
///
/// UEFI. The firmware boots from an EFI system partition: GPT type
/// C12A7328-F81F-11D2-BA4B-00A0C93EC93B (UEFI 2.10 §5.3.3) in a GPT the firmware reads
/// (`gptProblem`: a protective MBR entry, a valid header and entry array), or MBR type 0xEF
/// (§5.2.1). A disk that is one FAT filesystem, with no partition table, is read whole, as
/// removable media are (EDK2 binds its FAT driver to the disk itself). A machine made from
/// an image starts with no boot entries in its firmware's variables, so the firmware starts
/// the removable-media loader, `\EFI\BOOT\BOOT{machine}.EFI` (§3.5.1.1, Table 3-2): the
/// partition (or disk) must be a FAT filesystem holding one, not empty (`FATVolume`). A
/// distribution that installs its loader only under its own folder (`\EFI\debian\`) and
/// an NVRAM entry does not boot so, as OVMF shows.
/// virt-v2v converts a guest for UEFI whenever a GPT EFI system partition exists
/// (convert/inspect_source.ml); targets that must pick one for `both` follow it
/// (`ExportTarget.firmware(given:guest:for:)`).
extension GuestInspection {
    mutating func decideBootPaths(
        sector: [UInt8]?, mbr: [MBREntry], gpt: (entries: [GPTEntry], sectorSize: Int, ignored: [Int: String])?, reader: SectorReader
    ) throws(DiskImageError) {
        let bios: (path: String?, against: String?)
        if let gpt, let sector {
            bios = try gptBIOSPath(sector: sector, entries: gpt.entries, mbr: mbr, sectorSize: gpt.sectorSize, reader: reader)
        } else if let sector, bootSectorFilesystem != nil {
            bios = bootSectorBIOSPath(sector: sector)
        } else if let sector {
            bios = try mbrBIOSPath(sector: sector, entries: mbr, reader: reader)
        } else {
            bios = (nil, "the disk is smaller than one sector")
        }
        biosPath = bios.path
        var uefiAgainst =
            switch partitionTable {
            case .gpt: "no EFI system partition (GPT type C12A7328-F81F-11D2-BA4B-00A0C93EC93B)"
            case .mbr: "no MBR partition of type 0xEF (EFI system partition)"
            case .none: "no partition table, so no EFI system partition"
            }
        // The filesystems the firmware looks into, EFI system partitions first: EDK2's boot
        // manager (BmExpandMediaDevicePath) tries \EFI\BOOT\BOOTX64.EFI on every FAT
        // filesystem of the disk, whatever the partition's type.
        var candidates: [(name: String, offset: UInt64?, isSystemPartition: Bool)] = []
        var missing: [String] = []
        if let gpt {
            let esps = gpt.entries.filter { $0.type == Self.efiSystemPartitionGUID }
            if let gptProblem {
                let esp = esps.first.map { "EFI system partition \($0.number), but " } ?? ""
                uefiAgainst = esp + "UEFI firmware does not read this GPT: \(gptProblem)"
            } else {
                for entry in esps + gpt.entries.filter({ $0.type != Self.efiSystemPartitionGUID }) {
                    let isESP = entry.type == Self.efiSystemPartitionGUID
                    let name =
                        isESP
                        ? "EFI system partition (GPT type C12A7328-F81F-11D2-BA4B-00A0C93EC93B), partition \(entry.number)"
                        : "partition \(entry.number) (not typed an EFI system partition; EDK2 firmware reads any FAT partition of the disk)"
                    if let why = gpt.ignored[entry.number] {
                        if isESP { missing.append("\(name) \(why)") }
                        continue
                    }
                    let (offset, overflow) = entry.firstLBA.multipliedReportingOverflow(by: UInt64(gpt.sectorSize))
                    candidates.append((name, overflow ? nil : offset, isESP))
                }
            }
        } else if bootSectorFilesystem == "FAT" {
            candidates = [("the disk's one FAT filesystem (no partition table: UEFI firmware reads it whole, as it reads removable media)", 0, true)]
        } else {
            // Primary partitions; extended ones (0x05, 0x0F, 0x85) hold no filesystem themselves.
            let used = mbr.filter { ![0, 0x05, 0x0F, 0x85, Self.protectiveType].contains($0.type) }
            for entry in used.filter({ $0.type == Self.efiSystemType }) + used.filter({ $0.type != Self.efiSystemType }) {
                let isESP = entry.type == Self.efiSystemType
                let name =
                    isESP
                    ? "MBR partition \(entry.number) of type 0xEF (an EFI system partition)"
                    : "MBR partition \(entry.number) of type 0x\(String(entry.type, radix: 16, uppercase: true)) (not an EFI system partition; EDK2 firmware reads any FAT partition of the disk)"
                candidates.append((name, UInt64(entry.firstLBA) * 512, isESP))
            }
        }
        // One look a start (a table may list one place many times), at most 16, all sharing
        // one budget of directory entries.
        var seen = Set<UInt64>()
        let budget = FATVolume.Budget()
        for candidate in candidates.prefix(Self.maximumFilesystemsLookedInto) {
            if let offset = candidate.offset, !seen.insert(offset).inserted { continue }
            let (loader, problem) = try Self.removableMediaLoader(at: candidate.offset, reader: reader, budget: budget)
            if let loader {
                uefiPath = "\(candidate.name), holding \(loader)"
                break
            }
            if candidate.isSystemPartition { missing.append("\(candidate.name), \(problem)") }
        }
        if uefiPath == nil, !missing.isEmpty {
            uefiAgainst =
                missing.joined(separator: "; ")
                + ": a machine made from the image starts with no boot entries, and its UEFI firmware then starts only \\EFI\\BOOT\\BOOTX64.EFI (BOOTAA64.EFI on Arm), an EFI application (UEFI 2.10 §3.5.1.1)"
        }
        evidence = [
            biosPath.map { "BIOS path: " + $0 } ?? "no BIOS path: " + (bios.against ?? ""),
            uefiPath.map { "UEFI path: " + $0 } ?? "no UEFI path: " + uefiAgainst,
        ]
    }

    /// Filesystems looked into for a loader at most, EFI system partitions first.
    static let maximumFilesystemsLookedInto = 16

    /// The removable-media loaders of the machines images are made for (UEFI 2.10 §3.5.1.1,
    /// Table 3-2), with the PE/COFF machine type each must be built for: x64 and AArch64.
    static let removableMediaLoaders: [(name: String, machine: UInt16, title: String)] = [
        ("BOOTX64.EFI", 0x8664, "x64"), ("BOOTAA64.EFI", 0xAA64, "AArch64"),
    ]

    /// The removable-media loader the FAT filesystem at `offset` holds (`\EFI\BOOT\...`),
    /// or why there is none. A loader must be an EFI application for its machine, as the
    /// firmware checks before it starts one (EDK2's BmIsLoadOptionPeHeaderValid: PE/COFF,
    /// subsystem 10).
    static func removableMediaLoader(
        at offset: UInt64?, reader: SectorReader, budget: FATVolume.Budget
    ) throws(DiskImageError) -> (loader: String?, problem: String) {
        guard let offset, let volume = try FATVolume(reader: reader, at: offset, budget: budget) else { return (nil, "holds no FAT filesystem") }
        guard let folder = try volume.directory(["EFI", "BOOT"]) else { return (nil, "holds no \\EFI\\BOOT\\ folder") }
        var problems: [String] = []
        for loader in removableMediaLoaders {
            guard let file = FATVolume.file(loader.name, in: folder) else { continue }
            let head = try volume.head(of: file, count: 4096) ?? []
            if efiApplicationMachine(head) == loader.machine { return ("\\EFI\\BOOT\\\(loader.name) (\(loader.title))", "") }
            problems.append(
                file.size == 0
                    ? "holds an empty \\EFI\\BOOT\\\(loader.name)"
                    : "holds \\EFI\\BOOT\\\(loader.name), which is no \(loader.title) EFI application (PE/COFF, subsystem 10)")
        }
        return (nil, problems.first ?? "holds no \\EFI\\BOOT\\BOOTX64.EFI (nor BOOTAA64.EFI)")
    }

    /// The PE/COFF machine type of an EFI application (Microsoft PE format: "MZ", the PE
    /// header's offset at 0x3C, "PE\0\0", the machine at +4, the optional header's Subsystem
    /// at +24+68, 10 for an EFI application), nil for anything else.
    static func efiApplicationMachine(_ head: [UInt8]) -> UInt16? {
        guard head.count >= 0x40, head[0] == 0x4D, head[1] == 0x5A else { return nil }
        let pe = Int(head.loadLittleEndian(UInt32.self, at: 0x3C))
        guard pe <= head.count - 24 - 70, Array(head[pe..<(pe + 4)]) == [0x50, 0x45, 0, 0] else { return nil }
        guard head.loadLittleEndian(UInt16.self, at: pe + 24 + 68) == 10 else { return nil }
        return head.loadLittleEndian(UInt16.self, at: pe + 4)
    }

    /// A boot sector a loader chains to: it ends 0x55AA and holds something before that.
    static func isBootSector(_ sector: [UInt8]?) -> Bool {
        guard let sector, sector.count == 512, sector[510] == 0x55, sector[511] == 0xAA else { return false }
        return sector[0..<510].contains { $0 != 0 }
    }

    /// The LBA GRUB's boot.img loads core.img from, when sector 0 is GRUB's boot.img (its
    /// messages start "GRUB "): the u64 at 0x5C (GRUB_BOOT_MACHINE_KERNEL_SECTOR).
    static func grubCoreSector(_ sector: [UInt8]) -> UInt64? {
        guard contains(Array(sector[mbrBootCode]), "GRUB ") else { return nil }
        let lba = sector.loadLittleEndian(UInt64.self, at: 0x5C)
        return lba == 0 ? nil : lba
    }

    private func mbrBIOSPath(sector: [UInt8], entries: [MBREntry], reader: SectorReader) throws(DiskImageError) -> (String?, String?) {
        guard sector[510] == 0x55, sector[511] == 0xAA else {
            return (nil, "sector 0 does not end 0x55AA, so a BIOS runs nothing from it")
        }
        guard hasBIOSBootCode else { return (nil, "sector 0 holds no boot code (bytes 0..<440 are zero)") }
        if let stub = Self.stubMessage(sector) { return (nil, stub) }
        let active = entries.first { $0.status == 0x80 && $0.type != 0 }
        if let active, Self.isBootSector(try reader.sector(UInt64(active.firstLBA))) {
            return (
                "MBR boot code in sector 0 and active partition \(active.number), whose first sector (LBA \(active.firstLBA)) ends 0x55AA: the boot sector the MBR code chains to",
                nil
            )
        }
        if let core = Self.grubCoreSector(sector), let coreSector = try reader.sector(core), coreSector.contains(where: { $0 != 0 }) {
            return ("GRUB's boot.img in sector 0, loading core.img from LBA \(core) (it needs no active partition)", nil)
        }
        if let active {
            return (
                nil,
                "MBR boot code in sector 0, but the first sector of active partition \(active.number) (LBA \(active.firstLBA)) is no boot sector (empty, or not ending 0x55AA): the MBR code has nothing to chain to"
            )
        }
        if hasEFISystemPartition {
            return (
                nil,
                "MBR boot code in sector 0 but no active partition: a standard MBR (Windows', syslinux's mbr.bin) stops with nothing to chain to, and the disk has an EFI system partition instead"
            )
        }
        if let standard = Self.standardMBRCode(sector) {
            return (nil, "\(standard) in sector 0 and no active partition: the code stops (\"Missing operating system\") with nothing to chain to")
        }
        return (
            "MBR boot code in sector 0 and no active partition: counted as BIOS-bootable, as code that loads its next stage from fixed sectors (GRUB's boot.img does) boots so, and nothing else boots this disk",
            nil
        )
    }

    /// The name of the standard MBR code in `sector`, which chains only to the active
    /// partition, known by its messages; nil for other code.
    static func standardMBRCode(_ sector: [UInt8]) -> String? {
        let code = Array(sector[mbrBootCode])
        if contains(code, "Multiple active partitions") { return "syslinux's mbr.bin" }
        if contains(code, "Invalid partition table") { return "the Windows (or DOS) MBR code" }
        return nil
    }

    /// Whether `text`'s bytes occur in `bytes`.
    static func contains(_ bytes: [UInt8], _ text: String) -> Bool {
        bytes.firstRange(of: Array(text.utf8)) != nil
    }

    /// Why sector 0's code boots nothing when it is mkfs.fat's stub (left in sector 0 when a
    /// partition table was written over a whole-disk FAT, or on a FAT's own boot sector).
    static func stubMessage(_ sector: [UInt8]) -> String? {
        contains(Array(sector[0..<510]), "This is not a bootable disk")
            ? "sector 0's code is mkfs.fat's stub, which prints \"This is not a bootable disk\" and stops" : nil
    }

    /// The BIOS path of a disk whose sector 0 is a filesystem's boot sector.
    private func bootSectorBIOSPath(sector: [UInt8]) -> (String?, String?) {
        let what = bootSectorFilesystem == "FAT" ? "a FAT filesystem's boot sector" : "a boot sector"
        if let stub = Self.stubMessage(sector) { return (nil, "sector 0 is \(what); \(stub)") }
        guard hasBIOSBootCode else { return (nil, "sector 0 is \(what) with no code") }
        return ("sector 0 is \(what), not a partition table: a BIOS runs its code, the filesystem's own loader (syslinux installs one so)", nil)
    }

    private func gptBIOSPath(
        sector: [UInt8], entries: [GPTEntry], mbr: [MBREntry], sectorSize: Int, reader: SectorReader
    ) throws(DiskImageError) -> (String?, String?) {
        let biosBoot = entries.first { $0.type == Self.biosBootPartitionGUID }
        let legacy = entries.first { $0.isLegacyBIOSBootable }
        guard hasBIOSBootCode else {
            let partition = biosBoot.map { ", though partition \($0.number) is a BIOS boot partition" } ?? ""
            return (nil, "sector 0 (the protective MBR) holds no boot code\(partition)")
        }
        if let stub = Self.stubMessage(sector) { return (nil, stub) }
        var biosBootProblem: String?
        if let biosBoot {
            switch try reader.sector(biosBoot.firstLBA, sectorSize: sectorSize) {
            case let first? where first.contains(where: { $0 != 0 }):
                return (
                    "GPT with a BIOS boot partition (21686148-6449-6E6F-744E-656564454649, partition \(biosBoot.number), not empty: GRUB's core.img) and boot code in sector 0",
                    nil
                )
            case nil: biosBootProblem = "starts past the end of the disk"
            case .some: biosBootProblem = "is empty: GRUB's core.img was never installed in it"
            }
        }
        if let legacy, Self.isBootSector(try reader.sector(legacy.firstLBA, sectorSize: sectorSize)) {
            return (
                "GPT with partition \(legacy.number) marked LegacyBIOSBootable (attribute bit 2) whose first sector ends 0x55AA, and boot code in sector 0 (syslinux's gptmbr.bin chains to it)",
                nil
            )
        }
        if let core = Self.grubCoreSector(sector), let coreSector = try reader.sector(core), coreSector.contains(where: { $0 != 0 }) {
            return ("GRUB's boot.img in sector 0, loading core.img from LBA \(core) (it needs no BIOS boot partition)", nil)
        }
        // A hybrid MBR: 512-byte sectors, as a BIOS reads the MBR's LBAs.
        let hybrid = mbr.filter { $0.type != 0 && $0.type != Self.protectiveType }
        if let active = hybrid.first(where: { $0.status == 0x80 }), Self.isBootSector(try reader.sector(UInt64(active.firstLBA))) {
            return (
                "GPT with a hybrid MBR whose active partition \(active.number) starts with a boot sector (LBA \(active.firstLBA), ending 0x55AA), and boot code in sector 0 to chain to it",
                nil
            )
        }
        if let biosBoot, let biosBootProblem {
            return (nil, "GPT: boot code in sector 0, but BIOS boot partition \(biosBoot.number) \(biosBootProblem)")
        }
        if let legacy {
            return (nil, "GPT: boot code in sector 0, but the first sector of LegacyBIOSBootable partition \(legacy.number) is no boot sector")
        }
        return (
            nil,
            "GPT: MBR boot code in sector 0 but no BIOS boot partition (21686148-6449-6E6F-744E-656564454649) or LegacyBIOSBootable partition (attribute bit 2): the code has nothing to load, so a BIOS does not boot the disk (GRUB keeps core.img in a BIOS boot partition; syslinux's gptmbr.bin chains to a LegacyBIOSBootable one)"
        )
    }
}
