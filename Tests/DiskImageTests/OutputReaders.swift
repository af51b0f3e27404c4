import CZlib
import CZstd
import Testing

/// Minimal, independent readers of our outputs, written from the specs for the tests: they
/// rebuild the virtual disk so it can be compared with the source byte for byte.
enum OutputReader {
    /// Dynamic VHD: checks both footers and the header, returns the disk and the BAT.
    /// The members of a tar archive (USTAR, octal sizes), in order: read here from the
    /// format's definition, not with imgship's own parser.
    static func tarMembers(_ file: [UInt8]) throws -> [(name: String, bytes: [UInt8])] {
        var members: [(name: String, bytes: [UInt8])] = []
        var offset = 0
        while offset + 512 <= file.count, file[offset..<(offset + 512)].contains(where: { $0 != 0 }) {
            let header = Array(file[offset..<(offset + 512)])
            guard String(decoding: header[257..<262], as: UTF8.self) == "ustar" else { throw OutputReaderError("no ustar magic at \(offset)") }
            let name = String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self)
            let sizeText = String(decoding: header[124..<136].prefix { $0 != 0 && $0 != 0x20 }, as: UTF8.self)
            guard let size = Int(sizeText, radix: 8) else { throw OutputReaderError("bad size \(sizeText) at \(offset)") }
            var sum = 0
            for (index, byte) in header.enumerated() { sum += (148..<156).contains(index) ? 0x20 : Int(byte) }
            let stored = String(decoding: header[148..<156].prefix { $0 != 0 && $0 != 0x20 }, as: UTF8.self)
            guard Int(stored, radix: 8) == sum else { throw OutputReaderError("checksum of \(name)") }
            members.append((name, Array(file[(offset + 512)..<(offset + 512 + size)])))
            offset += 512 + (size + 511) / 512 * 512
        }
        return members
    }

    static func dynamicVHD(_ file: [UInt8]) throws -> (disk: [UInt8], table: [UInt32]) {
        #expect(Array(file[0..<8]) == Array("conectix".utf8))
        #expect(Array(file[0..<512]) == Array(file[(file.count - 512)...]), "footer copy at 0 equals the footer")
        let size = Int(file.bigEndian(UInt64.self, at: 48))
        #expect(Array(file[512..<520]) == Array("cxsparse".utf8))
        let tableOffset = Int(file.bigEndian(UInt64.self, at: 512 + 16))
        let entries = Int(file.bigEndian(UInt32.self, at: 512 + 28))
        let blockSize = Int(file.bigEndian(UInt32.self, at: 512 + 32))
        #expect(entries == (size + blockSize - 1) / blockSize, "one BAT entry per block, no spare")
        var disk = [UInt8](repeating: 0, count: size)
        var table: [UInt32] = []
        for block in 0..<entries {
            let entry = file.bigEndian(UInt32.self, at: tableOffset + block * 4)
            table.append(entry)
            guard entry != 0xFFFF_FFFF else { continue }
            let bitmap = Int(entry) * 512
            #expect(file[bitmap..<(bitmap + 512)].allSatisfy { $0 == 0xFF })
            let start = block * blockSize
            let count = min(blockSize, size - start)
            disk.replaceSubrange(start..<(start + count), with: file[(bitmap + 512)..<(bitmap + 512 + count)])
        }
        return (disk, table)
    }

    /// Dynamic VHDX (MS-VHDX 2.2-2.6), from the file's bytes: the region table's BAT and
    /// metadata regions, the virtual size and block size items, then the payload BAT entries
    /// (a sector bitmap entry follows every chunk of 2^23 sectors' worth of blocks).
    static func dynamicVHDX(_ file: [UInt8]) throws -> (disk: [UInt8], states: [UInt8]) {
        #expect(Array(file[0..<8]) == Array("vhdxfile".utf8))
        let regions = 192 * 1024
        #expect(Array(file[regions..<(regions + 4)]) == Array("regi".utf8))
        var bat = 0
        var metadata = 0
        for entry in 0..<Int(file.littleEndian(UInt32.self, at: regions + 8)) {
            let base = regions + 16 + entry * 32
            // BAT 2DC27766-..., metadata 8B7CA206-...: the first GUID field, little-endian.
            switch file.littleEndian(UInt32.self, at: base) {
            case 0x2DC2_7766: bat = Int(file.littleEndian(UInt64.self, at: base + 16))
            case 0x8B7C_A206: metadata = Int(file.littleEndian(UInt64.self, at: base + 16))
            default: throw OutputReaderError("unknown region at \(base)")
            }
        }
        var size = 0
        var blockSize = 0
        for entry in 0..<Int(file.littleEndian(UInt16.self, at: metadata + 10)) {
            let base = metadata + 32 + entry * 32
            let item = metadata + Int(file.littleEndian(UInt32.self, at: base + 16))
            switch file.littleEndian(UInt32.self, at: base) {
            case 0xCAA1_6737: blockSize = Int(file.littleEndian(UInt32.self, at: item))
            case 0x2FA5_4224: size = Int(file.littleEndian(UInt64.self, at: item))
            default: break
            }
        }
        let chunkRatio = (1 << 23) * 512 / blockSize
        var disk = [UInt8](repeating: 0, count: size)
        var states: [UInt8] = []
        for block in 0..<((size + blockSize - 1) / blockSize) {
            let entry = file.littleEndian(UInt64.self, at: bat + (block + block / chunkRatio) * 8)
            states.append(UInt8(entry & 7))
            guard entry & 7 == 6 else { continue }
            let offset = Int(entry >> 20) << 20
            let start = block * blockSize
            let count = min(blockSize, size - start)
            disk.replaceSubrange(start..<(start + count), with: file[offset..<(offset + count)])
        }
        return (disk, states)
    }

    struct StreamVMDK {
        var disk: [UInt8]
        var grainCount = 0
        var descriptor = ""
    }

    /// Stream-optimized VMDK: walks every marker from the first grain to the end-of-stream
    /// marker, inflating grains with zlib's uncompress(), and checks the tables against them.
    static func streamVMDK(_ file: [UInt8]) throws -> StreamVMDK {
        #expect(Array(file[0..<4]) == Array("KDMV".utf8))
        #expect(file.littleEndian(UInt32.self, at: 4) == 3)
        #expect(file.littleEndian(UInt64.self, at: 56) == UInt64.max, "header says: grain directory at end")
        let capacity = Int(file.littleEndian(UInt64.self, at: 12))
        let overhead = Int(file.littleEndian(UInt64.self, at: 64))
        let descriptorEnd = file[512..<(512 + 20 * 512)].firstIndex(of: 0) ?? (512 + 20 * 512)
        var result = StreamVMDK(disk: [UInt8](repeating: 0, count: capacity * 512))
        result.descriptor = String(decoding: file[512..<descriptorEnd], as: UTF8.self)

        // The tail: footer marker, footer, end-of-stream.
        let tail = file.count - 1536
        #expect(file.littleEndian(UInt32.self, at: tail + 12) == 3, "footer marker before the footer")
        #expect(Array(file[(tail + 512)..<(tail + 516)]) == Array("KDMV".utf8))
        #expect(file[(tail + 1024)...].allSatisfy { $0 == 0 }, "end-of-stream marker last")
        let gdSector = Int(file.littleEndian(UInt64.self, at: tail + 512 + 56))
        #expect(Array(file[0..<56]) == Array(file[(tail + 512)..<(tail + 512 + 56)]), "footer repeats the header")

        var grainSectors: [Int: Int] = [:]  // grain index -> sector of its marker
        var tables: [Int] = []
        var offset = overhead * 512
        walk: while offset < file.count {
            let value = file.littleEndian(UInt64.self, at: offset)
            let size = Int(file.littleEndian(UInt32.self, at: offset + 8))
            if size > 0 {
                #expect(file[offset + 12] == 0x78, "grain data is zlib-wrapped")
                var inflated = [UInt8](repeating: 0, count: 65536)
                var inflatedSize = uLongf(65536)
                let status = file.withUnsafeBufferPointer { buffer in
                    // swift-format-ignore: NeverForceUnwrap
                    uncompress(&inflated, &inflatedSize, buffer.baseAddress! + offset + 12, uLong(size))
                }
                #expect(status == Z_OK && inflatedSize == 65536, "grain at lba \(value) inflates to 64 KiB")
                #expect(!inflated.allSatisfy { $0 == 0 }, "zero grains are not stored")
                let grain = Int(value) / 128
                #expect(grainSectors[grain] == nil, "each grain once")
                grainSectors[grain] = offset / 512
                let start = grain * 65536
                let count = min(65536, result.disk.count - start)
                result.disk.replaceSubrange(start..<(start + count), with: inflated[0..<count])
                result.grainCount += 1
                offset += (12 + size + 511) / 512 * 512
                continue
            }
            let type = file.littleEndian(UInt32.self, at: offset + 12)
            switch type {
            case 0: break walk
            case 1:
                tables.append(offset / 512 + 1)
                offset += 512 + Int(value) * 512
            case 2:
                #expect(offset / 512 + 1 == gdSector, "footer points at the grain directory")
                offset += 512 + Int(value) * 512
            case 3: offset += 1024
            default:
                Issue.record("unknown marker type \(type) at \(offset)")
                break walk
            }
        }
        // Every grain is listed in its grain table, and every table in the directory.
        for (grain, sector) in grainSectors {
            let tableSector = Int(file.littleEndian(UInt32.self, at: gdSector * 512 + (grain / 512) * 4))
            #expect(tables.contains(tableSector))
            let entry = Int(file.littleEndian(UInt32.self, at: tableSector * 512 + (grain % 512) * 4))
            #expect(entry == sector, "grain \(grain) listed at its sector")
        }
        return result
    }
}

struct OutputReaderError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension OutputReader {
    /// What `qcow2` read: the disk, the header's fields it checked, and how clusters were kept.
    struct QCOW2Image {
        var disk: [UInt8]
        var version: Int
        var compressionType: Int
        var compressedClusters: Int
        var storedClusters: Int
    }

    /// qcow2 from qemu's docs/interop/qcow2.txt alone: the header, the L1 and L2 tables,
    /// standard and compressed clusters (DEFLATE inflated as qemu does, raw with a 4 KiB
    /// window, `inflateInit2(-12)` in block/qcow2-threads.c; zstd frames until the cluster is
    /// full), then every refcount recomputed from the structures found, as `qemu-img check`
    /// does, and compared with the stored refcount blocks: a leak or a missing count fails.
    static func qcow2(_ file: [UInt8]) throws -> QCOW2Image {
        guard file.count >= 72, Array(file[0..<4]) == [0x51, 0x46, 0x49, 0xFB] else { throw OutputReaderError("no qcow2 magic") }
        let version = Int(file.bigEndian(UInt32.self, at: 4))
        let clusterBits = Int(file.bigEndian(UInt32.self, at: 20))
        let clusterSize = 1 << clusterBits
        let size = Int(file.bigEndian(UInt64.self, at: 24))
        let l1Size = Int(file.bigEndian(UInt32.self, at: 36))
        let l1Offset = Int(file.bigEndian(UInt64.self, at: 40))
        let refcountTableOffset = Int(file.bigEndian(UInt64.self, at: 48))
        let refcountTableClusters = Int(file.bigEndian(UInt32.self, at: 56))
        var compressionType = 0
        if version == 3 {
            #expect(file.bigEndian(UInt32.self, at: 96) == 4, "refcount_order 4")
            let headerLength = Int(file.bigEndian(UInt32.self, at: 100))
            if headerLength > 104 { compressionType = Int(file[104]) }
            let incompatible = file.bigEndian(UInt64.self, at: 72)
            #expect(incompatible == (compressionType == 0 ? 0 : 8), "incompatible features")
        }
        var counted = [Int](repeating: 0, count: (file.count + clusterSize - 1) / clusterSize)
        func count(_ offset: Int, _ length: Int) {
            for cluster in (offset / clusterSize)...((offset + length - 1) / clusterSize) { counted[cluster] += 1 }
        }
        count(0, clusterSize)
        count(l1Offset, l1Size * 8)
        count(refcountTableOffset, refcountTableClusters * clusterSize)
        let l2Entries = clusterSize / 8
        let shift = 62 - (clusterBits - 8)
        var disk = [UInt8](repeating: 0, count: size)
        var compressed = 0
        var stored = 0
        for l1Index in 0..<l1Size {
            let l1Entry = file.bigEndian(UInt64.self, at: l1Offset + l1Index * 8)
            let table = Int(l1Entry & 0x00FF_FFFF_FFFF_FE00)
            guard table != 0 else { continue }
            #expect(l1Entry >> 63 == 1, "L1 entry \(l1Index): refcount one, COPIED set")
            count(table, clusterSize)
            for slot in 0..<l2Entries {
                let entry = file.bigEndian(UInt64.self, at: table + slot * 8)
                guard entry != 0 else { continue }
                let virtual = (l1Index * l2Entries + slot) * clusterSize
                var cluster: [UInt8]
                if entry & (1 << 62) != 0 {
                    let offset = Int(entry & ((1 << UInt64(shift)) - 1))
                    let sectors = Int((entry >> UInt64(shift)) & ((1 << UInt64(clusterBits - 8)) - 1)) + 1
                    let length = sectors * 512 - (offset & 511)
                    count(offset, length)
                    let input = Array(file[offset..<min(offset + length, file.count)])
                    cluster = [UInt8](repeating: 0, count: clusterSize)
                    let produced = compressionType == 1 ? zstdDecompress(input, into: &cluster) : rawInflate(input, into: &cluster)
                    #expect(produced == clusterSize, "compressed cluster at virtual \(virtual)")
                    compressed += 1
                } else {
                    #expect(entry >> 63 == 1, "standard cluster: COPIED set")
                    let offset = Int(entry & 0x00FF_FFFF_FFFF_FE00)
                    #expect(offset % clusterSize == 0)
                    count(offset, clusterSize)
                    cluster = Array(file[offset..<(offset + clusterSize)])
                    stored += 1
                }
                let end = min(virtual + clusterSize, size)
                disk.replaceSubrange(virtual..<end, with: cluster[0..<(end - virtual)])
            }
        }
        let blockEntries = clusterSize / 2
        for index in 0..<(refcountTableClusters * clusterSize / 8) {
            let block = Int(file.bigEndian(UInt64.self, at: refcountTableOffset + index * 8))
            if block != 0 { count(block, clusterSize) }
        }
        for cluster in counted.indices {
            let blockOffset = Int(file.bigEndian(UInt64.self, at: refcountTableOffset + cluster / blockEntries * 8))
            let stored = blockOffset == 0 ? 0 : Int(file.bigEndian(UInt16.self, at: blockOffset + (cluster % blockEntries) * 2))
            #expect(stored == counted[cluster], "refcount of host cluster \(cluster)")
        }
        return QCOW2Image(disk: disk, version: version, compressionType: compressionType, compressedClusters: compressed, storedClusters: stored)
    }

    /// Raw DEFLATE as qemu inflates a cluster: one `inflate` call, 4 KiB window.
    static func rawInflate(_ input: [UInt8], into output: inout [UInt8]) -> Int {
        var stream = z_stream()
        guard inflateInit2_(&stream, -12, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return -1 }
        defer { inflateEnd(&stream) }
        var input = input
        return input.withUnsafeMutableBytes { source in
            output.withUnsafeMutableBytes { target in
                stream.next_in = source.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.avail_in = uInt(source.count)
                stream.next_out = target.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(target.count)
                let result = inflate(&stream, Z_FINISH)
                guard result == Z_STREAM_END || result == Z_BUF_ERROR else { return -1 }
                return target.count - Int(stream.avail_out)
            }
        }
    }

    /// zstd frames until `output` is full (qemu's qcow2_zstd_decompress).
    static func zstdDecompress(_ input: [UInt8], into output: inout [UInt8]) -> Int {
        guard let context = ZSTD_createDCtx() else { return -1 }
        defer { ZSTD_freeDCtx(context) }
        return input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { target in
                var inBuffer = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
                var outBuffer = ZSTD_outBuffer(dst: target.baseAddress, size: target.count, pos: 0)
                while outBuffer.pos < outBuffer.size {
                    let before = inBuffer.pos + outBuffer.pos
                    if ZSTD_isError(ZSTD_decompressStream(context, &outBuffer, &inBuffer)) != 0 { return -1 }
                    if inBuffer.pos + outBuffer.pos == before { return -1 }
                }
                return outBuffer.pos
            }
        }
    }
}
