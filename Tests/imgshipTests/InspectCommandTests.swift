import Foundation
import TestSupport
import Testing

/// `imgship info` and `imgship verify`, and export from non-raw sources, run as a user would.
@Suite("imgship info and verify, end to end")
struct InspectCommandTests {
    static let binary = ExportCommandTests.binary

    /// A 24 MiB disk with data in its fourth MiB, exported by imgship to `format`.
    func export(_ format: String, in folder: TemporaryFolder, name: String) throws -> String {
        let source = try ExportCommandTests().makeSource(in: folder)
        let output = folder.file(name)
        let result = try runProcess(Self.binary, ["export", source, "-f", format, "-o", output, "--no-progress"])
        try #require(result.status == 0, "\(result.standardError)")
        return output
    }

    func text(_ result: ProcessResult) -> String { String(decoding: result.standardOutput, as: UTF8.self) }

    @Test func infoDescribesAStreamOptimizedVMDK() throws {
        let folder = try TemporaryFolder()
        let image = try export("vmdk", in: folder, name: "disk.vmdk")
        let result = try runProcess(Self.binary, ["info", image])
        #expect(result.status == 0, "\(result.standardError)")
        let lines = text(result).split(separator: "\n").map(String.init)
        #expect(lines.first == "\(image): vmdk (streamOptimized)")
        #expect(lines.contains("virtual size:      25166336 bytes (24.0 MiB)"))
        #expect(lines.contains("adapter:           lsilogic"))
        #expect(lines.contains("grain size:        65536"))
        #expect(lines.contains("compression:       deflate"))
        let fileSize = try FileManager.default.attributesOfItem(atPath: image)[.size] as? Int
        #expect(lines.contains("file size:         \(try #require(fileSize)) bytes"))
    }

    @Test func infoJSONOfADynamicVHD() throws {
        let folder = try TemporaryFolder()
        let image = try export("vhd-dynamic", in: folder, name: "disk.vhd")
        let result = try runProcess(Self.binary, ["info", image, "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any])
        #expect(json["format"] as? String == "vhd")
        #expect(json["subformat"] as? String == "dynamic")
        #expect((json["virtualSize"] as? NSNumber)?.intValue == 24 * 1024 * 1024 + 512)
        let details = try #require(json["details"] as? [String: Any])
        #expect(details["creator"] as? String == "\"win \" on \"Wi2k\"", "\(details)")
        #expect(details["diskType"] as? String == "dynamic", "\(details)")
        // Sizes and counts are JSON numbers, not strings.
        #expect((details["blockSize"] as? NSNumber)?.intValue == 2097152, "\(details)")
    }

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img (Debian qemu-utils)"))
    func qcow2SourceExportsAndIsDescribed() throws {
        let qemu = try #require(which("qemu-img"))
        let folder = try TemporaryFolder()
        let source = try ExportCommandTests().makeSource(in: folder)
        let image = folder.file("disk.qcow2")
        try #require(try runProcess(qemu, ["convert", "-c", "-f", "raw", "-O", "qcow2", "-o", "compat=0.10", source, image]).status == 0)
        let info = try runProcess(Self.binary, ["info", image, "--json"])
        #expect(info.status == 0, "\(info.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: info.standardOutput) as? [String: Any])
        #expect(json["format"] as? String == "qcow2")
        #expect(json["subformat"] as? String == "v2")
        let details = try #require(json["details"] as? [String: Any])
        #expect((details["clusterSize"] as? NSNumber)?.intValue == 65536)
        #expect((details["compression"] as? String)?.hasPrefix("deflate") == true, "\(details)")

        // Export from it, detected from the bytes, gives back the source's bytes.
        let export = try runProcess(Self.binary, ["export", image, "-f", "raw", "-o", folder.file("back.raw"), "--json"])
        #expect(export.status == 0, "\(export.standardError)")
        let summary = try #require(try JSONSerialization.jsonObject(with: export.standardOutput) as? [String: Any])
        #expect(summary["sourceFormat"] as? String == "qcow2", "\(summary)")
        #expect(FileManager.default.contentsEqual(atPath: folder.file("back.raw"), andPath: source))

        // Forcing the wrong format is the user's call: read as raw, the file itself is copied.
        let asRaw = try runProcess(Self.binary, ["export", image, "--source-format", "raw", "-f", "raw", "-o", folder.file("file.raw")])
        #expect(asRaw.status == 0, "\(asRaw.standardError)")
        #expect(FileManager.default.contentsEqual(atPath: folder.file("file.raw"), andPath: image))
    }

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img (Debian qemu-utils)"))
    func backingFileIsRefusedByName() throws {
        let qemu = try #require(which("qemu-img"))
        let folder = try TemporaryFolder()
        let base = folder.file("base.qcow2")
        try #require(try runProcess(qemu, ["create", "-f", "qcow2", base, "16M"]).status == 0)
        let overlay = folder.file("overlay.qcow2")
        try #require(try runProcess(qemu, ["create", "-f", "qcow2", "-b", base, "-F", "qcow2", overlay]).status == 0)
        for command in [["info", overlay], ["verify", overlay], ["export", overlay, "-f", "vmdk", "-o", folder.file("out.vmdk")]] {
            let result = try runProcess(Self.binary, command)
            #expect(result.status == 2, "\(command)")
            #expect(result.standardError.contains(overlay) && result.standardError.contains(base), "\(result.standardError)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder.file("out.vmdk")))
    }

    @Test(arguments: ["raw", "vhd-fixed", "vhd-dynamic", "vmdk"])
    func verifyPassesOnAFreshExport(format: String) throws {
        let folder = try TemporaryFolder()
        let image = try export(format, in: folder, name: "disk.img")
        let result = try runProcess(Self.binary, ["verify", image])
        #expect(result.status == 0, "\(text(result))\(result.standardError)")
        let lines = text(result).split(separator: "\n").map(String.init)
        #expect(lines.allSatisfy { !$0.hasPrefix("FAIL") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("ok   sha256: ") && $0.hasSuffix("matches \(image).sha256") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("ok   data: ") }, "\(lines)")
    }

    @Test func verifyFindsADamagedGrainAndAWrongDigest() throws {
        let folder = try TemporaryFolder()
        let image = try export("vmdk", in: folder, name: "disk.vmdk")
        // The first grain's compressed bytes start after the header, descriptor and marker.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: image))
        let grainMarker = 65536 + 12
        for offset in grainMarker + 100..<grainMarker + 140 { bytes[offset] ^= 0x5A }
        try bytes.write(to: URL(fileURLWithPath: image))
        let result = try runProcess(Self.binary, ["verify", image])
        #expect(result.status == 1)
        let lines = text(result).split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("FAIL data: \(image) at offset ") && $0.contains("does not inflate") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("FAIL sha256: ") && $0.contains("but \(image).sha256 says") }, "\(lines)")
        #expect(lines.contains("ok   structure: header and every table entry lie inside the file"))
        #expect(result.standardError == "imgship: error: \(image): 2 check(s) failed\n")
    }

    @Test func verifyUsesTheManifestGiven() throws {
        let folder = try TemporaryFolder()
        let image = try export("vhd-fixed", in: folder, name: "disk.vhd")
        let digest = try String(contentsOfFile: image + ".sha256", encoding: .utf8).prefix(64)
        try FileManager.default.removeItem(atPath: image + ".sha256")
        let manifest = folder.file("SHA256SUMS")
        try "\(String(repeating: "0", count: 64))  other.vhd\n\(digest)  disk.vhd\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        let good = try runProcess(Self.binary, ["verify", image, "--manifest", manifest])
        #expect(good.status == 0, "\(text(good))")
        #expect(text(good).contains("ok   sha256: \(digest) matches \(manifest)"))

        try "\(digest)  another.vhd\n\(digest)  yet-another.vhd\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        let unlisted = try runProcess(Self.binary, ["verify", image, "--manifest", manifest])
        #expect(unlisted.status == 1)
        #expect(text(unlisted).contains("FAIL sha256: \(manifest) has no line for disk.vhd"), "\(text(unlisted))")

        let missing = try runProcess(Self.binary, ["verify", image, "--manifest", folder.file("absent")])
        #expect(missing.status == 1)
        #expect(text(missing).contains("FAIL sha256: cannot read the manifest \(folder.file("absent"))"))
    }

    @Test func verifyOfATruncatedImageNamesTheProblem() throws {
        let folder = try TemporaryFolder()
        let image = try export("vhd-dynamic", in: folder, name: "disk.vhd")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: image))
        try handle.truncate(atOffset: 4096)
        try handle.close()
        let result = try runProcess(Self.binary, ["verify", image])
        #expect(result.status == 1)
        #expect(text(result).hasPrefix("FAIL structure: \(image)"), "\(text(result))\(result.standardError)")
    }

    @Test func missingImageIsAnError() throws {
        let folder = try TemporaryFolder()
        for command in ["info", "verify"] {
            let result = try runProcess(Self.binary, [command, folder.file("nothing.vmdk")])
            #expect(result.status == 1)
            #expect(
                result.standardError.hasPrefix("imgship: error: ") && result.standardError.contains(folder.file("nothing.vmdk")),
                "\(result.standardError)")
        }
    }
}
