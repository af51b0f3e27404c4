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

    static let tmpfsHoldsTheMaximum = SparseDisk.folder(for: 1 << 51) != nil

    @Test(
        .enabled(if: tmpfsHoldsTheMaximum, "needs a tmpfs /dev/shm (sparse files over 16 TiB)"),
        arguments: [UInt64(1) << 51, 1 << 46], [false, true])
    func peakStaysFlatWhateverTheVirtualSize(size: UInt64, compress: Bool) throws {
        let shared = try #require(SparseDisk.folder(for: 1 << 20))
        let outputs = try TemporaryFolder()
        let small = shared.file("small.raw"), large = shared.file("large.raw")
        try SparseDisk.make(small, size: 4 << 20)
        try SparseDisk.make(large, size: size)
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
