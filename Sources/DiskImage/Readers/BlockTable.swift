/// A flat table of 32-bit entries, one per block of the disk (a VHD's BAT, a VDI's block map).
enum BlockTable {
    /// Reads the `count` entries at `offset` in 1 MiB pieces, so the table is held once, as
    /// entries, never twice as bytes; `check` sees each entry (its index, value and file offset)
    /// before it is kept. The caller has checked that the table lies inside the file.
    static func load(
        from file: SourceImage, count: Int, at offset: UInt64, bigEndian: Bool, reading what: String,
        check: (_ index: Int, _ entry: UInt32, _ entryOffset: UInt64) throws(DiskImageError) -> Void
    ) throws(DiskImageError) -> [UInt32] {
        var table: [UInt32] = []
        table.reserveCapacity(count)
        let piece = 1 << 18
        var index = 0
        while index < count {
            let length = min(piece, count - index)
            let bytes = try file.bytes(length * 4, at: offset + UInt64(index * 4), reading: what)
            for slot in 0..<length {
                let entry = bigEndian ? bytes.loadBigEndian(UInt32.self, at: slot * 4) : bytes.loadLittleEndian(UInt32.self, at: slot * 4)
                try check(index, entry, offset + UInt64(index * 4))
                table.append(entry)
                index += 1
            }
        }
        return table
    }
}
