import Foundation
import TestSupport
import Testing

/// `imgship info` tells what the guest's first sectors say (what a target's
/// firmware choice is made from), in text and in `--json`.
@Suite("imgship info, the guest")
struct InfoGuestTests {
    /// A 1 MiB disk whose MBR has boot code and one partition of type 0xEF (EFI system),
    /// a FAT holding \EFI\BOOT\BOOTX64.EFI.
    func makeMBRDisk(_ path: String) throws {
        var sector = [UInt8](repeating: 0, count: 512)
        sector[0] = 0xEB  // a jump, as boot code starts
        sector[1] = 0x63
        sector[446 + 4] = 0xEF  // partition type (MBR entry 1)
        sector[446 + 8] = 0x01  // first LBA 1
        sector[446 + 12] = 0x7F  // 127 sectors
        sector[510] = 0x55
        sector[511] = 0xAA
        FileManager.default.createFile(atPath: path, contents: Data(sector + GuestDisk.espFAT()))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 1 << 20)
        try handle.close()
    }

    @Test func infoShowsThePartitionTableAndBootCode() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("mbr.raw")
        try makeMBRDisk(disk)
        let text = try runProcess(ExportCommandTests.binary, ["info", disk])
        #expect(text.status == 0, "\(text.standardError)")
        let lines = String(decoding: text.standardOutput, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.suffix(6).prefix(3) == ["partition table:   mbr", "efi system partition: yes", "bios boot code:    yes"])
        // Code in sector 0 but no active partition, and an EFI system partition: UEFI only.
        #expect(lines.suffix(3).first == "firmware: efi (UEFI firmware boots it, a BIOS does not)")
        let json = try runProcess(ExportCommandTests.binary, ["info", disk, "--json"])
        let document = try #require(try JSONSerialization.jsonObject(with: json.standardOutput) as? [String: Any])
        let guest = try #require(document["guest"] as? [String: Any])
        #expect(guest["partitionTable"] as? String == "mbr")
        #expect(guest["efiSystemPartition"] as? Bool == true)
        #expect(guest["biosBootCode"] as? Bool == true)
        #expect(document["firmware"] as? String == "efi")
        #expect(
            (document["firmwareEvidence"] as? [String])?.last
                == "UEFI path: MBR partition 1 of type 0xEF (an EFI system partition), holding \\EFI\\BOOT\\BOOTX64.EFI (x64)")
        // Through another format the guest is the same.
        let vhdx = folder.file("mbr.vhdx")
        #expect(try runProcess(ExportCommandTests.binary, ["export", disk, "-f", "vhdx", "-o", vhdx, "--no-progress"]).status == 0)
        let converted = try runProcess(ExportCommandTests.binary, ["info", vhdx])
        #expect(
            String(decoding: converted.standardOutput, as: UTF8.self).contains(
                "partition table:   mbr\nefi system partition: yes\nbios boot code:    yes\nfirmware: efi ("))
    }
}
