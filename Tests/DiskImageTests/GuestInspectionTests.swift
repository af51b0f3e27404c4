import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// Partition table, EFI system partition and BIOS boot code, read from crafted MBR and GPT
/// disks (byte writes: neither sfdisk nor sgdisk is needed).
@Suite("guest inspection")
struct GuestInspectionTests {
    static let size: UInt64 = 4 << 20

    /// Sector 0: optional boot code, the four partition types given, the 0x55AA signature.
    static func mbr(bootCode: Bool, types: [UInt8]) -> [UInt8] {
        var sector = [UInt8](repeating: 0, count: 512)
        if bootCode { sector.replaceSubrange(0..<3, with: [0xEB, 0x63, 0x90]) }  // jmp short; nop
        for (index, type) in types.enumerated() {
            let entry = 446 + index * 16
            sector[entry + 4] = type
            // A protective entry starts at LBA 1 (UEFI 2.10 §5.2.3); the others at 1 MiB.
            sector.storeLittleEndian(UInt32(type == 0xEE ? 1 : 2048), at: entry + 8)  // first LBA
            sector.storeLittleEndian(UInt32(4096), at: entry + 12)  // sectors
        }
        sector[510] = 0x55
        sector[511] = 0xAA
        return sector
    }

    /// A GPT header at LBA 1 and its entry array at LBA 2 for `sectorSize`, both CRC32s right;
    /// entry 0 has type `firstType`, entry 1 a Linux filesystem. `entryCount` other than 128
    /// is written over the header after its CRC32 (a damaged header); `backup` writes the
    /// backup header in the last sector, `damagePrimary` spoils the primary's CRC32.
    static func gpt(
        in image: ImageBuilder, sectorSize: Int, firstType: [UInt8], entryCount: UInt32 = 128,
        entryLBA: UInt64 = 2, backup: Bool = false, damagePrimary: Bool = false, size: UInt64 = size
    ) throws {
        let linux = hexBytes("af 3d c6 0f 83 84 72 47 8e 79 3d 69 d8 47 7d e4")  // 0FC63DAF-8483-4772-8E79-3D69D8477DE4
        // The first partition at 1 MiB (an EFI system partition holds a FAT with a loader).
        let firstLBA = UInt64((1 << 20) / sectorSize)
        var entries = GuestDisk.espEntry(type: firstType, firstLBA: firstLBA) + linux
        entries += [UInt8](repeating: 0, count: 128 * 128 - entries.count)
        var header = GuestDisk.gptHeader(myLBA: 1, entryLBA: entryLBA, entries: entries, damage: damagePrimary)
        if entryCount != 128 { header.storeLittleEndian(entryCount, at: 80) }
        try image.write(header, at: UInt64(sectorSize))
        try image.write(entries, at: 2 * UInt64(sectorSize))
        if firstType == GuestInspection.efiSystemPartitionGUID { try image.write(GuestDisk.espFAT(), at: firstLBA * UInt64(sectorSize)) }
        if backup {
            // The backup's entries just before it, as partitioning tools place them.
            let lastLBA = size / UInt64(sectorSize) - 1
            let backupEntryLBA = lastLBA - UInt64(entries.count / sectorSize)
            try image.write(entries, at: backupEntryLBA * UInt64(sectorSize))
            try image.write(GuestDisk.gptHeader(myLBA: lastLBA, entryLBA: backupEntryLBA, entries: entries), at: lastLBA * UInt64(sectorSize))
        }
    }

    static func inspect(_ path: String) throws -> GuestInspection {
        try #require(try ImageReader.open(path: path).info.guest)
    }

    @Test func emptyDiskHasNoPartitionTable() throws {
        let folder = try TemporaryFolder()
        _ = try ImageBuilder(path: folder.file("empty.raw"), size: Self.size)
        let guest = try Self.inspect(folder.file("empty.raw"))
        #expect(guest.partitionTable == .none && guest.firmware == .none)
        #expect(
            guest.evidence == [
                "no BIOS path: sector 0 does not end 0x55AA, so a BIOS runs nothing from it", "no UEFI path: no partition table, so no EFI system partition",
            ])
    }

    @Test func mbrWithBootCode() throws {
        let folder = try TemporaryFolder()
        let image = try ImageBuilder(path: folder.file("bios.raw"), size: Self.size)
        try image.write(Self.mbr(bootCode: true, types: [0x83]), at: 0)
        let guest = try Self.inspect(folder.file("bios.raw"))
        #expect(guest.partitionTable == .mbr && guest.hasBIOSBootCode && !guest.hasEFISystemPartition)
        // No active partition and no EFI system partition: the code is what boots, if anything.
        #expect(guest.firmware == .bios)
        #expect(guest.biosPath?.hasPrefix("MBR boot code in sector 0 and no active partition") == true)
        #expect(guest.fields.map(\.value) == ["mbr", "no", "yes"])
    }

    @Test func mbrWithAnEFISystemPartitionAndNoBootCode() throws {
        let folder = try TemporaryFolder()
        let image = try ImageBuilder(path: folder.file("efi.raw"), size: Self.size)
        try image.write(Self.mbr(bootCode: false, types: [0x83, 0xEF]), at: 0)
        try image.write(GuestDisk.espFAT(), at: 2048 * 512)  // every partition starts at LBA 2048
        let guest = try Self.inspect(folder.file("efi.raw"))
        #expect(guest.partitionTable == .mbr && guest.hasEFISystemPartition && !guest.hasBIOSBootCode)
        #expect(guest.firmware == .efi)
        #expect(guest.uefiPath == "MBR partition 2 of type 0xEF (an EFI system partition), holding \\EFI\\BOOT\\BOOTX64.EFI (x64)")
    }

    @Test(arguments: [512, 4096])
    func gptWithAnEFISystemPartition(sectorSize: Int) throws {
        let folder = try TemporaryFolder()
        let image = try ImageBuilder(path: folder.file("gpt.raw"), size: Self.size)
        try image.write(Self.mbr(bootCode: false, types: [0xEE]), at: 0)
        try Self.gpt(in: image, sectorSize: sectorSize, firstType: GuestInspection.efiSystemPartitionGUID)
        let guest = try Self.inspect(folder.file("gpt.raw"))
        #expect(guest.partitionTable == .gpt && guest.hasProtectiveMBR && guest.hasEFISystemPartition && guest.gptSectorSize == sectorSize)
        #expect(guest.firmware == .efi)
        #expect(guest.bootsWithUEFIOnly)
        #expect(guest.fields.first?.value == "gpt (protective MBR)")
    }

    @Test func gptWithBIOSBootCodeAndNoEFISystemPartition() throws {
        let folder = try TemporaryFolder()
        let image = try ImageBuilder(path: folder.file("hybrid.raw"), size: Self.size)
        try image.write(Self.mbr(bootCode: true, types: [0xEE]), at: 0)
        // BIOS boot partition 21686148-6449-6E6F-744E-656564454649 (GRUB's core image).
        try Self.gpt(in: image, sectorSize: 512, firstType: hexBytes("48 61 68 21 49 64 6f 6e 74 4e 65 65 64 45 46 49"))
        let guest = try Self.inspect(folder.file("hybrid.raw"))
        #expect(guest.partitionTable == .gpt && guest.hasProtectiveMBR && guest.hasBIOSBootCode && !guest.hasEFISystemPartition)
        // The partition (from LBA 2048) is all zeros: no core.img, nothing boots.
        #expect(guest.firmware == .none)
        #expect(guest.evidence[0] == "no BIOS path: GPT: boot code in sector 0, but BIOS boot partition 1 is empty: GRUB's core.img was never installed in it")
    }

    @Test func damagedGPTHeadersEndTheLookAtPartitions() throws {
        let folder = try TemporaryFolder()
        for (name, count, lba) in [("huge-count", UInt32.max, UInt64(2)), ("past-end", 128, UInt64(1) << 40), ("overflow", 128, UInt64.max / 256)] {
            let path = folder.file("\(name).raw")
            let image = try ImageBuilder(path: path, size: Self.size)
            try image.write(Self.mbr(bootCode: false, types: [0xEE]), at: 0)
            try Self.gpt(in: image, sectorSize: 512, firstType: GuestInspection.efiSystemPartitionGUID, entryCount: count, entryLBA: lba)
            let guest = try Self.inspect(path)
            #expect(guest.partitionTable == .gpt && !guest.hasEFISystemPartition, "\(name)")
        }
    }

    @Test func inspectionReadsThroughTheImageFormat() throws {
        let folder = try TemporaryFolder()
        let image = try ImageBuilder(path: folder.file("gpt.raw"), size: 40 << 20)
        try image.write(Self.mbr(bootCode: false, types: [0xEE]), at: 0)
        try Self.gpt(in: image, sectorSize: 512, firstType: GuestInspection.efiSystemPartitionGUID)
        for format in [OutputFormat.vhdx, .vmdk, .vhdDynamic] {
            let output = folder.file("out.\(format.rawValue)")
            try Exporter.export(source: folder.file("gpt.raw"), to: .file(output), options: fixedOptions(format))
            #expect(try Self.inspect(output).bootsWithUEFIOnly, "\(format)")
        }
    }

    /// GRUB's boot.img needs no active partition: it loads core.img from the LBA at 0x5C.
    /// With that sector empty, the EFI system partition is the only way in.
    @Test(arguments: [true, false])
    func grubBootImageLoadsCoreImageWithoutAnActivePartition(coreInstalled: Bool) throws {
        let folder = try TemporaryFolder()
        let image = try ImageBuilder(path: folder.file("grub.raw"), size: Self.size)
        var sector = Self.mbr(bootCode: true, types: [0xEF, 0x83])
        sector.replaceSubrange(0x180..<0x185, with: Array("GRUB ".utf8))  // boot.img's message text
        sector.storeLittleEndian(UInt64(1), at: 0x5C)  // core.img at LBA 1
        try image.write(sector, at: 0)
        try image.write(GuestDisk.espFAT(), at: 2048 * 512)
        if coreInstalled { try image.write(Array("core".utf8), at: 512) }
        let guest = try Self.inspect(folder.file("grub.raw"))
        #expect(guest.firmware == (coreInstalled ? .both : .efi))
        #expect(
            guest.evidence[0].hasPrefix(
                coreInstalled
                    ? "BIOS path: GRUB's boot.img in sector 0, loading core.img from LBA 1" : "no BIOS path: MBR boot code in sector 0 but no active partition")
        )
    }

    /// A standard MBR chains to the active partition's first sector: only one that ends
    /// 0x55AA and holds code is a BIOS path.
    @Test(arguments: [true, false])
    func activePartitionNeedsABootSector(hasBootSector: Bool) throws {
        let folder = try TemporaryFolder()
        let image = try ImageBuilder(path: folder.file("active.raw"), size: Self.size)
        var sector = Self.mbr(bootCode: true, types: [0x83])
        sector[446] = 0x80  // active
        try image.write(sector, at: 0)
        if hasBootSector { try image.write([0xEB, 0x3C, 0x90] + [UInt8](repeating: 0, count: 507) + [0x55, 0xAA], at: 2048 * 512) }
        let guest = try Self.inspect(folder.file("active.raw"))
        #expect(guest.firmware == (hasBootSector ? .bios : .none))
        #expect(guest.evidence[0].contains("active partition 1"), "\(guest.evidence)")
    }

    /// UEFI firmware reads a GPT only behind a protective MBR entry (status 0, type 0xEE,
    /// from LBA 1) and with a valid header and entry array, the backup in the last sector
    /// standing in for a damaged primary (EDK2 PartitionDxe, Gpt.c); otherwise it sees no
    /// EFI system partition. OVMF showed each case: it boots the first and last, and drops to
    /// its shell on the others.
    @Test(arguments: [
        ("valid", GuestInspection.BootFirmware.efi, ""),
        ("sector 0 zeroed", .none, "no protective MBR entry"),
        ("protective entry from LBA 2048", .none, "no protective MBR entry"),
        ("primary header CRC32 wrong, no backup", .none, "neither GPT header is valid: the primary (LBA 1) has a header CRC32 of 0x"),
        ("entry array CRC32 wrong", .none, "has an entry array CRC32 of 0x"),
        ("primary header CRC32 wrong, backup valid", .efi, ""),
    ])
    func uefiReadsOnlyAGPTItAccepts(variant: String, firmware: GuestInspection.BootFirmware, evidence: String) throws {
        let folder = try TemporaryFolder()
        let path = folder.file("gpt.raw")
        let image = try ImageBuilder(path: path, size: Self.size)
        var sector0 = Self.mbr(bootCode: false, types: [0xEE])
        if variant == "sector 0 zeroed" { sector0 = [UInt8](repeating: 0, count: 512) }
        if variant == "protective entry from LBA 2048" { sector0.storeLittleEndian(UInt32(2048), at: 446 + 8) }
        try image.write(sector0, at: 0)
        try Self.gpt(
            in: image, sectorSize: 512, firstType: GuestInspection.efiSystemPartitionGUID, backup: variant.hasSuffix("backup valid"),
            damagePrimary: variant.hasPrefix("primary header"))
        if variant == "entry array CRC32 wrong" { try image.write([0x42], at: 1024 + 200) }
        let guest = try Self.inspect(path)
        #expect(guest.partitionTable == .gpt && guest.hasEFISystemPartition)
        #expect(guest.firmware == firmware, "\(guest.evidence)")
        if evidence.isEmpty {
            #expect(guest.gptProblem == nil && guest.fields[0].value.hasPrefix("gpt (protective MBR)") && !guest.fields[0].value.contains("not read"))
        } else {
            #expect(guest.evidence[1].hasPrefix("no UEFI path: EFI system partition 1, but UEFI firmware does not read this GPT: "), "\(guest.evidence)")
            #expect(guest.evidence[1].contains(evidence), "\(guest.evidence)")
            #expect(guest.fields[0].value.hasSuffix(", not read by UEFI firmware"))
        }
    }

    /// A GPT whose sector 0 is a hybrid MBR (the 0xEE entry and an active partition) boots
    /// under a BIOS through standard MBR code, as on an MBR disk; GRUB's boot.img loads its
    /// core.img whatever the table. Both beside an EFI system partition: both firmwares.
    @Test(arguments: ["hybrid", "grub"])
    func gptBIOSPathsThroughSector0(kind: String) throws {
        let folder = try TemporaryFolder()
        let path = folder.file("\(kind).raw")
        let image = try ImageBuilder(path: path, size: Self.size)
        var sector0 = Self.mbr(bootCode: true, types: kind == "hybrid" ? [0xEE, 0x0C] : [0xEE])
        if kind == "hybrid" {
            sector0[446 + 16] = 0x80  // partition 2, active, from LBA 2048
            try image.write([0xEB, 0x3C, 0x90] + [UInt8](repeating: 0, count: 507) + [0x55, 0xAA], at: 2048 * 512)
        } else {
            sector0.replaceSubrange(0x180..<0x185, with: Array("GRUB ".utf8))
            sector0.storeLittleEndian(UInt64(100), at: 0x5C)  // core.img at LBA 100, past the entries
            try image.write(Array("core".utf8), at: 100 * 512)
        }
        try image.write(sector0, at: 0)
        try Self.gpt(in: image, sectorSize: 512, firstType: GuestInspection.efiSystemPartitionGUID)
        let guest = try Self.inspect(path)
        #expect(guest.firmware == .both, "\(guest.evidence)")
        #expect(
            guest.evidence[0].hasPrefix(
                kind == "hybrid"
                    ? "BIOS path: GPT with a hybrid MBR whose active partition 2 starts with a boot sector" : "BIOS path: GRUB's boot.img in sector 0"),
            "\(guest.evidence)")
    }

    /// A disk that is one FAT filesystem (mkfs.fat on the whole disk) has a 0x55AA sector 0
    /// whose "entries" are zeros or boot code: no partition table, as libblkid reads it. UEFI
    /// firmware reads the filesystem whole and starts its \EFI\BOOT\BOOTX64.EFI if it has
    /// one; a BIOS runs its code, which for mkfs.fat's stub only prints "This is not a
    /// bootable disk". `mkfs.fat --mbr=y` adds an active entry from LBA 0, the filesystem
    /// itself: still no partition table.
    @Test(arguments: [
        ("stub", true, GuestInspection.BootFirmware.efi), ("syslinux", true, .both), ("mbr=y", false, .none),
    ])
    func aWholeDiskFATFilesystemIsNoPartitionTable(variant: String, loader: Bool, firmware: GuestInspection.BootFirmware) throws {
        let folder = try TemporaryFolder()
        let path = folder.file("fat.raw")
        let image = try ImageBuilder(path: path, size: Self.size)
        var volume = GuestDisk.espFAT(loader: loader ? "BOOTX64.EFI" : nil)
        volume.replaceSubrange(0x3E..<0x41, with: [0x0E, 0x1F, 0xBE])  // push cs; pop ds; mov si, ...
        let text =
            variant == "syslinux"
            ? "SYSLINUX loader" : "This is not a bootable disk.  Please insert a bootable floppy and\r\npress any key to try again ... \r\n"
        volume.replaceSubrange(0x5B..<(0x5B + text.utf8.count), with: Array(text.utf8))
        if variant == "mbr=y" {
            volume[446] = 0x80
            volume[446 + 4] = 0x01  // FAT12, from LBA 0
            volume.storeLittleEndian(UInt32(128), at: 446 + 12)
        }
        try image.write(volume, at: 0)
        let guest = try Self.inspect(path)
        #expect(guest.partitionTable == .none && guest.bootSectorFilesystem == "FAT")
        #expect(guest.fields[0].value == "none (sector 0 is a FAT filesystem's boot sector)")
        #expect(guest.firmware == firmware, "\(guest.evidence)")
        let name = "the disk's one FAT filesystem (no partition table: UEFI firmware reads it whole, as it reads removable media)"
        if loader {
            #expect(guest.uefiPath == name + ", holding \\EFI\\BOOT\\BOOTX64.EFI (x64)")
        } else {
            #expect(guest.evidence[1].hasPrefix("no UEFI path: " + name + ", holds no \\EFI\\BOOT\\BOOTX64.EFI"), "\(guest.evidence)")
        }
        if variant != "syslinux" { #expect(guest.evidence[0].contains("mkfs.fat's stub, which prints \"This is not a bootable disk\""), "\(guest.evidence)") }
    }

    /// The EFI system partition must hold the removable-media loader a machine without boot
    /// entries starts: one whose loader folder is only a distribution's own (`\EFI\debian\`),
    /// an empty loader or no FAT at all is no UEFI path; an AArch64 loader is one. Each FAT is
    /// mkfs.vfat's of each type, filled by mtools, when they are here (the handmade FAT12 of
    /// the other tests is imgship's reader checked against itself).
    @Test(
        .enabled(if: ["mkfs.vfat", "mmd", "mcopy"].allSatisfy { which($0) != nil }, "needs dosfstools and mtools"),
        arguments: [
            ("12", "EFI/BOOT/BOOTX64.EFI", true), ("16", "EFI/BOOT/bootx64.efi", true), ("32", "EFI/BOOT/BOOTAA64.EFI", true),
            ("32", "EFI/debian/grubx64.efi", false), ("16", "EFI/BOOT/BOOTX64.EFI:empty", false), ("16", "EFI/BOOT/BOOTX64.EFI:text", false),
            ("16", "EFI/BOOT/BOOTX64.EFI:aa64", false), ("none", "", false),
        ])
    func theSystemPartitionMustHoldTheRemovableMediaLoader(fatType: String, file: String, boots: Bool) throws {
        let folder = try TemporaryFolder()
        let path = folder.file("disk.raw")
        let partitionSize: UInt64 = 40 << 20
        let image = try ImageBuilder(path: path, size: partitionSize + (2 << 20))
        try image.write(Self.mbr(bootCode: false, types: [0xEE]), at: 0)
        try Self.gpt(in: image, sectorSize: 512, firstType: GuestInspection.efiSystemPartitionGUID)
        if fatType != "none" {
            let fat = folder.file("esp.fat")
            try #require(runProcess("/bin/sh", ["-c", "truncate -s \(partitionSize) \"$1\"", "sh", fat]).status == 0)
            try #require(try runProcess(try #require(which("mkfs.vfat")), ["-F", fatType, fat]).status == 0)
            let name = file.split(separator: ":").first.map(String.init) ?? file
            var folderPath = ""
            for part in name.split(separator: "/").dropLast() {
                folderPath += "/" + part
                try #require(try runProcess(try #require(which("mmd")), ["-i", fat, "::" + folderPath]).status == 0)
            }
            let content = folder.file("loader.efi")
            let bytes: [UInt8] =
                switch file.split(separator: ":").last {
                case "empty": []
                case "text": Array("#!/bin/sh\necho not a loader\n".utf8)
                case "aa64": GuestDisk.efiApplication(machine: 0xAA64)  // an Arm loader under the x64 name
                default: GuestDisk.efiApplication(machine: name.contains("AA64") ? 0xAA64 : 0x8664)
                }
            try Data(bytes).write(to: URL(fileURLWithPath: content))
            try #require(try runProcess(try #require(which("mcopy")), ["-i", fat, content, "::/" + name]).status == 0)
            try image.write(Array(try Data(contentsOf: URL(fileURLWithPath: fat))), at: 1 << 20)
        } else {
            try image.write([UInt8](repeating: 0, count: 128 * 512), at: 1 << 20)
        }
        let guest = try Self.inspect(path)
        #expect(guest.firmware == (boots ? .efi : .none), "\(guest.evidence)")
        if boots {
            #expect(
                guest.uefiPath?.hasSuffix(", holding \\EFI\\BOOT\\" + (file.contains("AA64") ? "BOOTAA64.EFI (AArch64)" : "BOOTX64.EFI (x64)")) == true,
                "\(guest.evidence)")
        } else {
            let why =
                switch file.split(separator: ":").last ?? "" {
                case _ where fatType == "none": "holds no FAT filesystem"
                case "empty": "holds an empty \\EFI\\BOOT\\BOOTX64.EFI"
                case "text", "aa64": "holds \\EFI\\BOOT\\BOOTX64.EFI, which is no x64 EFI application (PE/COFF, subsystem 10)"
                default: "holds no \\EFI\\BOOT\\ folder"
                }
            #expect(guest.evidence[1].contains("partition 1, " + why), "\(guest.evidence)")
        }
    }

    /// Standard MBR code chains only to the active partition: syslinux's mbr.bin and the
    /// Windows MBR with none stop ("Missing operating system"); code imgship does not know is
    /// still counted as a loader of fixed sectors.
    @Test(arguments: [("Multiple active partitions.", false), ("Invalid partition table", false), ("LILO", true)])
    func standardMBRCodeWithoutAnActivePartitionBootsNothing(message: String, boots: Bool) throws {
        let folder = try TemporaryFolder()
        let path = folder.file("mbr.raw")
        let image = try ImageBuilder(path: path, size: Self.size)
        var sector0 = Self.mbr(bootCode: true, types: [0x0C])
        sector0.replaceSubrange(0x100..<(0x100 + message.utf8.count), with: Array(message.utf8))
        try image.write(sector0, at: 0)
        let guest = try Self.inspect(path)
        #expect(guest.firmware == (boots ? .bios : .none), "\(guest.evidence)")
        if !boots {
            #expect(guest.evidence[0].hasSuffix("in sector 0 and no active partition: the code stops (\"Missing operating system\") with nothing to chain to"))
        }
    }

    /// EDK2's boot manager tries the removable-media loader on every FAT filesystem of the
    /// disk, whatever its partition type (a USB installer's 0x0C, a GPT basic data partition);
    /// EFI system partitions come first. A GPT entry the firmware ignores (outside the usable
    /// LBAs, overlapping another, attribute bit 1) is no path.
    @Test(arguments: ["mbr 0x0C", "gpt basic data", "gpt attribute bit 1", "gpt overlapping", "gpt out of range"])
    func anyFATPartitionTheFirmwareSeesCanHoldTheLoader(variant: String) throws {
        let folder = try TemporaryFolder()
        let path = folder.file("disk.raw")
        let image = try ImageBuilder(path: path, size: Self.size)
        let boots = variant == "mbr 0x0C" || variant == "gpt basic data"
        if variant == "mbr 0x0C" {
            try image.write(Self.mbr(bootCode: false, types: [0x0C]), at: 0)
        } else {
            try image.write(Self.mbr(bootCode: false, types: [0xEE]), at: 0)
            let basicData = hexBytes("a2 a0 d0 eb e5 b9 33 44 87 c0 68 b6 b7 26 99 c7")  // EBD0A0A2-B9E5-4433-87C0-68B6B72699C7
            var entries = GuestDisk.espEntry(type: variant == "gpt basic data" ? basicData : GuestInspection.efiSystemPartitionGUID, firstLBA: 2048)
            switch variant {
            case "gpt attribute bit 1": entries.storeLittleEndian(UInt64(1 << 1), at: 48)
            case "gpt overlapping": entries += GuestDisk.espEntry(type: basicData, firstLBA: 2100)
            case "gpt out of range": entries.storeLittleEndian(Self.size / 512 + 10, at: 40)
            default: break
            }
            entries += [UInt8](repeating: 0, count: 128 * 128 - entries.count)
            let header = GuestDisk.gptHeader(myLBA: 1, entryLBA: 2, entries: entries, firstUsable: 34, lastUsable: Self.size / 512 - 34)
            try image.write(header, at: 512)
            try image.write(entries, at: 1024)
        }
        try image.write(GuestDisk.espFAT(), at: 2048 * 512)
        let guest = try Self.inspect(path)
        #expect(guest.firmware == (boots ? .efi : .none), "\(guest.evidence)")
        if boots {
            #expect(guest.uefiPath?.contains("EDK2 firmware reads any FAT partition of the disk") == true, "\(guest.evidence)")
        } else {
            let why = [
                "gpt attribute bit 1": "has attribute bit 1 (No Block IO Protocol)", "gpt overlapping": "overlaps partition 2",
                "gpt out of range": "lies outside the GPT's usable LBAs",
            ][variant]
            #expect(guest.evidence[1].contains(why ?? "?"), "\(guest.evidence)")
        }
    }

    /// A protective entry marked active (parted's pmbr_boot flag) is still protective: UEFI
    /// 2.10 §5.2.3 has firmware ignore BootIndicator. A wiped primary GPT header with a valid
    /// backup is a GPT, which the firmware restores.
    @Test(arguments: ["active protective entry", "primary header wiped"])
    func gptsFirmwareStillReads(variant: String) throws {
        let folder = try TemporaryFolder()
        let path = folder.file("gpt.raw")
        let image = try ImageBuilder(path: path, size: Self.size)
        var sector0 = Self.mbr(bootCode: false, types: [0xEE])
        if variant == "active protective entry" { sector0[446] = 0x80 }
        try image.write(sector0, at: 0)
        try Self.gpt(in: image, sectorSize: 512, firstType: GuestInspection.efiSystemPartitionGUID, backup: true)
        if variant == "primary header wiped" { try image.write([UInt8](repeating: 0, count: 512), at: 512) }
        let guest = try Self.inspect(path)
        #expect(guest.partitionTable == .gpt && guest.gptProblem == nil, "\(guest.evidence)")
        #expect(guest.firmware == .efi, "\(guest.evidence)")
    }

    /// mkfs.fat's stub left in sector 0 under a partition table written later boots nothing.
    @Test func mkfsFATStubUnderAPartitionTableBootsNothing() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("stub.raw")
        let image = try ImageBuilder(path: path, size: Self.size)
        var sector0 = Self.mbr(bootCode: true, types: [0x83])
        let stub = "This is not a bootable disk.  Please insert a bootable floppy and\r\n"
        sector0.replaceSubrange(0x77..<(0x77 + stub.utf8.count), with: Array(stub.utf8))
        try image.write(sector0, at: 0)
        let guest = try Self.inspect(path)
        #expect(guest.firmware == .none, "\(guest.evidence)")
        #expect(guest.evidence[0] == "no BIOS path: sector 0's code is mkfs.fat's stub, which prints \"This is not a bootable disk\" and stops")
    }

    /// A hostile table cannot make the look for a loader long: 120 EFI system partitions, each
    /// a FAT32 whose root directory's cluster chain loops on itself, full of other names. One
    /// budget of directory entries (four directories' worth) and 16 filesystems at most bound
    /// the bytes read, where each partition read alone would take 65,536 entries.
    @Test func loopingDirectoriesInManyPartitionsCostABoundedRead() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("hostile.raw")
        let count = 120
        let size: UInt64 = UInt64(2048 + count * 8 + 64) * 512
        let image = try ImageBuilder(path: path, size: size)
        try image.write(Self.mbr(bootCode: false, types: [0xEE]), at: 0)
        var entries: [UInt8] = []
        for index in 0..<count {
            var entry = GuestDisk.espEntry(type: GuestInspection.efiSystemPartitionGUID, firstLBA: UInt64(2048 + index * 8))
            entry.storeLittleEndian(UInt64(2048 + index * 8 + 7), at: 40)
            entries += entry
        }
        try image.write(GuestDisk.gptHeader(myLBA: 1, entryLBA: 2, entries: entries, firstUsable: 34, lastUsable: size / 512 - 34), at: 512)
        try image.write(entries, at: 1024)
        // FAT32: 512-byte sectors and clusters, 1 reserved sector, one FAT of 1 sector, 70,000
        // sectors claimed (over 65,525 clusters); cluster 2 (sector 2) is the root, and the
        // FAT sends it to itself.
        var volume = [UInt8](repeating: 0, count: 8 * 512)
        volume.replaceSubrange(0..<3, with: [0xEB, 0x58, 0x90])
        volume.storeLittleEndian(UInt16(512), at: 11)
        volume[13] = 1
        volume.storeLittleEndian(UInt16(1), at: 14)
        volume[16] = 1
        volume[21] = 0xF8
        volume.storeLittleEndian(UInt32(70_000), at: 32)
        volume.storeLittleEndian(UInt32(1), at: 36)
        volume.storeLittleEndian(UInt32(2), at: 44)
        volume[510] = 0x55
        volume[511] = 0xAA
        volume.storeLittleEndian(UInt32(2), at: 512 + 2 * 4)
        for slot in 0..<16 { volume.replaceSubrange((1024 + slot * 32)..<(1024 + slot * 32 + 11), with: Array("FILE\(String(format: "%04d", slot))TXT".utf8)) }
        for index in 0..<count { try image.write(volume, at: UInt64(2048 + index * 8) * 512) }
        let disk = CountingDisk(inner: try ImageReader.open(path: path).disk)
        let guest = try GuestInspection.inspect(disk)
        #expect(guest.firmware == .none, "\(guest.evidence)")
        // 4 x 65,536 entries of 32 bytes is 8 MiB; the GPT and boot sectors are a little more.
        #expect(disk.bytesRead < 9 << 20, "\(disk.bytesRead) bytes read")
    }
}

/// A disk that counts the bytes read from it.
final class CountingDisk: VirtualDisk, @unchecked Sendable {
    let inner: any VirtualDisk
    private(set) var bytesRead = 0
    init(inner: any VirtualDisk) { self.inner = inner }
    var path: String { inner.path }
    var size: UInt64 { inner.size }
    func dataRanges(in window: Range<UInt64>) throws(DiskImageError) -> [Range<UInt64>] { try inner.dataRanges(in: window) }
    func nextDataOffset(from offset: UInt64) -> UInt64? { inner.nextDataOffset(from: offset) }
    func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskImageError) {
        bytesRead += buffer.count
        try inner.readExactly(into: buffer, at: offset)
    }
}
