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
            sector.storeLittleEndian(UInt32(2048), at: entry + 8)  // first LBA
            sector.storeLittleEndian(UInt32(4096), at: entry + 12)  // sectors
        }
        sector[510] = 0x55
        sector[511] = 0xAA
        return sector
    }

    /// A GPT header at LBA 1 and its entry array at LBA 2 for `sectorSize`; entry 0 has type
    /// `firstType`, entry 1 a Linux filesystem.
    static func gpt(
        in image: ImageBuilder, sectorSize: Int, firstType: [UInt8], entryCount: UInt32 = 128,
        entryLBA: UInt64 = 2
    ) throws {
        var header = [UInt8](repeating: 0, count: 92)
        header.replaceSubrange(0..<8, with: Array("EFI PART".utf8))
        header.storeLittleEndian(UInt32(0x0001_0000), at: 8)
        header.storeLittleEndian(UInt32(92), at: 12)
        header.storeLittleEndian(UInt64(1), at: 24)
        header.storeLittleEndian(entryLBA, at: 72)
        header.storeLittleEndian(entryCount, at: 80)
        header.storeLittleEndian(UInt32(128), at: 84)
        try image.write(header, at: UInt64(sectorSize))
        let linux = hexBytes("af 3d c6 0f 83 84 72 47 8e 79 3d 69 d8 47 7d e4")  // 0FC63DAF-8483-4772-8E79-3D69D8477DE4
        try image.write(firstType + [UInt8](repeating: 1, count: 112) + linux, at: 2 * UInt64(sectorSize))
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
        let guest = try Self.inspect(folder.file("efi.raw"))
        #expect(guest.partitionTable == .mbr && guest.hasEFISystemPartition && !guest.hasBIOSBootCode)
        #expect(guest.firmware == .efi)
        #expect(guest.uefiPath == "MBR partition 2 of type 0xEF (an EFI system partition)")
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
        // The entry's first LBA (0x0101...) lies past the end: no core.img, nothing boots.
        #expect(guest.firmware == .none)
        #expect(guest.evidence[0] == "no BIOS path: GPT: boot code in sector 0, but BIOS boot partition 1 starts past the end of the disk")
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
}
