#!/usr/bin/env python3
"""A small VHDX seed for the fuzzer (MS-VHDX v1.0): 1 MiB blocks, the BAT at 1 MiB, the metadata
region at 2 MiB, the disk's one block at 3 MiB; no log (length 0, GUID zero). imgship writes 32 MiB
blocks after a 1 MiB log, and qemu-img a 4 MiB preamble: both too big to mutate quickly.
Usage: make-vhdx-seeds.py RAW_IMAGE OUTPUT_DIR"""
import os, struct, sys

raw = open(sys.argv[1], "rb").read()
out = sys.argv[2]
size = len(raw)
MiB = 1 << 20
block = MiB
assert size <= block, "one block holds the seed disk"


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def guid(data1, data2, data3, data4):
    return struct.pack("<IHH", data1, data2, data3) + bytes(data4)


BAT = guid(0x2DC27766, 0xF623, 0x4200, [0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08])
METADATA = guid(0x8B7CA206, 0x4790, 0x4B9A, [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E])
ITEMS = [  # id, flags (2 virtual disk, 4 required), value
    (guid(0xCAA16737, 0xFA36, 0x4D43, [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B]), 4, struct.pack("<II", block, 0)),
    (guid(0x2FA54224, 0xCD1B, 0x4876, [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8]), 6, struct.pack("<Q", size)),
    (guid(0xBECA12AB, 0xB2E6, 0x4523, [0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46]), 6, bytes(range(16))),
    (guid(0x8141BF1D, 0xA96F, 0x4709, [0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F]), 6, struct.pack("<I", 512)),
    (guid(0xCDA348C7, 0x445D, 0x4471, [0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56]), 6, struct.pack("<I", 4096)),
]

image = bytearray(3 * MiB + size)
image[0:8] = b"vhdxfile"
for index, offset in enumerate((64 << 10, 128 << 10)):
    header = bytearray(4096)
    struct.pack_into("<4sIQ", header, 0, b"head", 0, index + 1)
    header[16:32] = bytes([1] * 16)
    header[32:48] = bytes([2] * 16)
    struct.pack_into("<HHIQ", header, 64, 0, 1, 0, 0)  # no log region
    struct.pack_into("<I", header, 4, crc32c(header))
    image[offset:offset + 4096] = header
regions = bytearray(64 << 10)
struct.pack_into("<4sIII", regions, 0, b"regi", 0, 2, 0)
regions[16:32] = BAT
struct.pack_into("<QII", regions, 32, MiB, MiB, 1)
regions[48:64] = METADATA
struct.pack_into("<QII", regions, 64, 2 * MiB, MiB, 1)
struct.pack_into("<I", regions, 4, crc32c(regions))
for offset in (192 << 10, 256 << 10):
    image[offset:offset + len(regions)] = regions
struct.pack_into("<Q", image, MiB, 3 * MiB | 6)  # block 0: fully present at 3 MiB
table = bytearray(64 << 10)
struct.pack_into("<8sHH", table, 0, b"metadata", 0, len(ITEMS))
item_offset = 64 << 10
items = b""
for index, (item, flags, value) in enumerate(ITEMS):
    table[32 + index * 32:48 + index * 32] = item
    struct.pack_into("<IIII", table, 48 + index * 32, item_offset + len(items), len(value), flags, 0)
    items += value
image[2 * MiB:2 * MiB + len(table)] = table
image[2 * MiB + len(table):2 * MiB + len(table) + len(items)] = items
image[3 * MiB:] = raw
open(os.path.join(out, "seed-dynamic.vhdx"), "wb").write(image)
