import Foundation
import TestSupport
import Testing

/// The issue's memory goal for the formats whose tables grow with the disk: each run stays
/// under 64 MiB of peak resident memory (wait4(2)'s rusage, `MeasuredRun`) at the format's
/// largest size. A dynamic VHDX of 64 TiB in 1 MiB blocks (`--block-size 1`) has a BAT of
/// 2^26 entries, 512 MiB; the writer once held all of it and a flag a block (623 MiB peak),
/// and the readers decoded every entry one at a time (95 s for qemu's 64 TiB VHDX, over 120 s
/// for its 64 TiB VMDK). Sources are sparse files on tmpfs (/dev/shm), which holds files
/// larger than ext4's 16 TiB.
@Suite("block table memory", .serialized)
struct BlockTableMemoryTests {
    static let binary = ExportCommandTests.binary
    static let budget = 64 << 20
    /// Processor time (user and system, from rusage) a reader may take on a table of 2^26
    /// entries in this debug build, about 4 s. Processor time, not wall time: the rest of the
    /// suite beside it on two cores stretches the wall clock, not the work; the decoder that
    /// read every entry one at a time took over 95 s.
    static let readerSeconds = 30.0

    static let tmpfsHolds64TiB = SparseDisk.folder(for: 1 << 46) != nil

    /// Runs imgship with `arguments`, expects success under the budget, and returns the run.
    @discardableResult
    static func expectFlat(_ arguments: [String], _ what: String, in folder: TemporaryFolder) throws -> MeasuredRun {
        let run = try MeasuredRun.run([binary] + arguments, errorPath: folder.file("stderr"))
        #expect(run.status == 0, "\(what): \(run.standardError.prefix(300))")
        #expect(run.peakBytes <= budget, "\(what): peak \(run.peakBytes >> 20) MiB")
        return run
    }

    /// One export of the largest disk each dynamic format holds: with a digest (two passes,
    /// the table streamed first), without (one pass, the table written in place at the end).
    struct Case: CustomStringConvertible, Sendable {
        var format: String
        var size: UInt64
        var flags: [String]
        var description: String { "\(format) \(size >> 30) GiB \(flags.joined(separator: " "))" }
    }

    static let cases: [Case] = [
        Case(format: "vhdx", size: 64 << 40, flags: ["--block-size", "1"]),
        Case(format: "vhdx", size: 64 << 40, flags: ["--block-size", "1", "--no-manifest"]),
        // VHD's limit, 0xFF000000 sectors (VHD.maximumSize): 2^20 blocks of 2 MiB.
        Case(format: "vhd", size: 2040 << 30, flags: []),
        Case(format: "vhd", size: 2040 << 30, flags: ["--no-manifest"]),
    ]

    @Test(.enabled(if: tmpfsHolds64TiB, "needs a tmpfs /dev/shm (sparse files over 16 TiB)"), arguments: cases)
    func exportAndReadBackStayFlat(_ test: Case) throws {
        let shared = try TemporaryFolder(in: "/dev/shm")
        // The output stores its whole table (512 MiB for the VHDX): on disk, not in memory.
        let outputs = try TemporaryFolder()
        let source = shared.file("disk.raw")
        try SparseDisk.make(source, size: test.size)
        let output = outputs.file("disk.\(test.format)")
        try Self.expectFlat(
            ["export", source, "-f", test.format, "-o", output, "--threads", "2", "--no-progress"] + test.flags, "export \(test)", in: outputs)
        let info = try Self.expectFlat(["info", output], "info \(test)", in: outputs)
        #expect(info.processorSeconds < Self.readerSeconds, "info \(test): \(info.processorSeconds) s of processor time")
        let verify = try Self.expectFlat(["verify", output] + (test.flags.contains("--no-manifest") ? ["--no-manifest"] : []), "verify \(test)", in: outputs)
        #expect(verify.processorSeconds < Self.readerSeconds, "verify \(test): \(verify.processorSeconds) s of processor time")
        // qemu-img checks VHDX; of VHD (vpc) it checks nothing (exit 63).
        if test.format == "vhdx", let qemu = which("qemu-img") {
            let check = try runProcess(qemu, ["check", "-f", "vhdx", output])
            #expect(check.status == 0, "\(test): qemu-img check: \(String(decoding: check.standardOutput, as: UTF8.self))")
        }
    }

    /// Containers qemu-img makes at the largest size, with a MiB written at 0 and at 1 TiB:
    /// qemu's VHDX marks every block PAYLOAD_BLOCK_ZERO and leaves a VMDK's grain tables as
    /// holes of the file, so a reader must pass over runs of them without decoding each.
    @Test(
        .enabled(if: tmpfsHolds64TiB && which("qemu-img") != nil && which("qemu-io") != nil, "needs a tmpfs /dev/shm, qemu-img and qemu-io"),
        arguments: [("vhdx", "64T", ["-o", "block_size=1M"]), ("vmdk", "64T", []), ("qcow2", "2P", [])])
    func readersOfQemuContainersStayFlat(format: String, size: String, options: [String]) throws {
        let qemu = try #require(which("qemu-img"))
        let qemuIO = try #require(which("qemu-io"))
        let folder = try TemporaryFolder(in: "/dev/shm")
        let image = folder.file("disk.\(format)")
        let made = try runProcess(qemu, ["create", "-q", "-f", format] + options + [image, size])
        try #require(made.status == 0, "\(made.standardError)")
        let written = try runProcess(qemuIO, ["-f", format, "-c", "write -P 7 0 1M", "-c", "write -P 9 1T 1M", image])
        try #require(written.status == 0, "\(written.standardError)")
        for command in [["info"], ["verify", "--no-manifest"]] {
            let run = try Self.expectFlat(command + [image], "\(command[0]) \(format) \(size)", in: folder)
            #expect(run.processorSeconds < Self.readerSeconds, "\(command[0]) \(format) \(size): \(run.processorSeconds) s of processor time")
        }
        // What was written reads back: two MiB of data, in any of the formats.
        let verify = try runProcess(Self.binary, ["verify", "--no-manifest", image])
        #expect(String(decoding: verify.standardOutput, as: UTF8.self).contains("data: 2097152 bytes of allocated data read"))
    }
}
