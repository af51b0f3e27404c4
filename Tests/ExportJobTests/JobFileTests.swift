import ConfigDocument
import DiskImage
import Foundation
import TestSupport
import Testing

@testable import ExportJob

@Suite("Job files")
struct JobFileTests {
    func problems(_ text: String) -> [String] {
        do {
            _ = try JobFile.decode(text)
            return []
        } catch {
            return error.problems.map { problem in
                (problem.line.map { "\($0):\(problem.column ?? 0) " } ?? "") + problem.description
            }
        }
    }

    @Test func fullEntryIsRead() throws {
        let job = try JobFile.decode(
            #"""
            {"schemaVersion": 1, "exports": [{
              "source": "img/golden.qcow2", "sourceFormat": "QCOW2", "formats": ["VMDK", "vhd-fixed", "ova"],
              "destination": "out", "s3Bucket": "my.bucket-1", "s3Prefix": "a/b/vm-", "name": "golden-7",
              "options": {"level": "best", "adapter": "buslogic", "alignMiB": true, "cpus": 4, "memoryMiB": 4096, "osType": "windows64"}
            }]}
            """#)
        let export = try #require(job.exports.first)
        #expect(export.sourceFormat == .qcow2)
        #expect(export.formats == [.vmdk, .vhdFixed, .ova])
        #expect(
            export.options
                == JobFile.Options(
                    level: .best, adapter: .buslogic, alignToMiB: true,
                    machine: VirtualMachineSettings(cpus: 4, memoryMiB: 4096, operatingSystem: .windows64)))
        let units = try job.units(baseFolder: "/jobs")
        #expect(
            units.map(\.output) == [
                "/jobs/out/my.bucket-1/a/b/vm-golden-7.vmdk", "/jobs/out/my.bucket-1/a/b/vm-golden-7.vhd",
                "/jobs/out/my.bucket-1/a/b/vm-golden-7.ova",
            ])
        #expect(units.map(\.folder) == Array(repeating: "/jobs/out/my.bucket-1/a/b", count: 3))
        #expect(units[0].source == "/jobs/img/golden.qcow2")
        #expect(units[0].manifest == "/jobs/out/my.bucket-1/a/b/vm-golden-7.vmdk.sha256")
    }

    /// `target` works like `export --target`: it gives the default format, refuses formats the
    /// platform does not import (naming the item and the rule's source), and `firmware` needs it.
    @Test func targetPicksAndChecksTheFormats() throws {
        let job = try JobFile.decode(
            #"""
            {"schemaVersion": 1, "exports": [
              {"source": "a.raw", "target": "azure", "destination": "out"},
              {"source": "b.raw", "target": "vsphere:6.0", "formats": ["vmdk", "ova"], "destination": "out", "options": {"firmware": "efi"}}
            ]}
            """#)
        #expect(job.exports[0].formats == [.vhdFixed])
        #expect(job.exports[0].options.target == .azure)
        #expect(job.exports[1].options.target == .vsphere(VSphereRelease.known[1]))
        #expect(job.exports[1].options.firmware == .efi)
        #expect(try JobFile.decode(job.json()) == job)
        let units = try job.units(baseFolder: "/jobs")
        #expect(units[0].settings["target"] == "azure")
        #expect(units[1].settings["firmware"] == "efi")

        #expect(
            problems(
                #"{"schemaVersion": 1, "exports": [{"source": "a.raw", "target": "vsphere", "formats": ["ova", "vhd"], "destination": "out"}]}"#)
                == [
                    "1:94 exports[0].formats[1]: target vsphere:6.5: vSphere 6.5 imports ova or vmdk, not vhd-dynamic (https://techdocs.broadcom.com/us/en/vmware-cis/vsphere/vsphere/8-0/vsphere-virtual-machine-administration-guide-8-0.html (Deploying OVF and OVA Templates))"
                ])
        #expect(
            problems(#"{"schemaVersion": 1, "exports": [{"source": "a.raw", "target": "ibmcloud", "formats": "raw", "destination": "out"}]}"#)
                == [
                    "1:64 exports[0].target: \"ibmcloud\" is not a target; expected one of aws, azure, vsphere[:VERSION], virtualbox, hyperv, openstack, kvm, proxmox, oci, gcp"
                ])
        // A target that takes only gce refuses another format, with the source of its rule.
        #expect(
            problems(#"{"schemaVersion": 1, "exports": [{"source": "a.raw", "target": "gcp", "formats": "raw", "destination": "out"}]}"#)
                == [
                    "1:82 exports[0].formats: target gcp: Google Compute Engine imports only gce, not raw (https://cloud.google.com/compute/docs/import/import-existing-image#requirements_for_the_image_file)"
                ])
        #expect(
            problems(#"{"schemaVersion": 1, "exports": [{"source": "a.raw", "formats": "raw", "destination": "out", "options": {"firmware": "efi"}}]}"#)
                == ["1:118 exports[0].options.firmware: applies with a target only; give the export a 'target'"])
    }

    @Test func writtenJobReadsBackEqual() throws {
        let job = JobFile(exports: [
            JobFile.Export(
                source: "/images/a \"quoted\".raw", formats: [.raw, .vmdk], destination: "/exports",
                s3Bucket: "bucket-a", s3Prefix: "x/", name: "export-a-us-east-1",
                options: JobFile.Options(level: .fast, alignToMiB: true)),
            JobFile.Export(source: "relative/b.vhd", sourceFormat: .vhd, formats: [.vhdDynamic], destination: "out"),
        ])
        #expect(try JobFile.decode(job.json()) == job)
    }

    /// The bytes the hand-built writer gave before the ordered JSON writer replaced it (issue
    /// 13): lists and objects of scalars on one line, the rest indented by two spaces.
    @Test func writtenJobKeepsItsLayout() {
        let job = JobFile(exports: [
            JobFile.Export(
                source: "/images/a \"quoted\".raw", formats: [.raw, .vmdk], destination: "/exports",
                s3Bucket: "bucket-a", s3Prefix: "x/", name: "export-a-us-east-1",
                options: JobFile.Options(level: .fast, alignToMiB: true)),
            JobFile.Export(source: "relative/b.vhd", sourceFormat: .vhd, formats: [.vhdDynamic], destination: "out"),
        ])
        #expect(
            job.json() == #"""
                {
                  "schemaVersion": 1,
                  "exports": [
                    {
                      "source": "/images/a \"quoted\".raw",
                      "formats": ["raw", "vmdk"],
                      "destination": "/exports",
                      "s3Bucket": "bucket-a",
                      "s3Prefix": "x/",
                      "name": "export-a-us-east-1",
                      "options": {"level": "fast", "alignMiB": true}
                    },
                    {
                      "source": "relative/b.vhd",
                      "sourceFormat": "vhd",
                      "formats": ["vhd-dynamic"],
                      "destination": "out"
                    }
                  ]
                }

                """#)
    }

    @Test func reportKeepsOneExportALine() {
        var report = JobReport(started: Date(timeIntervalSince1970: 0), results: [])
        report.seconds = 1.5
        report.errors = ["a", "b"]
        #expect(
            report.json(jobFile: "job.yaml") == """
                {
                  "checksumLists": [],
                  "errors": ["a", "b"],
                  "exports": [],
                  "job": "job.yaml",
                  "schemaVersion": 1,
                  "seconds": 1.500,
                  "started": "1970-01-01T00:00:00Z",
                  "totals": {"exported": 0, "skipped": 0, "failed": 0, "cancelled": 0}
                }

                """)
        #expect(JSONOutput.decimal(12.0625, places: 3).encoded() == "12.063")
        #expect(JSONOutput.decimal(-0.5, places: 0).encoded() == "-1")
        #expect(JSONOutput.number(0.25).encoded() == "0.25")
        #expect(JSONOutput.number(.nan).encoded() == "null")
    }

    @Test func defaultNameIsTheSourceWithoutItsExtension() {
        #expect(JobFile.Export.defaultName(forSource: "images/web.raw") == "web")
        #expect(JobFile.Export.defaultName(forSource: "/dev/sdb") == "sdb")
        #expect(JobFile.Export.defaultName(forSource: "disk.v2.qcow2") == "disk.v2")
        #expect(JobFile.Export.defaultName(forSource: ".hidden") == ".hidden")
    }

    @Test func structuralProblemsNameTheirPath() {
        #expect(problems("[]") == ["1:1 expected the job as an object, found a list"])
        #expect(
            problems(#"{"exports": []}"#) == ["1:1 missing required field 'schemaVersion' (1)", "1:13 exports: the list is empty; give at least one export"])
        #expect(
            problems(#"{"schemaVersion": 2, "exports": "all"}"#) == [
                "1:19 schemaVersion: this imgship reads schemaVersion 1, found 2",
                "1:33 exports: expected a list of exports, found a string",
            ])
        #expect(
            problems(#"{"schemaVersion": 1, "export": []}"#) == [
                "1:1 missing required field 'exports' (a list of exports)",
                "1:32 export: unknown key 'export'; did you mean 'exports'?",
            ])
        #expect(
            problems("schemaVersion: 1\nexports:\n  - source: [a]\n    formats: vmdk\n    destination: ''\n")
                == ["3:13 exports[0].source: expected a string, found a list", "5:18 exports[0].destination: is empty"])
        #expect(
            problems("{\"schemaVersion\": 1,\n \"exports\": [{\"source\": \"a\", \"formats\": [\"raw\", 7], \"destination\": \"o\", \"options\": []}]}")
                == [
                    "2:49 exports[0].formats[1]: expected a format name, found a number",
                    "2:84 exports[0].options: expected options as an object, found a list",
                ])
        #expect(
            problems(#"{"schemaVersion": 1, "exports": [{"source": "a", "formats": ["vhd", "vhd-fixed"], "destination": "o"}]}"#)
                == [#"1:69 exports[0].formats[1]: "vhd-fixed" writes the same .vhd file as formats[0]; give one of them, or a second export with another name"#]
        )
        #expect(
            problems(
                "{\"schemaVersion\": 1, \"exports\": [{\"source\": \"a\", \"formats\": [\"raw\"], \"destination\": \"o\",\n  \"options\": {\"cpus\": 0, \"alignMiB\": \"yes\", \"osType\": \"beos\", \"adapter\": \"scsi\", \"levle\": 3}}]}"
            )
                == [
                    "2:23 exports[0].options.cpus: expected a whole number from 1 to 768, found 0",
                    "2:38 exports[0].options.alignMiB: expected true or false, found a string",
                    "2:55 exports[0].options.osType: \"beos\" is not an OS type; expected one of linux64, windows64, other64",
                    "2:74 exports[0].options.adapter: \"scsi\" is not a VMDK adapter; expected one of lsilogic, ide, buslogic",
                    "2:91 exports[0].options.levle: unknown key 'levle'; did you mean 'level'?",
                ])
    }

    /// The export options added to job files read as `imgship export` reads its flags, write
    /// back equal, resolve the signing files against the job's folder, and make the settings
    /// a rerun compares (so changing one exports the output again).
    @Test func exportOptionKeysAreRead() throws {
        let job = try JobFile.decode(
            """
            schemaVersion: 1
            exports:
              - source: golden.raw
                formats: [qcow2, vhdx, ova]
                destination: out
                options: {compress: true, qcow2Compression: ZSTD, qcow2Compat: 1.1, blockSize: 2M, manifestDigest: sha512,
                          signKey: keys/signer.key, signCert: /etc/signer.pem, level: best}
              - source: golden.raw
                target: aws
                formats: [vmdk]
                destination: out
                options: {awsImport: snapshot, architecture: arm64, amiName: "golden (arm)"}
              - source: golden.raw
                formats: [qcow2]
                name: old
                destination: out
                options: {qcow2Compat: 0.10}
            """)
        let first = job.exports[0].options
        #expect(first.qcow2 == QCOW2.WriteOptions(compatibility: .version3, compression: .zstd))
        #expect(first.vhdxBlockSize == 2 << 20)
        #expect(first.machine.manifestDigest == .sha512)
        #expect(first.signKey == "keys/signer.key" && first.signCertificate == "/etc/signer.pem")
        #expect(job.exports[1].options.awsImport == .snapshot)
        #expect(job.exports[1].options.architecture == "arm64" && job.exports[1].options.amiName == "golden (arm)")
        #expect(job.exports[2].options.qcow2.compatibility == .version2)
        #expect(try JobFile.decode(job.json()) == job)
        let units = try job.units(baseFolder: "/jobs")
        #expect(units[0].options.signKey == "/jobs/keys/signer.key" && units[0].options.signCertificate == "/etc/signer.pem")
        #expect(units[0].settings["qcow2Compression"] == "zstd" && units[0].settings["level"] == "12")
        #expect(units[1].settings["blockSize"] == "\(2 << 20)")
        #expect(units[2].settings["manifestDigest"] == "sha512" && units[2].settings["signKey"] == "/jobs/keys/signer.key")
        #expect(units[4].settings["qcow2Compat"] == "0.10")
        // Options a format ignores warn on that output, naming the key, as export warns of the flag.
        #expect(units[0].optionWarnings.contains("exports[0].options.blockSize 2 sets the block size of a VHDX; qcow2 has none; ignored"))
        #expect(units[1].optionWarnings.contains("exports[0].options.compress applies to qcow2 outputs; vhdx is not one; ignored"))
        #expect(units[1].optionWarnings.contains("exports[0].options.signKey applies to OVA packages only; vhdx has no OVF manifest; ignored"))
        #expect(!units[2].optionWarnings.contains { $0.contains("signKey") || $0.contains(".level") })
        #expect(units[3].optionWarnings.isEmpty && units[4].optionWarnings.isEmpty)
        // Options set as before leave the settings of a record written before they existed.
        let plain = try JobFile.decode(#"{"schemaVersion": 1, "exports": [{"source": "a.raw", "formats": ["qcow2", "vhdx", "ova"], "destination": "o"}]}"#)
        #expect(
            try plain.units(baseFolder: "/j").map { Set($0.settings.keys) } == [
                ["format", "sourceFormat", "alignMiB"], ["format", "sourceFormat", "alignMiB"],
                ["format", "sourceFormat", "alignMiB", "level", "adapter", "cpus", "memoryMiB", "osType"],
            ])
    }

    /// Each new key refuses a bad value naming its path and what it takes, and the rules across
    /// keys, formats and target are the export command's.
    /// The problems without their line and column.
    func messages(_ text: String) -> [String] {
        problems(text).map { String($0.drop { $0 != " " }.dropFirst()) }
    }

    @Test func exportOptionKeysRefuseWhatExportRefuses() {
        #expect(
            messages(
                #"{"schemaVersion": 1, "exports": [{"source": "a", "formats": ["qcow2"], "destination": "o", "options": {"qcow2Compression": "lz4", "qcow2Compat": 2, "blockSize": 3, "manifestDigest": "md5", "compress": "yes", "awsImport": "ami"}}]}"#
            ) == [
                #"exports[0].options.qcow2Compression: "lz4" is not a qcow2 compression type; expected one of zlib, zstd"#,
                #"exports[0].options.qcow2Compat: "2" is not a qcow2 compat level; expected one of 0.10, 1.1"#,
                #"exports[0].options.blockSize: "3" is not a VHDX block size: a power of two from 1 to 256 MiB, in MiB (1, 2M, 32MiB)"#,
                #"exports[0].options.manifestDigest: "md5" is not an OVF manifest digest; expected one of sha1, sha256, sha512"#,
                "exports[0].options.compress: expected true or false, found a string",
                #"exports[0].options.awsImport: "ami" is not an AWS import path; expected one of image, snapshot"#,
            ])
        #expect(
            messages(
                #"{"schemaVersion": 1, "exports": [{"source": "a", "formats": ["qcow2"], "destination": "o", "options": {"qcow2Compat": "0.10", "qcow2Compression": "zstd"}}]}"#
            )
                == [
                    "exports[0].options.qcow2Compression: the zstd compression type needs a version 3 image (qcow2.txt, header field compression_type); qcow2Compat 0.10 writes version 2, whose compressed clusters are zlib only"
                ])
        #expect(
            messages(#"{"schemaVersion": 1, "exports": [{"source": "a", "formats": ["ova"], "destination": "o", "options": {"signKey": "k.pem"}}]}"#)
                == [
                    "exports[0].options: signKey and signCert go together: the key signs, the certificate is shipped for checking; give 'signCert' too"
                ])
        #expect(
            messages(
                #"{"schemaVersion": 1, "exports": [{"source": "a", "formats": ["qcow2", "raw"], "destination": "o", "options": {"manifestDigest": "sha512", "awsImport": "snapshot"}}]}"#
            ) == [
                "exports[0].options.manifestDigest: manifestDigest applies to OVA packages (format ova) only; qcow2, raw have no OVF manifest",
                "exports[0].options.awsImport: applies with target aws only (it shapes the AWS import commands); give the export 'target: aws'",
            ])
        #expect(
            messages(
                #"{"schemaVersion": 1, "exports": [{"source": "a", "target": "aws", "formats": ["ova"], "destination": "o", "options": {"awsImport": "snapshot"}}]}"#
            ) == [
                "exports[0].options.awsImport: snapshot: ImportSnapshot takes VHD, VMDK, RAW disks, not ova (EC2 API reference, SnapshotDiskContainer); give formats vmdk, vhd or raw"
            ])
        #expect(
            messages(
                #"{"schemaVersion": 1, "exports": [{"source": "a", "target": "aws", "destination": "o", "options": {"architecture": "arm64", "amiName": "x"}}]}"#
            ) == [
                #"exports[0].options.amiName: "x" is not an AMI name: 3 to 128 of letters, digits, spaces and ( ) [ ] . / - ' @ _ (EC2 API reference, RegisterImage Name)"#
            ])
        #expect(
            messages(#"{"schemaVersion": 1, "exports": [{"source": "a", "target": "aws", "destination": "o", "options": {"architecture": "arm64"}}]}"#)
                == ["exports[0].options.architecture: applies with awsImport snapshot only (import-image decides the AMI itself)"])
        #expect(
            messages(
                #"{"schemaVersion": 1, "exports": [{"source": "a", "target": "vsphere:6.0", "destination": "o", "options": {"manifestDigest": "sha512"}}]}"#)
                == [
                    #"exports[0].options.manifestDigest: manifestDigest sha512 contradicts target vsphere:6.0, whose OVF manifest is sha1 (docs/export.md, "Targets")"#
                ])
    }

    @Test(arguments: [
        ("/abs/", "starts with '/'; S3 prefixes are relative to the bucket"),
        ("a//b/", "has an empty, '.' or '..' folder; it would not land under the same key locally"),
        ("../up/", "has an empty, '.' or '..' folder; it would not land under the same key locally"),
        ("a/./b", "has an empty, '.' or '..' folder; it would not land under the same key locally"),
    ])
    func prefixesThatCannotBeFoldersAreRefused(prefix: String, reason: String) {
        let text = #"{"schemaVersion": 1, "exports": [{"source": "a", "formats": ["raw"], "destination": "o", "s3Prefix": "\#(prefix)"}]}"#
        #expect(problems(text) == ["1:102 exports[0].s3Prefix: \"\(prefix)\" \(reason)"])
    }

    @Test func goodPrefixesAndBuckets() {
        for prefix in ["exports/", "vm-", "a/b/c/", "2026-11-24/images/x"] {
            #expect(JobFileReader.prefixProblem(prefix) == nil, "\(prefix)")
        }
        for bucket in ["abc", "my.bucket-1", String(repeating: "a", count: 63)] {
            #expect(JobFileReader.isBucketName(bucket), "\(bucket)")
        }
        for bucket in ["ab", "-abc", "abc-", "ABC", "a_b_c", "a..b", String(repeating: "a", count: 64)] {
            #expect(!JobFileReader.isBucketName(bucket), "\(bucket)")
        }
    }

    @Test func twoExportsWritingOnePathAreRefused() throws {
        let job = try JobFile.decode(
            """
            schemaVersion: 1
            exports:
              - {source: one/disk.raw, formats: [vmdk, raw], destination: out}
              - {source: two/disk.qcow2, formats: [vmdk], destination: ./out/}
            """)
        do {
            _ = try job.units(baseFolder: "/j")
            Issue.record("expected a conflict")
        } catch {
            #expect(
                error.problems.map(\.description) == [
                    "exports[1]: writes /j/out/disk.vmdk as vmdk, which exports[0] (vmdk) also writes; give one of them another name, s3Prefix or destination"
                ])
        }
    }

    @Test func anOutputOverItsOwnSourceIsRefused() throws {
        let job = try JobFile.decode(#"{"schemaVersion": 1, "exports": [{"source": "out/disk.raw", "formats": ["vmdk", "raw"], "destination": "out"}]}"#)
        do {
            _ = try job.units(baseFolder: "/j")
            Issue.record("expected a refusal")
        } catch {
            #expect(
                error.problems.map(\.description) == [
                    "exports[0]: writes its raw output over its own source /j/out/disk.raw; give another name, s3Prefix or destination"
                ])
        }
    }

    @Test func anOutputLinkedToItsSourceIsNotReplaced() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try Data(repeating: 7, count: 1 << 20).write(to: URL(fileURLWithPath: source))
        try FileManager.default.createDirectory(atPath: folder.file("out"), withIntermediateDirectories: true)
        try FileManager.default.linkItem(atPath: source, toPath: folder.file("out/disk.raw"))
        let units = try JobFile(exports: [JobFile.Export(source: "disk.raw", formats: [.raw], destination: "out")]).units(baseFolder: folder.path)
        let report = JobRunner(replaceInvalid: true).run(units)
        #expect(report.results.map(\.status) == [.failed])
        #expect(report.results.first?.error == "\(folder.file("out/disk.raw")) is the source \(source) itself; give another name, s3Prefix or destination")
        #expect(try Data(contentsOf: URL(fileURLWithPath: source)) == Data(repeating: 7, count: 1 << 20))
    }
}
