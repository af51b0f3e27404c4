import DiskImage
import Foundation
import TestSupport
import Testing

@testable import ExportJob

@Suite("Job shards and their merge")
struct JobShardTests {
    /// Four sources in three formats each, under one bucket and prefix.
    static func job() -> JobFile {
        JobFile(
            exports: (0..<4).map { index in
                JobFile.Export(
                    source: "images/disk\(index).img", formats: [.vmdk, .vhdFixed, .raw], destination: "exports",
                    s3Bucket: "bucket", s3Prefix: "web/")
            })
    }

    /// The rule is fixed: FNV-1a 64 of the path the job file names, SplitMix64's finalizer,
    /// modulo N. The expected shards were computed by an independent Python implementation
    /// of that rule; no process seed, file order or folder changes them.
    @Test func assignmentIsTheDocumentedRule() throws {
        #expect(JobShard.mixedHash(of: "exports/a.vmdk") == 0x6a68_6bc8_0c13_d282)
        let units = try Self.job().units(baseFolder: "/srv/jobs")
        #expect(units.map(\.shardKey).prefix(3) == ["exports/bucket/web/disk0.vmdk", "exports/bucket/web/disk0.vhd", "exports/bucket/web/disk0.raw"])
        #expect(JobShard.assign(units, count: 2, by: .path) == [1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1])
        #expect(JobShard.assign(units, count: 5, by: .path) == [3, 2, 3, 3, 3, 0, 3, 2, 4, 0, 0, 3])
        #expect(JobShard.assign(units, count: 1, by: .path) == Array(repeating: 0, count: 12))
        // Another machine: another folder, the job's entries in another order.
        let elsewhere = try JobFile(exports: Self.job().exports.reversed()).units(baseFolder: "/mnt/other/place")
        let byKey = Dictionary(uniqueKeysWithValues: zip(elsewhere.map(\.shardKey), JobShard.assign(elsewhere, count: 5, by: .path)))
        #expect(units.map { byKey[$0.shardKey] } == [3, 2, 3, 3, 3, 0, 3, 2, 4, 0, 0, 3])
    }

    @Test(arguments: [1, 2, 3, 5, 7], [JobShard.Balance.path, .size])
    func everyOutputIsInExactlyOneShard(count: Int, balance: JobShard.Balance) throws {
        let units = try Self.job().units(baseFolder: ".")
        // Sizes that differ by source, so size balancing has something to balance.
        let sizes: [String: UInt64] = ["./images/disk0.img": 7, "./images/disk1.img": 5, "./images/disk2.img": 3, "./images/disk3.img": 1]
        var outputs: [String] = []
        for index in 0..<count {
            let shard = try #require(JobShard(index: index, count: count))
            outputs += shard.select(units, by: balance, sourceBytes: { sizes[$0] ?? 0 }).map { (unit: ExportUnit) in unit.output }
        }
        #expect(outputs.count == units.count)
        #expect(Set(outputs) == Set(units.map { (unit: ExportUnit) in unit.output }))
    }

    /// Largest first, each to the lightest shard, ties to the lowest index and then by path.
    @Test func sizeBalancingIsDeterministic() throws {
        let units = try Self.job().units(baseFolder: ".")
        let sizes: [String: UInt64] = ["images/disk0.img": 100, "images/disk1.img": 60, "images/disk2.img": 50, "images/disk3.img": 10]
        let shards = JobShard.assign(units, count: 2, by: .size) { sizes[$0] ?? 0 }
        // disk0's three outputs (100 each) alternate 0, 1, 0 by path order (raw, vhd, vmdk);
        // then disk1 (60 each) goes to the lighter shard each time, and so on.
        var load = [UInt64](repeating: 0, count: 2)
        for (unit, shard) in zip(units, shards) { load[shard] += sizes[unit.source.replacingOccurrences(of: "./", with: "")] ?? 0 }
        #expect(load.max()! - load.min()! <= 100)
        #expect(shards == JobShard.assign(units.reversed(), count: 2, by: .size) { sizes[$0] ?? 0 }.reversed())
        #expect(Array(shards.prefix(3)) == [0, 1, 0] || Array(shards.prefix(3)) == [1, 0, 0])
    }

    @Test func shardsFromTheEnginesVariables() throws {
        #expect(try JobShard.fromEnvironment(["AWS_BATCH_JOB_ARRAY_INDEX": "3", "AWS_BATCH_JOB_ARRAY_SIZE": "8"]) == JobShard(index: 3, count: 8))
        #expect(try JobShard.fromEnvironment(["JOB_COMPLETION_INDEX": "0", "IMGSHIP_SHARD_COUNT": "4"]) == JobShard(index: 0, count: 4))
        #expect(try JobShard.fromEnvironment(["IMGSHIP_SHARD_INDEX": "4", "IMGSHIP_SHARD_COUNT": "5"]) == JobShard(index: 4, count: 5))
        #expect(throws: JobShard.EnvironmentError(description: "JOB_COMPLETION_INDEX is set (2) but IMGSHIP_SHARD_COUNT, the number of shards, is not")) {
            try JobShard.fromEnvironment(["JOB_COMPLETION_INDEX": "2"])
        }
        #expect(throws: JobShard.EnvironmentError.self) { try JobShard.fromEnvironment(["IMGSHIP_SHARD_INDEX": "5", "IMGSHIP_SHARD_COUNT": "5"]) }
        #expect(throws: JobShard.EnvironmentError.self) { try JobShard.fromEnvironment([:]) }
        #expect(JobShard(parsing: "1/3") == JobShard(index: 1, count: 3))
        for bad in ["3/3", "-1/3", "1/0", "1", "a/b", "1/3/4", " 1/3", "１/3"] { #expect(JobShard(parsing: bad) == nil, "\(bad)") }
    }

    /// Shards run apart, each writing its report; the merge gives the report and the
    /// SHA256SUMS one unsharded run gives, and catches an output changed since.
    @Test func mergedReportEqualsTheUnshardedRun() throws {
        let folder = try TemporaryFolder()
        try FileManager.default.createDirectory(atPath: folder.file("images"), withIntermediateDirectories: true)
        for index in 0..<4 { try JobRunnerTests().makeDisk(folder.file("images/disk\(index).img")) }
        let units = try Self.job().units(baseFolder: folder.path)

        let whole = JobRunner(concurrency: .fixed(1), timestamp: 1_700_000_000, cores: 1).run(units)
        #expect(whole.succeeded)
        let wholeSums = try String(contentsOfFile: folder.file("exports/bucket/web/SHA256SUMS"), encoding: .utf8)
        #expect(wholeSums.split(separator: "\n").count == 12)

        // Again, sharded over 3, into a fresh folder tree: remove the outputs first.
        try FileManager.default.removeItem(atPath: folder.file("exports"))
        for index in 0..<3 {
            let shard = JobShard(index: index, count: 3)!
            let report = JobRunner(concurrency: .fixed(1), timestamp: 1_700_000_000, cores: 1).run(shard.select(units, by: .path))
            try report.json(jobFile: "job.json").write(toFile: folder.file(shard.reportName(job: "job.json")), atomically: true, encoding: .utf8)
        }
        let paths = JobMerge.reportPaths(in: folder.path, job: "job.json")
        #expect(paths.map { splitPath($0).name } == ["job.json.report.0-of-3.json", "job.json.report.1-of-3.json", "job.json.report.2-of-3.json"])
        try FileManager.default.removeItem(atPath: folder.file("exports/bucket/web/SHA256SUMS"))
        let merged = try JobMerge.merge(units, reports: paths.map { try JobMerge.read($0, job: "job.json") }, job: "job.json")
        #expect(merged.succeeded)
        #expect(merged.results.map(\.unit) == whole.results.map(\.unit))
        #expect(merged.results.map(\.status) == whole.results.map(\.status))
        #expect(merged.results.map(\.sha256) == whole.results.map(\.sha256))
        #expect(merged.results.map(\.bytes) == whole.results.map(\.bytes))
        #expect(try String(contentsOfFile: folder.file("exports/bucket/web/SHA256SUMS"), encoding: .utf8) == wholeSums)

        // A report missing, then an output damaged after its shard reported it.
        let missing = #expect(throws: JobMerge.Failure.self) {
            try JobMerge.merge(units, reports: paths.dropLast().map { try JobMerge.read($0, job: "job.json") }, job: "job.json")
        }
        #expect(missing?.description == "no report from shard 2/3 (job.json.report.2-of-3.json): run it, then merge again")
        let victim = units[4].output
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: victim))
        try handle.seek(toOffset: 0)
        try handle.write(contentsOf: Data("damaged".utf8))
        try handle.close()
        let damaged = try JobMerge.merge(units, reports: paths.map { try JobMerge.read($0, job: "job.json") }, job: "job.json")
        #expect(!damaged.succeeded)
        #expect(damaged.results[4].status == .failed)
        #expect(damaged.results[4].error?.hasPrefix("its shard reported it exported, but it does not verify now") == true)
        #expect(!(try String(contentsOfFile: folder.file("exports/bucket/web/SHA256SUMS"), encoding: .utf8)).contains(splitPath(victim).name + "\n"))
    }

    /// A shard report is hostile input too: a FIFO, a huge file or broken JSON is refused with
    /// the file named, in bounded time.
    @Test func hostileShardReportsAreRefused() throws {
        let folder = try TemporaryFolder()
        let broken = folder.file("job.json.report.0-of-2.json")
        try #"{"exports": [{"entry": "exports[0]", "format": "raw", "status": "exported"},]"#.write(toFile: broken, atomically: true, encoding: .utf8)
        let brokenError = #expect(throws: JobMerge.Failure.self) { try JobMerge.read(broken, job: "job.json") }
        #expect(brokenError?.description.hasPrefix("\(broken):1:") == true, "\(brokenError?.description ?? "")")
        let fifo = folder.file("job.json.report.1-of-2.json")
        #expect(mkfifo(fifo, 0o600) == 0)
        let fifoError = #expect(throws: JobMerge.Failure.self) { try JobMerge.read(fifo, job: "job.json") }
        #expect(fifoError?.description == "\(fifo): not a regular file; a shard report is one")
        let huge = folder.file("job.json.report.0-of-3.json")
        FileManager.default.createFile(atPath: huge, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: huge))
        try handle.truncate(atOffset: UInt64(JobMerge.maximumReportBytes + 1))
        try handle.close()
        let hugeError = #expect(throws: JobMerge.Failure.self) { try JobMerge.read(huge, job: "job.json") }
        #expect(hugeError?.description.contains("more than a shard report holds") == true)
        let unknownStatus = folder.file("job.json.report.2-of-3.json")
        try #"{"exports": [{"entry": "exports[0]", "format": "raw", "status": "done"}]}"#.write(toFile: unknownStatus, atomically: true, encoding: .utf8)
        #expect(throws: JobMerge.Failure.self) { try JobMerge.read(unknownStatus, job: "job.json") }
    }
}
