import Synchronization

extension GCE {
    /// Whether a first sector is a gzip file whose data begins with a tar header ("ustar" at
    /// 257): a `.tar.gz`. Opening it decides whether it is a GCE image; other gzip files are
    /// left to the foreign table, which refuses them as compressed files.
    static func recognises(_ head: [UInt8]) -> Bool {
        guard head.starts(with: [0x1F, 0x8B, 0x08]), let inflated = inflatedHead(head), inflated.count >= 262 else { return false }
        return Array(inflated[257..<262]) == Array("ustar".utf8)
    }

    /// Zeros accepted after `disk.raw`: the member's padding, the two zero blocks that end an
    /// archive and the rest of the last record, whatever the blocking factor (`tar -b 2048`
    /// writes 1 MiB records). More means the archive declares less than it holds.
    static let maximumTrailingBytes: UInt64 = 16 << 20
    /// Bytes of headers read before the data (old GNU extension blocks for the largest map
    /// read, pax headers).
    static let maximumHeaderBytes = 16 << 20

    /// Follows the decompressed tar stream during the opening pass: reads the headers, then
    /// checks that only zeros follow `disk.raw`'s data, and stops a stream that runs on.
    final class TarWatcher: StreamWatcher {
        let path: String
        var head: [UInt8] = []
        var needed = TarBlock.size
        var layout: TarLayout?
        /// Zero bytes after the data, to tell whether the end-of-archive blocks are there.
        var trailingZeros: UInt64 = 0
        /// The stream has ended: parse what there is.
        private var final = false

        init(path: String) { self.path = path }

        /// Called at the end of the stream: headers still waiting for more are parsed as they are.
        func finish(compressedOffset: UInt64) throws(DiskImageError) {
            guard layout == nil, !head.isEmpty else { return }
            final = true
            try consume(UnsafeRawBufferPointer(start: nil, count: 0), at: UInt64(head.count), compressedOffset: compressedOffset)
        }

        func problem(_ problem: TarProblem, compressedOffset: UInt64) -> DiskImageError {
            if problem.unsupported {
                return .unsupportedSource(
                    path: path,
                    reason: "is a gzip'd tar archive, but \(problem.reason) (tar offset \(problem.offset)); imgship reads only GCE images from .tar.gz files")
            }
            return .malformedImage(path: path, offset: compressedOffset, reason: "tar offset \(problem.offset) of the decompressed data: \(problem.reason)")
        }

        func consume(_ bytes: UnsafeRawBufferPointer, at streamOffset: UInt64, compressedOffset: UInt64) throws(DiskImageError) {
            var bytes = bytes
            var streamOffset = streamOffset
            if layout == nil {
                let take = min(bytes.count, Self.headLimit - head.count)
                head.append(contentsOf: bytes[0..<take])
                guard head.count >= needed || final else {
                    if head.count >= Self.headLimit {
                        throw DiskImageError.malformedImage(
                            path: path, offset: compressedOffset, reason: "the tar headers run past \(maximumHeaderBytes >> 20) MiB of the decompressed data")
                    }
                    return
                }
                do throws(TarProblem) {
                    switch try parseTar(head) {
                    case let .needMore(count):
                        guard count <= Self.headLimit else {
                            throw TarProblem(offset: UInt64(head.count), reason: "the tar headers run past \(maximumHeaderBytes >> 20) MiB")
                        }
                        // At least twice what was parsed: the headers are parsed again from the
                        // start, so a long map costs a few passes, not one a chunk.
                        needed = max(count, min(head.count * 2, Self.headLimit))
                        return
                    case let .done(found):
                        layout = found
                    }
                } catch let error {
                    throw problem(error, compressedOffset: compressedOffset)
                }
                // The head is the stream from its start: what it holds past the data is trailer.
                let seen = head
                head = []
                let checked = seen.withUnsafeBytes { buffer in
                    Result { () throws(DiskImageError) in try checkTrailer(buffer, at: 0, compressedOffset: compressedOffset) }
                }
                try checked.get()
                bytes = UnsafeRawBufferPointer(rebasing: bytes[take...])
                streamOffset += UInt64(take)
            }
            try checkTrailer(bytes, at: streamOffset, compressedOffset: compressedOffset)
        }

        private static let headLimit = maximumHeaderBytes

        /// Bytes past the data must be zeros, and not too many.
        private func checkTrailer(_ bytes: UnsafeRawBufferPointer, at streamOffset: UInt64, compressedOffset: UInt64) throws(DiskImageError) {
            guard let layout else { return }
            let end = streamOffset + UInt64(bytes.count)
            guard end > layout.dataEnd else { return }
            let from = Int(max(layout.dataEnd, streamOffset) - streamOffset)
            let tail = UnsafeRawBufferPointer(rebasing: bytes[from...])
            if !isAllZero(tail), let nonZero = tail.firstIndex(where: { $0 != 0 }) {
                let at = streamOffset + UInt64(from + nonZero)
                throw DiskImageError.unsupportedSource(
                    path: path,
                    reason:
                        "holds more than disk.raw: data follows it at tar offset \(at) (a second member?); a GCE image is a gzip'd tar holding the one file disk.raw"
                )
            }
            trailingZeros += UInt64(tail.count)
            guard trailingZeros <= maximumTrailingBytes else {
                throw DiskImageError.malformedImage(
                    path: path, offset: compressedOffset,
                    reason:
                        "more than \(maximumTrailingBytes >> 20) MiB of zeros follow disk.raw's data (tar offset \(layout.dataEnd)); the archive holds more than it declares"
                )
            }
        }
    }

    /// Opens a GCE image: one pass over the whole file (every member's CRC-32 and length, the
    /// tar headers, the sparse map), then a disk read through the access index.
    static func open(_ file: SourceImage) throws(DiskImageError) -> OpenedImage {
        let watcher = TarWatcher(path: file.path)
        let index = try buildIndex(file, watcher: watcher)
        try watcher.finish(compressedOffset: file.fileSize)
        guard let layout = watcher.layout else {
            throw DiskImageError.malformedImage(
                path: file.path, offset: file.fileSize,
                reason: "the decompressed data ends (\(index.totalOut) bytes) inside the tar headers; the archive is cut short")
        }
        guard index.totalOut >= layout.dataEnd else {
            throw DiskImageError.malformedImage(
                path: file.path, offset: file.fileSize,
                reason:
                    "the decompressed data ends at tar offset \(index.totalOut), inside disk.raw's data (which ends at \(layout.dataEnd)); the archive is cut short"
            )
        }
        let disk = Disk(file: file, layout: layout, index: index)
        let paddedEnd = roundUp(layout.dataEnd, toMultipleOf: UInt64(TarBlock.size))
        let details: [(String, ImageInfo.Detail)] = [
            ("member", .text(layout.memberName)),
            ("tar format", .text(layout.form)),
            ("stored bytes", .number(layout.storedSize)),
            ("sparse map entries", .number(UInt64(layout.mapEntries))),
            ("gzip members", .number(UInt64(index.members))),
            ("decompressed bytes", .number(index.totalOut)),
            ("access points", .number(UInt64(index.memberPoints.count + index.windowPoints.count))),
        ]
        let findings: [(check: String, passed: Bool)] = [
            ("every gzip member's CRC-32 and length", true),
            ("the archive ends with two zero blocks", index.totalOut >= paddedEnd + 2 * UInt64(TarBlock.size)),
        ]
        return OpenedImage(disk: disk, info: ImageReader.info(disk, file, .gce, layout.form, details), findings: findings)
    }

    /// `disk.raw` read through the gzip index: stored ranges inflate from the nearest access
    /// point; the rest of the disk reads as zeros.
    final class Disk: VirtualDisk {
        let file: SourceImage
        let layout: TarLayout
        let index: GzipIndex
        /// Where each map range starts among the stored bytes.
        let storedStarts: [UInt64]
        private let idle = Mutex<[Cursor]>([])

        var path: String { file.path }
        var size: UInt64 { layout.realSize }

        init(file: SourceImage, layout: TarLayout, index: GzipIndex) {
            self.file = file
            self.layout = layout
            self.index = index
            var starts: [UInt64] = []
            starts.reserveCapacity(layout.map.count)
            var stored: UInt64 = 0
            for range in layout.map {
                starts.append(stored)
                stored += UInt64(range.count)
            }
            storedStarts = starts
        }

        /// The index of the first map range that ends after `offset` (`map.count` if none).
        private func firstRange(endingAfter offset: UInt64) -> Int {
            var low = 0
            var high = layout.map.count
            while low < high {
                let middle = (low + high) / 2
                if layout.map[middle].upperBound <= offset { low = middle + 1 } else { high = middle }
            }
            return low
        }

        func dataRanges(in window: Range<UInt64>) throws(DiskImageError) -> [Range<UInt64>] {
            var ranges: [Range<UInt64>] = []
            var position = firstRange(endingAfter: window.lowerBound)
            while position < layout.map.count, layout.map[position].lowerBound < window.upperBound {
                let range = layout.map[position]
                ranges.append(max(range.lowerBound, window.lowerBound)..<min(range.upperBound, window.upperBound))
                position += 1
            }
            return ranges
        }

        func nextDataOffset(from offset: UInt64) -> UInt64? {
            let position = firstRange(endingAfter: offset)
            return position < layout.map.count ? max(offset, layout.map[position].lowerBound) : nil
        }

        func readExactly(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(DiskImageError) {
            let end = offset + UInt64(buffer.count)
            var position = offset
            var rangeIndex = firstRange(endingAfter: offset)
            while position < end {
                let range = rangeIndex < layout.map.count ? layout.map[rangeIndex] : end..<end
                let relative = Int(position - offset)
                if position < range.lowerBound {
                    let stop = Int(min(range.lowerBound, end) - offset)
                    UnsafeMutableRawBufferPointer(rebasing: buffer[relative..<stop]).initializeMemory(as: UInt8.self, repeating: 0)
                    position = offset + UInt64(stop)
                    continue
                }
                let stop = min(range.upperBound, end)
                let streamOffset = layout.dataStart + storedStarts[rangeIndex] + (position - range.lowerBound)
                try readStream(into: UnsafeMutableRawBufferPointer(rebasing: buffer[relative..<Int(stop - offset)]), at: streamOffset)
                position = stop
                rangeIndex += 1
            }
        }

        /// Decompressed stream bytes at `streamOffset`: through an idle cursor that can inflate
        /// on to it without starting over, else from the nearest access point.
        private func readStream(into buffer: UnsafeMutableRawBufferPointer, at streamOffset: UInt64) throws(DiskImageError) {
            guard let point = index.nearest(atMost: streamOffset) else {
                throw DiskImageError.malformedImage(path: path, offset: 0, reason: "no gzip access point before tar offset \(streamOffset)")
            }
            let reusable = idle.withLock { cursors -> Cursor? in
                let fitting = cursors.indices.filter { index in
                    cursors[index].position.map { $0 <= streamOffset && $0 >= point.uncompressed } ?? false
                }
                if let best = fitting.max(by: { (cursors[$0].position ?? 0) < (cursors[$1].position ?? 0) }) { return cursors.remove(at: best) }
                return cursors.popLast()
            }
            let cursor: Cursor
            if let reusable { cursor = reusable } else { cursor = try Cursor(file) }
            defer { idle.withLock { $0.append(cursor) } }
            if !(cursor.position.map { $0 <= streamOffset && $0 >= point.uncompressed } ?? false) {
                try cursor.start(at: point)
            }
            try cursor.skip(to: streamOffset)
            try cursor.produce(into: buffer)
        }
    }
}
