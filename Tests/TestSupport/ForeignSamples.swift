import Foundation

/// Files of the formats imgship recognises but does not read, one a kind, made by the tool
/// that writes that format where one is installed (qemu-img, gzip, xz, zstd, bzip2); the
/// formats qemu-img only reads (Bochs, cloop, DMG, COWD) and LUKS (qemu-img's key derivation
/// benchmark fails on a loaded machine: "Unable to get accurate CPU usage") get the bytes
/// qemu's probe functions look for, over a raw disk's data.
public enum ForeignSample: String, CaseIterable, Sendable, CustomStringConvertible {
    case qcow, qed, parallels, luks, bochs, cloop, dmg, cowd, gzip, xz, zstd, bzip2, lz4, zip, sevenZip, rar

    public var description: String { rawValue }

    /// What imgship's refusal calls it, after "is ".
    public var name: String {
        switch self {
        case .qcow: "a qcow (version 1) image"
        case .qed: "a QED image"
        case .parallels: "a Parallels image"
        case .luks: "a LUKS encrypted volume"
        case .bochs: "a Bochs growing image"
        case .cloop: "a cloop compressed image"
        case .dmg: "an Apple disk image (DMG)"
        case .cowd: "a VMDK version 3 (COWD) sparse extent"
        case .gzip: "a gzip-compressed file"
        case .xz: "an xz-compressed file"
        case .zstd: "a zstd-compressed file"
        case .bzip2: "a bzip2-compressed file"
        case .lz4: "an lz4-compressed file"
        case .zip: "a zip archive"
        case .sevenZip: "a 7-Zip archive"
        case .rar: "a RAR archive"
        }
    }

    /// The file name, as a user would have it.
    public var fileName: String {
        switch self {
        case .qcow: "disk.qcow"
        case .qed: "disk.qed"
        case .parallels: "disk.hds"
        case .luks: "disk.luks"
        case .bochs: "disk.bochs"
        case .cloop: "disk.cloop"
        case .dmg: "disk.dmg"
        case .cowd: "disk-s001.vmdk"
        case .gzip: "disk.raw.gz"
        case .xz: "disk.raw.xz"
        case .zstd: "disk.raw.zst"
        case .bzip2: "disk.raw.bz2"
        case .lz4: "disk.raw.lz4"
        case .zip: "disk.zip"
        case .sevenZip: "disk.7z"
        case .rar: "disk.rar"
        }
    }

    /// qemu-img's name for the format, when `qemu-img info` can confirm the sample is one.
    public var qemuFormat: String? {
        switch self {
        case .qcow, .qed, .parallels: rawValue
        default: nil
        }
    }

    /// The tools making the sample needs.
    public var tools: [String] {
        switch self {
        case .qcow, .qed, .parallels: ["qemu-img"]
        case .gzip, .xz, .zstd, .bzip2: [rawValue]
        case .zip: ["python3"]
        case .luks, .bochs, .cloop, .dmg, .cowd, .lz4, .sevenZip, .rar: []
        }
    }

    public var isAvailable: Bool { tools.allSatisfy { which($0) != nil } }

    /// Makes the sample in `folder` from 1 MiB of non-zero data; returns its path.
    public func make(in folder: TemporaryFolder) throws -> String {
        let path = folder.file(fileName)
        let raw = folder.file("payload-\(rawValue).raw")
        var payload = [UInt8](repeating: 0, count: 1 << 20)
        var generator = SplitMix64(seed: 21)
        for index in stride(from: 0, to: payload.count, by: 8) {
            withUnsafeBytes(of: generator.next()) { payload.replaceSubrange(index..<(index + 8), with: $0) }
        }
        func tool(_ name: String, _ arguments: [String]) throws {
            guard let executable = which(name) else { throw SampleError(text: "\(name) is not installed") }
            let result = try runProcess(executable, arguments)
            guard result.status == 0 else { throw SampleError(text: "\(name) \(arguments): \(result.standardError)") }
        }
        func bytes(_ header: [UInt8], at offset: Int = 0) throws {
            var contents = payload
            contents.replaceSubrange(offset..<(offset + header.count), with: header)
            try Data(contents).write(to: URL(fileURLWithPath: path))
        }
        func padded(_ text: String, _ length: Int) -> [UInt8] {
            Array(text.utf8) + [UInt8](repeating: 0, count: length - text.utf8.count)
        }
        switch self {
        case .qcow, .qed, .parallels:
            try tool("qemu-img", ["create", "-q", "-f", rawValue, path, "8M"])
        case .luks:
            // crypto/block-luks.c: the magic, then version 1 (be16), the cipher name.
            try bytes([0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE, 0, 1] + padded("aes", 32) + padded("xts-plain64", 32) + padded("sha256", 32))
        case .gzip, .xz, .zstd, .bzip2:
            try Data(payload).write(to: URL(fileURLWithPath: raw))
            try tool(rawValue, ["-q", "-k", raw])
            let suffix = [Self.gzip: ".gz", .xz: ".xz", .zstd: ".zst", .bzip2: ".bz2"][self] ?? ""
            try FileManager.default.moveItem(atPath: raw + suffix, toPath: path)
            try FileManager.default.removeItem(atPath: raw)
        case .bochs:
            // block/bochs.c: magic[32], type[16], subtype[16], version 0x00020000 (le32).
            try bytes(padded("Bochs Virtual HD Image", 32) + padded("Redolog", 16) + padded("Growing", 16) + [0, 0, 2, 0])
        case .cloop:
            try bytes(Array("#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n".utf8))
        case .dmg:
            // block/dmg.c: the "koly" block is the last 512 bytes.
            try bytes(Array("koly".utf8) + [0, 0, 0, 4, 0, 0, 2, 0], at: payload.count - 512)
        case .cowd:
            // block/vmdk.c: VMDK3_MAGIC, then version 1 (le32).
            try bytes(Array("COWD".utf8) + [1, 0, 0, 0])
        case .lz4:
            // The frame magic, then a frame descriptor (version 01, block independence; 4 MiB
            // blocks) and its checksum byte.
            try bytes([0x04, 0x22, 0x4D, 0x18, 0x64, 0x70, 0xB9])
        case .zip:
            // A real archive of the payload, as Python's zipfile writes it (deflated).
            try Data(payload).write(to: URL(fileURLWithPath: raw))
            try tool(
                "python3", ["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED).write(sys.argv[2], 'disk.raw')", path, raw])
            try FileManager.default.removeItem(atPath: raw)
        case .sevenZip:
            // 7zFormat.txt: the signature, then version 0.4.
            try bytes([0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C, 0x00, 0x04])
        case .rar:
            // RAR 5: "Rar!" 0x1A 0x07 0x01 0x00.
            try bytes(Array("Rar!".utf8) + [0x1A, 0x07, 0x01, 0x00])
        }
        return path
    }

    struct SampleError: Error, CustomStringConvertible {
        var text: String
        var description: String { text }
    }
}
