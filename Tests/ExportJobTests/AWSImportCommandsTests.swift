import DiskImage
import ExportJob
import Foundation
import TestSupport
import Testing

/// The import commands `--target aws` prints carry hostile file names and prefixes as data:
/// bash, running them with a stand-in `aws`, passes every word through unchanged and runs
/// nothing else, and each command stays on its line.
@Suite("AWS import commands")
struct AWSImportCommandsTests {
    static let decision = TargetDecision(
        target: "aws", format: .vmdk, firmware: .efi, firmwareReason: "given", bootMode: "uefi", importFormat: "VMDK", warnings: [])

    @Test(arguments: [
        "$(touch pwned).vmdk", "it's `id`.vmdk", "line\nbreak.vmdk", "semi;colon && echo hi.vmdk", "\u{2028}sep.vmdk", "back\\slash\".vmdk",
    ])
    func hostileNamesStayData(name: String) throws {
        let folder = try TemporaryFolder()
        let file = folder.file(name)
        let commands = try AWSImportCommands(
            file: file, fileName: name, decision: Self.decision, bucket: "imgship-imports", prefix: "a b/'q'/", region: AWSRegion("eu-west-1"))
        let lines = commands.lines
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { !$0.contains("\n") && !$0.unicodeScalars.contains("\u{2028}") })
        let calls = try Self.runWithStandIn(lines, in: folder)
        #expect(calls.count == 2)
        #expect(calls.first == commands.upload?.dropFirst().map { $0 })
        #expect(calls.last == Array(commands.importImage.dropFirst()))
        // The key in the JSON is the prefix and the name, exactly.
        let json = try #require(calls.last?.last)
        let containers = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect((containers.first?["UserBucket"] as? [String: String])?["S3Key"] == "a b/'q'/" + name)
    }

    /// The snapshot path's lines pass hostile names through bash as data too: the task and
    /// snapshot ids flow through the shell variables only, the AMI name keeps only what
    /// RegisterImage takes, and the mapping is JSON holding the snapshot id.
    @Test(arguments: ["$(touch pwned).vmdk", "it's `id`.vmdk", "line\nbreak.vmdk", "\u{2028}sep\\\".vmdk", "x.vmdk"])
    func snapshotLinesKeepHostileNamesAsData(name: String) throws {
        let folder = try TemporaryFolder()
        let commands = try AWSImportCommands(
            file: folder.file(name), fileName: name, decision: Self.decision, bucket: "imgship-imports", prefix: "a b/", region: AWSRegion("eu-west-1"),
            method: .snapshot)
        let lines = commands.lines
        #expect(lines.count == 5)
        #expect(lines.allSatisfy { !$0.contains("\n") && !$0.unicodeScalars.contains("\u{2028}") })
        let calls = try Self.runWithStandIn(lines, in: folder)
        #expect(
            calls.map { $0.prefix(3).joined(separator: " ") } == [
                "s3 cp --region", "ec2 import-snapshot --region", "ec2 wait snapshot-imported",
                "ec2 describe-import-snapshot-tasks --region", "ec2 register-image --region",
            ])
        let container = try #require(try JSONSerialization.jsonObject(with: Data(calls[1][5].utf8)) as? [String: Any])
        #expect((container["UserBucket"] as? [String: String])?["S3Key"] == "a b/" + name)
        #expect(calls.allSatisfy { words in words.firstIndex(of: "--region").map { words[$0 + 1] == "eu-west-1" } ?? false })
        #expect(calls[2] == ["ec2", "wait", "snapshot-imported", "--region", "eu-west-1", "--import-task-ids", "import-snap-0123"])
        #expect(calls[3][5] == "import-snap-0123")
        let register = calls[4]
        let amiName = register[5]
        #expect(amiName == AWSImportCommands.Registration.name(forFile: name))
        #expect((3...128).contains(amiName.count) && amiName.unicodeScalars.allSatisfy { $0.isASCII && !$0.properties.isWhitespace || $0 == " " })
        let mappingIndex = try #require(register.firstIndex(of: "--block-device-mappings"))
        let mapping = try #require(try JSONSerialization.jsonObject(with: Data(register[mappingIndex + 1].utf8)) as? [[String: Any]])
        #expect((mapping.first?["Ebs"] as? [String: Any])?["SnapshotId"] as? String == "snap-0abc")
    }

    @Test func amiNamesKeepWhatRegisterImageTakes() {
        #expect(AWSImportCommands.Registration.name(forFile: "golden disk (v2).vmdk") == "golden disk (v2)")
        #expect(AWSImportCommands.Registration.name(forFile: "a*b.raw") == "a-b")
        #expect(AWSImportCommands.Registration.name(forFile: "x.vhd") == "x--")
        #expect(AWSImportCommands.Registration.name(forFile: String(repeating: "n", count: 300) + ".vmdk").count == 128)
        #expect(throws: AWSImportCommandsError.self) { try AWSImportCommands.Registration.check(name: "ab", architecture: nil) }
        #expect(throws: AWSImportCommandsError.self) { try AWSImportCommands.Registration.check(name: nil, architecture: "x86_64_mac") }
        // ImportSnapshot takes VHD, VMDK and RAW: an OVA decided for import-image is refused.
        var ova = Self.decision
        ova.format = .ova
        ova.importFormat = "OVA"
        #expect(throws: AWSImportCommandsError.self) {
            try AWSImportCommands(file: nil, fileName: "x.ova", decision: ova, bucket: nil, prefix: nil, region: nil, method: .snapshot)
        }
    }

    /// Runs `lines` with bash in `folder`, `aws` being a function that records each call's
    /// words (NUL-terminated) and answers as import-snapshot and its look-up would; returns
    /// the calls. Nothing else may run: a file `pwned` appearing fails the test.
    static func runWithStandIn(_ lines: [String], in folder: TemporaryFolder) throws -> [[String]] {
        let script = """
            set -euo pipefail
            aws() {
              printf '%s\\0' "$@" >> "$OUT"; printf '\\n' >> "$OUT"
              case "$2" in import-snapshot) echo import-snap-0123;; describe-import-snapshot-tasks) echo snap-0abc;; esac
            }
            cd "$DIR"

            """ + lines.joined(separator: "\n") + "\n"
        let out = folder.file("args")
        let result = try runProcess("/bin/bash", ["-c", script], environment: ["OUT": out, "DIR": folder.path, "PATH": "/usr/bin:/bin"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("pwned")))
        return try String(contentsOfFile: out, encoding: .utf8).split(separator: "\0\n", omittingEmptySubsequences: true)
            .map { $0.split(separator: "\0", omittingEmptySubsequences: false).map(String.init) }
    }

    @Test func bucketsAndPrefixesS3WouldNotTakeAreRefused() {
        #expect(throws: AWSImportCommandsError.self) {
            try AWSImportCommands(file: nil, fileName: "x.vmdk", decision: Self.decision, bucket: "Bad_Bucket", prefix: nil, region: nil)
        }
        #expect(throws: AWSImportCommandsError.self) {
            try AWSImportCommands(file: nil, fileName: "x.vmdk", decision: Self.decision, bucket: nil, prefix: "/abs/", region: nil)
        }
        #expect(throws: AWSImportCommandsError.self) {
            try AWSImportCommands(file: nil, fileName: String(repeating: "k", count: 1025), decision: Self.decision, bucket: nil, prefix: nil, region: nil)
        }
    }

    /// Every command names its region, the one given or the stand-in the text says to
    /// replace: the AWS CLI would otherwise act in whatever region its profile holds. A region
    /// is an `AWSRegion`, which only a region name makes.
    @Test func everyCommandNamesItsRegion() throws {
        let given = try AWSImportCommands(
            file: "/tmp/x.vmdk", fileName: "x.vmdk", decision: Self.decision, bucket: "b-1", prefix: nil, region: AWSRegion("us-gov-west-1"))
        #expect(given.lines.count == 2)
        #expect(given.lines.allSatisfy { $0.hasPrefix("aws ") && $0.contains(" --region us-gov-west-1 ") })
        #expect(!given.usesExampleRegion)
        let stand = try AWSImportCommands(file: nil, fileName: "x.vmdk", decision: Self.decision, bucket: nil, prefix: nil, region: nil)
        #expect(stand.usesExampleRegion && stand.importImage.starts(with: ["aws", "ec2", "import-image", "--region", "us-east-1"]))
        for name in ["", "us-east", "US-EAST-1", "us-east-1; rm -rf /", "us-east-1\n", "eu-west-1a"] {
            #expect(AWSRegion(name) == nil, "\(name)")
        }
        for name in ["us-east-1", "eu-central-2", "us-gov-west-1", "cn-north-1", "us-isob-east-1"] {
            #expect(AWSRegion(name)?.name == name)
        }
    }
}
