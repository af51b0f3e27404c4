extension GCE {
    /// The header of an old GNU format tar member ("ustar  " magic, GNU tar's
    /// `--format=oldgnu`; GNU tar manual, "GNU tar and POSIX tar", and its `tar.h`
    /// `struct oldgnu_header`), with the sparse map of a type 'S' member: four entries in
    /// the header, 21 in each extension block that follows while `isextended` is set.
    ///
    /// ```
    /// 0 name[100]  100 mode[8]  108 uid[8]  116 gid[8]  124 size[12] (stored bytes)
    /// 136 mtime[12]  148 chksum[8]  156 typeflag ('S' sparse, '0' regular)
    /// 257 "ustar  \0"  265 uname[32]  297 gname[32]  345 atime[12]  357 ctime[12]
    /// 386 sparse[4] {offset[12], numbytes[12]}  482 isextended  483 realsize[12]
    /// extension block: 0 sparse[21] {offset[12], numbytes[12]}  504 isextended
    /// ```
    /// Numbers are octal, NUL-terminated; one too large for 11 digits is GNU base-256 (the
    /// first byte 0x80, the value big-endian in the rest), which GNU tar and Python's
    /// tarfile read in every numeric field.
    struct SparseHeader: Equatable, Sendable {
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
            static let userName = 265
            static let groupName = 297
            static let sparse = 386
            static let isExtended = 482
            static let realSize = 483
            /// In an extension block.
            static let extensionIsExtended = 504
        }
        static let magic: [UInt8] = Array("ustar  ".utf8) + [0]
        static let headerEntries = 4
        static let extensionEntries = 21

        var name: String
        /// The disk's ranges that are stored, in order; everything else reads as zeros.
        var map: [Range<UInt64>]
        /// The disk's size (`realsize`).
        var realSize: UInt64
        var modificationTime: UInt64

        /// Bytes stored in the archive after the header blocks: the map's ranges, in order.
        var storedSize: UInt64 { map.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) } }

        /// One range covering the whole disk: a regular member.
        var isSparse: Bool { map != [0..<realSize] }

        /// The entries written: the map, then, as GNU tar writes it, an empty entry at the
        /// end of a disk that ends in a hole (its reader takes the size from there).
        var entries: [(offset: UInt64, count: UInt64)] {
            var entries = map.map { (offset: $0.lowerBound, count: $0.upperBound - $0.lowerBound) }
            if (map.last?.upperBound ?? 0) < realSize { entries.append((offset: realSize, count: 0)) }
            return entries
        }

        /// The header block and its extension blocks; nil when `name` does not fit.
        func encoded() -> [UInt8]? {
            let nameBytes = Array(name.utf8)
            guard !nameBytes.isEmpty, nameBytes.count < 100 else { return nil }
            var header = [UInt8](repeating: 0, count: TarBlock.size)
            func put(_ bytes: [UInt8], at offset: Int, in block: inout [UInt8]) { TarBlock.put(bytes, at: offset, in: &block) }
            let number = TarBlock.number
            put(nameBytes, at: Offset.name, in: &header)  // 0 name
            put(number(0o644, 8), at: Offset.mode, in: &header)  // 100 mode
            put(number(0, 8), at: Offset.uid, in: &header)  // 108 uid
            put(number(0, 8), at: Offset.gid, in: &header)  // 116 gid
            put(number(isSparse ? storedSize : realSize, 12), at: Offset.size, in: &header)  // 124 size
            put(number(min(modificationTime, (1 << 33) - 1), 12), at: Offset.modificationTime, in: &header)  // 136 mtime
            header[Offset.type] = isSparse ? UInt8(ascii: "S") : UInt8(ascii: "0")  // 156 typeflag
            put(Self.magic, at: Offset.magic, in: &header)  // 257 magic and version
            put(Array("root".utf8), at: Offset.userName, in: &header)  // 265 uname
            put(Array("root".utf8), at: Offset.groupName, in: &header)  // 297 gname
            var extensions: [[UInt8]] = []
            if isSparse {
                let entries = self.entries
                for (slot, entry) in entries.prefix(Self.headerEntries).enumerated() {  // 386 sparse[4]
                    put(number(entry.offset, 12), at: Offset.sparse + 24 * slot, in: &header)
                    put(number(entry.count, 12), at: Offset.sparse + 24 * slot + 12, in: &header)
                }
                put(number(realSize, 12), at: Offset.realSize, in: &header)  // 483 realsize
                var rest = entries.dropFirst(Self.headerEntries)
                header[Offset.isExtended] = rest.isEmpty ? 0 : 1  // 482 isextended
                while !rest.isEmpty {
                    var block = [UInt8](repeating: 0, count: TarBlock.size)
                    for (slot, entry) in rest.prefix(Self.extensionEntries).enumerated() {
                        put(number(entry.offset, 12), at: 24 * slot, in: &block)
                        put(number(entry.count, 12), at: 24 * slot + 12, in: &block)
                    }
                    rest = rest.dropFirst(Self.extensionEntries)
                    block[Offset.extensionIsExtended] = rest.isEmpty ? 0 : 1  // 504 isextended
                    extensions.append(block)
                }
            }
            TarBlock.seal(&header)  // 148 chksum
            return header + extensions.flatMap { $0 }
        }
    }
}
