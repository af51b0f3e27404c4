import Foundation
import TestSupport
import Testing

@testable import DiskImage

#if canImport(Glibc)
import Glibc
#endif

/// The commit of an export (`OutputCommit`) with a failure planted at each of its steps, over
/// an earlier output and manifest (and record) it replaces: whatever step fails, the earlier
/// set stands complete, byte for byte (`sha256sum -c` accepts its manifest), and no temporary
/// or kept name is left; when no step fails, the new set stands.
@Suite("The commit of an output, failing at each step", .serialized)
struct OutputCommitTests {
    static let newOutput = Array("the new output\n".utf8)
    /// `printf 'the new output\n' | sha256sum`
    static let newDigest = "30d15ee189d63795b565b4c2e013d304eddbc97945d062e79ccab5b93432e56e"
    static let earlierOutput = Array("an earlier output\n".utf8)
    /// `printf 'an earlier output\n' | sha256sum`
    static let earlierManifest = Array("0173fcf98c0fb0e48123440dea09aa9cd88de4afe798f745d0accebb7cb66fe6  out.img\n".utf8)
    static let recordBytes = Array("{\"record\":1}\n".utf8)
    static let earlierRecord = Array("{\"record\":0}\n".utf8)

    /// The steps of a commit, in the order it takes them.
    enum Step: String, CaseIterable, Sendable {
        case syncOutput, syncManifest, syncRecord, removeEarlierManifest, placeRecord, placeOutput, placeManifest
    }

    /// A folder holding an earlier output and its manifest, and a commit staged to replace
    /// them, with a record beside.
    final class Staged {
        let folder: TemporaryFolder
        let output: String
        let manifest: String
        let record: String
        let commit: OutputCommit

        init(earlierRecord: Bool = false) throws {
            folder = try TemporaryFolder()
            output = folder.file("out.img")
            manifest = output + ".sha256"
            record = output + ".record"
            try Data(OutputCommitTests.earlierOutput).write(to: URL(fileURLWithPath: output))
            try Data(OutputCommitTests.earlierManifest).write(to: URL(fileURLWithPath: manifest))
            if earlierRecord { try Data(OutputCommitTests.earlierRecord).write(to: URL(fileURLWithPath: record)) }
            let stagedOutput = try StagedFile(finalPath: output, overwrite: true)
            let sink = OutputSink(descriptor: stagedOutput.descriptor, path: output)
            try sink.write(OutputCommitTests.newOutput)
            _ = try sink.finish()
            commit = OutputCommit(
                output: stagedOutput, manifest: try StagedFile(finalPath: manifest, overwrite: true),
                record: try StagedFile(finalPath: record, overwrite: true), replacing: true, protecting: [])
        }

        /// The failure that stops the commit at `step`, and the error the commit then gives:
        /// it names the final path, never a temporary one.
        func failure(at step: Step) throws -> (SystemCalls.PlantedFailure, DiskImageError) {
            let output = try #require(commit.output)
            let manifest = try #require(commit.manifest)
            let record = try #require(commit.record)
            // A sync is on the descriptor, whose file is the temporary name; a move names the
            // final path.
            return switch step {
            case .syncOutput: (.init(.fsync, under: output.temporaryPath, errno: EIO), .system(call: "fsync", path: self.output, errno: EIO))
            case .syncManifest:
                (.init(.fsync, under: manifest.temporaryPath, errno: ENOSPC), .system(call: "fsync", path: self.manifest, errno: ENOSPC))
            case .syncRecord: (.init(.fsync, under: record.temporaryPath, errno: EIO), .system(call: "fsync", path: self.record, errno: EIO))
            case .removeEarlierManifest: (.init(.unlink, under: self.manifest, errno: EACCES), .system(call: "unlink", path: self.manifest, errno: EACCES))
            case .placeRecord: (.init(.rename, under: self.record, errno: EIO), .system(call: "rename", path: self.record, errno: EIO))
            case .placeOutput: (.init(.rename, under: self.output, errno: EIO), .system(call: "rename", path: self.output, errno: EIO))
            case .placeManifest: (.init(.rename, under: self.manifest, errno: ENOSPC), .system(call: "rename", path: self.manifest, errno: ENOSPC))
            }
        }
    }

    /// Commits, with a failure planted at `step`; returns the folder, the commit's files
    /// released (a staged file's deinit removes its temporary name).
    static func commitFailing(at step: Step, earlierRecord: Bool = false) throws -> (folder: TemporaryFolder, error: DiskImageError?, expected: DiskImageError)
    {
        let staged = try Staged(earlierRecord: earlierRecord)
        let (failure, expected) = try staged.failure(at: step)
        let error = SystemCalls.withPlantedFailure(failure) { planted in
            let error = #expect(throws: DiskImageError.self) {
                try staged.commit.commit(digest: newDigest, outputName: "out.img") { recordBytes }
            }
            // The failed step, and, for a failed move, the move back that meets the same
            // failure (a failing disk stays failing) before the kept file is linked back.
            #expect(planted.failed >= 1)
            return error
        }
        return (staged.folder, error, expected)
    }

    @Test func commitPlacesRecordOutputAndAManifestSha256sumAccepts() throws {
        let staged = try Staged()
        try staged.commit.commit(digest: Self.newDigest, outputName: "out.img") { Self.recordBytes }
        #expect(staged.folder.names() == ["out.img", "out.img.record", "out.img.sha256"])
        #expect(try readFile(staged.output) == Self.newOutput)
        #expect(try readFile(staged.record) == Self.recordBytes)
        try Self.expectSha256sumAccepts(staged.folder)
    }

    @Test(arguments: Step.allCases, [false, true])
    func failureLeavesTheEarlierSetComplete(_ step: Step, earlierRecord: Bool) throws {
        let (folder, error, expected) = try Self.commitFailing(at: step, earlierRecord: earlierRecord)
        #expect(error == expected)
        // The earlier output, its manifest and its record (when there was one), byte for byte,
        // and no other name: no new file, no temporary, no kept copy.
        #expect(folder.names() == (earlierRecord ? ["out.img", "out.img.record", "out.img.sha256"] : ["out.img", "out.img.sha256"]))
        #expect(try readFile(folder.file("out.img")) == Self.earlierOutput)
        #expect(try readFile(folder.file("out.img.sha256")) == Self.earlierManifest)
        if earlierRecord {
            #expect(try readFile(folder.file("out.img.record")) == Self.earlierRecord)
        }
        try Self.expectSha256sumAccepts(folder)
    }

    @Test func commitOverAnEarlierRecordPlacesTheNewSet() throws {
        let staged = try Staged(earlierRecord: true)
        try staged.commit.commit(digest: Self.newDigest, outputName: "out.img") { Self.recordBytes }
        #expect(staged.folder.names() == ["out.img", "out.img.record", "out.img.sha256"])
        #expect(try readFile(staged.output) == Self.newOutput)
        #expect(try readFile(staged.record) == Self.recordBytes)
        try Self.expectSha256sumAccepts(staged.folder)
    }

    /// `sha256sum -c`, run in `folder`, accepts its manifest: an oracle that shares no code with
    /// imgship.
    static func expectSha256sumAccepts(_ folder: TemporaryFolder, sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard let sha256sum = which("sha256sum") else { return }
        let result = try runProcess("/bin/sh", ["-c", "cd \"$1\" && \"$2\" -c --strict out.img.sha256", "sh", folder.path, sha256sum])
        #expect(result.status == 0, "sha256sum -c: \(result.standardError)", sourceLocation: sourceLocation)
    }
}
