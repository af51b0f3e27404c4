import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// Images with many second-level tables, made by qemu-img: every table is loaded and every
/// data run found where it was written. (`tools/bench-open` shows opening them is linear in
/// the tables.)
@Suite("table-heavy images")
struct TableHeavyTests {
    static let qemuImg = which("qemu-img")

    @Test(
        .enabled(if: qemuImg != nil, "needs qemu-img"),
        arguments: [
            ("qcow2", ["-O", "qcow2"]), ("vmdk", ["-O", "vmdk", "-o", "subformat=monolithicSparse"]),
            ("vhd", ["-O", "vpc", "-o", "subformat=dynamic,force_size=on"]),
        ])
    func everyTableIsReadAndEveryRunFound(format: String, options: [String]) throws {
        // 64 GiB with 4 KiB every 512 MiB: 128 qcow2 L2 tables, 128 VMDK grain tables, 128 VHD blocks.
        let folder = try TemporaryFolder()
        let raw = folder.file("disk.raw")
        let size: UInt64 = 64 << 30
        let chunks = 128
        let image = try ImageBuilder(path: raw, size: size)
        for index in 0..<chunks {
            try image.write([UInt8](repeating: UInt8(index % 255 + 1), count: 4096), at: UInt64(index) * (512 << 20))
        }
        let converted = folder.file("disk.\(format)")
        let result = try runProcess(try #require(Self.qemuImg), ["convert", "-f", "raw"] + options + [raw, converted])
        try #require(result.status == 0, "\(result.standardError)")

        let opened = try ImageReader.open(path: converted)
        #expect(opened.info.virtualSize == size)
        let disk = opened.disk
        var found: [UInt64] = []
        var position: UInt64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { buffer.deallocate() }
        while let next = disk.nextDataOffset(from: position) {
            let window = next..<min(next + (64 << 20), size)
            // A data run starts with one chunk (the chunks lie 512 MiB apart), or is a stored
            // part of the file that reads as zeros (a block's tail sharing a filesystem block
            // with the next block's bitmap).
            for range in try disk.dataRanges(in: window) {
                let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(min(4096, range.count))])
                try disk.readExactly(into: piece, at: range.lowerBound)
                if range.lowerBound % (512 << 20) == 0 {
                    #expect(buffer[0] == UInt8(range.lowerBound / (512 << 20) % 255 + 1) && buffer[4095] == buffer[0])
                    found.append(range.lowerBound)
                } else {
                    #expect(piece.allSatisfy { $0 == 0 }, "\(range)")
                }
            }
            position = window.upperBound
        }
        #expect(found == (0..<UInt64(chunks)).map { $0 * (512 << 20) })
        try disk.readExactly(into: buffer, at: 5 * (512 << 20))
        #expect(Array(buffer) == [UInt8](repeating: 6, count: 4096))
    }
}
