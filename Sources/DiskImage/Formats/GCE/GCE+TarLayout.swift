extension GCE {
    /// Where `disk.raw` lies in the decompressed tar stream of a GCE image, read from its
    /// headers: the tar forms Google's importer is given in practice.
    ///
    /// - old GNU (`tar --format=oldgnu`, GNU tar's `tar.h` `struct oldgnu_header`): a sparse
    ///   member, type 'S', its map in the header and in extension blocks; or a regular member.
    /// - GNU and ustar (Go's `tar.FormatGNU`, Python's `tarfile.GNU_FORMAT`): a regular member,
    ///   sizes octal or GNU base-256.
    /// - pax with GNU sparse format 1.0 (what `tar --format=posix -S` writes; GNU tar manual,
    ///   "Storing Sparse Files", format 1.0): an extended header 'x' with `GNU.sparse.major=1`,
    ///   `GNU.sparse.minor=0`, `GNU.sparse.name` and `GNU.sparse.realsize`, then a regular
    ///   member whose data starts with the map in decimal lines, padded to a block.
    struct TarLayout: Equatable, Sendable {
        /// `oldgnu sparse`, `gnu`, `ustar`, `pax sparse 1.0`, ...
        var form: String
        var memberName: String
        /// The disk's size (`realsize`).
        var realSize: UInt64
        /// The disk's stored ranges, in order, adjacent ones merged; the rest reads as zeros.
        var map: [Range<UInt64>]
        /// Where the first stored byte lies in the tar stream.
        var dataStart: UInt64
        /// Entries in the archive's map, before merging.
        var mapEntries: Int

        var storedSize: UInt64 { map.reduce(0) { $0 + UInt64($1.count) } }
        /// The end of the stored bytes in the tar stream.
        var dataEnd: UInt64 { dataStart + storedSize }
    }

    /// A problem in the tar stream, at an offset of the decompressed stream; the reader adds
    /// where that lies in the file.
    struct TarProblem: Error, Equatable {
        var offset: UInt64
        var reason: String
        /// The archive is a tar archive, but not of `disk.raw`: refused, not damaged.
        var unsupported = false
    }

    enum TarParse: Equatable {
        /// The headers run on: at least this many bytes of the stream are needed.
        case needMore(Int)
        case done(TarLayout)
    }

    /// Sparse map entries a reader takes: 16 bytes each in memory, so 8 MiB at most, and
    /// eight times what imgship writes.
    static let maximumReadEntries = 1 << 19
    /// A pax extended header's records are read whole; GNU tar's are a few hundred bytes.
    static let maximumPaxHeader = 1 << 20

    /// Reads the headers at the start of `stream` (the decompressed bytes seen so far).
    static func parseTar(_ stream: [UInt8]) throws(TarProblem) -> TarParse {
        let block = TarBlock.size
        func need(_ count: Int) -> TarParse? { stream.count < count ? .needMore(count) : nil }
        if let more = need(block) { return more }
        var headerOffset = 0
        var pax: [String: String] = [:]
        var form = ""
        while true {
            if let more = need(headerOffset + block) { return more }
            let header = Array(stream[headerOffset..<(headerOffset + block)])
            let at = UInt64(headerOffset)
            if header.allSatisfy({ $0 == 0 }) {
                throw TarProblem(offset: at, reason: "the tar archive ends before any member; a GCE image holds disk.raw", unsupported: true)
            }
            let ustar = Array("ustar".utf8)
            guard Array(header[257..<262]) == ustar else {
                throw TarProblem(offset: at + 257, reason: "not a tar header (no \"ustar\" magic at offset 257)", unsupported: true)
            }
            guard TarBlock.checksumMatches(header) else {
                throw TarProblem(offset: at + 148, reason: "the tar header checksum does not match the header")
            }
            let oldGNU = header[262] == 0x20
            let type = header[156]
            let rawName = String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self)
            let prefix = oldGNU ? "" : String(decoding: header[345..<500].prefix { $0 != 0 }, as: UTF8.self)
            let headerName = prefix.isEmpty ? rawName : prefix + "/" + rawName
            guard let size = TarBlock.decodeNumber(header[124..<136]) else {
                throw TarProblem(offset: at + 124, reason: "the member size is neither octal nor GNU base-256 below 2^63")
            }
            func member(_ name: String, _ what: String) -> TarProblem {
                TarProblem(
                    offset: at,
                    reason:
                        "its first member is \"\(name)\" (\(what)), not the regular file disk.raw; a GCE image is a gzip'd tar holding the one file disk.raw",
                    unsupported: true)
            }
            switch type {
            case UInt8(ascii: "x"):
                // A pax extended header: its records apply to the next member.
                guard pax.isEmpty, size <= UInt64(maximumPaxHeader) else {
                    throw TarProblem(offset: at + 124, reason: "a pax extended header of \(size) bytes, or two in a row; imgship reads one of at most 1 MiB")
                }
                let end = headerOffset + block + Int(size)
                if let more = need(end) { return more }
                pax = try parsePax(stream[(headerOffset + block)..<end], at: at + UInt64(block))
                headerOffset += block + roundUp(Int(size), toMultipleOf: block)
                continue
            case UInt8(ascii: "g"):
                // A global pax header holds no member; GNU tar writes none by default.
                guard size <= UInt64(maximumPaxHeader) else {
                    throw TarProblem(offset: at + 124, reason: "a pax global header of \(size) bytes; imgship reads one of at most 1 MiB")
                }
                headerOffset += block + roundUp(Int(size), toMultipleOf: block)
                guard headerOffset <= 4 * maximumPaxHeader else { throw TarProblem(offset: at, reason: "more than 4 MiB of pax global headers") }
                continue
            case UInt8(ascii: "L"), UInt8(ascii: "K"):
                throw member(headerName, "a GNU long name header")
            case UInt8(ascii: "S"):
                guard pax.isEmpty else { throw TarProblem(offset: at + 156, reason: "an old GNU sparse member after a pax header") }
                return try parseOldGNUSparse(stream, headerOffset: headerOffset, name: headerName, size: size)
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
                form = oldGNU ? "gnu" : (pax.isEmpty ? "ustar" : "pax")
            case UInt8(ascii: "5"):
                throw member(headerName, "a directory")
            default:
                // Named by POSIX's typeflag values (pax, "ustar Interchange Format").
                let kinds: [UInt8: String] = [
                    UInt8(ascii: "1"): "a hard link", UInt8(ascii: "2"): "a symbolic link", UInt8(ascii: "3"): "a character device",
                    UInt8(ascii: "4"): "a block device", UInt8(ascii: "6"): "a FIFO",
                ]
                throw member(headerName, kinds[type] ?? "tar type '\(String(decoding: [type], as: UTF8.self))'")
            }
            // A regular member: plain, or pax sparse 1.0 with its map at the start of the data.
            let dataOffset = UInt64(headerOffset + block)
            if let major = pax["GNU.sparse.major"] {
                guard major == "1", pax["GNU.sparse.minor"] == "0" else {
                    throw TarProblem(
                        offset: at,
                        reason:
                            "GNU sparse format \(major).\(pax["GNU.sparse.minor"] ?? "?"); imgship reads format 1.0 (tar --format=posix -S) and old GNU sparse members"
                    )
                }
                let name = pax["GNU.sparse.name"] ?? pax["path"] ?? headerName
                guard name == memberName else { throw member(name, "a sparse file") }
                guard let realText = pax["GNU.sparse.realsize"], let realSize = UInt64(realText), realSize <= maximumSize else {
                    throw TarProblem(offset: at, reason: "the pax header has no GNU.sparse.realsize of at most 2^63 - 1")
                }
                return try parsePaxSparseMap(stream, dataOffset: dataOffset, memberSize: size, realSize: realSize, name: name)
            }
            let name = pax["path"] ?? headerName
            guard name == memberName else { throw member(name, "a file") }
            let map: [Range<UInt64>] = size == 0 ? [] : [0..<size]
            return .done(TarLayout(form: form, memberName: name, realSize: size, map: map, dataStart: dataOffset, mapEntries: map.count))
        }
    }

    /// The records of a pax extended header: "LENGTH KEY=VALUE\n" each (POSIX.1-2001 pax,
    /// "pax Extended Header").
    static func parsePax(_ bytes: ArraySlice<UInt8>, at offset: UInt64) throws(TarProblem) -> [String: String] {
        var records: [String: String] = [:]
        var position = bytes.startIndex
        while position < bytes.endIndex, bytes[position] != 0 {
            let recordOffset = offset + UInt64(position - bytes.startIndex)
            guard let space = bytes[position...].prefix(20).firstIndex(of: 0x20),
                let length = Int(String(decoding: bytes[position..<space], as: UTF8.self)), length > space - position + 2,
                length <= bytes.endIndex - position, bytes[position + length - 1] == 0x0A,
                let equals = bytes[(space + 1)..<(position + length)].firstIndex(of: UInt8(ascii: "="))
            else {
                throw TarProblem(offset: recordOffset, reason: "a pax record is not \"LENGTH KEY=VALUE\\n\"")
            }
            let key = String(decoding: bytes[(space + 1)..<equals], as: UTF8.self)
            records[key] = String(decoding: bytes[(equals + 1)..<(position + length - 1)], as: UTF8.self)
            position += length
        }
        return records
    }

    /// Old GNU sparse: the header's four entries, then extension blocks while `isextended`.
    static func parseOldGNUSparse(_ stream: [UInt8], headerOffset: Int, name: String, size: UInt64) throws(TarProblem) -> TarParse {
        let block = TarBlock.size
        guard name == memberName else {
            throw TarProblem(
                offset: UInt64(headerOffset),
                reason: "its first member is \"\(name)\" (a sparse file), not disk.raw; a GCE image is a gzip'd tar holding the one file disk.raw",
                unsupported: true)
        }
        let header = Array(stream[headerOffset..<(headerOffset + block)])
        let at = UInt64(headerOffset)
        guard let realSize = TarBlock.decodeNumber(header[483..<495]) else {
            throw TarProblem(offset: at + 483, reason: "the sparse member's realsize is neither octal nor GNU base-256 below 2^63")
        }
        var builder = try SparseMapBuilder(realSize: realSize)
        for slot in 0..<SparseHeader.headerEntries {
            try builder.add(header, field: 386 + 24 * slot, blockOffset: at)
        }
        var extended = header[482] != 0
        var offset = headerOffset + block
        while extended {
            // Each block holds 21 entries: the entry limit bounds the blocks.
            guard (offset - headerOffset) / block <= maximumReadEntries / SparseHeader.extensionEntries + 1 else {
                throw TarProblem(offset: UInt64(offset), reason: "more extension blocks than \(maximumReadEntries) sparse map entries fill")
            }
            if stream.count < offset + block { return .needMore(offset + block) }
            let extension_ = Array(stream[offset..<(offset + block)])
            for slot in 0..<SparseHeader.extensionEntries {
                try builder.add(extension_, field: 24 * slot, blockOffset: UInt64(offset))
            }
            extended = extension_[504] != 0
            offset += block
        }
        guard builder.stored == size else {
            throw TarProblem(offset: at + 124, reason: "the sparse map stores \(builder.stored) bytes but the member's size is \(size)")
        }
        return .done(
            TarLayout(
                form: "oldgnu sparse", memberName: name, realSize: realSize, map: builder.map, dataStart: UInt64(offset), mapEntries: builder.entries))
    }

    /// pax sparse 1.0: the data starts with the number of entries, then each entry's offset
    /// and size, one decimal number a line, padded with zeros to a block.
    static func parsePaxSparseMap(_ stream: [UInt8], dataOffset: UInt64, memberSize: UInt64, realSize: UInt64, name: String) throws(TarProblem) -> TarParse {
        var builder = try SparseMapBuilder(realSize: realSize)
        var position = Int(dataOffset)
        func number() throws(TarProblem) -> UInt64? {
            let start = position
            while true {
                if position >= stream.count { return nil }
                let byte = stream[position]
                if byte == 0x0A { break }
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), position - start < 19 else {
                    throw TarProblem(offset: UInt64(position), reason: "the pax sparse map holds something other than decimal lines")
                }
                position += 1
            }
            guard position > start, let value = UInt64(String(decoding: stream[start..<position], as: UTF8.self)) else {
                throw TarProblem(offset: UInt64(start), reason: "an empty line in the pax sparse map")
            }
            position += 1
            return value
        }
        guard let count = try number() else { return .needMore(position + 32) }
        guard count <= UInt64(maximumReadEntries) else {
            throw TarProblem(offset: dataOffset, reason: "\(count) sparse map entries; imgship reads at most \(maximumReadEntries)")
        }
        for _ in 0..<count {
            let entryOffset = UInt64(position)
            guard let offset = try number() else { return .needMore(position + 64) }
            guard let length = try number() else { return .needMore(position + 64) }
            try builder.add(offset: offset, count: length, at: entryOffset)
        }
        let mapEnd = UInt64(roundUp(position, toMultipleOf: TarBlock.size))
        guard mapEnd - dataOffset <= memberSize, builder.stored == memberSize - (mapEnd - dataOffset) else {
            throw TarProblem(
                offset: dataOffset, reason: "the pax sparse map stores \(builder.stored) bytes but the member holds \(memberSize) bytes with the map")
        }
        return .done(
            TarLayout(form: "pax sparse 1.0", memberName: name, realSize: realSize, map: builder.map, dataStart: mapEnd, mapEntries: builder.entries))
    }

    /// Checks each entry against the ones before it and the disk's size as it is added.
    struct SparseMapBuilder {
        let realSize: UInt64
        var map: [Range<UInt64>] = []
        var stored: UInt64 = 0
        var entries = 0

        init(realSize: UInt64) throws(TarProblem) {
            guard realSize <= maximumSize else { throw TarProblem(offset: 0, reason: "a disk of \(realSize) bytes, above 2^63 - 1") }
            self.realSize = realSize
        }

        /// An entry of an old GNU block: offset[12] and numbytes[12] at `field`; an empty
        /// offset field ends the map.
        mutating func add(_ block: [UInt8], field: Int, blockOffset: UInt64) throws(TarProblem) {
            guard block[field] != 0 else { return }
            guard let offset = TarBlock.decodeNumber(block[field..<(field + 12)]),
                let count = TarBlock.decodeNumber(block[(field + 12)..<(field + 24)])
            else {
                throw TarProblem(offset: blockOffset + UInt64(field), reason: "a sparse map entry is neither octal nor GNU base-256 below 2^63")
            }
            try add(offset: offset, count: count, at: blockOffset + UInt64(field))
        }

        mutating func add(offset: UInt64, count: UInt64, at position: UInt64) throws(TarProblem) {
            entries += 1
            guard entries <= maximumReadEntries else { throw TarProblem(offset: position, reason: "more than \(maximumReadEntries) sparse map entries") }
            let (end, overflow) = offset.addingReportingOverflow(count)
            guard !overflow, end <= realSize else {
                throw TarProblem(offset: position, reason: "sparse map entry \(offset)+\(count) runs past the disk's size \(realSize)")
            }
            if let last = map.last, offset < last.upperBound {
                throw TarProblem(
                    offset: position,
                    reason: "sparse map entry at \(offset) overlaps or comes before the one ending at \(last.upperBound); entries are in order")
            }
            guard count > 0 else { return }
            stored += count
            if let last = map.last, last.upperBound == offset {
                map[map.count - 1] = last.lowerBound..<end
            } else {
                map.append(offset..<end)
            }
        }
    }
}
