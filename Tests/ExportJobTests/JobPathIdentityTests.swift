import DiskImage
import Foundation
import TestSupport
import Testing

@testable import ExportJob

/// Outputs are told apart by the file they are, not by how the job spells them; names that
/// would break a SHA256SUMS line are refused; and jobs sharing a folder share its list.
@Suite("Job outputs: identity and checksum lists")
struct JobPathIdentityTests {
    func makeDisk(_ path: String, seed: UInt8) throws {
        var bytes = Data(count: 1 << 20)
        for index in stride(from: 4096, to: 200_000, by: 1) { bytes[index] = UInt8(truncatingIfNeeded: index * 7) &+ seed }
        try bytes.write(to: URL(fileURLWithPath: path))
    }

    func conflicts(_ job: JobFile, base: String) -> [String] {
        do {
            _ = try job.units(baseFolder: base)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test func twoSpellingsOfOneFileAreOneOutput() throws {
        let folder = try TemporaryFolder()
        try FileManager.default.createDirectory(atPath: folder.file("out"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder.file("link"), withDestinationPath: "out")
        let dotted = JobFile(exports: [
            JobFile.Export(source: "a/disk.raw", formats: [.vmdk], destination: "out"),
            JobFile.Export(source: "b/disk.raw", formats: [.vmdk], destination: "out/../out"),
        ])
        #expect(
            conflicts(dotted, base: folder.path) == [
                "exports[1]: writes \(folder.path)/out/../out/disk.vmdk as vmdk, the file \(folder.path)/out/disk.vmdk, which exports[0] (vmdk) also writes; give one of them another name, s3Prefix or destination"
            ])
        let linked = JobFile(exports: [
            JobFile.Export(source: "a/disk.raw", formats: [.raw], destination: "out"),
            JobFile.Export(source: "b/disk.raw", formats: [.raw], destination: "link"),
        ])
        #expect(
            conflicts(linked, base: folder.path) == [
                "exports[1]: writes \(folder.path)/link/disk.raw as raw, the file \(folder.path)/out/disk.raw, which exports[0] (raw) also writes; give one of them another name, s3Prefix or destination"
            ])
        // A folder that does not exist yet is compared as written.
        let fresh = JobFile(exports: [
            JobFile.Export(source: "a/disk.raw", formats: [.raw], destination: "new/x/.."),
            JobFile.Export(source: "b/disk.raw", formats: [.raw], destination: "new"),
        ])
        #expect(conflicts(fresh, base: folder.path).count == 1)
        // An output that is its source through a linked folder.
        let own = JobFile(exports: [JobFile.Export(source: "out/disk.raw", formats: [.raw], destination: "link")])
        #expect(
            conflicts(own, base: folder.path) == [
                "exports[0]: writes its raw output over its own source \(folder.path)/link/disk.raw; give another name, s3Prefix or destination"
            ])
    }

    @Test func resolvedPathsFollowLinksAndDots() throws {
        let folder = try TemporaryFolder()
        try FileManager.default.createDirectory(atPath: folder.file("real/deep"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder.file("up"), withDestinationPath: "real/deep")
        try FileManager.default.createSymbolicLink(atPath: folder.file("loop"), withDestinationPath: "loop")
        let real = resolvedPath(folder.path)
        #expect(resolvedPath(folder.file("up/../x")) == real + "/real/x")
        #expect(resolvedPath(folder.file("./real//deep/./y")) == real + "/real/deep/y")
        #expect(resolvedPath(folder.file("missing/../real")) == real + "/real")
        #expect(resolvedPath(folder.file("loop/z")).hasSuffix("/loop/z"))
    }

    @Test func namesWithLineBreaksAreRefused() throws {
        func problems(_ text: String) -> [String] {
            do {
                _ = try JobFile.decode(text)
                return []
            } catch {
                return error.problems.map(\.description)
            }
        }
        #expect(
            problems(#"{"schemaVersion": 1, "exports": [{"source": "d.raw", "formats": ["raw"], "destination": "o", "name": "a\nb"}]}"#)
                == [#"exports[0].name: "a\nb" has a line break, which would split its SHA256SUMS line; give a name without one"#])
        #expect(
            problems(#"{"schemaVersion": 1, "exports": [{"source": "d.raw", "formats": ["raw"], "destination": "o", "s3Prefix": "vm\r-"}]}"#)
                == [#"exports[0].s3Prefix: "vm\r-" has a line break, which would split its outputs' SHA256SUMS lines"#])
        #expect(
            problems(#"{"schemaVersion": 1, "exports": [{"source": "in/d\n1.raw", "formats": ["raw"], "destination": "o"}]}"#)
                == [#"exports[0].source: the file name of "in/d\n1.raw" has a line break, which would split its outputs' SHA256SUMS lines; give a name"#])
        // With a name of its own, such a source is fine.
        #expect(problems(#"{"schemaVersion": 1, "exports": [{"source": "in/d\n1.raw", "formats": ["raw"], "destination": "o", "name": "d1"}]}"#).isEmpty)
    }

    func checksumList(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { String($0.split(separator: " ").last ?? "") }
    }

    @Test func twoJobsInOneFolderShareItsList() throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("one.raw"), seed: 1)
        try makeDisk(folder.file("two.raw"), seed: 2)
        let first = JobFile(exports: [JobFile.Export(source: "one.raw", formats: [.raw, .vhdFixed], destination: "out")])
        let second = JobFile(exports: [JobFile.Export(source: "two.raw", formats: [.raw], destination: "out")])
        let firstReport = JobRunner(cores: 1).run(try first.units(baseFolder: folder.path))
        let secondReport = JobRunner(cores: 1).run(try second.units(baseFolder: folder.path))
        #expect(firstReport.succeeded && secondReport.succeeded)
        let list = folder.file("out/SHA256SUMS")
        #expect(try checksumList(list) == ["one.raw", "one.vhd", "two.raw"])
        // Every line is the output's own manifest line.
        let lines = try String(contentsOfFile: list, encoding: .utf8).split(separator: "\n").map(String.init)
        for line in lines {
            let name = String(line.split(separator: " ").last ?? "")
            #expect(try String(contentsOfFile: folder.file("out/\(name).sha256"), encoding: .utf8) == line + "\n")
        }
        // A file another job listed that is gone loses its line; a failed output of this job too.
        try FileManager.default.removeItem(atPath: folder.file("out/two.raw"))
        try FileManager.default.removeItem(atPath: folder.file("one.raw"))
        try FileManager.default.removeItem(atPath: folder.file("out/one.raw"))
        let third = JobRunner(cores: 1).run(try first.units(baseFolder: folder.path))
        #expect(third.results.map(\.status) == [.failed, .skipped])
        #expect(try checksumList(list) == ["one.vhd"])
    }

    @Test func twoJobsAtOnceBothEndUpInTheList() throws {
        let folder = try TemporaryFolder()
        let names = (0..<4).map { "disk\($0)" }
        for (index, name) in names.enumerated() { try makeDisk(folder.file("\(name).raw"), seed: UInt8(index)) }
        let jobs = names.map { JobFile(exports: [JobFile.Export(source: "\($0).raw", formats: [.raw], destination: "out")]) }
        let units = try jobs.map { try $0.units(baseFolder: folder.path) }
        DispatchQueue.concurrentPerform(iterations: units.count) { index in
            _ = JobRunner(cores: 1).run(units[index])
        }
        #expect(try checksumList(folder.file("out/SHA256SUMS")) == names.map { "\($0).raw" })
    }

    @Test func oneFolderSpelledTwoWaysGetsOneList() throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("disk.raw"), seed: 3)
        let job = JobFile(exports: [
            JobFile.Export(source: "disk.raw", formats: [.raw], destination: "out", name: "a"),
            JobFile.Export(source: "disk.raw", formats: [.raw], destination: "out/../out", name: "b"),
        ])
        let report = JobRunner(cores: 1).run(try job.units(baseFolder: folder.path))
        #expect(report.succeeded)
        #expect(report.checksumLists == [folder.file("out/SHA256SUMS")])
        #expect(try checksumList(folder.file("out/SHA256SUMS")) == ["a.raw", "b.raw"])
    }
}
