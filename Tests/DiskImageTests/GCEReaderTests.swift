import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// Reading a GCE image (`disk.raw` in a gzip'd tar) made by imgship, GNU tar with gzip or
/// pigz, and Python's tarfile: the disk read back equals the source (`cmp`, `qemu-img
/// compare`), and damaged or foreign archives are refused with the offset.
@Suite(
    "GCE image reader",
    .enabled(if: which("tar") != nil && which("gzip") != nil && which("pigz") != nil && which("python3") != nil, "needs tar, gzip, pigz and python3"))
struct GCEReaderTests {
    enum Writer: String, CaseIterable, Sendable {
        /// imgship: old GNU sparse, independent 2 MiB gzip members.
        case imgship
        /// `tar --format=oldgnu -S -cf - disk.raw | gzip`: old GNU sparse, one gzip member.
        case gnuTarSparseGzip
        /// `tar --format=gnu -cf - disk.raw | pigz`: a regular member, one long deflate stream
        /// (pigz's blocks share their dictionary): reads resume from window access points.
        case gnuTarPigz
        /// `tar --format=posix -S`: pax headers with GNU sparse format 1.0.
        case gnuTarPosixSparse
        /// Python's tarfile, GNU format, no sparse map (Google's Debian image build).
        case pythonTarfile
    }

    static func make(_ writer: Writer, source: String, in folder: TemporaryFolder) throws -> String {
        let output = folder.file("\(writer.rawValue).tar.gz")
        let staging = folder.file("stage-\(writer.rawValue)")
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let copy = try runProcess("/bin/cp", ["--sparse=always", source, staging + "/disk.raw"])
        try #require(copy.status == 0, "\(copy.standardError)")
        let script: String
        switch writer {
        case .imgship:
            try Exporter.export(source: source, to: .file(output), options: fixedOptions(.gce))
            return output
        case .gnuTarSparseGzip: script = "tar --format=oldgnu -S -C \"$1\" -cf - disk.raw | gzip -c > \"$2\""
        case .gnuTarPigz: script = "tar --format=gnu -C \"$1\" -cf - disk.raw | pigz -c -p 2 > \"$2\""
        case .gnuTarPosixSparse: script = "tar --format=posix -S -C \"$1\" -cf - disk.raw | gzip -c > \"$2\""
        case .pythonTarfile:
            script =
                "python3 -c 'import sys,tarfile\nwith tarfile.open(sys.argv[2], \"w:gz\", format=tarfile.GNU_FORMAT) as t: t.add(sys.argv[1] + \"/disk.raw\", arcname=\"disk.raw\")' \"$1\" \"$2\""
        }
        let result = try runProcess("/bin/sh", ["-c", script, "sh", staging, output])
        try #require(result.status == 0, "\(writer): \(result.standardError)")
        return output
    }

    @Test(arguments: Writer.allCases)
    func readsWhatEachWriterWrote(writer: Writer) throws {
        let folder = try TemporaryFolder()
        let source = try GCETests.makeSource(in: folder)
        let archive = try Self.make(writer, source: source, in: folder)
        #expect(try ImageReader.detect(path: archive) == .gce)
        let opened = try ImageReader.open(path: archive)
        #expect(opened.info.format == .gce)
        #expect(opened.info.virtualSize == 40 * 1024 * 1024 + 4096)
        let form = opened.info.subformat
        switch writer {
        case .imgship, .gnuTarSparseGzip: #expect(form == "oldgnu sparse")
        case .gnuTarPigz, .pythonTarfile: #expect(form == "gnu")
        case .gnuTarPosixSparse: #expect(form == "pax sparse 1.0")
        }
        if writer == .gnuTarPigz {
            // One gzip member of 40 MiB: points inside it, with their windows.
            #expect(opened.info.details.first { $0.key == "gzip members" }?.value == .number(1))
            #expect(((opened.info.details.first { $0.key == "access points" }?.value).map { $0.description }).flatMap { Int($0) } ?? 0 >= 5)
        }
        // Exported by two workers at once, the disk equals the source, by cmp and qemu-img.
        let back = folder.file("back.raw")
        try Exporter.export(source: archive, to: .file(back), options: fixedOptions(.raw, threads: 4))
        let cmp = try runProcess(try #require(which("cmp")), [source, back])
        #expect(cmp.status == 0, "cmp: \(String(decoding: cmp.standardOutput, as: UTF8.self))")
        if let qemu = which("qemu-img") {
            let compare = try runProcess(qemu, ["compare", "-f", "raw", "-F", "raw", source, back])
            #expect(compare.status == 0, "qemu-img compare: \(compare.standardError)")
        }
        let report = try ImageVerifier.verify(path: archive, manifestCheck: .skipped)
        #expect(report.passed, "\(report.checks.filter { !$0.passed })")
    }

    /// Reads at random offsets, in random order, from several threads, match the source.
    @Test(arguments: [Writer.gnuTarPigz, .imgship])
    func randomReadsMatchTheSource(writer: Writer) async throws {
        let folder = try TemporaryFolder()
        let source = try GCETests.makeSource(in: folder)
        let archive = try Self.make(writer, source: source, in: folder)
        let disk = try ImageReader.open(path: archive).disk
        let original = try readFile(source)
        var generator = SystemRandomNumberGenerator()
        let reads = (0..<60).map { _ in
            let length = Int.random(in: 1...300_000, using: &generator)
            return (UInt64.random(in: 0...UInt64(original.count - length), using: &generator), length)
        }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for (offset, length) in reads {
                group.addTask {
                    var buffer = [UInt8](repeating: 0xEE, count: length)
                    try buffer.withUnsafeMutableBytes { try disk.read(offset..<(offset + UInt64(length)), into: $0, zeroingHolesWithin: length) }
                    return buffer[...] == original[Int(offset)..<(Int(offset) + length)]
                }
            }
            for try await same in group { #expect(same) }
        }
    }

    /// The access index stays bounded and even: 600,000 members of 2 MiB (1.2 TB) keep at most
    /// 256 Ki starts, no gap over 4x the average; 3,000 windows keep at most 1,024.
    @Test func theAccessIndexStaysBounded() {
        var index = GCE.GzipIndex()
        let member: UInt64 = 2 << 20
        for number in 0..<600_000 {
            index.addMemberStart(GCE.Checkpoint(uncompressed: UInt64(number) * member, compressed: UInt64(number) * 1000, bits: 0, window: nil))
        }
        #expect(index.memberPoints.count <= GCE.GzipIndex.maximumMemberPoints)
        #expect(index.memberPoints.count > GCE.GzipIndex.maximumMemberPoints / 4)
        let gaps = zip(index.memberPoints.dropFirst(), index.memberPoints).map { $0.uncompressed - $1.uncompressed }
        let average = 600_000 * member / UInt64(index.memberPoints.count)
        #expect((gaps.max() ?? 0) <= 4 * average, "largest gap \(gaps.max() ?? 0), average \(average)")
        #expect(index.nearest(atMost: 599_999 * member + 5)?.uncompressed ?? 0 >= 599_999 * member - 4 * average)

        var windows = GCE.GzipIndex()
        for number in 1...3000 where windows.wantsWindow(at: UInt64(number) << 22) {
            windows.addWindow(GCE.Checkpoint(uncompressed: UInt64(number) << 22, compressed: 0, bits: 3, window: []))
        }
        #expect(windows.windowPoints.count <= GCE.GzipIndex.maximumWindowPoints)
        #expect(windows.windowSpacing > GCE.GzipIndex.initialWindowSpacing)
    }

    /// The tar stream of an old GNU sparse `disk.raw` of `size` bytes storing `map`, with
    /// `after` appended; `edit` changes the header blocks before the data.
    static func tarStream(
        size: UInt64 = 1 << 20, map: [Range<UInt64>] = [0..<4096, 65536..<69632], after: [UInt8] = [], edit: (inout [UInt8]) -> Void = { _ in }
    ) throws -> [UInt8] {
        var headers = try #require(GCE.SparseHeader(name: "disk.raw", map: map, realSize: size, modificationTime: 0).encoded())
        edit(&headers)
        let stored = map.reduce(0) { $0 + Int($1.count) }
        let data = (0..<stored).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }
        return headers + data + [UInt8](repeating: 0, count: USTAR.padding(after: UInt64(stored)) + 1024) + after
    }

    static func gzip(_ bytes: [UInt8], to path: String) throws {
        let compressor = GrainCompressor(level: .standard, framing: .gzip)
        var output = [UInt8](repeating: 0, count: compressor.bound(forInputSize: bytes.count))
        let size = try #require(bytes.withUnsafeBytes { input in output.withUnsafeMutableBytes { compressor.compress(input, into: $0) } })
        try Data(output[0..<size]).write(to: URL(fileURLWithPath: path))
    }

    static func refusal(_ bytes: [UInt8], gzipped: Bool = true, in folder: TemporaryFolder) throws -> String {
        let path = folder.file("hostile.tar.gz")
        if gzipped { try gzip(bytes, to: path) } else { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
        do {
            let opened = try ImageReader.open(path: path)
            Issue.record("opened as \(opened.info.format)")
            return ""
        } catch {
            #expect(error.description.hasPrefix(path + ": ") || error.description.hasPrefix(path + " at offset "), "\(error)")
            #expect(!error.description.contains("\n"))
            return error.description
        }
    }

    @Test func hostileTarStreamsAreRefusedWithTheirOffset() throws {
        let folder = try TemporaryFolder()
        // Sanity: the unedited stream opens and reads back.
        try Self.gzip(try Self.tarStream(), to: folder.file("good.tar.gz"))
        #expect(try ImageReader.open(path: folder.file("good.tar.gz")).info.virtualSize == 1 << 20)

        let checksum = try Self.refusal(try Self.tarStream { $0[0] = UInt8(ascii: "D") }, in: folder)
        #expect(checksum.contains("tar offset 148 of the decompressed data: the tar header checksum does not match"), "\(checksum)")

        let outOfOrder = try Self.refusal(try Self.tarStream(map: [65536..<69632, 0..<4096]), in: folder)
        #expect(outOfOrder.contains("overlaps or comes before"), "\(outOfOrder)")

        let overlapping = try Self.refusal(try Self.tarStream(map: [0..<8192, 4096..<12288]), in: folder)
        #expect(overlapping.contains("overlaps or comes before"), "\(overlapping)")

        let pastEnd = try Self.refusal(try Self.tarStream(size: 1 << 20, map: [0..<4096, (1 << 20)..<((1 << 20) + 4096)]), in: folder)
        #expect(pastEnd.contains("runs past the disk's size 1048576"), "\(pastEnd)")

        // isextended set with no extension block: the data is read as one, and refused.
        let missing = try Self.refusal(
            try Self.tarStream { headers in
                headers[482] = 1
                TarBlock.seal(&headers)
            }, in: folder)
        #expect(missing.contains("a sparse map entry is neither octal nor GNU base-256"), "\(missing)")
        // Extension blocks that never end: each says another follows.
        var chain = try #require(GCE.SparseHeader(name: "disk.raw", map: [0..<4096], realSize: 1 << 40, modificationTime: 0).encoded())
        chain[482] = 1
        TarBlock.seal(&chain)
        var extensionBlock = [UInt8](repeating: 0, count: 512)
        extensionBlock[504] = 1
        let huge = try Self.refusal(chain + Array((0..<30_000).map { _ in extensionBlock }.joined()), in: folder)
        #expect(huge.contains("more extension blocks than 524288 sparse map entries fill"), "\(huge)")

        // A declared disk, then far more zeros than an archive's end: a bomb is stopped.
        let bomb = try Self.refusal(try Self.tarStream(after: [UInt8](repeating: 0, count: 20 << 20)), in: folder)
        #expect(bomb.contains("more than 16 MiB of zeros follow disk.raw's data"), "\(bomb)")

        // A second member after disk.raw.
        let second = try Self.refusal(try Self.tarStream(after: try #require(USTAR.header(name: "extra.txt", size: 0, modificationTime: 0))), in: folder)
        #expect(second.contains("holds more than disk.raw: data follows it at tar offset"), "\(second)")

        // Another first member: a tar.gz, but not a GCE image.
        let other = try Self.refusal(
            try #require(USTAR.header(name: "etc/hosts", size: 0, modificationTime: 0)) + [UInt8](repeating: 0, count: 1024), in: folder)
        #expect(other.contains("is a gzip'd tar archive, but its first member is \"etc/hosts\" (a file), not the regular file disk.raw"), "\(other)")

        // disk.raw as a symbolic link (to /etc/shadow, say) is named as one, never followed.
        var link = try #require(USTAR.header(name: "disk.raw", size: 0, modificationTime: 0))
        link[156] = UInt8(ascii: "2")
        link.replaceSubrange(157..<168, with: Array("/etc/shadow".utf8))
        TarBlock.seal(&link)
        let linked = try Self.refusal(link + [UInt8](repeating: 0, count: 1024), in: folder)
        #expect(linked.contains("its first member is \"disk.raw\" (a symbolic link), not the regular file disk.raw"), "\(linked)")
    }

    @Test func damagedGzipIsRefusedWithTheOffset() throws {
        let folder = try TemporaryFolder()
        let source = try GCETests.makeSource(in: folder)
        let archive = try Self.make(.gnuTarSparseGzip, source: source, in: folder)
        let bytes = try readFile(archive)

        let truncated = try Self.refusal(Array(bytes.prefix(bytes.count / 2)), gzipped: false, in: folder)
        #expect(truncated.contains("the file ends inside the gzip member that starts at offset 0 (truncated)"), "\(truncated)")

        var badCRC = bytes
        badCRC[bytes.count - 8] ^= 0x01
        let crc = try Self.refusal(badCRC, gzipped: false, in: folder)
        #expect(crc.contains("at offset \(bytes.count - 8): the CRC-32 of the gzip member at offset 0 is 0x"), "\(crc)")

        var badLength = bytes
        badLength[bytes.count - 4] ^= 0x01
        let length = try Self.refusal(badLength, gzipped: false, in: folder)
        #expect(length.contains("at offset \(bytes.count - 4): the gzip member at offset 0 says it holds"), "\(length)")

        var garbage = bytes
        garbage += [0x42, 0x42]
        let trailing = try Self.refusal(garbage, gzipped: false, in: folder)
        #expect(trailing.contains("at offset \(bytes.count): not a gzip member"), "\(trailing)")
        // gzip -t agrees that each is damaged.
        for (name, damaged) in [("truncated", Array(bytes.prefix(bytes.count / 2))), ("crc", badCRC), ("length", badLength)] {
            let path = folder.file("\(name).gz")
            try Data(damaged).write(to: URL(fileURLWithPath: path))
            #expect(try runProcess(try #require(which("gzip")), ["-t", path]).status != 0, "gzip -t passes \(name)")
        }
    }

    /// A gzip file that is not a tar stays a foreign "gzip-compressed file".
    @Test func aGzipOfSomethingElseIsStillForeign() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("notes.gz")
        try Self.gzip(Array(repeating: UInt8(ascii: "x"), count: 4096), to: path)
        #expect(throws: DiskImageError.self) { try ImageReader.detect(path: path) }
        do {
            _ = try ImageReader.detect(path: path)
        } catch {
            #expect(error.description.hasPrefix("\(path): is a gzip-compressed file, which imgship does not read"), "\(error)")
        }
    }

    /// `check --target gcp` applies Google's rules to a tar.gz made elsewhere: a whole-GiB
    /// disk passes; the 40 MiB one breaks the whole-GiB rule.
    @Test func checkTargetGcpReadsTheArchive() throws {
        let folder = try TemporaryFolder()
        let whole = folder.file("whole.raw")
        let image = try ImageBuilder(path: whole, size: 1 << 30)
        try image.write(ImageBuilder.text(100_000, seed: 3), at: 1 << 20)
        let good = try Self.make(.gnuTarSparseGzip, source: whole, in: folder)
        let target = try ExportTarget(parsing: "gcp")
        let accepted = try TargetCheck.check(path: good, target: target)
        #expect(accepted.accepted, "\(accepted.rules.filter { !$0.kept })")

        let small = try Self.make(.pythonTarfile, source: try GCETests.makeSource(in: folder), in: folder)
        let refused = try TargetCheck.check(path: small, target: target)
        #expect(!refused.accepted)
        #expect(refused.rules.contains { !$0.kept && $0.source == GCE.requirementsSource }, "\(refused.rules.filter { !$0.kept })")
    }
}
