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
        // A stand-in aws writes each argument NUL-terminated; nothing else may run.
        let script =
            "set -euo pipefail\naws() { printf '%s\\0' \"$@\" >> \"$OUT\"; printf '\\n' >> \"$OUT\"; }\ncd \"$DIR\"\n" + lines.joined(separator: "\n") + "\n"
        let out = folder.file("args")
        let result = try runProcess("/bin/bash", ["-c", script], environment: ["OUT": out, "DIR": folder.path, "PATH": "/usr/bin:/bin"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("pwned")))
        let calls = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\0\n", omittingEmptySubsequences: true)
            .map { $0.split(separator: "\0", omittingEmptySubsequences: false).map(String.init) }
        #expect(calls.count == 2)
        #expect(calls.first == commands.upload?.dropFirst().map { $0 })
        #expect(calls.last == Array(commands.importImage.dropFirst()))
        // The key in the JSON is the prefix and the name, exactly.
        let json = try #require(calls.last?.last)
        let containers = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect((containers.first?["UserBucket"] as? [String: String])?["S3Key"] == "a b/'q'/" + name)
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
