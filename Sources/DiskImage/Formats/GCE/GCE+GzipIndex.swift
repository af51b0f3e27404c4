internal import CZlib

#if canImport(Glibc)
import Glibc
#endif

/// Random access into a gzip file (RFC 1952): one pass at open inflates the whole file,
/// checking each member's CRC-32 and length, and records where decompression can start
/// again. Reads then inflate from the nearest such point.
///
/// - At every gzip member start (imgship writes independent 2 MiB members): nothing to keep
///   but the offsets, as a new member's deflate data refers to nothing before it.
/// - Inside one long deflate stream (gzip, pigz by default, `tar | gzip`): at a deflate block
///   boundary, with the 32 KiB of output before it, which later blocks may refer back to,
///   and the bits of the boundary byte already read; zlib's `inflatePrime` and
///   `inflateSetDictionary` resume there (the method of zlib's examples/zran.c).
///
/// Both lists are bounded: past their limit every other point is dropped and the spacing
/// doubles, so the index stays small whatever the image's size.
extension GCE {
    /// A place decompression can resume.
    struct Checkpoint: Sendable {
        /// Offset in the decompressed stream.
        var uncompressed: UInt64
        /// File offset of the next whole byte of deflate data.
        var compressed: UInt64
        /// Bits of the byte before `compressed` that belong to the next block (0-7).
        var bits: UInt8
        /// The 32 KiB of output before the point (fewer at the start), deflate-compressed;
        /// nil at a member start, where nothing before is referred to.
        var window: [UInt8]?
    }

    struct GzipIndex: Sendable {
        var memberPoints: [Checkpoint] = []
        var windowPoints: [Checkpoint] = []
        var members = 0
        /// The decompressed stream's length.
        var totalOut: UInt64 = 0

        /// Member-start points kept (16 bytes each): 256 Ki, 512 GiB of imgship's members.
        static let maximumMemberPoints = 1 << 18
        /// Points with a window (32 KiB each before compression).
        static let maximumWindowPoints = 1024
        /// Output between two window points at first; doubles as points are dropped.
        static let initialWindowSpacing: UInt64 = 4 << 20
        var memberSpacing: UInt64 = 0
        var windowSpacing: UInt64 = initialWindowSpacing

        /// The last point at or before `offset` (the first member's start is at 0).
        func nearest(atMost offset: UInt64) -> Checkpoint? {
            let candidates = [Self.last(in: memberPoints, atMost: offset), Self.last(in: windowPoints, atMost: offset)].compactMap { $0 }
            return candidates.max { $0.uncompressed < $1.uncompressed }
        }

        static func last(in points: [Checkpoint], atMost offset: UInt64) -> Checkpoint? {
            var low = 0
            var high = points.count
            while low < high {
                let middle = (low + high) / 2
                if points[middle].uncompressed <= offset { low = middle + 1 } else { high = middle }
            }
            return low > 0 ? points[low - 1] : nil
        }

        var lastPointOffset: UInt64? {
            max(memberPoints.last?.uncompressed ?? 0, windowPoints.last?.uncompressed ?? 0)
        }

        mutating func addMemberStart(_ point: Checkpoint) {
            if let last = memberPoints.last, point.uncompressed - last.uncompressed < memberSpacing { return }
            memberPoints.append(point)
            if memberPoints.count > Self.maximumMemberPoints, let first = memberPoints.first {
                // From now on a member start counts only this far from the last one kept:
                // twice the average gap, so the list fills at half the rate, evenly.
                let span = point.uncompressed - first.uncompressed
                memberPoints = Self.thinned(memberPoints)
                memberSpacing = max(memberSpacing * 2, span / UInt64(memberPoints.count))
            }
        }

        /// Whether a window point at `offset` is worth its 32 KiB.
        func wantsWindow(at offset: UInt64) -> Bool {
            offset - (lastPointOffset ?? 0) >= windowSpacing
        }

        mutating func addWindow(_ point: Checkpoint) {
            windowPoints.append(point)
            if windowPoints.count > Self.maximumWindowPoints {
                windowPoints = Self.thinned(windowPoints)
                windowSpacing *= 2
            }
        }

        /// Every other point, the first kept.
        static func thinned(_ points: [Checkpoint]) -> [Checkpoint] {
            stride(from: 0, to: points.count, by: 2).map { points[$0] }
        }
    }

    /// One raw-deflate z_stream at a fixed address (zlib keeps a pointer back to it).
    final class Inflater {
        let stream: UnsafeMutablePointer<z_stream>

        private init(_ stream: UnsafeMutablePointer<z_stream>) { self.stream = stream }

        static func make(path: String) throws(DiskImageError) -> Inflater {
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            guard inflateInit2_(stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                stream.deallocate()
                throw DiskImageError.system(call: "inflateInit2", path: path, errno: ENOMEM)
            }
            return Inflater(stream)
        }

        deinit {
            inflateEnd(stream)
            stream.deallocate()
        }

        var message: String { stream.pointee.msg.map { String(cString: $0) } ?? "no message" }
    }

    /// The compressed file, read ahead through a buffer.
    final class InputBuffer {
        let file: SourceImage
        let buffer: UnsafeMutableRawBufferPointer
        /// File offset of `buffer[0]`.
        private(set) var start: UInt64 = 0
        private(set) var count = 0
        var index = 0

        init(_ file: SourceImage, capacity: Int) {
            self.file = file
            buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64)
        }

        deinit { buffer.deallocate() }

        /// File offset of the next unread byte.
        var offset: UInt64 { start + UInt64(index) }
        var available: Int { count - index }
        var isAtEnd: Bool { available == 0 && start + UInt64(count) >= file.fileSize }

        func seek(_ offset: UInt64) {
            start = offset
            count = 0
            index = 0
        }

        /// Reads on; false at the end of the file.
        func refill() throws(DiskImageError) -> Bool {
            if index > 0 {
                if available > 0 {
                    // swift-format-ignore: NeverForceUnwrap
                    memmove(buffer.baseAddress!, buffer.baseAddress! + index, available)
                }
                start += UInt64(index)
                count -= index
                index = 0
            }
            let position = start + UInt64(count)
            guard count < buffer.count, position < file.fileSize else { return count > 0 && count == buffer.count }
            let length = Int(min(UInt64(buffer.count - count), file.fileSize - position))
            try file.readExactly(into: UnsafeMutableRawBufferPointer(rebasing: buffer[count..<(count + length)]), at: position)
            count += length
            return true
        }

        func byte() throws(DiskImageError) -> UInt8? {
            if available == 0 {
                guard try refill(), available > 0 else { return nil }
            }
            defer { index += 1 }
            return buffer[index]
        }
    }

    /// Reads one gzip member header (RFC 1952 section 2.3: ID1 ID2 CM FLG MTIME XFL OS, then
    /// FEXTRA, FNAME, FCOMMENT and FHCRC as FLG says) through `next`; the problem, or nil.
    static func gzipHeaderProblem(_ next: () throws(DiskImageError) -> UInt8?) throws(DiskImageError) -> String? {
        func byte() throws(DiskImageError) -> UInt8? { try next() }
        guard try byte() == 0x1F, try byte() == 0x8B else { return "not a gzip member (no 1f 8b magic)" }
        guard let method = try byte() else { return "the gzip member header is cut short" }
        guard method == 8 else { return "gzip compression method \(method), not deflate (8)" }
        guard let flags = try byte() else { return "the gzip member header is cut short" }
        guard flags & 0xE0 == 0 else { return "reserved gzip flag bits are set (0x\(String(flags, radix: 16)))" }
        for _ in 0..<6 where try byte() == nil { return "the gzip member header is cut short" }
        if flags & 0x04 != 0 {  // FEXTRA: XLEN, little-endian, then XLEN bytes
            guard let low = try byte(), let high = try byte() else { return "the gzip member header is cut short" }
            for _ in 0..<(Int(low) | Int(high) << 8) where try byte() == nil { return "the gzip extra field is cut short" }
        }
        for (flag, what) in [(UInt8(0x08), "file name"), (0x10, "comment")] where flags & flag != 0 {  // FNAME, FCOMMENT: NUL-terminated
            while true {
                guard let value = try byte() else { return "the gzip \(what) runs to the end of the file" }
                if value == 0 { break }
            }
        }
        if flags & 0x02 != 0 {  // FHCRC
            for _ in 0..<2 where try byte() == nil { return "the gzip member header is cut short" }
        }
        return nil
    }

    /// The first bytes a gzip file's first member inflates to (up to `limit`), from its first
    /// sector: how detection tells a `.tar.gz` from another gzip file.
    static func inflatedHead(_ head: [UInt8], limit: Int = 512) -> [UInt8]? {
        var position = 0
        let problem = try? gzipHeaderProblem { () -> UInt8? in
            guard position < head.count else { return nil }
            defer { position += 1 }
            return head[position]
        }
        guard problem == .some(nil), let inflater = try? Inflater.make(path: "") else { return nil }
        var output = [UInt8](repeating: 0, count: limit)
        var input = Array(head[position...])
        let produced = input.withUnsafeMutableBytes { source in
            output.withUnsafeMutableBytes { target -> Int in
                let stream = inflater.stream
                stream.pointee.next_in = source.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_in = uInt(source.count)
                stream.pointee.next_out = target.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(target.count)
                let result = inflate(stream, Z_SYNC_FLUSH)
                guard result == Z_OK || result == Z_STREAM_END || result == Z_BUF_ERROR else { return 0 }
                return target.count - Int(stream.pointee.avail_out)
            }
        }
        return Array(output[0..<produced])
    }

    /// What the opening pass hands the decompressed stream to, in order.
    protocol StreamWatcher: AnyObject {
        func consume(_ bytes: UnsafeRawBufferPointer, at streamOffset: UInt64, compressedOffset: UInt64) throws(DiskImageError)
    }

    /// The opening pass: inflates every member of `file`, checks its CRC-32 and ISIZE, hands
    /// the output to `watcher` and returns the access index.
    static func buildIndex(_ file: SourceImage, watcher: any StreamWatcher) throws(DiskImageError) -> GzipIndex {
        let path = file.path
        let input = InputBuffer(file, capacity: 1 << 20)
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 64)
        defer { output.deallocate() }
        var ring = WindowRing()
        let inflater = try Inflater.make(path: path)
        let stream = inflater.stream
        var index = GzipIndex()
        var total: UInt64 = 0
        func malformed(_ offset: UInt64, _ reason: String) -> DiskImageError {
            .malformedImage(path: path, offset: offset, reason: reason)
        }
        while true {
            if input.available == 0 { _ = try input.refill() }
            if input.available == 0 { break }
            let memberStart = input.offset
            if index.members > 0 && input.buffer[input.index] == 0 {
                // Zeros after the last member, as some tape-blocked writers leave (gzip -t
                // ignores them too); anything else is not a gzip file's.
                while true {
                    if input.available == 0 {
                        guard try input.refill(), input.available > 0 else { break }
                    }
                    if let nonZero = UnsafeRawBufferPointer(rebasing: input.buffer[input.index..<(input.index + input.available)]).firstIndex(where: { $0 != 0 }
                    ) {
                        throw malformed(input.offset + UInt64(nonZero - input.index), "data after the zeros that follow the last gzip member")
                    }
                    input.index += input.available
                }
                break
            }
            if let problem = try gzipHeaderProblem(input.byte) {
                throw malformed(memberStart, index.members == 0 ? problem : "\(problem), after gzip member \(index.members)")
            }
            index.addMemberStart(Checkpoint(uncompressed: total, compressed: input.offset, bits: 0, window: nil))
            inflateReset(stream)
            var crc = crc32(0, nil, 0)
            var memberSize: UInt64 = 0
            while true {
                if input.available == 0 {
                    guard try input.refill(), input.available > 0 else {
                        throw malformed(input.offset, "the file ends inside the gzip member that starts at offset \(memberStart) (truncated)")
                    }
                }
                let offered = min(input.available, Int(UInt32.max))
                // swift-format-ignore: NeverForceUnwrap
                stream.pointee.next_in = (input.buffer.baseAddress! + input.index).assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_in = uInt(offered)
                stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(output.count)
                let result = inflate(stream, Z_BLOCK)
                input.index += offered - Int(stream.pointee.avail_in)
                let produced = output.count - Int(stream.pointee.avail_out)
                if produced > 0 {
                    let bytes = UnsafeRawBufferPointer(rebasing: output[0..<produced])
                    crc = crc32(crc, bytes.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(produced))
                    ring.append(bytes)
                    try watcher.consume(bytes, at: total, compressedOffset: input.offset)
                    total += UInt64(produced)
                    memberSize += UInt64(produced)
                }
                if result == Z_STREAM_END { break }
                guard result == Z_OK else {
                    throw malformed(input.offset, "the deflate data of the gzip member at offset \(memberStart) is corrupt (zlib: \(inflater.message))")
                }
                let dataType = stream.pointee.data_type
                if dataType & 128 != 0, dataType & 64 == 0, index.wantsWindow(at: total) {
                    index.addWindow(Checkpoint(uncompressed: total, compressed: input.offset, bits: UInt8(dataType & 7), window: ring.compressed()))
                }
            }
            // The trailer: CRC-32 and ISIZE (the length modulo 2^32), both little-endian.
            let trailerOffset = input.offset
            var trailer: [UInt8] = []
            for _ in 0..<8 {
                guard let byte = try input.byte() else {
                    throw malformed(trailerOffset, "the file ends inside the CRC-32 and length of the gzip member at offset \(memberStart) (truncated)")
                }
                trailer.append(byte)
            }
            let storedCRC = trailer.loadLittleEndian(UInt32.self, at: 0)
            let storedLength = trailer.loadLittleEndian(UInt32.self, at: 4)
            guard storedCRC == UInt32(truncatingIfNeeded: crc) else {
                throw malformed(
                    trailerOffset,
                    "the CRC-32 of the gzip member at offset \(memberStart) is 0x\(String(storedCRC, radix: 16)), but its data's is 0x\(String(UInt32(truncatingIfNeeded: crc), radix: 16))"
                )
            }
            guard storedLength == UInt32(truncatingIfNeeded: memberSize) else {
                throw malformed(
                    trailerOffset + 4,
                    "the gzip member at offset \(memberStart) says it holds \(storedLength) bytes (mod 2^32), but inflates to \(memberSize)")
            }
            index.members += 1
        }
        guard index.members > 0 else { throw malformed(0, "no gzip member") }
        index.totalOut = total
        return index
    }

    /// The last 32 KiB of output, a deflate window.
    struct WindowRing {
        static let size = 32 * 1024
        var bytes = [UInt8](repeating: 0, count: size)
        var head = 0
        var filled = 0

        mutating func append(_ chunk: UnsafeRawBufferPointer) {
            var rest = UnsafeRawBufferPointer(rebasing: chunk[max(0, chunk.count - Self.size)...])
            filled = min(Self.size, filled + rest.count)
            while !rest.isEmpty {
                let length = min(rest.count, Self.size - head)
                bytes.withUnsafeMutableBytes { target in
                    UnsafeMutableRawBufferPointer(rebasing: target[head..<(head + length)]).copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[0..<length]))
                }
                head = (head + length) % Self.size
                rest = UnsafeRawBufferPointer(rebasing: rest[length...])
            }
        }

        /// The window in order, deflate-compressed (level 1): disk windows are often zeros.
        func compressed() -> [UInt8] {
            let ordered = filled < Self.size ? Array(bytes[0..<filled]) : Array(bytes[head...] + bytes[..<head])
            var output = [UInt8](repeating: 0, count: Int(compressBound(uLong(ordered.count))))
            var length = uLongf(output.count)
            let result = output.withUnsafeMutableBytes { target in
                ordered.withUnsafeBytes { source in
                    compress2(
                        target.baseAddress?.assumingMemoryBound(to: Bytef.self), &length, source.baseAddress?.assumingMemoryBound(to: Bytef.self),
                        uLong(source.count), 1)
                }
            }
            guard result == Z_OK else { return [] }
            return Array(output[0..<Int(length)]) + withUnsafeBytes(of: UInt32(ordered.count).littleEndian) { Array($0) }
        }

        /// The window `compressed()` made; nil when it does not decompress.
        static func decompressed(_ stored: [UInt8]) -> [UInt8]? {
            guard stored.count >= 4 else { return nil }
            let length = Int(stored.loadLittleEndian(UInt32.self, at: stored.count - 4))
            guard length <= size else { return nil }
            var output = [UInt8](repeating: 0, count: length)
            var produced = uLongf(length)
            let result = output.withUnsafeMutableBytes { target in
                stored.withUnsafeBytes { source in
                    uncompress(
                        target.baseAddress?.assumingMemoryBound(to: Bytef.self), &produced, source.baseAddress?.assumingMemoryBound(to: Bytef.self),
                        uLong(source.count - 4))
                }
            }
            return result == Z_OK && Int(produced) == length ? output : nil
        }
    }

    /// One reader's decompression state: a z_stream, its input, and where in the stream it
    /// is. A pool hands each to one reader at a time; a reader that continues where the last
    /// one stopped inflates on without starting again.
    final class Cursor: @unchecked Sendable {
        let inflater: Inflater
        let input: InputBuffer
        let scratch: UnsafeMutableRawBufferPointer
        /// The stream offset of the next byte it produces; nil before a start or after a failure.
        var position: UInt64?
        /// A member ended: the next read starts with the next member's header.
        var betweenMembers = false

        init(_ file: SourceImage) throws(DiskImageError) {
            inflater = try Inflater.make(path: file.path)
            input = InputBuffer(file, capacity: 256 << 10)
            scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 64)
        }

        deinit { scratch.deallocate() }

        private func damaged(_ reason: String) -> DiskImageError {
            .malformedImage(path: input.file.path, offset: input.offset, reason: reason)
        }

        func start(at point: Checkpoint) throws(DiskImageError) {
            position = nil
            betweenMembers = false
            let stream = inflater.stream
            inflateReset(stream)
            input.seek(point.compressed - (point.bits > 0 ? 1 : 0))
            if point.bits > 0 {
                guard let byte = try input.byte() else { throw damaged("the file ends before a gzip access point; it changed since it was opened") }
                inflatePrime(stream, Int32(point.bits), Int32(byte >> (8 - point.bits)))
            }
            if let stored = point.window {
                guard var window = WindowRing.decompressed(stored),
                    window.withUnsafeMutableBytes({ inflateSetDictionary(stream, $0.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt($0.count)) })
                        == Z_OK
                else { throw damaged("a gzip access point's window does not restore") }
            }
            position = point.uncompressed
        }

        /// Fills `buffer` with the stream's bytes from `position` on.
        func produce(into buffer: UnsafeMutableRawBufferPointer) throws(DiskImageError) {
            guard var at = position else { throw damaged("read from a cursor that was not started") }
            position = nil
            let stream = inflater.stream
            var filled = 0
            while filled < buffer.count {
                if betweenMembers {
                    if let problem = try gzipHeaderProblem(input.byte) { throw damaged("\(problem); the file changed since it was opened") }
                    inflateReset(stream)
                    betweenMembers = false
                }
                if input.available == 0 {
                    guard try input.refill(), input.available > 0 else { throw damaged("the file ends inside the gzip data; it changed since it was opened") }
                }
                let offered = min(input.available, Int(UInt32.max))
                // swift-format-ignore: NeverForceUnwrap
                stream.pointee.next_in = (input.buffer.baseAddress! + input.index).assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_in = uInt(offered)
                // swift-format-ignore: NeverForceUnwrap
                stream.pointee.next_out = (buffer.baseAddress! + filled).assumingMemoryBound(to: Bytef.self)
                let wanted = min(buffer.count - filled, Int(UInt32.max))
                stream.pointee.avail_out = uInt(wanted)
                let result = inflate(stream, Z_NO_FLUSH)
                input.index += offered - Int(stream.pointee.avail_in)
                let produced = wanted - Int(stream.pointee.avail_out)
                filled += produced
                at += UInt64(produced)
                if result == Z_STREAM_END {
                    // The member's trailer; the next member's header is read when more is needed.
                    for _ in 0..<8 where try input.byte() == nil { throw damaged("the file ends inside a gzip trailer; it changed since it was opened") }
                    betweenMembers = true
                } else if result != Z_OK {
                    throw damaged("the deflate data is corrupt (zlib: \(inflater.message)); the file changed since it was opened")
                }
            }
            position = at
        }

        /// Inflates and drops the bytes up to `target`.
        func skip(to target: UInt64) throws(DiskImageError) {
            while let at = position, at < target {
                try produce(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<Int(min(UInt64(scratch.count), target - at))]))
            }
        }
    }
}
