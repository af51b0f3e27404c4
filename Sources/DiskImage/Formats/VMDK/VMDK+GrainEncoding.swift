extension VMDK {
    /// A grain as a stream-optimized extent stores it (VMware's Virtual Disk Format 1.1
    /// technote, "Stream-Optimized Compressed Sparse Extents"): a grain marker (the grain's
    /// first sector and the compressed size), the grain's bytes as one zlib stream, then zeros
    /// to the next sector boundary, where the next grain or marker starts.
    struct GrainEncoding {
        /// Room for one encoded grain of `grainBytes` at the compressor's worst case: marker
        /// plus deflate bound, rounded up to whole sectors.
        let slotBytes: Int

        init(level: DeflateLevel) {
            let bound = GrainCompressor(level: level).bound(forInputSize: grainBytes)
            slotBytes = roundUp(grainMarkerSize + bound, toMultipleOf: sectorSize)
        }

        /// Encodes the grain `input`, whose first sector is `lba`, at the start of `slot`
        /// (`slotBytes` long). Returns the encoded length, a whole number of sectors; nil when
        /// the compressed bytes did not fit the bound.
        func encode(
            _ input: UnsafeRawBufferPointer, lba: UInt64, with compressor: GrainCompressor, into slot: UnsafeMutableRawBufferPointer
        ) -> Int? {
            let data = UnsafeMutableRawBufferPointer(rebasing: slot[grainMarkerSize..<slotBytes])
            guard let compressedSize = compressor.compress(input, into: data) else { return nil }
            GrainMarker(lba: lba, compressedSize: UInt32(compressedSize)).store(into: slot, at: 0)
            let end = grainMarkerSize + compressedSize
            let padded = roundUp(end, toMultipleOf: sectorSize)
            UnsafeMutableRawBufferPointer(rebasing: slot[end..<padded]).initializeMemory(as: UInt8.self, repeating: 0)
            return padded
        }
    }
}
