import DiskImage
import ExportJob
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The surfaces around jobs and plans under attack: numbers from files, two runs of
/// one job at once, a merge over stale outputs, outputs that are inputs, strings that reach a
/// terminal, and the AWS commands a job prints. Each test failed on the code before the fix.
@Suite("Jobs and plans under attack", .serialized)
struct HostileJobTests {
    static let binary = ExportCommandTests.binary
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let configuration = repository + "/testdata/distribution/multi-region-cross-account-kms.json"

    func run(_ arguments: [String], in folder: String? = nil) throws -> ProcessResult {
        guard let folder else { return try runProcess(Self.binary, arguments) }
        // A job file named by a relative path: its outputs are printed as relative paths.
        return try runProcess("/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", folder, Self.binary] + arguments)
    }

    func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// `bytes` of seeded noise at the start of a file of `size` bytes (the rest a hole).
    func makeDisk(_ path: String, size: Int, noise: Int, seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        var bytes = [UInt8](repeating: 0, count: noise)
        for index in stride(from: 0, to: noise, by: 8) {
            withUnsafeBytes(of: generator.next()) { word in
                for offset in 0..<min(8, noise - index) { bytes[index + offset] = word[offset] }
            }
        }
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(size))
        try handle.close()
    }

    // MARK: Numbers

    /// A price of 1e15 or 1e300 in `--prices` trapped (SIGILL) on the cents of a 16,000 GiB
    /// image; it is refused where it is read, naming the file and the JSON path.
    @Test(arguments: ["1e15", "1e300", "-0.5", "0.0000001"])
    func pricesAreBoundedWhereTheyAreRead(price: String) throws {
        let folder = try TemporaryFolder()
        let prices = folder.file("prices.json")
        try write(#"{"regions": {"eu-west-1": {"snapshotGBMonth": \#(price)}}}"#, to: prices)
        let result = try run(["plan", Self.configuration, "--source-region", "us-east-1", "--image-size", "16000", "--prices", prices])
        #expect(result.status == 2, "\(result.standardError)")
        #expect(
            result.standardError.contains(
                "\(prices):1:47: error: regions.eu-west-1.snapshotGBMonth: expected a price in USD per GB from 0 to 10, at most 6 decimals, found \"\(price)\""),
            "\(result.standardError)")
        #expect(result.standardOutput.isEmpty)
    }

    /// The sum of a recipe's volume sizes is bounded as `--image-size` is: a sum past it
    /// used to stop silently where it would overflow, and the estimate went on with part of it.
    @Test func recipeSizesAreBoundedWhereTheyAreRead() throws {
        let folder = try TemporaryFolder()
        let recipe = folder.file("recipe.json")
        // 67,109 volumes of 16,000 GiB: the 67,109th takes the sum past 2^30 GiB.
        let mappings = (0..<67_109).map { #"{"deviceName": "/dev/sd\#($0)", "ebs": {"volumeSize": 16000}}"# }
        try write(#"{"imageRecipe": {"blockDeviceMappings": [\#(mappings.joined(separator: ", "))]}}"#, to: recipe)
        let result = try run(["plan", Self.configuration, "--source-region", "us-east-1", "--recipe", recipe])
        #expect(result.status == 2, "\(result.standardError.prefix(2000))")
        #expect(
            result.standardError.contains(
                "imageRecipe.blockDeviceMappings[67108].ebs.volumeSize: the volumes add up to more than 1073741824 GiB, the largest image size imgship estimates"
            ), "\(result.standardError.prefix(2000))")
        #expect(result.standardOutput.isEmpty)
    }

    /// A folder with a one-output job run as shard 0/1: the folder, the shard's report and its text.
    func shardedJob(seed: UInt64) throws -> (TemporaryFolder, String, String) {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("disk.raw"), size: 1 << 20, noise: 4096, seed: seed)
        try write("schemaVersion: 1\nexports:\n  - {source: disk.raw, formats: [raw], destination: out}\n", to: folder.file("job.yaml"))
        let shard = try run(["job", folder.file("job.yaml"), "--shard", "0/1"])
        try #require(shard.status == 0, "\(shard.standardError)")
        let report = folder.file("job.yaml.report.0-of-1.json")
        return (folder, report, try String(contentsOfFile: report, encoding: .utf8))
    }

    /// `seconds: 1e300` in a shard report trapped after the merged report and `SHA256SUMS` were
    /// written; it is refused as the report is read, and nothing is written.
    @Test func shardReportNumbersAreBoundedWhereTheyAreRead() throws {
        let (folder, report, original) = try shardedJob(seed: 1)
        try FileManager.default.removeItem(atPath: folder.file("out/SHA256SUMS"))
        let cases = [
            (#""seconds": [0-9.]+,\n *"sha256""#, "\"seconds\": 1e300,\n\"sha256\"", "exports[0].seconds"),
            (#""seconds": [0-9.]+,\n *"sha256""#, "\"seconds\": -1,\n\"sha256\"", "exports[0].seconds"),
            (#""seconds": [0-9.]+,\n *"started""#, "\"seconds\": 1e15,\n\"started\"", "seconds"),
        ]
        for (pattern, replacement, member) in cases {
            let edited = original.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
            try #require(edited != original)
            try write(edited, to: report)
            let merge = try run(["job", folder.file("job.yaml"), "--merge"])
            #expect(merge.status == 1, "\(merge.standardError)")
            #expect(merge.standardError.contains(": \(member): expected a number of seconds from 0 to 1000000000"), "\(merge.standardError)")
            #expect(merge.standardError.hasPrefix("imgship: error: \(report):"), "\(merge.standardError)")
            #expect(!FileManager.default.fileExists(atPath: folder.file("job.yaml.report.json")))
            #expect(!FileManager.default.fileExists(atPath: folder.file("out/SHA256SUMS")))
        }
    }

    /// A shard report is parsed whole: padded with tiny values it took 1.6 GB and minutes
    /// (64 MiB), and 15 million warnings six minutes. Its size is bounded by the job's
    /// outputs, and an output's warnings by count, before it is parsed.
    @Test func shardReportsAreBoundedByTheirJob() throws {
        let (folder, report, original) = try shardedJob(seed: 2)
        let padded = original.replacingOccurrences(
            of: #""errors": []"#, with: #""errors": [], "padding": ["# + Array(repeating: "1", count: 40_000).joined(separator: ",") + "]")
        try write(padded, to: report)
        let merge = try run(["job", folder.file("job.yaml"), "--merge"])
        #expect(merge.status == 1)
        #expect(
            merge.standardError
                == "imgship: error: \(report): \(padded.utf8.count) bytes, more than a shard report of a job of 1 output(s) holds (at most 73728 bytes)\n",
            "\(merge.standardError)")
        let warned = original.replacingOccurrences(
            of: #""warnings": []"#, with: #""warnings": ["# + Array(repeating: #""w""#, count: 65).joined(separator: ",") + "]")
        try write(warned, to: report)
        let merge2 = try run(["job", folder.file("job.yaml"), "--merge"])
        #expect(merge2.status == 1)
        #expect(merge2.standardError.contains("exports[0].warnings: 65 warnings, more than the 64 an output's line holds"), "\(merge2.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("job.yaml.report.json")))
    }

    // MARK: One writer per job

    /// `startStoppedHolder` of the built binary.
    func stoppedHolder(_ arguments: [String], lock: String, errorPath: String) throws -> RunningProcess {
        try startStoppedHolder(Self.binary, arguments, lock: lock, errorPath: errorPath)
    }

    func running(_ arguments: [String], errorPath: String) throws -> RunningProcess {
        try RunningProcess(Self.binary, arguments, errorPath: errorPath)
    }

    /// Two runs of one job, and of one shard, at once: the second is refused naming the holder
    /// (exit 1), or waits with `--wait` and then finds every output good; a whole run and a
    /// shard exclude each other, two shards do not. `SHA256SUMS` lists every output after.
    @Test(.enabled(if: which("sha256sum") != nil, "needs sha256sum"))
    func oneWriterPerJobAndShard() throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("disk.raw"), size: 24 << 20, noise: 24 << 20, seed: 7)
        let jobText = "schemaVersion: 1\nexports:\n  - {source: disk.raw, formats: [vmdk, vhd, raw, vhdx], destination: out}\n"
        try write(jobText, to: folder.file("job.yaml"))
        let job = folder.file("job.yaml")
        let lock = folder.file("job.yaml.lock")

        let first = try stoppedHolder(["job", job, "--concurrency", "1"], lock: lock, errorPath: folder.file("first.err"))
        let holder = "pid \(first.identifier) on "
        let second = try run(["job", job])
        #expect(second.status == 1)
        #expect(second.standardError.hasPrefix("imgship: error: \(job): another run holds the lock \(lock) (\(holder)"), "\(second.standardError)")
        #expect(second.standardError.hasSuffix("); pass --wait to wait for it\n"), "\(second.standardError)")
        let shard = try run(["job", job, "--shard", "0/2"])
        #expect(shard.status == 1, "a shard runs beside a whole run of its job: \(shard.standardError)")
        // The job file by another name (a symbolic link from another folder) is the same job.
        try FileManager.default.createDirectory(atPath: folder.file("other"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder.file("other/link.yaml"), withDestinationPath: job)
        let linked = try run(["job", folder.file("other/link.yaml")])
        #expect(linked.status == 1)
        #expect(linked.standardError.contains("another run holds the lock \(lock) (\(holder)"), "\(linked.standardError)")
        let merge = try run(["job", job, "--merge"])
        #expect(merge.status == 1)
        #expect(merge.standardError.contains("another run holds the lock \(lock) (\(holder)"), "\(merge.standardError)")

        let waiting = try running(["job", job, "--wait"], errorPath: folder.file("waiting.err"))
        usleep(500_000)
        #expect(waiting.isRunning)
        #expect(waiting.standardError.contains("waiting for the lock \(lock), which another run holds (\(holder)"), "\(waiting.standardError)")
        #expect(first.finish() == 0, "\(first.standardError)")
        #expect(waiting.finish() == 0, "\(waiting.standardError)")
        #expect(waiting.standardError.components(separatedBy: "skipped").count == 5, "\(waiting.standardError)")
        let check = try runProcess("/bin/sh", ["-c", "cd \"$0\" && sha256sum -c SHA256SUMS", folder.file("out")])
        #expect(check.status == 0, "\(text(check.standardOutput))")
        #expect(text(check.standardOutput).split(separator: "\n").count == 4)
        #expect(try String(contentsOfFile: lock, encoding: .utf8).isEmpty, "a lock let go names no holder")

        // One shard at a time; the other shard runs beside it.
        try FileManager.default.removeItem(atPath: folder.file("out"))
        let units = try JobFile.decode(jobText).units(baseFolder: folder.path)
        let slow = try #require((0..<2).first { index in JobShard(index: index, count: 2)!.select(units, by: .path).contains { $0.format.rawValue == "vmdk" } })
        let shardLock = folder.file("job.yaml.\(slow)-of-2.lock")
        let busy = try stoppedHolder(["job", job, "--shard", "\(slow)/2"], lock: shardLock, errorPath: folder.file("busy.err"))
        let again = try run(["job", job, "--shard", "\(slow)/2"])
        #expect(again.status == 1)
        #expect(
            again.standardError.contains("another run holds the lock \(shardLock) (pid \(busy.identifier) on "), "\(again.standardError)")
        let whole = try run(["job", job])
        #expect(whole.status == 1)
        #expect(whole.standardError.contains("another run holds the lock \(lock) (shards of the job)"), "\(whole.standardError)")
        let other = try run(["job", job, "--shard", "\(1 - slow)/2"])
        #expect(other.status == 0, "\(other.standardError)")
        #expect(busy.finish() == 0, "\(busy.standardError)")
        let merged = try run(["job", job, "--merge"])
        #expect(merged.status == 0, "\(merged.standardError)")
    }

    /// Two different job files naming one output: while one run writes it (stopped with
    /// SIGSTOP), a run of the other job fails that output naming the holder of the output's
    /// lock (exit 1), or waits with `--wait` and then verifies the first run's output. The
    /// output lock is gone after, and `sha256sum -c` passes on the folder's list.
    @Test(.enabled(if: which("sha256sum") != nil, "needs sha256sum"))
    func oneWriterPerOutputAcrossJobFiles() throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("disk.raw"), size: 24 << 20, noise: 24 << 20, seed: 11)
        let jobText = "schemaVersion: 1\nexports:\n  - {source: disk.raw, formats: [vmdk], destination: out}\n"
        try write(jobText, to: folder.file("first.yaml"))
        try write(jobText, to: folder.file("second.yaml"))
        let output = try #require(JobFile.decode(jobText).units(baseFolder: folder.path).first).output
        let lock = JobLock.path(output: output)

        let first = try stoppedHolder(["job", folder.file("first.yaml")], lock: lock, errorPath: folder.file("first.err"))
        let holder = "pid \(first.identifier) on "
        let second = try run(["job", folder.file("second.yaml")])
        #expect(second.status == 1, "\(second.standardError)")
        #expect(second.standardError.contains("another run holds the lock \(lock) (\(holder)"), "\(second.standardError)")
        #expect(second.standardError.contains("pass --wait to wait for it"), "\(second.standardError)")

        let waiting = try running(["job", folder.file("second.yaml"), "--wait"], errorPath: folder.file("waiting.err"))
        usleep(500_000)
        #expect(waiting.isRunning)
        #expect(waiting.standardError.contains("waiting for the lock \(lock), which another run holds (\(holder)"), "\(waiting.standardError)")
        #expect(first.finish() == 0, "\(first.standardError)")
        #expect(waiting.finish() == 0, "\(waiting.standardError)")
        #expect(waiting.standardError.contains("skipped"), "the waiting run found the first run's output good: \(waiting.standardError)")
        #expect(!FileManager.default.fileExists(atPath: lock), "an output's lock is removed as it is let go")
        let check = try runProcess("/bin/sh", ["-c", "cd \"$0\" && sha256sum -c SHA256SUMS", folder.file("out")])
        #expect(check.status == 0, "\(text(check.standardOutput))")
    }

    /// `imgship export -o FILE` takes the output's lock a job takes: while an export writes an
    /// output (stopped with SIGSTOP), a second export and a job naming it are refused naming
    /// the holder (exit 1) and leave the holder's lock alone; `--wait --force` waits and then
    /// replaces it. An export stopped while it holds the lock makes a job fail that output
    /// too. No lock file is left after a success or a failure.
    @Test(.enabled(if: which("sha256sum") != nil, "needs sha256sum"))
    func exportsTakeTheOutputLock() throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("disk.raw"), size: 24 << 20, noise: 24 << 20, seed: 12)
        let jobText = "schemaVersion: 1\nexports:\n  - {source: disk.raw, formats: [vmdk], destination: out}\n"
        try write(jobText, to: folder.file("job.yaml"))
        let output = try #require(JobFile.decode(jobText).units(baseFolder: folder.path).first).output
        try FileManager.default.createDirectory(atPath: folder.file("out"), withIntermediateDirectories: true)
        let lock = JobLock.path(output: output)
        let export = ["export", folder.file("disk.raw"), "-f", "vmdk", "--no-progress", "-o", output]

        let first = try stoppedHolder(export, lock: lock, errorPath: folder.file("first.err"))
        let holder = "pid \(first.identifier) on "
        let second = try run(export)
        #expect(second.status == 1, "\(second.standardError)")
        #expect(
            second.standardError.hasPrefix("imgship: error: \(output): another run holds the lock \(lock) (\(holder)")
                && second.standardError.hasSuffix("); pass --wait to wait for it\n") && second.standardError.split(separator: "\n").count == 1,
            "\(second.standardError)")
        let job = try run(["job", folder.file("job.yaml")])
        #expect(job.status == 1, "\(job.standardError)")
        #expect(job.standardError.contains("another run holds the lock \(lock) (\(holder)"), "\(job.standardError)")
        #expect(try String(contentsOfFile: lock, encoding: .utf8).hasPrefix(holder), "a refused run leaves the holder's lock alone")
        #expect(!FileManager.default.fileExists(atPath: output), "the refused runs committed nothing")

        let waiting = try running(export + ["--wait", "--force"], errorPath: folder.file("waiting.err"))
        usleep(500_000)
        #expect(waiting.isRunning)
        #expect(waiting.standardError.contains("waiting for the lock \(lock), which another run holds (\(holder)"), "\(waiting.standardError)")
        #expect(first.finish() == 0, "\(first.standardError)")
        #expect(waiting.finish() == 0, "\(waiting.standardError)")
        #expect(!FileManager.default.fileExists(atPath: lock), "an output's lock is removed as it is let go")
        let check = try runProcess("/bin/sh", ["-c", "cd \"$0\" && sha256sum -c disk.vmdk.sha256", folder.file("out")])
        #expect(check.status == 0, "\(text(check.standardOutput))")

        // A job holding the output: the export is refused the same way.
        try FileManager.default.removeItem(atPath: folder.file("out"))
        let holdingJob = try stoppedHolder(["job", folder.file("job.yaml")], lock: lock, errorPath: folder.file("job.err"))
        let refused = try run(export)
        #expect(refused.status == 1, "\(refused.standardError)")
        #expect(refused.standardError.contains("another run holds the lock \(lock) (pid \(holdingJob.identifier) on "), "\(refused.standardError)")
        #expect(holdingJob.finish() == 0, "\(holdingJob.standardError)")

        // A failed export lets go of its lock too.
        // qcow2's magic (QFI\xfb) and version 3, then a header cut short.
        _ = FileManager.default.createFile(atPath: folder.file("broken.qcow2"), contents: Data([0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3, 0, 0]))
        let failed = try run(["export", folder.file("broken.qcow2"), "-f", "raw", "-o", folder.file("out/broken.raw")])
        #expect(failed.status == 2, "\(failed.standardError)")
        #expect(!folder.names().contains { $0.hasSuffix(".imgship.lock") })
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("out")).allSatisfy { !$0.hasSuffix(".imgship.lock") })
    }

    /// A lock file planted as a symbolic link (to a file the holder's line would overwrite) or
    /// a FIFO is refused, and what the link points at is left alone.
    @Test func plantedLockFilesAreRefused() throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("disk.raw"), size: 1 << 20, noise: 4096, seed: 8)
        try write("schemaVersion: 1\nexports:\n  - {source: disk.raw, formats: [raw], destination: out}\n", to: folder.file("job.yaml"))
        try write("precious\n", to: folder.file("precious.txt"))
        try FileManager.default.createSymbolicLink(atPath: folder.file("job.yaml.lock"), withDestinationPath: folder.file("precious.txt"))
        let linked = try run(["job", folder.file("job.yaml")])
        #expect(linked.status == 1)
        #expect(
            linked.standardError.contains("cannot take the lock \(folder.path)/job.yaml.lock: is a symbolic link; expected a regular file"),
            "\(linked.standardError)")
        #expect(try String(contentsOfFile: folder.file("precious.txt"), encoding: .utf8) == "precious\n")
        try FileManager.default.removeItem(atPath: folder.file("job.yaml.lock"))
        #expect(mkfifo(folder.file("job.yaml.lock"), 0o600) == 0)
        let fifo = try run(["job", folder.file("job.yaml")])
        #expect(fifo.status == 1)
        #expect(fifo.standardError.contains("is not a regular file; expected a regular file as a lock"), "\(fifo.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("out")))
    }

    /// A job source named `-` is the file `./-` of the job's folder, never standard input,
    /// however the job file is named on the command line.
    @Test func aSourceNamedDashIsAFile() throws {
        let folder = try TemporaryFolder()
        try write("schemaVersion: 1\nexports:\n  - {source: \"-\", formats: [raw], destination: out, name: x}\n", to: folder.file("job.yaml"))
        let result = try runProcess("/bin/sh", ["-c", "cd \"$0\" && head -c 1048576 /dev/zero | \"$1\" job job.yaml", folder.path, Self.binary])
        #expect(result.status == 1, "\(result.standardError)")
        #expect(result.standardError.contains("./-"), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("out/x.raw")))
    }

    /// Every job file in a folder keeps its own report (`JOB.report.json`); they all wrote
    /// `job-report.json`.
    @Test func reportsAreNamedAfterTheirJobFiles() throws {
        let folder = try TemporaryFolder()
        for name in ["a", "b"] {
            try makeDisk(folder.file("\(name).raw"), size: 1 << 20, noise: 4096, seed: name == "a" ? 1 : 2)
            try write("schemaVersion: 1\nexports:\n  - {source: \(name).raw, formats: [raw], destination: out}\n", to: folder.file("\(name).yaml"))
            let result = try run(["job", folder.file("\(name).yaml")])
            #expect(result.status == 0, "\(result.standardError)")
            #expect(text(result.standardOutput).hasSuffix("report: \(folder.path)/\(name).yaml.report.json\n"))
        }
        for name in ["a", "b"] {
            let report = try String(contentsOfFile: folder.file("\(name).yaml.report.json"), encoding: .utf8)
            #expect(report.contains("\"path\": \"\(folder.path)/out/\(name).raw\""), "\(report)")
        }
    }

    // MARK: Merge trusts nothing stale

    /// After a source changes, `--merge` applies the rule a rerun does (the record against the
    /// source's identity): it fails the stale outputs, as `--dry-run` says they must be made
    /// again. It used to exit 0 and list them.
    @Test func mergeFailsOutputsWhoseSourceChanged() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try makeDisk(source, size: 1 << 20, noise: 4096, seed: 3)
        try write("schemaVersion: 1\nexports:\n  - {source: disk.raw, formats: [raw, vhd], destination: out}\n", to: folder.file("job.yaml"))
        let job = folder.file("job.yaml")
        let shard = try run(["job", job, "--shard", "0/1"])
        try #require(shard.status == 0, "\(shard.standardError)")
        // The same size, other bytes, a later time: only the record can tell.
        try makeDisk(source, size: 1 << 20, noise: 4096, seed: 4)
        let dryRun = try run(["job", job, "--dry-run"])
        #expect(text(dryRun.standardOutput).components(separatedBy: "export again: the source or settings changed since it was made").count == 3)
        let merge = try run(["job", job, "--merge", "--json"])
        #expect(merge.status == 1, "\(merge.standardError)")
        let report = try #require(try JSONSerialization.jsonObject(with: merge.standardOutput) as? [String: Any])
        let exports = try #require(report["exports"] as? [[String: Any]])
        #expect(exports.map { $0["status"] as? String } == ["failed", "failed"])
        for export in exports {
            let error = export["error"] as? String ?? ""
            #expect(error.hasPrefix("its shard reported it exported, but it was made from its source as it was before ("), "\(error)")
            #expect(error.contains("modification time"), "\(error)")
            #expect(error.hasSuffix("; run its shard again"))
        }
        #expect(!FileManager.default.fileExists(atPath: folder.file("out/SHA256SUMS")))
    }

    /// `--merge` keeps the import commands of every target's outputs, as one unsharded run
    /// reports them (AWS's, its snapshot path, and the other rows'); it used to drop them.
    @Test func mergeKeepsTheImportCommands() throws {
        let folder = try TemporaryFolder()
        try GuestDisk.write(folder.file("golden.raw"), size: 64 << 20, boot: .uefiOnly)
        let job = folder.file("job.json")
        try write(
            #"""
            {"schemaVersion": 1, "exports": [{"source": "golden.raw", "target": "aws", "destination": "out", "s3Bucket": "vm-imports"},
              {"source": "golden.raw", "target": "aws", "formats": ["vhd"], "destination": "out", "options": {"awsImport": "snapshot"}},
              {"source": "golden.raw", "target": "kvm", "destination": "out"}, {"source": "golden.raw", "target": "oci", "destination": "out", "name": "golden-oci"}]}
            """#, to: job)
        func commands(_ result: ProcessResult) throws -> [[String]] {
            let report = try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any])
            return try #require((report["exports"] as? [[String: Any]])?.map { $0["importCommands"] as? [String] ?? [] })
        }
        let whole = try run(["job", job, "--json"])
        try #require(whole.status == 0, "\(whole.standardError)")
        let expected = try commands(whole)
        #expect(expected.map(\.count) == [2, 5, 1, 2])
        let shards = try (0..<2).map { try run(["job", job, "--shard", "\($0)/2"]) }
        for shard in shards { try #require(shard.status == 0, "\(shard.standardError)") }
        let merge = try run(["job", job, "--merge", "--json"])
        #expect(merge.status == 0, "\(merge.standardError)")
        #expect(try commands(merge) == expected)
    }

    // MARK: Outputs that are inputs

    /// `plan CONFIG -o CONFIG --force` and `plan diff OLD NEW -o NEW --force` replaced an input;
    /// now no command's output may be one of its inputs, by any name, whatever `--force` says.
    @Test func noOutputReplacesAnInput() throws {
        let folder = try TemporaryFolder()
        let config = folder.file("config.json")
        let original = try String(contentsOfFile: Self.configuration, encoding: .utf8)
        try write(original, to: config)
        try FileManager.default.linkItem(atPath: config, toPath: folder.file("hard.json"))
        try FileManager.default.createSymbolicLink(atPath: folder.file("soft.json"), withDestinationPath: config)
        let old = folder.file("old.json")
        try write(original, to: old)
        let prices = folder.file("prices.json")
        try write(#"{"source": "ours"}"#, to: prices)
        let cases: [(arguments: [String], output: String, input: String)] = [
            (["plan", config, "-o", config, "--force"], config, config),
            (["plan", config, "-o", folder.file("hard.json"), "--force"], folder.file("hard.json"), config),
            (["plan", config, "-o", folder.file("soft.json"), "--force"], folder.file("soft.json"), config),
            (["plan", config, "--emit-job", "golden.raw", "-o", config, "--force"], config, config),
            (["plan", config, "--image-size", "8", "--prices", prices, "-o", prices, "--force"], prices, prices),
            (["plan", "diff", old, config, "-o", config, "--force"], config, config),
            (["plan", "diff", old, config, "-o", old, "--force", "--json"], old, old),
        ]
        for (arguments, output, input) in cases {
            let result = try run(arguments + ["--source-region", "us-east-1"])
            #expect(result.status == 2, "\(arguments): \(result.standardError)")
            #expect(result.standardError.contains("imgship: error: \(output): is the input \(input)"), "\(arguments): \(result.standardError)")
            #expect(result.standardError.contains("no command replaces what it reads"), "\(result.standardError)")
        }
        #expect(try String(contentsOfFile: config, encoding: .utf8) == original)
        #expect(try String(contentsOfFile: old, encoding: .utf8) == original)
        #expect(try String(contentsOfFile: prices, encoding: .utf8) == #"{"source": "ours"}"#)

        // A job's report is an output too: never the job file, a source or an output.
        try makeDisk(folder.file("disk.raw"), size: 1 << 20, noise: 4096, seed: 5)
        let jobText = "schemaVersion: 1\nexports:\n  - {source: disk.raw, formats: [raw], destination: out}\n"
        let job = folder.file("job.yaml")
        try write(jobText, to: job)
        for target in [job, folder.file("disk.raw")] {
            let result = try run(["job", job, "--report", target])
            #expect(result.status == 2, "\(result.standardError)")
            #expect(result.standardError.contains("is the input"), "\(result.standardError)")
        }
        #expect(try String(contentsOfFile: job, encoding: .utf8) == jobText)
        #expect(!FileManager.default.fileExists(atPath: folder.file("out")))
    }

    // MARK: What reaches a terminal

    /// Terminal escapes and forged lines from an image's descriptor, a job file and a shard
    /// report are shown escaped: no ESC, BEL or line of their own reaches the screen.
    @Test func stringsFromFilesAreEscapedOnTheScreen() throws {
        let folder = try TemporaryFolder()
        FileManager.default.createFile(atPath: folder.file("flat.bin"), contents: nil)
        try FileHandle(forWritingTo: URL(fileURLWithPath: folder.file("flat.bin"))).truncate(atOffset: 1 << 20)
        try write(
            "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\u{1B}]0;owned\u{07}\"\n\nRW 2048 FLAT \"flat.bin\" 0\n\nddb.adapterType = \"ide\u{1B}[2J\"\n",
            to: folder.file("hostile.vmdk"))
        let info = try run(["info", folder.file("hostile.vmdk")])
        #expect(info.status == 0, "\(info.standardError)")
        #expect(text(info.standardOutput).contains("create type:       monolithicFlat\\u{1B}]0;owned\\u{7}\n"), "\(text(info.standardOutput))")
        #expect(text(info.standardOutput).contains("adapter:           ide\\u{1B}[2J\n"))
        // JSON escapes what RFC 8259 requires and, as it allows, C1 controls (CSI is U+009B) and
        // the Unicode line separators, which a terminal could obey too.
        try write(
            "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\u{9B}2J\u{2028}\u{7F}\"\n\nRW 2048 FLAT \"flat.bin\" 0\n",
            to: folder.file("c1.vmdk"))
        let json = try run(["info", folder.file("c1.vmdk"), "--json"])
        #expect(json.status == 0, "\(json.standardError)")
        #expect(text(json.standardOutput).contains(#""createType":"monolithicFlat\u009b2J\u2028\u007f""#), "\(text(json.standardOutput))")

        try makeDisk(folder.file("disk.raw"), size: 1 << 20, noise: 4096, seed: 6)
        try write(
            "{\"schemaVersion\": 1, \"exports\": [{\"source\": \"disk.raw\", \"formats\": [\"raw\"], \"destination\": \"out\", \"name\": \"web\\u001b[31m\"}]}",
            to: folder.file("job.json"))
        let shard = try run(["job", folder.file("job.json"), "--shard", "0/1"])
        #expect(shard.status == 0, "\(shard.standardError)")
        let report = folder.file("job.json.report.0-of-1.json")
        let forged = try String(contentsOfFile: report, encoding: .utf8).replacingOccurrences(
            of: #""warnings": []"#, with: #""warnings": ["fine\n\u001b[2Kimgship: all outputs verified"]"#)
        try write(forged, to: report)
        let merge = try run(["job", folder.file("job.json"), "--merge"])
        #expect(merge.status == 0, "\(merge.standardError)")
        for (name, bytes) in [
            ("info", info.standardOutput + Data(info.standardError.utf8)), ("shard", shard.standardOutput + Data(shard.standardError.utf8)),
            ("merge", merge.standardOutput + Data(merge.standardError.utf8)),
        ] {
            #expect(!bytes.contains(0x1B) && !bytes.contains(0x07), "\(name) printed a control character: \(text(bytes))")
        }
        #expect(merge.standardError.contains("imgship: warning: \(folder.path)/out/web\\u{1B}[31m.raw: fine\\n\\u{1B}[2Kimgship: all outputs verified\n"))
        #expect(!merge.standardError.contains("\nimgship: all outputs verified"))
    }

    /// A usage error quotes what was typed: a value pasted with escapes in it is shown
    /// escaped too, and the usage lines after it stay lines.
    @Test func usageErrorsQuoteValuesEscaped() throws {
        let plan = try run(["plan", "config.json", "--recipe-name", "a\u{1B}[31mb\u{1B}]0;owned\u{07}"])
        #expect(plan.status == 64)
        #expect(!plan.standardError.utf8.contains(0x1B) && !plan.standardError.utf8.contains(0x07), "\(plan.standardError)")
        #expect(plan.standardError.hasPrefix("Error: --recipe-name must be an Image Builder recipe name"), "\(plan.standardError)")
        #expect(plan.standardError.contains("got 'a\\u{1B}[31mb\\u{1B}]0;owned\\u{7}'\nUsage: imgship plan"), "\(plan.standardError)")
        let export = try run(["export", "disk.raw", "-f", "vmdk", "-o", "x.vmdk", "--uuid", "\u{1B}[2J"])
        #expect(export.status == 64)
        #expect(export.standardError.contains("got '\\u{1B}[2J'"), "\(export.standardError)")
    }

    // MARK: Printed AWS commands

    /// A job destination starting with '-' printed an `aws s3 cp` the AWS CLI read as an
    /// option. The printed commands, run as printed against moto, upload the output under the
    /// printed key and ask ImportImage for it: the CLI's own parser (botocore) reads them as meant.
    @Test(.enabled(if: MotoServer.isInstalled, "needs moto_server and the AWS CLI"))
    func printedCommandsRunAsPrintedThroughTheAWSCLI() throws {
        let folder = try TemporaryFolder()
        try GuestDisk.write(folder.file("golden.raw"), size: 64 << 20, boot: .uefiOnly)
        try write(
            #"{"schemaVersion": 1, "exports": [{"source": "golden.raw", "target": "aws", "destination": "-x", "s3Bucket": "vm-imports", "s3Prefix": "--acl/"}]}"#,
            to: folder.file("job.json"))
        let result = try run(["job", "job.json", "--json"], in: folder.path)
        try #require(result.status == 0, "\(result.standardError)")
        let report = try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any])
        let commands = try #require((report["exports"] as? [[String: Any]])?.first?["importCommands"] as? [String])
        #expect(commands.first == "aws s3 cp --region us-east-1 ./-x/vm-imports/--acl/golden.vmdk s3://vm-imports/--acl/golden.vmdk")
        let world = try MotoWorld(standInAWS: TargetCommandTests.standInAWS)
        let script = (["set -euo pipefail", "cd \"$1\"", "aws s3 mb s3://vm-imports >/dev/null"] + commands).joined(separator: "\n") + "\n"
        let upload = try world.run(script: script, arguments: [folder.path])
        #expect(upload.status == 0, "\(text(upload.standardOutput)) \(upload.standardError)")
        let fetched = folder.file("fetched.vmdk")
        let fetch = try world.run(script: "aws s3 cp 's3://vm-imports/--acl/golden.vmdk' \"$1\" >/dev/null\n", arguments: [fetched])
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileManager.default.contentsEqual(atPath: fetched, andPath: folder.file("-x/vm-imports/--acl/golden.vmdk")))
        let imports = try world.emulatedCalls().filter { $0.operation == "ImportImage" }
        #expect(imports.count == 1)
        #expect(imports.first?.error == nil)
    }

    /// An S3 key over 1,024 bytes is refused before any work: a job writes nothing, and
    /// `export --target aws` commits no output (it used to, and then failed).
    @Test func overlongS3KeysAreRefusedBeforeAnyWork() throws {
        let folder = try TemporaryFolder()
        try GuestDisk.write(folder.file("golden.raw"), size: 64 << 20, boot: .uefiOnly)
        let prefix = String(repeating: "k/", count: 510)
        try write(
            #"{"schemaVersion": 1, "exports": [{"source": "golden.raw", "target": "aws", "destination": "out", "s3Prefix": "\#(prefix)"}]}"#,
            to: folder.file("job.json"))
        let job = try run(["job", folder.file("job.json")])
        #expect(job.status == 2, "\(job.standardError)")
        #expect(
            job.standardError.contains("exports[0].s3Prefix: the S3 key of its vmdk output is 1031 bytes, more than the 1024 S3 allows"),
            "\(job.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("out")))

        let output = folder.file("golden.vmdk")
        let export = try run(["export", folder.file("golden.raw"), "--target", "aws", "-o", output, "--s3-prefix", String(repeating: "p", count: 1020)])
        #expect(export.status == 64, "\(export.standardError)")
        #expect(export.standardError.contains("is 1031 bytes, longer than the 1,024 bytes S3 allows"), "\(export.standardError)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
