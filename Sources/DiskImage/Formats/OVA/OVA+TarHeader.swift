extension OVA {
    /// A USTAR header block (POSIX.1-1988 "ustar Interchange Format"), the tar form every OVA
    /// reader accepts: 512 bytes, numbers in zero-padded octal ASCII.
    ///
    /// ```
    /// 0 name[100]  100 mode[8]  108 uid[8]  116 gid[8]  124 size[12]  136 mtime[12]
    /// 148 chksum[8]  156 typeflag  157 linkname[100]  257 "ustar\0"  263 "00"
    /// 265 uname[32]  297 gname[32]  329 devmajor[8]  337 devminor[8]  345 prefix[155]
    /// ```
    struct TarHeader: Equatable, Sendable {
        enum Offset {
            static let name = 0
            static let mode = 100
            static let uid = 108
            static let gid = 116
            static let size = 124
            static let modificationTime = 136
            static let checksum = 148
            static let type = 156
            static let magic = 257
            static let version = 263
            static let userName = 265
            static let groupName = 297
            static let prefix = 345
        }
        static let regularFile = UInt8(ascii: "0")

        var name: String
        var size: UInt64
        /// Unix time, clamped to the 11 octal digits of the field.
        var modificationTime: UInt64
        var type: UInt8 = TarHeader.regularFile

        init(name: String, size: UInt64, modificationTime: UInt64, type: UInt8 = TarHeader.regularFile) {
            self.name = name
            self.size = size
            self.modificationTime = min(modificationTime, (1 << 33) - 1)
            self.type = type
        }

        /// A regular file's header; nil when `name` does not fit the 100-byte name field.
        func encoded() -> [UInt8]? {
            let nameBytes = Array(name.utf8)
            guard !nameBytes.isEmpty, nameBytes.count <= 100 else { return nil }
            var header = [UInt8](repeating: 0, count: TarBlock.size)
            func put(_ bytes: [UInt8], at offset: Int) { TarBlock.put(bytes, at: offset, in: &header) }
            put(nameBytes, at: Offset.name)  // 0 name
            put(TarBlock.number(0o644, width: 8), at: Offset.mode)  // 100 mode
            put(TarBlock.number(0, width: 8), at: Offset.uid)  // 108 uid
            put(TarBlock.number(0, width: 8), at: Offset.gid)  // 116 gid
            put(TarBlock.number(size, width: 12), at: Offset.size)  // 124 size: octal up to USTAR.largestOctalSize, else GNU base-256
            put(TarBlock.number(modificationTime, width: 12), at: Offset.modificationTime)  // 136 mtime
            header[Offset.type] = type  // 156 type
            put(Array("ustar".utf8) + [0], at: Offset.magic)  // 257 magic
            put(Array("00".utf8), at: Offset.version)  // 263 version
            put(Array("root".utf8), at: Offset.userName)  // 265 uname
            put(Array("root".utf8), at: Offset.groupName)  // 297 gname
            TarBlock.seal(&header)  // 148 checksum
            return header
        }

        /// Decodes a header block at `offset` of the archive `path`: nil for an all-zero block
        /// (the end of the archive). Throws when the block is not a USTAR header or its
        /// checksum is wrong.
        init?(decoding block: [UInt8], at offset: UInt64, path: String) throws(DiskImageError) {
            if block.allSatisfy({ $0 == 0 }) { return nil }
            func malformed(_ field: Int, _ reason: String) -> DiskImageError {
                .malformedImage(path: path, offset: offset + UInt64(field), reason: reason)
            }
            guard block.count == USTAR.blockSize, Array(block[257..<262]) == Array("ustar".utf8) else {
                throw malformed(Offset.magic, "not a USTAR header (an OVA is a tar archive)")
            }
            func octal(_ range: Range<Int>) -> UInt64? {
                let text = block[range].prefix { $0 != 0 && $0 != 0x20 }.drop { $0 == 0x20 }
                guard !text.isEmpty else { return 0 }
                var value: UInt64 = 0
                for digit in text {
                    guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7"), value < 1 << 60 else { return nil }
                    value = value * 8 + UInt64(digit - UInt8(ascii: "0"))
                }
                return value
            }
            guard TarBlock.checksumMatches(block) else {
                throw malformed(Offset.checksum, "the tar header checksum does not match the header")
            }
            if block[Offset.size] & 0x80 != 0 {
                guard block[124] == 0x80, block[125..<128].allSatisfy({ $0 == 0 }) else {
                    throw malformed(Offset.size, "a base-256 member size above 2^64")
                }
                size = block[128..<136].reduce(0) { $0 << 8 | UInt64($1) }
            } else {
                guard let value = octal(124..<136) else {
                    throw malformed(Offset.size, "the member size is not an octal number")
                }
                size = value
            }
            var nameBytes = Array(block[0..<100].prefix { $0 != 0 })
            let prefix = Array(block[345..<500].prefix { $0 != 0 })
            if !prefix.isEmpty { nameBytes = prefix + [UInt8(ascii: "/")] + nameBytes }
            name = String(decoding: nameBytes, as: UTF8.self)
            modificationTime = octal(136..<148) ?? 0
            type = block[Offset.type]
        }
    }
}

/// The tar format's constants and the header as bytes, as the OVA writer and tests use them.
enum USTAR {
    static let blockSize = 512
    /// Sizes up to 8 GiB - 1 fit the 11 octal digits of the size field; larger ones use the
    /// GNU base-256 form (high bit set, big-endian binary), which GNU tar, bsdtar, Python's
    /// tarfile and VMware's OVF Tool read. So does VirtualBox's OVA reader, IPRT's tar VFS
    /// (src/VBox/Runtime/common/zip/tarvfs.cpp: rtZipTarHdrFieldToNum takes base-256 for the
    /// size of any header, USTAR ones included), while it rejects the alternatives: a pax
    /// extended header ('x', 'g') fails with VERR_TAR_UNSUPPORTED_PAX_TYPE, and its OVF reader
    /// ignores `ovf:chunkSize` (ovfreader.cpp sets no chunk size). Base-256 is the one form
    /// for a disk over 8 GiB that every reader takes.
    static let largestOctalSize: UInt64 = (1 << 33) - 1

    /// A regular file's header; nil when `name` does not fit the 100-byte name field.
    static func header(name: String, size: UInt64, modificationTime: UInt64) -> [UInt8]? {
        OVA.TarHeader(name: name, size: size, modificationTime: modificationTime).encoded()
    }

    /// Zero bytes that pad `size` bytes of content to a whole block.
    static func padding(after size: UInt64) -> Int {
        Int((UInt64(blockSize) - size % UInt64(blockSize)) % UInt64(blockSize))
    }
}
