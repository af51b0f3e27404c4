import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// `--to-device` refuses a device that is its source in disguise, by sysfs family and loop
/// backing file rather than by path, and a mounted device before the kernel's EBUSY. The
/// tree is a fake laid out as /sys/class/block and /sys/block are (sysfs(5)).
@Suite("Block device families")
struct DeviceFamilyTests {
    /// sda (8:0) with partition sda1 (8:1); sdb (8:16) apart; loop0 (7:0) backed by `backing`;
    /// dm-0 (253:0) built on sda1.
    static func fakeTree(in folder: TemporaryFolder, backing: String) throws -> String {
        let sysfs = folder.file("sys")
        func write(_ path: String, _ text: String) throws {
            let full = sysfs + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: full))
        }
        func folderAt(_ path: String) throws {
            try FileManager.default.createDirectory(atPath: sysfs + "/" + path, withIntermediateDirectories: true)
        }
        try write("class/block/sda/dev", "8:0\n")
        try write("class/block/sda/sda1/dev", "8:1\n")
        try write("class/block/sda/sda1/partition", "1\n")
        try write("class/block/sda1/dev", "8:1\n")
        try write("class/block/sda1/partition", "1\n")
        try folderAt("class/block/sda1/holders/dm-0")
        try write("class/block/sdb/dev", "8:16\n")
        try write("class/block/loop0/dev", "7:0\n")
        try write("block/loop0/loop/backing_file", backing + "\n")
        try write("class/block/dm-0/dev", "253:0\n")
        try folderAt("class/block/dm-0/slaves/sda1")
        return sysfs
    }

    static func device(_ major: UInt64, _ minor: UInt64) -> UInt64 { major << 8 | minor }

    static func node(_ path: String, device: UInt64 = 0, inode: UInt64 = 1, blockDevice: UInt64? = nil) -> SourceNode {
        SourceNode(path: path, identity: FileIdentity(device: device, inode: inode), blockDevice: blockDevice)
    }

    @Test func aSourceInDisguiseIsRefusedAndAStrangerIsNot() throws {
        let folder = try TemporaryFolder()
        let backing = folder.file("disk.raw")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: backing))
        let sysfs = try Self.fakeTree(in: folder, backing: backing)
        let noMounts = folder.file("mountinfo")
        try Data("22 1 0:21 / /proc rw - proc proc rw\n".utf8).write(to: URL(fileURLWithPath: noMounts))
        var info = stat()
        try #require(stat(backing, &info) == 0)
        let file = Self.node(backing, device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        func refusal(_ device: UInt64, _ sources: [SourceNode]) -> String? {
            OutputSafety.deviceRefusal("/dev/x", device: device, sources: sources, sysfs: sysfs, mountInfo: noMounts)
        }
        // A loop device backed by the source file.
        #expect(refusal(Self.device(7, 0), [file])?.contains("is backed by the source \(backing) (loop device loop0") == true)
        // The whole disk one of whose partitions holds the source's filesystem.
        let onPartition = Self.node("/mnt/disk.raw", device: Self.device(8, 1))
        #expect(
            refusal(Self.device(8, 0), [onPartition])
                == "holds the filesystem of the source /mnt/disk.raw (through sda1, which shares its storage); an export never writes onto what it reads")
        // A partition of the disk being read; a device mapped onto that partition.
        let disk = Self.node("/dev/sda", blockDevice: Self.device(8, 0))
        #expect(
            refusal(Self.device(8, 1), [disk]) == "is the source /dev/sda (through sda, which shares its storage); an export never writes onto what it reads")
        #expect(refusal(Self.device(253, 0), [disk])?.hasPrefix("is the source /dev/sda (through sda,") == true)
        // Another disk is fine.
        #expect(refusal(Self.device(8, 16), [file, onPartition, disk]) == nil)
    }

    @Test func aMountedDeviceOrPartitionIsRefused() throws {
        let folder = try TemporaryFolder()
        let sysfs = try Self.fakeTree(in: folder, backing: "/nowhere")
        let mountInfo = folder.file("mountinfo")
        try Data("22 1 0:21 / /proc rw - proc proc rw\n36 35 8:1 / /mnt/data rw,relatime - ext4 /dev/sda1 rw\n".utf8)
            .write(to: URL(fileURLWithPath: mountInfo))
        func refusal(_ device: UInt64) -> String? {
            OutputSafety.deviceRefusal("/dev/x", device: device, sources: [], sysfs: sysfs, mountInfo: mountInfo)
        }
        #expect(refusal(Self.device(8, 1)) == "is mounted at /mnt/data; unmount it first: --to-device writes over the whole device")
        #expect(refusal(Self.device(8, 0)) == "is mounted (its sda1) at /mnt/data; unmount it first: --to-device writes over the whole device")
        #expect(refusal(Self.device(8, 16)) == nil)
    }
}
