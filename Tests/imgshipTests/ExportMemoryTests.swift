import Foundation
import TestSupport
import Testing

/// The issue's memory goal: an export's peak resident memory stays flat, at most 64 MiB over
/// a tiny export's, whatever the virtual size: qcow2 up to its 2 PiB maximum (an L1 table of
/// 4 Mi entries, 32 MiB), uncompressed and compressed, each run in its own process and
/// measured with wait4(2)'s rusage. The sources are sparse raw files on tmpfs (/dev/shm),
/// which holds files larger than ext4's 16 TiB, with a MiB of data at the start, the middle
/// and the end.
@Suite("export memory", .serialized)
struct ExportMemoryTests {
    static let binary = ExportCommandTests.binary
    static let budget = 64 << 20

    /// A folder on tmpfs that holds a sparse file of `size` bytes, or nil.
    static func sparseFolder(for size: UInt64) -> TemporaryFolder? {
        guard let folder = try? TemporaryFolder(in: "/dev/shm") else { return nil }
        let probe = open(folder.file("probe"), O_WRONLY | O_CREAT, 0o600)
        guard probe >= 0 else { return nil }
        defer { close(probe) }
        return ftruncate(probe, off_t(size)) == 0 ? folder : nil
    }

    static let tmpfsHoldsTheMaximum = sparseFolder(for: 1 << 51) != nil

    /// A sparse raw disk of `size` bytes: noise, then text, a MiB at the start, the middle
    /// and the end.
    static func makeSource(_ path: String, size: UInt64) throws {
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: size)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let noise = (0..<(512 * 1024)).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        let text = Array(String(repeating: "a compressible line of text, again and again\n", count: 12_000).utf8.prefix(512 * 1024))
        for offset in [0, size / 2, size - (1 << 20)] {
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: Data(noise + text))
        }
    }

    @Test(
        .enabled(if: tmpfsHoldsTheMaximum, "needs a tmpfs /dev/shm (sparse files over 16 TiB)"),
        arguments: [UInt64(1) << 51, 1 << 46], [false, true])
    func peakStaysFlatWhateverTheVirtualSize(size: UInt64, compress: Bool) throws {
        let shared = try #require(Self.sparseFolder(for: 1 << 20))
        let outputs = try TemporaryFolder()
        let small = shared.file("small.raw"), large = shared.file("large.raw")
        try Self.makeSource(small, size: 4 << 20)
        try Self.makeSource(large, size: size)
        let flags = ["-f", "qcow2", "--threads", "2", "--no-progress"] + (compress ? ["--compress"] : [])
        let base = try MeasuredRun.run([Self.binary, "export", small, "-o", outputs.file("small.qcow2")] + flags, errorPath: outputs.file("small.err"))
        #expect(base.status == 0, "\(base.standardError)")
        let output = outputs.file("large.qcow2")
        let run = try MeasuredRun.run([Self.binary, "export", large, "-o", output] + flags, errorPath: outputs.file("large.err"))
        #expect(run.status == 0, "\(run.standardError)")
        let what = "\(size >> 40) TiB\(compress ? ", compressed" : "")"
        #expect(
            run.peakBytes - base.peakBytes <= Self.budget,
            "\(what): peak \(run.peakBytes >> 20) MiB, a 4 MiB disk's \(base.peakBytes >> 20) MiB")
        if let qemu = which("qemu-img") {
            let check = try runProcess(qemu, ["check", "-f", "qcow2", output])
            #expect(check.status == 0, "\(what): qemu-img check: \(String(decoding: check.standardOutput, as: UTF8.self))")
        }
    }
}
