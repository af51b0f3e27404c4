import ConfigDocument
import ExportJob
import Foundation
import TestSupport
import Testing

/// `imgship job --shard` and `--merge`, as a batch engine runs them: N processes over one
/// folder, some killed midway and retried, then merged; and the examples' manifests.
@Suite("Sharded jobs, end to end", .serialized)
struct ShardedJobTests {
    static let binary = ExportCommandTests.binary
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples").path

    /// Four sources, three formats each; the same bytes for every run (SOURCE_DATE_EPOCH).
    static let job = """
        schemaVersion: 1
        exports:
          - source: images/a.raw
            formats: [raw, vhd, vmdk]
            destination: out
            s3Bucket: fleet
          - source: images/b.raw
            formats: [raw, vhd, vmdk]
            destination: out
            s3Bucket: fleet
            s3Prefix: b/
          - source: images/c.raw
            formats: [vhd-fixed, vmdk, raw]
            destination: out
            s3Bucket: other
          - source: images/d.raw
            formats: [raw, vmdk, vhd]
            destination: out
            s3Bucket: other
            s3Prefix: d-

        """

    static let environment: [String: String] = {
        var environment = ProcessInfo.processInfo.environment
        environment["SOURCE_DATE_EPOCH"] = "1700000000"
        return environment
    }()

    /// A job folder with the sources (one shared source folder, so records match) and the job.
    func makeJobFolder(sources: String) throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        try FileManager.default.createSymbolicLink(atPath: folder.file("images"), withDestinationPath: sources)
        try Self.job.write(toFile: folder.file("job.yaml"), atomically: true, encoding: .utf8)
        return folder
    }

    /// Every file under `out`, relative, with its bytes' SHA-256 (reports left out: they hold timings).
    func contents(of folder: TemporaryFolder) throws -> [String: String] {
        var files: [String: String] = [:]
        let root = folder.file("out")
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let name = enumerator?.nextObject() as? String {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &isFolder), !isFolder.boolValue else { continue }
            let result = try runProcess("/usr/bin/sha256sum", [root + "/" + name])
            files[name] = String(String(decoding: result.standardOutput, as: UTF8.self).prefix(64))
        }
        return files
    }

    /// The unsharded run, then N shards (N = 1, 2, 5) started together over one folder, some
    /// killed at a random moment (seeded) and retried alone, then merged: the same files, the
    /// same SHA256SUMS, and a merged report with the same outputs and statuses.
    @Test(arguments: [1, 2, 5])
    func shardsKilledAndRetriedGiveTheUnshardedFiles(count: Int) throws {
        let sources = try TemporaryFolder()
        for (index, name) in ["a", "b", "c", "d"].enumerated() {
            try JobCommandTests().makeDisk(sources.file("\(name).raw"), seed: index + 1)
        }
        // One folder for both runs: the outputs' records name their sources by path.
        let sharded = try makeJobFolder(sources: sources.path)
        let single = try runProcess(Self.binary, ["job", sharded.file("job.yaml"), "--concurrency", "1"], environment: Self.environment)
        try #require(single.status == 0, "\(single.standardError)")
        let expected = try contents(of: sharded)
        // 12 outputs with their manifests and records, and SHA256SUMS in out/fleet, out/fleet/b and out/other.
        #expect(expected.count == 12 * 3 + 3, "\(expected.keys.sorted())")
        let unshardedReport = try String(contentsOfFile: sharded.file("job.yaml.report.json"), encoding: .utf8)
        try FileManager.default.removeItem(atPath: sharded.file("out"))
        try FileManager.default.removeItem(atPath: sharded.file("job.yaml.report.json"))

        var generator = SplitMix64(seed: UInt64(count) * 7919)
        var processes: [(shard: Int, process: Process)] = []
        for index in 0..<count {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = ["job", sharded.file("job.yaml"), "--shard", "\(index)/\(count)", "--concurrency", "1"]
            process.environment = Self.environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            processes.append((index, process))
        }
        // Kill about half of the shards after 0-150 ms: midway through an export, or before.
        var killed: [Int] = []
        for (index, process) in processes where Bool.random(using: &generator) {
            usleep(UInt32.random(in: 0...150_000, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            killed.append(index)
        }
        for (_, process) in processes { process.waitUntilExit() }
        // Each killed shard, retried alone, finishes its own outputs over what the kill left.
        for index in killed {
            let retry = try runProcess(
                Self.binary, ["job", sharded.file("job.yaml"), "--shard", "\(index)/\(count)", "--concurrency", "1"],
                environment: Self.environment)
            #expect(retry.status == 0, "shard \(index)/\(count): \(retry.standardError)")
        }
        let merge = try runProcess(Self.binary, ["job", sharded.file("job.yaml"), "--merge", "--json"], environment: Self.environment)
        #expect(merge.status == 0, "\(merge.standardError)")
        #expect(try contents(of: sharded) == expected)

        // The merged report lists what the unsharded one lists, in the same order.
        func outputs(_ text: String) throws -> [[String]] {
            let report = try DocumentReader.parse(text)
            return (report["exports"]?.array ?? []).map { item in
                ["entry", "format", "sha256", "bytes"].map { item[$0]?.scalarText ?? "" }
            }
        }
        #expect(try outputs(String(contentsOfFile: sharded.file("job.yaml.report.json"), encoding: .utf8)) == outputs(unshardedReport))
        for index in 0..<count { #expect(FileManager.default.fileExists(atPath: sharded.file("job.yaml.report.\(index)-of-\(count).json"))) }
    }

    @Test func mergeNamesTheShardThatDidNotReport() throws {
        let sources = try TemporaryFolder()
        for name in ["a", "b", "c", "d"] { try JobCommandTests().makeDisk(sources.file("\(name).raw"), seed: 1) }
        let folder = try makeJobFolder(sources: sources.path)
        let first = try runProcess(Self.binary, ["job", folder.file("job.yaml"), "--shard", "0/2"], environment: Self.environment)
        #expect(first.status == 0, "\(first.standardError)")
        let merge = try runProcess(Self.binary, ["job", folder.file("job.yaml"), "--merge"], environment: Self.environment)
        #expect(merge.status == 1)
        #expect(merge.standardError.contains("no report from shard 1/2 (job.yaml.report.1-of-2.json): run it, then merge again"), "\(merge.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("job.yaml.report.json")))
    }

    @Test(arguments: [
        (["--shard", "2/2"], "--shard must be I/N with 0 <= I < N"),
        (["--shard", "auto", "--merge"], "--merge reads every shard's report; it takes no --shard"),
        (["--shard-by", "size"], "--shard-by applies only with --shard"),
    ])
    func shardFlagsAreChecked(flags: [String], message: String) {
        let result = InProcess.parse(["job", "job.yaml"] + flags)
        #expect(result.status == 64)
        #expect(result.standardError.contains(message), "\(result.standardError)")
    }

    // MARK: The examples

    /// The Kubernetes Indexed Job and the AWS Batch job run the same command, and what
    /// `--shard auto` reads in each (the index the engine sets, the count the manifest sets or
    /// the engine passes) is every shard of the count the manifest asks for.
    @Test func examplesAgreeWithShardAuto() throws {
        let kubernetes = try DocumentReader.parse(String(contentsOfFile: Self.examples + "/kubernetes/indexed-job.yaml", encoding: .utf8))
        let spec = try #require(kubernetes["spec"])
        #expect(kubernetes["kind"]?.string == "Job")
        #expect(spec["completionMode"]?.string == "Indexed")
        let completions = try #require(spec["completions"]?.int)
        let container = try #require(spec["template"]?["spec"]?["containers"]?.array?.first)
        let kubernetesCommand = (container["args"]?.array ?? []).compactMap(\.string)
        let environment = Dictionary(
            uniqueKeysWithValues: (container["env"]?.array ?? []).compactMap { item in
                item["name"]?.string.flatMap { name in item["value"]?.string.map { (name, $0) } }
            })
        #expect(environment["IMGSHIP_SHARD_COUNT"] == String(completions))
        for index in 0..<completions {
            var variables = environment
            variables["JOB_COMPLETION_INDEX"] = String(index)
            #expect(try JobShard.fromEnvironment(variables) == JobShard(index: index, count: completions))
        }

        let definition = try DocumentReader.parse(String(contentsOfFile: Self.examples + "/aws-batch/job-definition.json", encoding: .utf8))
        let batchCommand = (definition["containerProperties"]?["command"]?.array ?? []).compactMap(\.string)
        let submit = try DocumentReader.parse(String(contentsOfFile: Self.examples + "/aws-batch/submit-job.json", encoding: .utf8))
        let size = try #require(submit["arrayProperties"]?["size"]?.int)
        #expect(submit["jobDefinition"]?.string == definition["jobDefinitionName"]?.string)
        for index in 0..<size {
            // AWS Batch user guide, "AWS Batch job environment variables": the child's index and the parent's size.
            let variables = ["AWS_BATCH_JOB_ARRAY_INDEX": String(index), "AWS_BATCH_JOB_ARRAY_SIZE": String(size)]
            #expect(try JobShard.fromEnvironment(variables) == JobShard(index: index, count: size))
        }

        #expect(kubernetesCommand == batchCommand)
        #expect(kubernetesCommand.suffix(2) == ["--shard", "auto"])
        #expect(InProcess.parse(kubernetesCommand).status == 0)
        // The merge steps run the same job file with --merge.
        let merge = try DocumentReader.parse(String(contentsOfFile: Self.examples + "/kubernetes/merge-job.yaml", encoding: .utf8))
        let mergeCommand = (merge["spec"]?["template"]?["spec"]?["containers"]?.array?.first?["args"]?.array ?? []).compactMap(\.string)
        let batchMerge = try DocumentReader.parse(String(contentsOfFile: Self.examples + "/aws-batch/submit-merge.json", encoding: .utf8))
        #expect(mergeCommand == Array(kubernetesCommand.dropLast(2)) + ["--merge"])
        #expect((batchMerge["containerOverrides"]?["command"]?.array ?? []).compactMap(\.string) == mergeCommand)
        #expect(InProcess.parse(mergeCommand).status == 0)
    }

    /// The Containerfile installs every development package Package.swift's system libraries
    /// name, so the image builds what `swift build` builds here.
    @Test func containerfileInstallsThePackagesPackageSwiftNames() throws {
        let containerfile = try String(contentsOfFile: Self.examples + "/Containerfile", encoding: .utf8)
        let manifest = try String(contentsOfFile: Self.examples + "/../Package.swift", encoding: .utf8)
        let providers = manifest.matches(of: /\.apt\(\["([a-z0-9.+-]+)"\]\)/).map { String($0.output.1) }
        #expect(providers.count == 5)
        for package in providers { #expect(containerfile.contains(package), "\(package)") }
        #expect(containerfile.contains("swift build -c release --product imgship"))
        #expect(containerfile.contains(#"ENTRYPOINT ["/usr/local/bin/imgship"]"#))
    }
}
