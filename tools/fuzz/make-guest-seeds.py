#!/usr/bin/env python3
"""Seeds for the guest fuzz target: small raw disks whose boot structures imgship inspects
(a GPT with an EFI system partition holding a FAT12 with \\EFI\\BOOT\\BOOTX64.EFI, its backup
header, a hybrid MBR; an MBR with a type 0xEF partition and an active one; a disk that is one
FAT filesystem). Usage: make-guest-seeds.py CORPUS"""
import struct
import sys
import zlib

SECTOR = 512


def fat12(loader=True):
    """A 64 KiB FAT12 (128 sectors, one FAT, 16 root entries) holding EFI/BOOT/BOOTX64.EFI."""
    volume = bytearray(128 * SECTOR)
    volume[0:11] = b"\xeb\x3c\x90MSWIN4.1"
    struct.pack_into("<HBHBHHBH", volume, 11, 512, 1, 1, 1, 16, 128, 0xF8, 1)
    volume[510:512] = b"\x55\xaa"
    volume[512:520] = bytes([0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F])

    def entry(offset, name, directory, cluster, size=0):
        volume[offset:offset + 11] = name.ljust(11).encode()
        volume[offset + 11] = 0x10 if directory else 0x20
        struct.pack_into("<HI", volume, offset + 26, cluster, size)

    entry(2 * SECTOR, "EFI", True, 2)
    entry(3 * SECTOR, ".", True, 2)
    entry(3 * SECTOR + 32, "..", True, 0)
    entry(3 * SECTOR + 64, "BOOT", True, 3)
    entry(4 * SECTOR, ".", True, 3)
    entry(4 * SECTOR + 32, "..", True, 2)
    if loader:
        entry(4 * SECTOR + 64, "BOOTX64 EFI", False, 4, 512)
        # An x64 EFI application's first bytes: MZ, the PE header at 0x40, machine 0x8664,
        # a PE32+ optional header whose Subsystem (+68) is 10.
        volume[5 * SECTOR:5 * SECTOR + 2] = b"MZ"
        struct.pack_into("<I", volume, 5 * SECTOR + 0x3C, 0x40)
        struct.pack_into("<4sH", volume, 5 * SECTOR + 0x40, b"PE\0\0", 0x8664)
        struct.pack_into("<HH", volume, 5 * SECTOR + 0x40 + 20, 240, 0)
        struct.pack_into("<H", volume, 5 * SECTOR + 0x40 + 24, 0x20B)
        struct.pack_into("<H", volume, 5 * SECTOR + 0x40 + 24 + 68, 10)
    return volume


def mbr_entry(sector, index, status, kind, first, count):
    struct.pack_into("<B3sB3sII", sector, 446 + 16 * index, status, b"\0\0\0", kind, b"\0\0\0", first, count)


def gpt(disk, lba, entry_lba, entries):
    header = bytearray(92)
    header[0:8] = b"EFI PART"
    struct.pack_into("<II", header, 8, 0x10000, 92)
    struct.pack_into("<Q", header, 24, lba)
    struct.pack_into("<QIII", header, 72, entry_lba, len(entries) // 128, 128, zlib.crc32(entries))
    struct.pack_into("<I", header, 16, zlib.crc32(header))
    disk[lba * SECTOR:lba * SECTOR + 92] = header
    disk[entry_lba * SECTOR:entry_lba * SECTOR + len(entries)] = entries


def gpt_disk(hybrid):
    size = 256 << 10
    disk = bytearray(size)
    last = size // SECTOR - 1
    sector0 = bytearray(SECTOR)
    sector0[0:3] = b"\xeb\x63\x90"
    sector0[0x180:0x185] = b"GRUB "
    struct.pack_into("<Q", sector0, 0x5C, 300)
    mbr_entry(sector0, 0, 0, 0xEE, 1, last)
    if hybrid:
        mbr_entry(sector0, 1, 0x80, 0x0C, 64, 128)
    sector0[510:512] = b"\x55\xaa"
    disk[0:SECTOR] = sector0
    entries = bytearray(128 * 128)
    entries[0:16] = bytes.fromhex("28732ac11ff8d211ba4b00a0c93ec93b")
    struct.pack_into("<QQ", entries, 32, 64, 191)
    entries[128:144] = b"Hah!IdontNeedEFI"
    struct.pack_into("<QQQ", entries, 128 + 32, 192, 299, 4)
    gpt(disk, 1, 2, entries)
    gpt(disk, last, last - 32, entries)
    disk[64 * SECTOR:192 * SECTOR] = fat12()
    disk[300 * SECTOR:300 * SECTOR + 4] = b"core"
    return disk


def mbr_disk():
    disk = bytearray(160 << 10)
    sector0 = bytearray(SECTOR)
    sector0[0:3] = b"\xeb\x63\x90"
    sector0[0x100:0x11a] = b"Multiple active partitions"
    mbr_entry(sector0, 0, 0, 0xEF, 64, 128)
    mbr_entry(sector0, 1, 0x80, 0x83, 200, 100)
    sector0[510:512] = b"\x55\xaa"
    disk[0:SECTOR] = sector0
    disk[64 * SECTOR:192 * SECTOR] = fat12(loader=False)
    disk[200 * SECTOR:200 * SECTOR + 3] = b"\xeb\x3c\x90"
    disk[200 * SECTOR + 510:200 * SECTOR + 512] = b"\x55\xaa"
    return disk


def main():
    corpus = sys.argv[1]
    seeds = {"gpt-esp.raw": gpt_disk(False), "gpt-hybrid.raw": gpt_disk(True), "mbr-esp.raw": mbr_disk(), "whole-fat.raw": fat12()}
    for name, data in seeds.items():
        with open(f"{corpus}/{name}", "wb") as output:
            output.write(data)


main()
