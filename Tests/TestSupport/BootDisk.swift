import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Small disks that really boot, built at test time from files alone (no loop
/// device, no mount): sfdisk writes the partition table into a sparse file, mkfs.vfat a FAT
/// file system into another, mtools copies files onto it, `syslinux --install` makes it
/// BIOS-bootable, and dd puts it in place. Each boots Debian's cloud kernel with an initramfs
/// whose `/init` prints `IMGSHIP-BOOT firmware=bios|efi` (efi when the kernel sees
/// /sys/firmware/efi) on the serial port and powers off. `boot` runs one under qemu-system with
/// SeaBIOS or OVMF and reports what the serial port showed.
///
/// What `tools/setup` installs: qemu-system-x86, ovmf, syslinux, syslinux-common, syslinux-efi,
/// mtools, dosfstools, fdisk, cpio, busybox-static, and the kernel's vmlinuz in
/// /var/cache/imgship-boot (IMGSHIP_BOOT_KERNEL names another).
public enum BootDisk {
    /// The firmware a machine boots with: SeaBIOS (qemu's default) or OVMF.
    public enum Firmware: String, Sendable, CaseIterable, CustomStringConvertible {
        case bios, efi
        public var description: String { self == .bios ? "SeaBIOS" : "OVMF" }
    }

    /// The five ways a disk is laid out for booting, each a case the firmware decision must get
    /// right.
    public enum Layout: String, Sendable, CaseIterable, CustomStringConvertible {
        /// syslinux's mbr.bin in sector 0, one active FAT partition with syslinux installed.
        case biosMBR = "bios-mbr"
        /// A GPT whose EFI system partition holds EFI/BOOT/BOOTX64.EFI; sector 0 has no code.
        case uefiGPT = "uefi-gpt"
        /// A GPT with syslinux's gptmbr.bin in sector 0 and the EFI system partition marked
        /// legacy BIOS bootable (attribute bit 2), holding both syslinux installs.
        case hybrid
        /// An MBR whose only partition has type 0xEF (EFI system), not active, no boot code.
        case uefiMBR = "uefi-mbr"
        /// Like uefi-gpt, but sector 0's first 440 bytes hold mbr.bin's code, as `sgdisk -o`
        /// leaves what was there: a BIOS runs it, finds no active partition and stops.
        case gptLeftoverCode = "gpt-leftover-mbr-code"

        public var description: String { rawValue }

        /// The firmware that boots it.
        public var bootsWith: Set<Firmware> {
            switch self {
            case .biosMBR: [.bios]
            case .hybrid: [.bios, .efi]
            case .uefiGPT, .uefiMBR, .gptLeftoverCode: [.efi]
            }
        }
    }

    /// Disks whose firmware is easy to misjudge, booted raw only: each checks imgship's
    /// judgement (`info`'s firmware) against what SeaBIOS and OVMF do with it.
    public enum JudgedLayout: String, Sendable, CaseIterable, CustomStringConvertible {
        /// No partition table: mkfs.fat on the whole disk (its "not a bootable disk" stub in
        /// sector 0), holding EFI/BOOT/BOOTX64.EFI. OVMF reads the disk as one filesystem.
        case wholeDiskFAT = "whole-disk-fat"
        /// A GPT whose sector 0 is a hybrid MBR: mbr.bin's code, the 0xEE entry and an active
        /// FAT entry over the EFI system partition, which holds both syslinux installs.
        case gptHybridMBR = "gpt-hybrid-mbr"
        /// A GPT EFI system partition whose loader is only under EFI/imgship/, as a distribution
        /// installs its own: without a boot entry, OVMF finds nothing to start.
        case espWithoutRemovableLoader = "esp-without-removable-loader"
        /// mbr.bin in sector 0 and a FAT partition with syslinux installed, not active: mbr.bin
        /// finds no active partition and stops.
        case mbrWithoutActivePartition = "mbr-without-active-partition"

        public var description: String { rawValue }

        /// The firmware that boots it, as booting shows.
        public var bootsWith: Set<Firmware> {
            switch self {
            case .wholeDiskFAT: [.efi]
            case .gptHybridMBR: [.bios, .efi]
            case .espWithoutRemovableLoader, .mbrWithoutActivePartition: []
            }
        }
    }

    /// The disk with `layout`, built with the others.
    public static func disk(_ layout: JudgedLayout) throws -> String {
        try builtDisk(layout.rawValue)
    }

    public static let marker = "IMGSHIP-BOOT firmware="
    public static let kernel =
        ProcessInfo.processInfo.environment["IMGSHIP_BOOT_KERNEL"] ?? "/var/cache/imgship-boot/vmlinuz"
    public static let ovmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
    public static let ovmfVariables = "/usr/share/OVMF/OVMF_VARS_4M.fd"
    static let syslinuxMBR = "/usr/lib/SYSLINUX/mbr.bin"
    static let syslinuxGPTMBR = "/usr/lib/SYSLINUX/gptmbr.bin"
    static let syslinuxEFI = "/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi"
    static let syslinuxEFIModule = "/usr/lib/syslinux/modules/efi64/ldlinux.e64"
    /// busybox-static's binary: it needs no libraries in the initramfs.
    static let busybox = "/bin/busybox"
    static let tools = ["qemu-system-x86_64", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "syslinux", "cpio", "gzip", "dd"]

    /// What is missing to build and boot the disks; empty when everything is there.
    public static let missing: [String] = {
        let files = [kernel, ovmfCode, ovmfVariables, syslinuxMBR, syslinuxGPTMBR, syslinuxEFI, syslinuxEFIModule, busybox]
        return tools.filter { which($0) == nil } + files.filter { !FileManager.default.fileExists(atPath: $0) }
    }()

    public static var isAvailable: Bool { missing.isEmpty }
    /// tools/test sets IMGSHIP_BOOT_SUITE=required (it has just run tools/setup): then a missing
    /// tool fails the run instead of skipping the suite.
    public static let isRequired = ProcessInfo.processInfo.environment["IMGSHIP_BOOT_SUITE"] == "required"
    /// Why the boot suite is skipped, for `.enabled(if:_:)`.
    public static var skipReason: String {
        "boot suite skipped: missing \(missing.joined(separator: ", ")); bash tools/setup installs them"
    }

    /// The disk with `layout`, a 64 MiB sparse raw file, built once per test process (all five
    /// together) into a folder removed at exit.
    public static func disk(_ layout: Layout) throws -> String {
        try builtDisk(layout.rawValue)
    }

    /// The disk `name`.raw among those built, or why they could not be.
    private static func builtDisk(_ name: String) throws -> String {
        switch built {
        case let .success(folder): return folder + "/" + name + ".raw"
        case let .failure(error): throw error
        }
    }

    private static let built: Result<String, BootError> = {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("imgship-boot-\(UUID().uuidString)").path
        atexit { if let folder = try? BootDisk.built.get() { try? FileManager.default.removeItem(atPath: folder) } }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try buildAll(in: folder)
            return .success(folder)
        } catch let error as BootError {
            return .failure(error)
        } catch {
            return .failure(BootError("building the boot disks in \(folder): \(error)"))
        }
    }()

    /// The partition: 62 MiB from sector 2048 (1 MiB), leaving room for the backup GPT at the
    /// end of the 64 MiB disk.
    static let diskBytes = 64 << 20
    static let partitionStart = 2048
    static let partitionSectors = 126_976
    /// C12A7328-F81F-11D2-BA4B-00A0C93EC93B: the EFI system partition (UEFI 2.10, 5.3.3).
    static let espType = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"

    private static func buildAll(in folder: String) throws {
        let initramfs = folder + "/initrd.gz"
        try buildInitramfs(initramfs, staging: folder + "/initramfs")
        let config = folder + "/syslinux.cfg"
        // No prompt, no wait; panic=-1 reboots at once on a panic, which -no-reboot turns into
        // qemu's exit. quiet keeps the serial port (and so the boot) short. no_timer_check
        // (Documentation/admin-guide/kernel-parameters.txt): under TCG on a busy host the
        // kernel's IO-APIC timer check can fail and panic ("IO-APIC + timer doesn't work!").
        try Data(
            """
            DEFAULT linux
            PROMPT 0
            TIMEOUT 0
            LABEL linux
              LINUX /vmlinuz
              INITRD /initrd.gz
              APPEND console=ttyS0 panic=-1 quiet no_timer_check

            """.utf8
        ).write(to: URL(fileURLWithPath: config))

        // Three FAT file systems: BIOS loader only, EFI loader only, both. A BIOS-only disk has
        // no EFI/BOOT/BOOTX64.EFI, because OVMF boots that from any FAT partition, whatever its
        // type: a BIOS-only disk with it would not be BIOS-only.
        let biosFAT = folder + "/bios.fat", efiFAT = folder + "/efi.fat", bothFAT = folder + "/both.fat"
        for (fat, bios, efi) in [(biosFAT, true, false), (efiFAT, false, true), (bothFAT, true, true)] {
            try makeFAT(fat, kernel: kernel, initramfs: initramfs, config: config, bios: bios, efi: efi)
        }
        let bootable = "start=\(partitionStart), size=\(partitionSectors)"
        for layout in Layout.allCases {
            let (table, fat, code): (String, String, String?) =
                switch layout {
                case .biosMBR: ("label: dos\n\(bootable), type=c, bootable\n", biosFAT, syslinuxMBR)
                case .uefiGPT: ("label: gpt\n\(bootable), type=\(espType)\n", efiFAT, nil)
                case .hybrid: ("label: gpt\n\(bootable), type=\(espType), attrs=LegacyBIOSBootable\n", bothFAT, syslinuxGPTMBR)
                case .uefiMBR: ("label: dos\n\(bootable), type=ef\n", efiFAT, nil)
                case .gptLeftoverCode: ("label: gpt\n\(bootable), type=\(espType)\n", efiFAT, syslinuxMBR)
                }
            let disk = folder + "/" + layout.rawValue + ".raw"
            FileManager.default.createFile(atPath: disk, contents: nil)
            try FileHandle(forWritingTo: URL(fileURLWithPath: disk)).truncate(atOffset: UInt64(diskBytes))
            let script = folder + "/" + layout.rawValue + ".sfdisk"
            try Data(table.utf8).write(to: URL(fileURLWithPath: script))
            try shell(#"sfdisk --quiet "$1" < "$2""#, disk, script)
            try tool("dd", "if=\(fat)", "of=\(disk)", "bs=512", "seek=\(partitionStart)", "conv=notrunc,sparse", "status=none")
            // Only the boot code area: the partition table sfdisk wrote stays.
            if let code { try tool("dd", "if=\(code)", "of=\(disk)", "bs=440", "count=1", "conv=notrunc", "status=none") }
        }
        try buildJudged(in: folder, initramfs: initramfs, config: config, biosFAT: biosFAT, bothFAT: bothFAT)
    }

    private static func buildJudged(in folder: String, initramfs: String, config: String, biosFAT: String, bothFAT: String) throws {
        let otherFolderFAT = folder + "/other-folder.fat"
        try makeFAT(otherFolderFAT, kernel: kernel, initramfs: initramfs, config: config, bios: false, efi: true, efiFolder: "imgship")
        let bootable = "start=\(partitionStart), size=\(partitionSectors)"
        for layout in JudgedLayout.allCases {
            let disk = folder + "/" + layout.rawValue + ".raw"
            if layout == .wholeDiskFAT {
                try makeFAT(disk, kernel: kernel, initramfs: initramfs, config: config, bios: false, efi: true, hiddenSectors: 0, kibibytes: diskBytes >> 10)
                continue
            }
            FileManager.default.createFile(atPath: disk, contents: nil)
            try FileHandle(forWritingTo: URL(fileURLWithPath: disk)).truncate(atOffset: UInt64(diskBytes))
            let (table, fat): (String, String) =
                switch layout {
                case .gptHybridMBR: ("label: gpt\n\(bootable), type=\(espType)\n", bothFAT)
                case .espWithoutRemovableLoader: ("label: gpt\n\(bootable), type=\(espType)\n", otherFolderFAT)
                case .mbrWithoutActivePartition, .wholeDiskFAT: ("label: dos\n\(bootable), type=c\n", biosFAT)
                }
            let script = folder + "/" + layout.rawValue + ".sfdisk"
            try Data(table.utf8).write(to: URL(fileURLWithPath: script))
            try shell(#"sfdisk --quiet "$1" < "$2""#, disk, script)
            try tool("dd", "if=\(fat)", "of=\(disk)", "bs=512", "seek=\(partitionStart)", "conv=notrunc,sparse", "status=none")
            if layout == .espWithoutRemovableLoader { continue }
            try tool("dd", "if=\(syslinuxMBR)", "of=\(disk)", "bs=440", "count=1", "conv=notrunc", "status=none")
            if layout == .gptHybridMBR {
                // The hybrid MBR (as gdisk's `h` writes one): entry 1 the protective 0xEE from
                // LBA 1 to the partition, entry 2 active, FAT32 (LBA), over the partition.
                var entries = [UInt8](repeating: 0, count: 64)
                func entry(_ index: Int, status: UInt8, type: UInt8, first: UInt32, count: UInt32) {
                    entries[index * 16] = status
                    entries[index * 16 + 4] = type
                    withUnsafeBytes(of: first.littleEndian) { entries.replaceSubrange((index * 16 + 8)..<(index * 16 + 12), with: $0) }
                    withUnsafeBytes(of: count.littleEndian) { entries.replaceSubrange((index * 16 + 12)..<(index * 16 + 16), with: $0) }
                }
                entry(0, status: 0, type: 0xEE, first: 1, count: UInt32(partitionStart - 1))
                entry(1, status: 0x80, type: 0x0C, first: UInt32(partitionStart), count: UInt32(partitionSectors))
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: disk))
                try handle.seek(toOffset: 446)
                try handle.write(contentsOf: Data(entries))
                try handle.close()
            }
        }
    }

    /// A FAT file system image of the partition's size holding the kernel, the initramfs and
    /// syslinux.cfg, with syslinux's BIOS install (`bios`) and EFI/BOOT/BOOTX64.EFI (`efi`).
    private static func makeFAT(
        _ fat: String, kernel: String, initramfs: String, config: String, bios: Bool, efi: Bool, efiFolder: String = "BOOT",
        hiddenSectors: Int = partitionStart, kibibytes: Int = partitionSectors / 2
    ) throws {
        // -h: the sectors before the partition (the BPB's hidden sectors field).
        try tool("mkfs.vfat", "-C", "-n", "IMGSHIPBOOT", "-h", String(hiddenSectors), fat, String(kibibytes))
        try tool("mcopy", "-i", fat, kernel, "::/vmlinuz")
        try tool("mcopy", "-i", fat, initramfs, "::/initrd.gz")
        if bios {
            try tool("mcopy", "-i", fat, config, "::/syslinux.cfg")
            try tool("syslinux", "--install", fat)
        }
        if efi {
            // syslinux.efi reads ldlinux.e64 and syslinux.cfg from its own folder.
            let loader = efiFolder == "BOOT" ? "BOOTX64.EFI" : "syslinux.efi"
            try tool("mmd", "-i", fat, "::/EFI", "::/EFI/\(efiFolder)")
            try tool("mcopy", "-i", fat, syslinuxEFI, "::/EFI/\(efiFolder)/\(loader)")
            try tool("mcopy", "-i", fat, syslinuxEFIModule, "::/EFI/\(efiFolder)/ldlinux.e64")
            try tool("mcopy", "-i", fat, config, "::/EFI/\(efiFolder)/syslinux.cfg")
        }
    }

    /// A gzipped newc cpio (the kernel's initramfs format, Documentation/driver-api/
    /// early-userspace/buffer-format.rst) of busybox and an /init that reports the firmware.
    private static func buildInitramfs(_ path: String, staging: String) throws {
        for folder in ["bin", "dev", "proc", "sys"] {
            try FileManager.default.createDirectory(atPath: staging + "/" + folder, withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: busybox, toPath: staging + "/bin/busybox")
        // The kernel makes /sys/firmware/efi only when it was started by UEFI firmware.
        let initScript = """
            #!/bin/busybox sh
            /bin/busybox mount -t devtmpfs dev /dev
            /bin/busybox mount -t sysfs sys /sys
            firmware=bios
            [ -d /sys/firmware/efi ] && firmware=efi
            echo "\(marker)$firmware" > /dev/ttyS0
            /bin/busybox poweroff -f

            """
        try Data(initScript.utf8).write(to: URL(fileURLWithPath: staging + "/init"))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: staging + "/init")
        try shell(#"cd "$1" && find . | cpio -o -H newc --quiet | gzip -1 > "$2""#, staging, path)
    }

    private static func tool(_ name: String, _ arguments: String...) throws {
        guard let path = which(name) else { throw BootError("\(name) is not installed; bash tools/setup installs it") }
        let result = try runProcess(path, arguments)
        guard result.status == 0 else {
            throw BootError("\(name) \(arguments.joined(separator: " ")) exited with \(result.status): \(result.standardError)")
        }
    }

    private static func shell(_ script: String, _ arguments: String...) throws {
        let result = try runProcess("/bin/sh", ["-c", script, "sh"] + arguments)
        guard result.status == 0 else { throw BootError("sh -c '\(script)' exited with \(result.status): \(result.standardError)") }
    }
}

public struct BootError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
