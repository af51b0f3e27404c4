import Foundation
import Synchronization
import TestSupport
import Testing

@testable import DiskImage

#if canImport(Glibc)
import Glibc
#endif

/// A failing drive (EIO) and a full disk (ENOSPC) in the middle of a real export, planted
/// through `SystemCalls.withPlantedFailure` for one folder, so no root, loop device or
/// dm-error target is needed. Serialized so the planted calls are easy to count; a failure
/// planted for one folder leaves alone the suites that run meanwhile in folders of their own.
@Suite("Failing system calls in the middle of an export", .serialized)
struct FailingSystemCallTests {
    /// Formats whose bytes go through the output's own descriptor (an OVA stages its disk
    /// in a file of its own first).
    static let formats: [OutputFormat] = [.raw, .vhdFixed, .vhdDynamic, .vmdk]

    /// A source, and an output folder holding an earlier output and manifest that a forced
    /// export would replace.
    struct Layout {
        let sources: TemporaryFolder
        let outputs: TemporaryFolder
        let source: String
        let output: String
        let manifest: String
        let earlierOutput = Array("an earlier output\n".utf8)
        let earlierManifest = Array("0000000000000000000000000000000000000000000000000000000000000000  out.img\n".utf8)

        init() throws {
            sources = try TemporaryFolder()
            outputs = try TemporaryFolder()
            source = sources.file("src.raw")
            output = outputs.file("out.img")
            manifest = output + ".sha256"
            try SampleImage.random(at: source)
            try Data(earlierOutput).write(to: URL(fileURLWithPath: output))
            try Data(earlierManifest).write(to: URL(fileURLWithPath: manifest))
        }

        /// The earlier output and manifest are still there, byte for byte, and nothing else
        /// (no temporary file) is.
        func expectEarlierFilesUntouched(sourceLocation: SourceLocation = #_sourceLocation) throws {
            #expect(outputs.names() == ["out.img", "out.img.sha256"], sourceLocation: sourceLocation)
            #expect(try readFile(output) == earlierOutput, sourceLocation: sourceLocation)
            #expect(try readFile(manifest) == earlierManifest, sourceLocation: sourceLocation)
            #expect(sources.names() == ["src.raw"], sourceLocation: sourceLocation)
        }
    }

    /// How far an export got, from its progress reports.
    final class Furthest: Sendable {
        private let completed = Mutex<UInt64>(0)

        var bytes: UInt64 { completed.withLock { $0 } }

        func note(_ progress: ExportProgress) {
            completed.withLock { $0 = max($0, progress.completed) }
        }
    }

    /// Forced export options that note how far the export got in `furthest`.
    static func options(_ format: OutputFormat, threads: Int = 2, furthest: Furthest = Furthest()) -> ExportOptions {
        var options = fixedOptions(format, threads: threads)
        options.overwrite = true
        options.progress = { furthest.note($0) }
        return options
    }

    /// What a test plants, and what the export must then say: the user's source for a read,
    /// the user's output (not its temporary name) for a write.
    enum FailingCall {
        case readEIO, writeENOSPC

        func planted(in layout: Layout) -> SystemCalls.PlantedFailure {
            switch self {
            case .readEIO: .init(.pread, under: layout.sources.path, errno: EIO, after: 4)
            case .writeENOSPC: .init(.pwrite, under: layout.outputs.path, errno: ENOSPC, after: 4)
            }
        }

        func expected(in layout: Layout) -> (error: DiskImageError, description: String) {
            switch self {
            case .readEIO:
                (.system(call: "pread", path: layout.source, errno: EIO), "\(layout.source): pread failed: Input/output error (errno 5)")
            case .writeENOSPC:
                (.system(call: "pwrite", path: layout.output, errno: ENOSPC), "\(layout.output): pwrite failed: No space left on device (errno 28)")
            }
        }
    }

    /// One thread alternates work and consumption, so a failure after the first batch's calls
    /// comes after part of the output was written; two check the error's way back from a
    /// worker thread.
    @Test(arguments: formats, [1, 2])
    func readFailingWithEIONamesTheSource(format: OutputFormat, threads: Int) throws {
        try expectFailureMidExport(.readEIO, format: format, threads: threads)
    }

    @Test(arguments: formats, [1, 2])
    func writeFailingWithENOSPCNamesTheOutputNotItsTemporaryName(format: OutputFormat, threads: Int) throws {
        try expectFailureMidExport(.writeENOSPC, format: format, threads: threads)
    }

    /// Exports with `call` failing: the export fails saying so, after writing part of the
    /// output (told for one thread), and leaves the earlier files as they were.
    func expectFailureMidExport(
        _ call: FailingCall, format: OutputFormat, threads: Int,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let layout = try Layout()
        let expected = call.expected(in: layout)
        let furthest = Furthest()
        SystemCalls.withPlantedFailure(call.planted(in: layout)) { planted in
            let error = #expect(throws: DiskImageError.self, sourceLocation: sourceLocation) {
                try Exporter.export(
                    source: layout.source, to: .file(layout.output),
                    options: Self.options(format, threads: threads, furthest: furthest))
            }
            #expect(error == expected.error, sourceLocation: sourceLocation)
            #expect(error?.description == expected.description, sourceLocation: sourceLocation)
            #expect(planted.failed >= 1, sourceLocation: sourceLocation)
        }
        if threads == 1 {
            #expect(furthest.bytes > 0, "the export had written part of the disk when the call failed", sourceLocation: sourceLocation)
        }
        try layout.expectEarlierFilesUntouched(sourceLocation: sourceLocation)
    }

    /// ENOSPC and EIO may also wait for fsync (delayed allocation, a write-back error): the
    /// last step before the rename into place, which must then not happen.
    @Test func syncFailingNamesTheOutputAndPlacesNothing() throws {
        let layout = try Layout()
        let failure = SystemCalls.PlantedFailure(.fsync, under: layout.outputs.path, errno: EIO)
        SystemCalls.withPlantedFailure(failure) { planted in
            let error = #expect(throws: DiskImageError.self) {
                try Exporter.export(source: layout.source, to: .file(layout.output), options: Self.options(.vmdk))
            }
            #expect(error == .system(call: "fsync", path: layout.output, errno: EIO))
            #expect(planted.failed == 1)
        }
        try layout.expectEarlierFilesUntouched()
    }

    /// Without an earlier output, a failed export leaves the folder as it found it: empty.
    @Test func failedExportIntoAnEmptyFolderLeavesItEmpty() throws {
        let sources = try TemporaryFolder()
        let outputs = try TemporaryFolder()
        try SampleImage.random(at: sources.file("src.raw"))
        let failure = SystemCalls.PlantedFailure(.pwrite, under: outputs.path, errno: ENOSPC, after: 2)
        SystemCalls.withPlantedFailure(failure) { _ in
            #expect(throws: DiskImageError.system(call: "pwrite", path: outputs.file("out.vmdk"), errno: ENOSPC)) {
                try Exporter.export(source: sources.file("src.raw"), to: .file(outputs.file("out.vmdk")), options: fixedOptions(.vmdk))
            }
        }
        #expect(outputs.names().isEmpty)
    }

    /// The failure is the planted folder's alone: the same export from and into another
    /// folder, meanwhile, succeeds.
    @Test func aPlantedFailureTouchesOnlyItsFolder() throws {
        let planted = try TemporaryFolder()
        let other = try TemporaryFolder()
        try SampleImage.random(at: other.file("src.raw"))
        let failure = SystemCalls.PlantedFailure(.pwrite, under: planted.path, errno: ENOSPC)
        let summary = try SystemCalls.withPlantedFailure(failure) { counts in
            defer { #expect(counts.matched == 0) }
            return try Exporter.export(source: other.file("src.raw"), to: .file(other.file("out.raw")), options: fixedOptions(.raw))
        }
        #expect(summary.outputSize == UInt64(try readFile(other.file("src.raw")).count))
    }
}
