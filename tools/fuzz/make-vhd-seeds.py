#!/usr/bin/env python3
"""Small VHD seeds for the fuzzer: a dynamic disk with 4 KiB blocks (the readers accept any
power of two; imgship and qemu-img only write 2 MiB ones, too big to mutate quickly) and a
fixed disk. Usage: make-vhd-seeds.py RAW_IMAGE OUTPUT_DIR"""
import os, struct, sys, uuid

raw = open(sys.argv[1], "rb").read()
out = sys.argv[2]
size = len(raw)
sector = 512


def checksum(block):
    return (~sum(block)) & 0xFFFFFFFF


def footer(disk_type, data_offset):
    cylinders, heads, spt = 0xFFFF, 16, 255
    fields = struct.pack(">8sIIQI4sI4sQQHBBI", b"conectix", 2, 0x00010000, data_offset, 0,
                         b"win ", 0x00010000, b"Wi2k", size, size, cylinders, heads, spt, disk_type)
    body = bytearray(fields + struct.pack(">I", 0) + uuid.UUID(int=7).bytes + b"\0")
    body += bytes(512 - len(body))
    struct.pack_into(">I", body, 64, checksum(body))
    return bytes(body)


# Fixed: the bytes, then the footer.
open(os.path.join(out, "seed-fixed.vhd"), "wb").write(raw + footer(2, 0xFFFFFFFFFFFFFFFF))

# Dynamic, 4 KiB blocks: footer copy, header, BAT, then each non-zero block (bitmap + data).
block = 4096
entries = (size + block - 1) // block
table_offset = 1536
bat_bytes = (entries * 4 + sector - 1) // sector * sector
header = bytearray(struct.pack(">8sQQIIII", b"cxsparse", 0xFFFFFFFFFFFFFFFF, table_offset,
                               0x00010000, entries, block, 0))
header += bytes(1024 - len(header))
struct.pack_into(">I", header, 36, checksum(header))
bat = bytearray(b"\xff" * bat_bytes)
blocks = bytearray()
next_sector = (table_offset + bat_bytes) // sector
for index in range(entries):
    data = raw[index * block:(index + 1) * block].ljust(block, b"\0")
    if not any(data):
        continue
    struct.pack_into(">I", bat, index * 4, next_sector + len(blocks) // sector)
    blocks += b"\xff" * sector + data
dynamic = footer(3, 512)
with open(os.path.join(out, "seed-dynamic-4k.vhd"), "wb") as f:
    f.write(dynamic + header + bat + blocks + dynamic)
