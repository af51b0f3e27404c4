import Foundation
import TestSupport
import Testing

/// `imgship job` and `imgship plan --emit-job`, run as a user would: outputs checked with
/// sha256sum, qemu-img and imgship verify; reruns checked by what they leave alone.
@Suite("Export jobs, end to end")
struct JobCommandTests {
    static let binary = ExportCommandTests.binary
    static let sha256sum = which("sha256sum")
    static let qemuImg = which("qemu-img")

    /// A 6 MiB + 512 byte disk with a pattern that differs by `seed`, and a hole.
    func makeDisk(_ path: String, seed: Int) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 6 * 1024 * 1024 + 512)
        try handle.seek(toOffset: UInt64(seed) * 1024 * 1024)
        try handle.write(contentsOf: Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 * (seed + 3) / 5 + seed) }))
        try handle.close()
    }

    /// Three sources in three formats: a raw file, a fixed VHD and a stream-optimized VMDK,
    /// the last two made by imgship from raw disks of their own.
    func makeSources(in folder: TemporaryFolder) throws {
        try FileManager.default.createDirectory(atPath: folder.file("images"), withIntermediateDirectories: true)
        try makeDisk(folder.file("images/web.raw"), seed: 1)
        for (name, format, seed) in [("db", "vhd-fixed", 2), ("cache", "vmdk", 3)] {
            let raw = folder.file("\(name).raw")
            try makeDisk(raw, seed: seed)
            let result = try runProcess(
                Self.binary, ["export", raw, "-f", format, "-o", folder.file("images/\(name).\(format == "vmdk" ? "vmdk" : "vhd")"), "--no-progress"])
            try #require(result.status == 0, "\(result.standardError)")
        }
    }

    static let job = """
        # Three appliances for three hypervisors.
        schemaVersion: 1
        exports:
          - source: images/web.raw
            formats: [raw, vhd, vmdk]
            destination: out
            s3Bucket: appliances
            s3Prefix: web/
          - source: images/db.vhd
            formats: [raw, vhd, vmdk]
            destination: out
            s3Bucket: appliances
            s3Prefix: db-
            options: {level: fast, alignMiB: true}
          - source: images/cache.vmdk
            formats: [raw, vhd, vmdk]
            destination: out
            s3Bucket: other-bucket
            name: cache-2026
            options: {adapter: ide}

        """

    /// Every output of `job`, relative to the job's folder, with the source it was made from.
    static let outputs: [(path: String, source: String)] = [
        ("out/appliances/web/web.raw", "images/web.raw"), ("out/appliances/web/web.vhd", "images/web.raw"),
        ("out/appliances/web/web.vmdk", "images/web.raw"),
        ("out/appliances/db-db.raw", "db.raw"), ("out/appliances/db-db.vhd", "db.raw"), ("out/appliances/db-db.vmdk", "db.raw"),
        ("out/other-bucket/cache-2026.raw", "cache.raw"), ("out/other-bucket/cache-2026.vhd", "cache.raw"),
        ("out/other-bucket/cache-2026.vmdk", "cache.raw"),
    ]

    struct Report: Decodable {
        struct Entry: Decodable {
            var source: String
            var format: String
            var path: String
            var bytes: UInt64?
            var sha256: String?
            var seconds: Double
            var status: String
            var error: String?
        }
        var exports: [Entry]
        var totals: [String: Int]
        var checksumLists: [String]
    }

    func runJob(_ folder: TemporaryFolder, _ extra: [String] = []) throws -> (ProcessResult, Report?) {
        let result = try runProcess(Self.binary, ["job", folder.file("job.yaml"), "--json"] + extra)
        let report = try? JSONDecoder().decode(Report.self, from: result.standardOutput)
        return (result, report)
    }

    func statuses(_ report: Report?, in folder: TemporaryFolder) -> [String: String] {
        Dictionary(uniqueKeysWithValues: (report?.exports ?? []).map { (String($0.path.dropFirst(folder.path.count + 1)), $0.status) })
    }

    /// `sha256sum -c SHA256SUMS` in `folder`: the names it checked, or nil when it failed.
    func checkSums(in folder: String) throws -> [String]? {
        let sha256sum = try #require(Self.sha256sum)
        let check = try runProcess("/bin/sh", ["-c", "cd '\(folder)' && '\(sha256sum)' -c SHA256SUMS"])
        guard check.status == 0 else { return nil }
        return String(decoding: check.standardOutput, as: UTF8.self).split(separator: "\n").map { String($0.dropLast(4)) }
    }

    @Test(.enabled(if: sha256sum != nil, "needs sha256sum"))
    func jobRunsResumesRedoesAndFlagsDamage() throws {
        let folder = try TemporaryFolder()
        try makeSources(in: folder)
        try Self.job.write(toFile: folder.file("job.yaml"), atomically: true, encoding: .utf8)

        // First run: all nine outputs, several at a time.
        let (first, report) = try runJob(folder, ["--concurrency", "3"])
        #expect(first.status == 0, "\(first.standardError)")
        let firstReport = try #require(report)
        #expect(firstReport.totals["exported"] == 9)
        #expect(Set(statuses(firstReport, in: folder).keys) == Set(Self.outputs.map(\.path)))
        #expect(first.standardError.split(separator: "\n").filter { $0.hasPrefix("[") }.count == 9)
        for entry in firstReport.exports {
            #expect(entry.bytes == (try FileManager.default.attributesOfItem(atPath: entry.path)[.size] as? UInt64))
            #expect(entry.sha256?.count == 64)
            #expect(entry.seconds > 0)
        }
        // The report is also saved beside the job file.
        let saved = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: folder.file("job.yaml.report.json"))))
        #expect(saved.exports.map(\.sha256) == firstReport.exports.map(\.sha256))

        // One SHA256SUMS a folder, sorted, each passing sha256sum -c.
        #expect(try checkSums(in: folder.file("out/appliances/web")) == ["web.raw", "web.vhd", "web.vmdk"])
        #expect(try checkSums(in: folder.file("out/appliances")) == ["db-db.raw", "db-db.vhd", "db-db.vmdk"])
        #expect(try checkSums(in: folder.file("out/other-bucket")) == ["cache-2026.raw", "cache-2026.vhd", "cache-2026.vmdk"])
        #expect(firstReport.checksumLists.count == 3)

        // Each output holds its source's disk, by qemu-img's reading.
        if let qemuImg = Self.qemuImg {
            for (path, source) in Self.outputs {
                let compare = try runProcess(qemuImg, ["compare", "-f", "raw", folder.file(source), folder.file(path)])
                #expect(compare.status == 0, "\(path): \(compare.standardError)")
            }
        }

        // Second run: everything is there and verifies; nothing is written.
        let before = try modificationTimes(folder)
        let (second, secondReport) = try runJob(folder)
        #expect(second.status == 0, "\(second.standardError)")
        #expect(Set(statuses(secondReport, in: folder).values) == ["skipped"])
        #expect(try modificationTimes(folder) == before)

        // A deleted output is the only one made again.
        try FileManager.default.removeItem(atPath: folder.file("out/appliances/db-db.vmdk"))
        let (third, thirdReport) = try runJob(folder)
        #expect(third.status == 0, "\(third.standardError)")
        let thirdStatuses = statuses(thirdReport, in: folder)
        #expect(thirdStatuses.filter { $0.value == "exported" }.map(\.key) == ["out/appliances/db-db.vmdk"])
        #expect(thirdStatuses.filter { $0.value == "skipped" }.count == 8)
        #expect(try checkSums(in: folder.file("out/appliances")) == ["db-db.raw", "db-db.vhd", "db-db.vmdk"])

        // A damaged output is flagged, kept as it is, and left out of SHA256SUMS.
        let damaged = folder.file("out/appliances/web/web.vhd")
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: damaged))
        try handle.seek(toOffset: 1024 * 1024 + 100)
        try handle.write(contentsOf: Data([0x5A]))
        try handle.close()
        let damagedBytes = try Data(contentsOf: URL(fileURLWithPath: damaged))
        let (fourth, fourthReport) = try runJob(folder)
        #expect(fourth.status == 1)
        let failed = try #require(fourthReport?.exports.first { $0.status == "failed" })
        #expect(failed.path == damaged)
        #expect(failed.error?.contains("\(damaged) does not verify (sha256:") == true, "\(failed.error ?? "")")
        #expect(failed.error?.contains("run with --force") == true)
        #expect(fourthReport?.exports.filter { $0.status == "skipped" }.count == 8)
        #expect(try Data(contentsOf: URL(fileURLWithPath: damaged)) == damagedBytes)
        #expect(try checkSums(in: folder.file("out/appliances/web")) == ["web.raw", "web.vmdk"])
        let verify = try runProcess(Self.binary, ["verify", damaged])
        #expect(verify.status == 1)

        // --force replaces it, and only it.
        let (fifth, fifthReport) = try runJob(folder, ["--force"])
        #expect(fifth.status == 0, "\(fifth.standardError)")
        #expect(statuses(fifthReport, in: folder).filter { $0.value == "exported" }.map(\.key) == ["out/appliances/web/web.vhd"])
        #expect(try checkSums(in: folder.file("out/appliances/web")) == ["web.raw", "web.vhd", "web.vmdk"])
        #expect(try runProcess(Self.binary, ["verify", damaged]).status == 0)
    }

    func modificationTimes(_ folder: TemporaryFolder) throws -> [String: Date] {
        var times: [String: Date] = [:]
        for (path, _) in Self.outputs {
            times[path] = try FileManager.default.attributesOfItem(atPath: folder.file(path))[.modificationDate] as? Date
        }
        return times
    }

    /// A job's source is detected as export's is: a compressed file fails by name, and the
    /// export's `sourceFormat: raw` takes its bytes as they are.
    @Test(.enabled(if: which("gzip") != nil, "needs gzip"))
    func aForeignSourceFailsByNameUnlessTheJobSaysRaw() throws {
        let folder = try TemporaryFolder()
        let source = try ForeignSample.gzip.make(in: folder)
        try """
        {"schemaVersion": 1, "exports": [
          {"source": "\(source)", "formats": ["raw"], "destination": "refused"},
          {"source": "\(source)", "sourceFormat": "raw", "formats": ["raw"], "destination": "forced", "name": "bytes"}
        ]}
        """.write(toFile: folder.file("job.yaml"), atomically: true, encoding: .utf8)
        let (result, report) = try runJob(folder, ["--concurrency", "1"])
        #expect(result.status == 1)
        let entries = try #require(report?.exports)
        #expect(entries.map(\.status) == ["failed", "exported"])
        #expect(entries.first?.error?.contains("is a gzip-compressed file, which imgship does not read") == true, "\(entries.first?.error ?? "")")
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("forced/bytes.raw"))) == Data(contentsOf: URL(fileURLWithPath: source)))
    }

    @Test(.enabled(if: sha256sum != nil, "needs sha256sum"))
    func missingSourceFailsOnlyItsOwnExports() throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("present.raw"), seed: 1)
        try """
        {"schemaVersion": 1, "exports": [
          {"source": "absent.raw", "formats": ["vmdk", "raw"], "destination": "out"},
          {"source": "present.raw", "formats": ["vmdk", "vhd-fixed"], "destination": "out"}
        ]}
        """.write(toFile: folder.file("job.yaml"), atomically: true, encoding: .utf8)
        let (result, report) = try runJob(folder, ["--concurrency", "1"])
        #expect(result.status == 1)
        let entries = try #require(report?.exports)
        #expect(entries.map(\.status) == ["failed", "failed", "exported", "exported"])
        for entry in entries.prefix(2) {
            #expect(entry.error?.contains("absent.raw") == true, "\(entry.error ?? "")")
            #expect(entry.sha256 == nil && entry.bytes == nil)
        }
        // Nothing under the failed exports' names, no temporary files, and a good list.
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.file("out")).sorted()
        #expect(
            names == [
                "SHA256SUMS", "present.vhd", "present.vhd.imgship.json", "present.vhd.sha256",
                "present.vmdk", "present.vmdk.imgship.json", "present.vmdk.sha256",
            ])
        #expect(try checkSums(in: folder.file("out")) == ["present.vhd", "present.vmdk"])
        #expect(result.standardError.contains("failed    \(folder.file("out/absent.vmdk")):"))
    }

    @Test func badJobFileIsRefusedWithPathsAndPositions() throws {
        let folder = try TemporaryFolder()
        try """
        schemaVersion: 1
        exports:
          - source: disk.raw
            fromats: [vmdk]
            destination: out
          - source: disk.raw
            formats: [vmdk, qed]
            destination: out
            s3Bucket: My_Bucket
            options: {level: 13}

        """.write(toFile: folder.file("job.yaml"), atomically: true, encoding: .utf8)
        let result = try runProcess(Self.binary, ["job", folder.file("job.yaml")])
        #expect(result.status == 2)
        let name = folder.file("job.yaml")
        #expect(
            result.standardError == """
                \(name):3:5: error: exports[0]: missing required field 'formats' (a list of raw, vhd, vhd-dynamic, vhd-fixed, vmdk, vhdx, ova, qcow2, gce)
                \(name):4:14: error: exports[0].fromats: unknown key 'fromats'; did you mean 'formats'?
                \(name):7:21: error: exports[1].formats[1]: "qed" is not an output format; expected one of raw, vhd, vhd-dynamic, vhd-fixed, vmdk, vhdx, ova, qcow2, gce
                \(name):9:15: error: exports[1].s3Bucket: "My_Bucket" is not an S3 bucket name: 3 to 63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit
                \(name):10:22: error: exports[1].options.level: expected fast, default, best or a number 1 to 12, found "13"
                imgship: 5 error(s) in the job file; nothing exported

                """)
        #expect(!FileManager.default.fileExists(atPath: folder.file("out")))
        #expect(!FileManager.default.fileExists(atPath: folder.file("job.yaml.report.json")))
    }

    @Test func dryRunShowsWhatEachOutputWouldDoAndWritesNothing() throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("disk.raw"), seed: 2)
        try #"{"schemaVersion": 1, "exports": [{"source": "disk.raw", "formats": ["vmdk", "raw"], "destination": "out", "s3Bucket": "bk1"}]}"#
            .write(toFile: folder.file("job.json"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: folder.file("out/bk1"), withIntermediateDirectories: true)
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: folder.file("out/bk1/disk.raw")))
        let result = try runProcess(Self.binary, ["job", folder.file("job.json"), "--dry-run"])
        #expect(result.status == 1, "\(result.standardError)")  // the raw output would fail
        let lines = String(decoding: result.standardOutput, as: UTF8.self).split(separator: "\n").map(String.init)
        try #require(lines.count == 4)
        #expect(lines[1].hasSuffix("\(folder.file("out/bk1/disk.vmdk"))  export"))
        #expect(lines[2].hasSuffix("\(folder.file("out/bk1/disk.raw"))   fail: the output exists without its manifest (export again with --force)"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("out/bk1")) == ["disk.raw"])
        #expect(!FileManager.default.fileExists(atPath: folder.file("job.yaml.report.json")))
    }

    /// `plan --emit-job` on every bundled configuration with an S3 export: the job it writes
    /// runs, and each output is in the configured format, bucket and prefix.
    @Test(
        .enabled(if: sha256sum != nil, "needs sha256sum"),
        arguments: ["s3-export-all-formats.json", "multi-region-cross-account-kms.json", "get-distribution-configuration-response.json"])
    func emittedJobRuns(configuration: String) throws {
        let folder = try TemporaryFolder()
        try makeDisk(folder.file("golden.raw"), seed: 4)
        let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../testdata/distribution/\(configuration)")
            .standardized.path
        let emitted = try runProcess(
            "/bin/sh", ["-c", "cd '\(folder.path)' && '\(Self.binary)' plan '\(config)' --emit-job golden.raw --job-destination exports > job.json"])
        #expect(emitted.status == 0, "\(emitted.standardError)")

        let expected = try s3Exports(in: config)
        try #require(!expected.isEmpty)
        let result = try runProcess(Self.binary, ["job", folder.file("job.json"), "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        let report = try JSONDecoder().decode(Report.self, from: result.standardOutput)
        #expect(report.exports.count == expected.count)
        for (entry, export) in zip(report.exports, expected) {
            let fileExtension = export.format.lowercased()
            #expect(entry.path == folder.file("exports/\(export.bucket)/\(export.prefix)export-golden-\(export.region).\(fileExtension)"))
            #expect(entry.status == "exported")
            let info = try runProcess(Self.binary, ["info", entry.path, "--json"])
            #expect(
                String(decoding: info.standardOutput, as: UTF8.self).contains(#""format" : "\#(fileExtension)""#)
                    || String(decoding: info.standardOutput, as: UTF8.self).contains(#""format":"\#(fileExtension)""#))
        }
        for list in report.checksumLists {
            #expect(try checkSums(in: URL(fileURLWithPath: list).deletingLastPathComponent().path) != nil)
        }
    }

    /// The S3 exports a configuration declares, read with Foundation's JSON parser.
    func s3Exports(in path: String) throws -> [(region: String, format: String, bucket: String, prefix: String)] {
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        let configuration = (root?["distributionConfiguration"] as? [String: Any]) ?? root
        let distributions = configuration?["distributions"] as? [[String: Any]] ?? []
        return distributions.compactMap { entry in
            guard let export = entry["s3ExportConfiguration"] as? [String: Any] else { return nil }
            return (
                entry["region"] as? String ?? "", export["diskImageFormat"] as? String ?? "",
                export["s3Bucket"] as? String ?? "", export["s3Prefix"] as? String ?? ""
            )
        }
    }

    /// A job's `target` works like `export --target`: the default format, the target's size
    /// rounding, its warnings in the report and on standard error, and a format the platform
    /// does not import refused before anything runs.
    @Test func targetInAJobWorksLikeTheFlag() throws {
        let folder = try TemporaryFolder()
        try GuestDisk.write(folder.file("disk.raw"), size: 30 << 20 + 1234, boot: .biosMBR)
        let job = folder.file("job.json")
        try #"{"schemaVersion": 1, "exports": [{"source": "disk.raw", "target": "azure", "destination": "out"}]}"#
            .write(toFile: job, atomically: true, encoding: .utf8)
        let result = try runProcess(Self.binary, ["job", job, "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        let output = folder.file("out/disk.vhd")
        #expect(try FileManager.default.attributesOfItem(atPath: output)[.size] as? UInt64 == 31 << 20 + 512)
        let report = try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any])
        let exports = try #require(report["exports"] as? [[String: Any]])
        let warnings = try #require(exports.first?["warnings"] as? [String])
        #expect(warnings.contains { $0.hasPrefix("virtual size rounded up from 31458514 to 32505856 bytes") }, "\(warnings)")
        #expect(result.standardError.contains("imgship: warning: \(output): virtual size rounded up"), "\(result.standardError)")

        try #"{"schemaVersion": 1, "exports": [{"source": "disk.raw", "target": "vsphere", "formats": ["vhd"], "destination": "out2"}]}"#
            .write(toFile: job, atomically: true, encoding: .utf8)
        let refused = try runProcess(Self.binary, ["job", job])
        #expect(refused.status == 2)
        #expect(
            refused.standardError.contains("exports[0].formats[0]: target vsphere:6.5: vSphere 6.5 imports ova or vmdk, not vhd-dynamic"),
            "\(refused.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("out2")))
    }

    /// A `target: aws` output's report carries the import commands `export --target aws`
    /// prints, with the export's bucket, key and region (`--region` in every command), also when
    /// a rerun skips it as current; without `s3Region` a stand-in region is named and said to be one.
    @Test func awsTargetOutputsCarryTheirImportCommands() throws {
        let folder = try TemporaryFolder()
        try GuestDisk.write(folder.file("golden.raw"), size: 64 << 20, boot: .uefiOnly)
        let job = folder.file("job.json")
        try
            #"{"schemaVersion": 1, "exports": [{"source": "golden.raw", "target": "aws", "destination": "out", "s3Bucket": "vm-imports", "s3Prefix": "2026/", "s3Region": "eu-west-1"}]}"#
            .write(toFile: job, atomically: true, encoding: .utf8)
        let output = folder.file("out/vm-imports/2026/golden.vmdk")
        let expected = [
            "aws s3 cp --region eu-west-1 \(output) s3://vm-imports/2026/golden.vmdk",
            #"aws ec2 import-image --region eu-west-1 --boot-mode uefi --disk-containers '[{"Format":"VMDK","UserBucket":{"S3Bucket":"vm-imports","S3Key":"2026/golden.vmdk"}}]'"#,
        ]
        for expectedStatus in ["exported", "skipped"] {
            let result = try runProcess(Self.binary, ["job", job, "--json"])
            #expect(result.status == 0, "\(result.standardError)")
            let report = try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any])
            let export = try #require((report["exports"] as? [[String: Any]])?.first)
            #expect(export["status"] as? String == expectedStatus)
            #expect(export["importCommands"] as? [String] == expected)
        }
        let table = try runProcess(Self.binary, ["job", job])
        #expect(
            String(decoding: table.standardOutput, as: UTF8.self).contains(
                "to import the target outputs (imgship prints these commands and never runs them):\n  " + expected[0] + "\n"))
        #expect(!String(decoding: table.standardOutput, as: UTF8.self).contains("stands for the bucket's region"))
        try #"{"schemaVersion": 1, "exports": [{"source": "golden.raw", "target": "aws", "destination": "out2"}]}"#
            .write(toFile: folder.file("stand.json"), atomically: true, encoding: .utf8)
        let standIn = try runProcess(Self.binary, ["job", folder.file("stand.json")])
        #expect(standIn.status == 0, "\(standIn.standardError)")
        let standText = String(decoding: standIn.standardOutput, as: UTF8.self)
        #expect(standText.contains("  aws s3 cp --region us-east-1 "), "\(standText)")
        #expect(standText.contains("  (us-east-1 stands for the bucket's region: give the export an s3Region to name it)\n"))
        try #"{"schemaVersion": 1, "exports": [{"source": "golden.raw", "target": "aws", "destination": "out3", "s3Region": "eu west"}]}"#
            .write(toFile: folder.file("bad.json"), atomically: true, encoding: .utf8)
        let bad = try runProcess(Self.binary, ["job", folder.file("bad.json")])
        #expect(bad.status == 2)
        #expect(bad.standardError.contains(#"exports[0].s3Region: "eu west" is not an AWS region name"#), "\(bad.standardError)")
    }

    @Test func emitJobWithoutExportsIsAnError() throws {
        let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../testdata/distribution/container.json")
            .standardized.path
        let result = try runProcess(Self.binary, ["plan", config, "--emit-job", "golden.raw"])
        #expect(result.status == 2)
        #expect(result.standardError.contains("no region has an s3ExportConfiguration; there is nothing to export"))
        #expect(result.standardOutput.isEmpty)
    }
}
