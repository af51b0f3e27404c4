import DiskImage
import Foundation
import TestSupport
import Testing

@testable import ExportJob

/// A rerun finishes what an interrupted run left, and makes again what is out of date.
@Suite("Job resumption")
struct JobResumeTests {
    func makeDisk(_ path: String, seed: UInt8 = 1) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 4 * 1024 * 1024)
        try handle.seek(toOffset: 1024 * 1024)
        try handle.write(contentsOf: Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 * 13 / 7) &+ seed }))
        try handle.close()
    }

    func run(_ job: JobFile, in folder: TemporaryFolder) throws -> JobReport {
        JobRunner(cores: 2).run(try job.units(baseFolder: folder.path))
    }

    func job(level: DeflateLevel = .standard) -> JobFile {
        JobFile(exports: [
            JobFile.Export(
                source: "disk.raw", formats: [.vmdk, .raw], destination: "out",
                options: JobFile.Options(level: level))
        ])
    }

    @Test func aTouchedSourceIsExportedAgain() throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("disk.raw"))
        #expect(try run(job(), in: folder).results.map(\.status) == [.exported, .exported])
        #expect(try run(job(), in: folder).results.map(\.status) == [.skipped, .skipped])
        // The same bytes, a new modification time: the record no longer matches.
        var times = [timespec(tv_sec: 2_000_000_000, tv_nsec: 0), timespec(tv_sec: 2_000_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, folder.file("disk.raw"), &times, 0) == 0)
        let rerun = try run(job(), in: folder)
        #expect(rerun.results.map(\.status) == [.exported, .exported])
        #expect(
            rerun.results[0].replaced?.hasPrefix("was made from its source as it was before (modification time ") == true,
            "\(rerun.results[0].replaced ?? "")")
        #expect(rerun.succeeded)
        #expect(try run(job(), in: folder).results.map(\.status) == [.skipped, .skipped])
    }

    @Test func aChangedLevelExportsTheVMDKAgain() throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("disk.raw"))
        #expect(try run(job(), in: folder).results.map(\.status) == [.exported, .exported])
        let rerun = try run(job(level: .best), in: folder)
        #expect(rerun.results.map(\.status) == [.exported, .skipped], "a raw output has no level")
        #expect(rerun.results[0].replaced == "was made with other settings (level 5 -> 12)", "\(rerun.results[0].replaced ?? "")")
        #expect(rerun.succeeded)
    }

    /// An output in place with its manifest still under the temporary name: completed.
    @Test func anInterruptedCommitIsCompleted() throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("disk.raw"))
        _ = try run(job(), in: folder)
        let manifest = folder.file("out/disk.vmdk.sha256")
        #expect(rename(manifest, folder.file("out/.disk.vmdk.sha256.imgship-77aa")) == 0)
        #expect(JobRunner().intents(try job().units(baseFolder: folder.path)) == [.verify, .verify])
        let rerun = try run(job(), in: folder)
        #expect(rerun.results.map(\.status) == [.skipped, .skipped])
        #expect(rerun.succeeded)
        #expect(FileManager.default.fileExists(atPath: manifest))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: folder.file("out")).sorted()
                == ["SHA256SUMS", "disk.raw", "disk.raw.imgship.json", "disk.raw.sha256", "disk.vmdk", "disk.vmdk.imgship.json", "disk.vmdk.sha256"])
    }

    /// A run killed while replacing: the old output, no manifest (removed first), the new
    /// manifest under its temporary name. The output is made again, without --force.
    @Test func anInterruptedReplacementIsMadeAgain() throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("disk.raw"))
        _ = try run(job(), in: folder)
        let manifest = folder.file("out/disk.raw.sha256")
        #expect(unlink(manifest) == 0)
        try Data((String(repeating: "0f", count: 32) + "  disk.raw\n").utf8)
            .write(to: URL(fileURLWithPath: folder.file("out/.disk.raw.sha256.imgship-1234")))
        let rerun = try run(job(), in: folder)
        #expect(rerun.results.map(\.status) == [.skipped, .exported])
        #expect(rerun.results[1].replaced == "was left without its manifest by an interrupted run")
        #expect(rerun.succeeded)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("out")).filter { $0.hasPrefix(".") }.isEmpty)
        let verification = try ImageVerifier.verify(path: folder.file("out/disk.raw"))
        #expect(verification.passed)
    }
}
