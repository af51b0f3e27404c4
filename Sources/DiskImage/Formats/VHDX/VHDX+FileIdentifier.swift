extension VHDX {
    /// The file type identifier (section 2.2.1) at offset 0: the signature "vhdxfile" and the
    /// creator's name in UTF-16 little-endian, in a 64 KiB structure of which the rest is
    /// reserved (zero). It has no checksum; readers look only at the signature.
    struct FileIdentifier: Equatable, Sendable {
        /// Bytes up to the creator field's end; the rest of the 64 KiB is zero.
        static let size = 8 + 512
        static let reservedSize = 64 * 1024
        static let signature = Array("vhdxfile".utf8)

        enum Offset {
            static let signature = 0
            /// 256 UTF-16LE code units, zero-ended when shorter.
            static let creator = 8
        }

        /// Who made the file; informative only.
        var creator: String

        init(creator: String) {
            self.creator = creator
        }

        func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: FileIdentifier.size)
            bytes.storeASCII("vhdxfile", at: Offset.signature)  // 0 signature
            for (index, unit) in creator.utf16.prefix(255).enumerated() {  // 8 creator, UTF-16LE
                bytes.storeLittleEndian(unit, at: Offset.creator + index * 2)
            }
            return bytes
        }

        /// Decodes the identifier in `bytes` (at least `size` bytes), which lie at `offset`
        /// of the file `path`.
        init(decoding bytes: [UInt8], at offset: UInt64 = 0, path: String = "VHDX file identifier") throws(DiskImageError) {
            guard bytes.count >= FileIdentifier.size, Array(bytes[0..<8]) == FileIdentifier.signature else {
                throw DiskImageError.malformedImage(path: path, offset: offset, reason: "no VHDX file identifier \"vhdxfile\"")
            }
            let units = stride(from: Offset.creator, to: FileIdentifier.size, by: 2).map { bytes.loadLittleEndian(UInt16.self, at: $0) }
            creator = String(decoding: units.prefix { $0 != 0 }, as: UTF16.self)
        }
    }
}
