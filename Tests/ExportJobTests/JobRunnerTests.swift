import DiskImage
import Foundation
import Synchronization
import TestSupport
import Testing

@testable import ExportJob

@Suite("Job runner")
struct JobRunnerTests {
    func makeDisk(_ path: String) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 4 * 1024 * 1024)
        try handle.seek(toOffset: 1024 * 1024)
        try handle.write(contentsOf: Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 * 13 / 7) }))
        try handle.close()
    }

    /// An interrupted job finishes what it is writing, starts nothing more, and leaves only
    /// complete outputs under their names.
    @Test(arguments: [JobConcurrency.fixed(1), .automatic])
    func interruptedJobLeavesOnlyCompleteOutputs(concurrency: JobConcurrency) throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("disk.raw"))
        let job = JobFile(exports: [JobFile.Export(source: "disk.raw", formats: [.vmdk, .raw, .vhdFixed, .ova], destination: "out")])
        let units = try job.units(baseFolder: folder.path)
        let interrupted = Atomic<Bool>(false)
        let runner = JobRunner(
            concurrency: concurrency, isCancelled: { interrupted.load(ordering: .relaxed) },
            onFinish: { _, _, _ in interrupted.store(true, ordering: .relaxed) }, cores: 1)
        let report = runner.run(units)
        #expect(report.results.map(\.status) == [.exported, .cancelled, .cancelled, .cancelled])
        #expect(!report.succeeded)
        // No list is written: the next run verifies disk.vmdk and lists everything.
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.file("out")).sorted()
        #expect(names == ["disk.vmdk", "disk.vmdk.imgship.json", "disk.vmdk.sha256"])
        #expect(report.checksumLists.isEmpty)
    }

    /// With automatic concurrency, a compressing export never shares the cores, and the
    /// SHA-bound ones never exceed one a core.
    @Test func automaticConcurrencyRunsCompressingExportsAlone() throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("disk.raw"))
        let job = JobFile(exports: [
            JobFile.Export(source: "disk.raw", formats: [.raw, .vmdk, .vhdFixed], destination: "a"),
            JobFile.Export(source: "disk.raw", formats: [.ova, .vhdDynamic, .raw], destination: "b"),
            JobFile.Export(source: "disk.raw", formats: [.raw, .vhdFixed, .vmdk], destination: "c"),
        ])
        let units = try job.units(baseFolder: folder.path)
        let running = Mutex<(now: [OutputFormat], overlaps: [[OutputFormat]])>(([], []))
        var runner = JobRunner(concurrency: .automatic, cores: 2)
        runner.onStart = { unit in
            running.withLock { state in
                state.now.append(unit.format)
                state.overlaps.append(state.now)
            }
        }
        runner.onFinish = { result, _, _ in
            running.withLock { state in
                if let position = state.now.firstIndex(of: result.unit.format) {
                    state.now.remove(at: position)
                }
            }
        }
        let report = runner.run(units)
        #expect(report.results.allSatisfy { $0.status == .exported })
        let overlaps = running.withLock { $0.overlaps }
        #expect(overlaps.count == units.count)
        for together in overlaps {
            #expect(together.count <= 2)
            if together.contains(.vmdk) || together.contains(.ova) { #expect(together.count == 1, "\(together)") }
        }
    }

    /// A destination that cannot be made fails its outputs with the folder and the reason;
    /// the job's other outputs are made.
    @Test func destinationThatCannotBeMadeFailsOnlyItsOutputs() throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("disk.raw"))
        let job = JobFile(exports: [
            JobFile.Export(source: "disk.raw", formats: [.raw], destination: "disk.raw/out"),
            JobFile.Export(source: "disk.raw", formats: [.vhdDynamic], destination: "good"),
        ])
        let report = JobRunner(cores: 2).run(try job.units(baseFolder: folder.path))
        #expect(report.results.map(\.status) == [.failed, .exported])
        #expect(report.results[0].error == "\(folder.file("disk.raw")): cannot create the folder: mkdir: exists and is not a folder")
        #expect(report.checksumLists == [folder.file("good/SHA256SUMS")])
    }

    /// A folder whose outputs all failed keeps no SHA256SUMS from an earlier run, which would
    /// vouch for a file that no longer verifies.
    @Test func folderWhoseOutputsAllFailedKeepsNoList() throws {
        let folder = try TemporaryFolder()
        try FileManager.default.createDirectory(atPath: folder.file("out"), withIntermediateDirectories: true)
        try Data("0000  gone.raw\n".utf8).write(to: URL(fileURLWithPath: folder.file("out/SHA256SUMS")))
        let job = JobFile(exports: [JobFile.Export(source: "gone.raw", formats: [.raw], destination: "out")])
        let report = JobRunner(cores: 2).run(try job.units(baseFolder: folder.path))
        #expect(report.results.map(\.status) == [.failed])
        #expect(report.errors.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("out")).isEmpty)
    }
}
