import Foundation
import Synchronization
import TestSupport
import Testing

@testable import DiskImage

@Suite("Exports, read back independently")
struct ExportTests {
    @Test func rawIsTheSourceAndSparse() throws {
        let folder = try TemporaryFolder()
        try SampleImage.awkward(at: folder.file("src.raw"))
        let summary = try Exporter.export(source: folder.file("src.raw"), to: .file(folder.file("out.raw")), options: fixedOptions(.raw))
        expectSameBytes(try readFile(folder.file("out.raw")), try readFile(folder.file("src.raw")))
        #expect(summary.virtualSize == SampleImage.awkwardSize)
        #expect(summary.outputSize == SampleImage.awkwardSize)
        // About 5 MiB of non-zero data; the allocated zeros and holes must stay holes.
        #expect(allocatedBytes(folder.file("out.raw")) < 8 * 1024 * 1024)
        #expect(summary.bytesWritten < 8 * 1024 * 1024)
        #expect(try String(contentsOfFile: folder.file("out.raw.sha256"), encoding: .utf8) == "\(summary.sha256 ?? "")  out.raw\n")
    }

    @Test func fixedVHDIsTheSourceThenTheFooter() throws {
        let folder = try TemporaryFolder()
        try SampleImage.awkward(at: folder.file("src.raw"))
        try Exporter.export(source: folder.file("src.raw"), to: .file(folder.file("out.vhd")), options: fixedOptions(.vhdFixed))
        let output = try readFile(folder.file("out.vhd"))
        let source = try readFile(folder.file("src.raw"))
        #expect(output.count == source.count + 512)
        expectSameBytes(Array(output[0..<source.count]), source)
        let footer = Array(output[source.count...])
        #expect(
            footer
                == VHD.Footer(
                    diskType: .fixed, diskSize: UInt64(source.count),
                    timestamp: UInt32(1_700_000_000 - 946_684_800), uniqueID: Array(0x10...0x1F)
                ).encoded())
        #expect(allocatedBytes(folder.file("out.vhd")) < 8 * 1024 * 1024)
    }

    @Test func dynamicVHDLeavesZeroBlocksUnallocated() throws {
        let folder = try TemporaryFolder()
        try SampleImage.awkward(at: folder.file("src.raw"))
        try Exporter.export(source: folder.file("src.raw"), to: .file(folder.file("out.vhd")), options: fixedOptions(.vhdDynamic))
        let (disk, table) = try OutputReader.dynamicVHD(readFile(folder.file("out.vhd")))
        expectSameBytes(disk, try readFile(folder.file("src.raw")))
        // Data touches blocks 0-2 (text), 19-20 (noise straddles 40 MiB) and 49-50 (the tail
        // straddles 100 MiB); the written zeros at 60 MiB and all holes stay unallocated.
        let allocated = table.indices.filter { table[$0] != 0xFFFF_FFFF }
        #expect(allocated == [0, 1, 2, 19, 20, 49, 50])
    }

    @Test(arguments: [DeflateLevel.standard, .fast, .libdeflate(1), .best])
    func vmdkGrainsRebuildTheSource(level: DeflateLevel) throws {
        let folder = try TemporaryFolder()
        try SampleImage.awkward(at: folder.file("src.raw"))
        try Exporter.export(source: folder.file("src.raw"), to: .file(folder.file("out.vmdk")), options: fixedOptions(.vmdk, level: level))
        let vmdk = try OutputReader.streamVMDK(readFile(folder.file("out.vmdk")))
        let source = try readFile(folder.file("src.raw"))
        expectSameBytes(Array(vmdk.disk[0..<source.count]), source)
        #expect(vmdk.disk.count == source.count, "capacity is the exact size in sectors")
        // 3 MiB + 777 of text from 1 MiB + 512 spans 50 grains, 2 MiB of noise 33, the tail 1.
        #expect(vmdk.grainCount == 50 + 33 + 1)
        #expect(vmdk.descriptor.contains("RW \(source.count / 512) SPARSE \"out.vmdk\""))
        #expect(vmdk.descriptor.contains("CID=10111213"))
    }

    @Test func emptyVMDKStillEndsWithFooterAndEndOfStream() throws {
        let folder = try TemporaryFolder()
        try SampleImage.allZero(at: folder.file("zero.raw"))
        try Exporter.export(source: folder.file("zero.raw"), to: .file(folder.file("out.vmdk")), options: fixedOptions(.vmdk))
        let file = try readFile(folder.file("out.vmdk"))
        let vmdk = try OutputReader.streamVMDK(file)
        #expect(vmdk.grainCount == 0)
        #expect(vmdk.disk.allSatisfy { $0 == 0 })
        // Header, descriptor pad, GD marker + 1 GD sector, footer marker, footer, EOS.
        #expect(file.count == 65536 + 512 * 5)
    }

    @Test func incompressibleLastGrainIsFollowedByTheTail() throws {
        let folder = try TemporaryFolder()
        try SampleImage.random(at: folder.file("noise.raw"))
        try Exporter.export(source: folder.file("noise.raw"), to: .file(folder.file("out.vmdk")), options: fixedOptions(.vmdk, level: .fast))
        let vmdk = try OutputReader.streamVMDK(readFile(folder.file("out.vmdk")))
        let source = try readFile(folder.file("noise.raw"))
        expectSameBytes(Array(vmdk.disk[0..<source.count]), source)
    }

    @Test(arguments: OutputFormat.allCases)
    func oneThreadAndManyThreadsWriteTheSameBytes(format: OutputFormat) throws {
        let folder = try TemporaryFolder()
        try SampleImage.awkward(at: folder.file("src.raw"))
        let other = try TemporaryFolder()
        // Same name in both: a VMDK descriptor records its file name.
        let one = try Exporter.export(source: folder.file("src.raw"), to: .file(folder.file("out")), options: fixedOptions(format, threads: 1))
        let many = try Exporter.export(source: folder.file("src.raw"), to: .file(other.file("out")), options: fixedOptions(format, threads: 5))
        #expect(one.sha256 == many.sha256)
        expectSameBytes(try readFile(folder.file("out")), try readFile(other.file("out")))
    }

    @Test func manifestDigestIsTheOutputsDigest() throws {
        let folder = try TemporaryFolder()
        try SampleImage.awkward(at: folder.file("src.raw"))
        for format in OutputFormat.allCases {
            let name = "out-\(format.rawValue)"
            let summary = try Exporter.export(source: folder.file("src.raw"), to: .file(folder.file(name)), options: fixedOptions(format))
            let digest = SHA256Hasher()
            digest.update(try readFile(folder.file(name)))
            #expect(summary.sha256 == digest.finalizeHex(), "\(format)")
        }
    }

    @Test func sizeThatIsNotWholeSectorsIsRoundedWithAWarning() throws {
        let folder = try TemporaryFolder()
        let image = try ImageBuilder(path: folder.file("odd.raw"), size: 1_000_001)
        try image.write(ImageBuilder.text(1000, seed: 3), at: 999_001)
        let raw = try Exporter.export(source: folder.file("odd.raw"), to: .file(folder.file("odd.out")), options: fixedOptions(.raw))
        #expect(raw.virtualSize == 1_000_001 && raw.warnings.isEmpty)
        let vhd = try Exporter.export(source: folder.file("odd.raw"), to: .file(folder.file("odd.vhd")), options: fixedOptions(.vhdFixed))
        #expect(vhd.virtualSize == 1_000_448)
        #expect(
            vhd.warnings == [
                "virtual size 1000001 is not a whole MiB, which Azure rejects in a fixed VHD (https://learn.microsoft.com/azure/virtual-machines/linux/create-upload-generic); --target azure or --align-mib rounds it up",
                "virtual size rounded up from 1000001 to 1000448 bytes: vhd-fixed stores whole 512-byte sectors",
            ])
        var options = fixedOptions(.vhdFixed)
        options.alignToMiB = true
        let aligned = try Exporter.export(source: folder.file("odd.raw"), to: .file(folder.file("aligned.vhd")), options: options)
        #expect(aligned.virtualSize == 1024 * 1024)
        #expect(try readFile(folder.file("aligned.vhd")).count == 1024 * 1024 + 512)
    }
}

extension ExportTests {
    /// Data that ends mid-page, mid-grain and mid-block, padded past the source's end: the
    /// padding must read as zeros in every format, whatever the buffers held before.
    @Test func paddingPastTheSourceEndIsZeros() throws {
        let folder = try TemporaryFolder()
        // Earlier batches leave noise in the recycled buffers.
        let image = try ImageBuilder(path: folder.file("odd.raw"), size: 5_000_001)
        try image.write(ImageBuilder.noise(4_000_000, seed: 5), at: 0)
        try image.write(ImageBuilder.text(1001, seed: 4), at: 4_999_000)
        var expected = try readFile(folder.file("odd.raw"))
        expected += [UInt8](repeating: 0, count: 5 * 1024 * 1024 - expected.count)
        for format in OutputFormat.allCases {
            var options = fixedOptions(format, threads: 1)
            options.alignToMiB = true
            let output = folder.file("out-\(format.rawValue)")
            try Exporter.export(source: folder.file("odd.raw"), to: .file(output), options: options)
            let file = try readFile(output)
            let disk: [UInt8] =
                switch format {
                case .raw: file
                case .vhdFixed: Array(file.dropLast(512))
                case .vhdDynamic: try OutputReader.dynamicVHD(file).disk
                case .vmdk: try OutputReader.streamVMDK(file).disk
                case .vhdx: try OutputReader.dynamicVHDX(file).disk
                case .ova: try OutputReader.streamVMDK(try #require(OutputReader.tarMembers(file).last).bytes).disk
                case .qcow2: try OutputReader.qcow2(file).disk
                case .gce: try readFile(try GCEArchive.extract(output, into: folder.file("gce")))
                }
            expectSameBytes(disk, expected, "\(format)")
        }
    }
}

@Suite("Export errors leave nothing behind")
struct ExportErrorTests {
    @Test func existingOutputIsKeptWithoutForce() throws {
        let folder = try TemporaryFolder()
        try SampleImage.allZero(at: folder.file("src.raw"))
        try Data("precious".utf8).write(to: URL(fileURLWithPath: folder.file("out.vmdk")))
        #expect(throws: DiskImageError.outputExists(path: folder.file("out.vmdk"))) {
            try Exporter.export(source: folder.file("src.raw"), to: .file(folder.file("out.vmdk")), options: fixedOptions(.vmdk))
        }
        #expect(try String(contentsOfFile: folder.file("out.vmdk"), encoding: .utf8) == "precious")
        #expect(folder.names() == ["out.vmdk", "src.raw"])
        // An existing manifest blocks too, before any work.
        try Data("old".utf8).write(to: URL(fileURLWithPath: folder.file("new.raw.sha256")))
        #expect(throws: DiskImageError.outputExists(path: folder.file("new.raw.sha256"))) {
            try Exporter.export(source: folder.file("src.raw"), to: .file(folder.file("new.raw")), options: fixedOptions(.raw))
        }
        var options = fixedOptions(.vmdk)
        options.overwrite = true
        try Exporter.export(source: folder.file("src.raw"), to: .file(folder.file("out.vmdk")), options: options)
        #expect(try readFile(folder.file("out.vmdk")).count > 65536)
    }

    @Test func missingSourceNamesTheFile() throws {
        let folder = try TemporaryFolder()
        let error = #expect(throws: DiskImageError.self) {
            try Exporter.export(source: folder.file("nope.raw"), to: .file(folder.file("out.raw")), options: fixedOptions(.raw))
        }
        #expect(error?.description == "\(folder.file("nope.raw")): open failed: No such file or directory (errno 2)")
        #expect(folder.names().isEmpty)
    }

    @Test func directoryAndEmptySourcesAreRefused() throws {
        let folder = try TemporaryFolder()
        let directoryError = #expect(throws: DiskImageError.self) {
            try Exporter.export(source: folder.path, to: .file(folder.file("out.raw")), options: fixedOptions(.raw))
        }
        #expect(directoryError?.description.contains("is a directory") == true)
        _ = try ImageBuilder(path: folder.file("empty.raw"), size: 0)
        let emptyError = #expect(throws: DiskImageError.self) {
            try Exporter.export(source: folder.file("empty.raw"), to: .file(folder.file("out.raw")), options: fixedOptions(.raw))
        }
        #expect(emptyError?.description == "\(folder.file("empty.raw")): is empty (0 bytes); there is no disk to export")
    }

    @Test func vhdLargerThan2040GiBIsRefused() throws {
        let folder = try TemporaryFolder()
        _ = try ImageBuilder(path: folder.file("huge.raw"), size: 2041 << 30)
        for format in [OutputFormat.vhdFixed, .vhdDynamic] {
            let error = #expect(throws: DiskImageError.self) {
                try Exporter.export(source: folder.file("huge.raw"), to: .file(folder.file("out.vhd")), options: fixedOptions(format))
            }
            #expect(error == .sizeTooLarge(path: folder.file("huge.raw"), format: "vhd", size: 2041 << 30, limit: 2040 << 30))
            #expect(error?.description == "\(folder.file("huge.raw")): vhd cannot hold 2191507062784 bytes: its limit is 2190433320960 bytes (2040 GiB)")
        }
        #expect(folder.names() == ["huge.raw"])
    }

    @Test(arguments: OutputFormat.allCases)
    func cancellationRemovesTheTemporaryOutput(format: OutputFormat) throws {
        let folder = try TemporaryFolder()
        try SampleImage.awkward(at: folder.file("src.raw"))
        let batches = Mutex(0)
        var options = fixedOptions(format)
        options.isCancelled = {
            batches.withLock {
                $0 += 1; return $0 > 3
            }
        }
        #expect(throws: DiskImageError.cancelled) {
            try Exporter.export(source: folder.file("src.raw"), to: .file(folder.file("out")), options: options)
        }
        #expect(folder.names() == ["src.raw"])
    }
}
