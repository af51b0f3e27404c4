import Foundation
import TestSupport
import Testing

/// A job file's per-output options and its report's import commands, against the tools that
/// read the outputs (`qemu-img info`, `openssl dgst -verify`, `sha512sum -c`) and against
/// `imgship export` itself: the same options make the same files, and the same target prints
/// the same commands.
@Suite("job files: export options and every target's import commands")
struct JobExportOptionsTests {
    static let binary = ExportCommandTests.binary
    static let qemuImg = which("qemu-img")

    func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    func job(_ jobFile: String, _ extra: [String] = []) throws -> ProcessResult {
        try runProcess(Self.binary, ["job", jobFile] + extra)
    }

    /// The report's exports, by their output's file name.
    func reportedExports(_ result: ProcessResult) throws -> [String: [String: Any]] {
        let report = try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any])
        let exports = try #require(report["exports"] as? [[String: Any]])
        return Dictionary(exports.map { (URL(fileURLWithPath: $0["path"] as? String ?? "").lastPathComponent, $0) }) { first, _ in first }
    }

    func qemuInfo(_ path: String) throws -> [String: Any] {
        let result = try runProcess(try #require(Self.qemuImg), ["info", "--output=json", path])
        try #require(result.status == 0, "\(result.standardError)")
        return try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any])
    }

    /// compress, qcow2Compression and qcow2Compat reach the qcow2 header, and blockSize the VHDX
    /// (qemu-img info reads them back; imgship info agrees on the block size); a key the format
    /// ignores is warned of on that output, naming the key.
    @Test(.enabled(if: qemuImg != nil, "needs qemu-img"))
    func qcow2AndVHDXOptionsReachTheirFiles() throws {
        let folder = try TemporaryFolder()
        let source = try ExportCommandTests().makeSource(in: folder)
        let jobFile = folder.file("job.yaml")
        try """
        schemaVersion: 1
        exports:
          - source: disk.raw
            formats: [qcow2, vhdx, raw]
            destination: out
            options: {compress: true, qcow2Compression: zstd, blockSize: 4}
          - source: disk.raw
            formats: [qcow2]
            name: old
            destination: out
            options: {qcow2Compat: 0.10, compress: true}
        """.write(toFile: jobFile, atomically: true, encoding: .utf8)
        // A dry run tells the same warnings before anything is read.
        let dryRun = try job(jobFile, ["--dry-run"])
        #expect(dryRun.status == 0, "\(dryRun.standardError)")
        #expect(
            dryRun.standardError.contains(
                "imgship: warning: \(folder.file("out/disk.raw")): exports[0].options.blockSize 4 sets the block size of a VHDX; raw has none; ignored\n"),
            "\(dryRun.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("out")))
        let result = try job(jobFile, ["--json"])
        #expect(result.status == 0, "\(result.standardError)")
        let zstd = try qemuInfo(folder.file("out/disk.qcow2"))
        let zstdSpecific = (zstd["format-specific"] as? [String: Any])?["data"] as? [String: Any]
        #expect(zstdSpecific?["compat"] as? String == "1.1")
        #expect(zstdSpecific?["compression-type"] as? String == "zstd")
        let old = try qemuInfo(folder.file("out/old.qcow2"))
        #expect(((old["format-specific"] as? [String: Any])?["data"] as? [String: Any])?["compat"] as? String == "0.10")
        for qcow2 in ["disk.qcow2", "old.qcow2"] {
            let check = try runProcess(try #require(Self.qemuImg), ["check", "-f", "qcow2", folder.file("out/" + qcow2)])
            #expect(check.status == 0, "\(qcow2): \(text(check.standardOutput))")
            let compare = try runProcess(try #require(Self.qemuImg), ["compare", "-f", "raw", "-F", "qcow2", source, folder.file("out/" + qcow2)])
            #expect(compare.status == 0, "\(qcow2): \(text(compare.standardOutput))")
        }
        // The compressed qcow2 is smaller than the same disk's uncompressed export.
        let plain = try runProcess(Self.binary, ["export", source, "-f", "qcow2", "-o", folder.file("plain.qcow2"), "--no-progress"])
        try #require(plain.status == 0, "\(plain.standardError)")
        let size = { (path: String) in (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
        #expect(size(folder.file("out/old.qcow2")) < size(folder.file("plain.qcow2")))
        #expect(try qemuInfo(folder.file("out/disk.vhdx"))["cluster-size"] as? Int == 4 << 20)
        let info = text(try runProcess(Self.binary, ["info", folder.file("out/disk.vhdx")]).standardOutput)
        #expect(info.contains("\nblock size:        4194304\n"), "\(info)")
        let exports = try reportedExports(result)
        #expect(
            exports["disk.raw"]?["warnings"] as? [String] == [
                "exports[0].options.compress applies to qcow2 outputs; raw is not one; ignored",
                "exports[0].options.qcow2Compression applies to qcow2 outputs; raw is not one; ignored",
                "exports[0].options.blockSize 4 sets the block size of a VHDX; raw has none; ignored",
            ])
        #expect(result.standardError.contains("imgship: warning: \(folder.file("out/disk.raw")): exports[0].options.blockSize 4 sets"))
        // A rerun with another block size exports the VHDX again, saying why.
        try String(contentsOfFile: jobFile, encoding: .utf8).replacingOccurrences(of: "blockSize: 4", with: "blockSize: 1")
            .write(toFile: jobFile, atomically: true, encoding: .utf8)
        let rerun = try reportedExports(try job(jobFile, ["--json"]))
        #expect(rerun["disk.vhdx"]?["status"] as? String == "exported")
        // Bound first: inside #expect, `(x as? String ?? "").contains(...)` expands to a check
        // whose result is dropped, which could not fail.
        let replaced = rerun["disk.vhdx"]?["replaced"] as? String ?? ""
        #expect(replaced.contains("blockSize 4194304 -> 1048576"), "\(replaced)")
        #expect(rerun["disk.raw"]?["status"] as? String == "skipped")
        #expect(try qemuInfo(folder.file("out/disk.vhdx"))["cluster-size"] as? Int == 1 << 20)
    }

    /// signKey and signCert (relative to the job file) sign the OVA's manifest, written with
    /// SHA-512 lines: sha512sum -c checks the manifest, openssl dgst -verify the signature, and
    /// neither the report nor the record holds the key. A key that cannot be read, or that does
    /// not match its certificate, fails that output, naming the key's path; the dry run says so
    /// first.
    @Test(.enabled(if: SignedOVATests.tools, "needs openssl, tar, xmllint, sha256sum and sha512sum"))
    func signedOVAFromAJob() throws {
        let folder = try TemporaryFolder()
        let keys = try SignedOVATests.Keys(in: folder)
        _ = try ExportCommandTests().makeSource(in: folder)
        let jobFile = folder.file("job.json")
        try #"""
        {"schemaVersion": 1, "exports": [
          {"source": "disk.raw", "formats": ["ova"], "destination": "out", "name": "appliance",
           "options": {"signKey": "leaf.key", "signCert": "leaf.pem", "manifestDigest": "sha512"}},
          {"source": "disk.raw", "formats": ["ova"], "destination": "out", "name": "unsigned",
           "options": {"signKey": "absent.key", "signCert": "leaf.pem"}},
          {"source": "disk.raw", "formats": ["ova"], "destination": "out", "name": "mismatched",
           "options": {"signKey": "other.key", "signCert": "leaf.pem"}}
        ]}
        """#.write(toFile: jobFile, atomically: true, encoding: .utf8)

        // The dry run reads the keys as the run will: two outputs would fail, each told why.
        let dryRun = try job(jobFile, ["--dry-run"])
        #expect(dryRun.status == 1, "\(dryRun.standardError)")
        let actions = Dictionary(
            text(dryRun.standardOutput).split(separator: "\n").compactMap { line -> (String, String)? in
                guard let name = ["appliance.ova", "unsigned.ova", "mismatched.ova"].first(where: { line.contains("out/" + $0 + " ") }) else { return nil }
                return (name, String(line.split(separator: "  ").last ?? "").trimmingCharacters(in: .whitespaces))
            }, uniquingKeysWith: { first, _ in first })
        #expect(
            actions == [
                "appliance.ova": "export", "unsigned.ova": "fail: the signing key or certificate cannot be used",
                "mismatched.ova": "fail: the signing key or certificate cannot be used",
            ], "\(text(dryRun.standardOutput))")
        let told = dryRun.standardError.split(separator: "\n")
        #expect(
            told.contains { $0.hasPrefix("imgship: error: \(folder.file("out/unsigned.ova")): ") && $0.contains(folder.file("absent.key")) },
            "\(dryRun.standardError)")
        #expect(
            told.contains { $0.hasPrefix("imgship: error: \(folder.file("out/mismatched.ova")): ") && $0.contains(folder.file("other.key")) },
            "\(dryRun.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("out")), "a dry run writes nothing")

        let result = try job(jobFile, ["--json"])
        #expect(result.status == 1, "\(result.standardError)")
        let exports = try reportedExports(result)
        #expect(exports["appliance.ova"]?["status"] as? String == "exported")
        for (name, key) in [("unsigned.ova", "absent.key"), ("mismatched.ova", "other.key")] {
            #expect(exports[name]?["status"] as? String == "failed")
            let error = exports[name]?["error"] as? String ?? ""
            #expect(error.contains(folder.file(key)), "\(exports[name] ?? [:])")
            #expect(!FileManager.default.fileExists(atPath: folder.file("out/" + name)))
        }

        let extracted = folder.file("x")
        try FileManager.default.createDirectory(atPath: extracted, withIntermediateDirectories: true)
        let tar = try #require(which("tar"))
        #expect(try runProcess(tar, ["-xf", folder.file("out/appliance.ova"), "-C", extracted]).status == 0)
        let manifest = try String(contentsOfFile: extracted + "/appliance.mf", encoding: .utf8)
        #expect(manifest.hasPrefix("SHA512(appliance.ovf)= "), "\(manifest)")
        let sums = try runProcess("/bin/bash", ["-c", "cd \"$1\" && sha512sum -c appliance.mf", "check", extracted])
        #expect(sums.status == 0, "\(text(sums.standardOutput)) \(sums.standardError)")

        // Signed with the job's key: openssl checks it with the certificate the job named.
        try SignedOVATests().expectOpenSSLVerifies(extracted, digest: "sha512", scratch: folder)
        #expect(try String(contentsOfFile: folder.file("shipped.pem"), encoding: .utf8) == String(contentsOfFile: keys.leaf, encoding: .utf8))

        let keyText = try String(contentsOfFile: keys.leafKey, encoding: .utf8)
        let keyBody = try #require(keyText.split(separator: "\n").dropFirst().first)
        for written in [folder.file("job.json.report.json"), folder.file("out/appliance.ova.imgship.json")] {
            let contents = try String(contentsOfFile: written, encoding: .utf8)
            #expect(!contents.contains("PRIVATE KEY") && !contents.contains(keyBody), "\(written)")
        }
        #expect(!text(result.standardOutput).contains(keyBody) && !result.standardError.contains(keyBody))
    }

    /// The report prints each output's target-row commands exactly as `imgship export --target
    /// T` prints them for the same file (gcp, kvm, openstack, proxmox, oci, and AWS's snapshot
    /// path with the export's bucket, prefix and region), when exported and when skipped.
    @Test func reportPrintsEveryTargetsImportCommandsAsExportDoes() throws {
        let folder = try TemporaryFolder()
        try GuestDisk.write(folder.file("golden.raw"), size: 64 << 20, boot: .uefiOnly)
        let jobFile = folder.file("job.json")
        let targets = ["gcp", "kvm", "openstack", "proxmox", "oci"]
        let entries = targets.map { #"{"source": "golden.raw", "target": "\#($0)", "destination": "out", "name": "g-\#($0)"}"# }
        let aws =
            #"{"source": "golden.raw", "target": "aws", "formats": ["raw"], "destination": "out", "s3Bucket": "vm-imports", "s3Prefix": "2026/", "s3Region": "eu-west-1", "options": {"awsImport": "snapshot", "architecture": "arm64", "amiName": "golden arm"}}"#
        try #"{"schemaVersion": 1, "exports": [\#((entries + [aws]).joined(separator: ", "))]}"#
            .write(toFile: jobFile, atomically: true, encoding: .utf8)
        let first = try job(jobFile, ["--json"])
        try #require(first.status == 0, "\(first.standardError)")
        let exported = try reportedExports(first)
        let second = try reportedExports(try job(jobFile, ["--json"]))
        let table = text(try job(jobFile).standardOutput)
        #expect(table.contains("to import the target outputs (imgship prints these commands and never runs them):\n"), "\(table)")
        #expect(table.contains("  (100 stands for your virtual machine's id (made first with qm create), local-lvm for your storage)\n"), "\(table)")

        var cases: [(file: String, arguments: [String])] = []
        for target in targets {
            let file = "g-\(target).\(target == "gcp" ? "tar.gz" : "qcow2")"
            cases.append((file, ["--target", target, "-o", folder.file("out/" + file)]))
        }
        cases.append(
            (
                "golden.raw",
                [
                    "--target", "aws", "-f", "raw", "-o", folder.file("out/vm-imports/2026/golden.raw"), "--s3-bucket", "vm-imports", "--s3-prefix", "2026/",
                    "--region", "eu-west-1", "--aws-import", "snapshot", "--architecture", "arm64", "--ami-name", "golden arm",
                ]
            ))
        for (file, arguments) in cases {
            let reported = exported[file]?["importCommands"] as? [String]
            #expect(reported?.isEmpty == false, "\(file): \(exported[file] ?? [:])")
            #expect(second[file]?["status"] as? String == "skipped")
            #expect(second[file]?["importCommands"] as? [String] == reported, "\(file)")
            for line in reported ?? [] { #expect(table.contains("  " + line + "\n"), "\(file): \(line)") }
            // export over the job's own output, for the same path: the same lines.
            let export = try runProcess(Self.binary, ["export", folder.file("golden.raw")] + arguments + ["--force", "--json", "--no-progress"])
            try #require(export.status == 0, "\(file): \(export.standardError)")
            let document = try #require(try JSONSerialization.jsonObject(with: export.standardOutput) as? [String: Any])
            let printed = (document["target"] as? [String: Any])?["importCommands"] as? [String]
            #expect(printed == reported, "\(file)")
        }
        let snapshot = exported["golden.raw"]?["importCommands"] as? [String] ?? []
        #expect(snapshot.contains { $0.hasPrefix("import_task=$(aws ec2 import-snapshot --region eu-west-1 ") }, "\(snapshot)")
        #expect(
            snapshot.contains { $0.contains("register-image --region eu-west-1 --name 'golden arm' --architecture arm64 --boot-mode uefi ") }, "\(snapshot)")
        #expect((exported["g-gcp.tar.gz"]?["importCommands"] as? [String])?.last?.contains("--guest-os-features UEFI_COMPATIBLE") == true)
    }
}

extension JobExportOptionsTests {
    /// `--aws-import snapshot` takes a VHD, as ImportSnapshot does: it compared `vhd-dynamic`
    /// with EC2's format names and refused `-f vhd`, which the job's check (the same
    /// function) found.
    @Test func snapshotPathTakesVHD() throws {
        let folder = try TemporaryFolder()
        try GuestDisk.write(folder.file("golden.raw"), size: 64 << 20, boot: .biosMBR)
        let result = try runProcess(
            Self.binary,
            ["export", folder.file("golden.raw"), "--target", "aws", "-f", "vhd", "--aws-import", "snapshot", "-o", folder.file("g.vhd"), "--no-progress"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(text(result.standardOutput).contains(#"--disk-container '{"Format":"VHD","UserBucket""#), "\(text(result.standardOutput))")
        let refused = try runProcess(
            Self.binary, ["export", folder.file("golden.raw"), "--target", "aws", "-f", "ova", "--aws-import", "snapshot", "-o", folder.file("g.ova")])
        #expect(refused.status == 64)
        #expect(
            refused.standardError.contains(
                "--aws-import snapshot: ImportSnapshot takes VHD, VMDK, RAW disks, not ova (EC2 API reference, SnapshotDiskContainer); give -f vmdk, vhd or raw"
            ))
    }
}
