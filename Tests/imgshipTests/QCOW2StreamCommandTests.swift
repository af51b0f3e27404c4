import Foundation
import TestSupport
import Testing

/// `imgship export -f qcow2 -o -` into a real pipe: an uncompressed image streams header
/// first, so what comes out of the pipe is byte for byte the image written to a file, and the
/// manifest written beside it checks with `sha256sum -c`.
@Suite("imgship export -f qcow2 -o -")
struct QCOW2StreamCommandTests {
    @Test(.enabled(if: which("qemu-img") != nil && which("sha256sum") != nil, "needs qemu-img (Debian qemu-utils) and sha256sum"))
    func pipedImageIsTheFileAndItsManifestChecks() throws {
        let folder = try TemporaryFolder()
        let source = try ExportCommandTests().makeSource(in: folder)
        let file = folder.file("file.qcow2")
        let written = try runProcess(ExportCommandTests.binary, ["export", source, "-f", "qcow2", "-o", file, "--no-progress"])
        #expect(written.status == 0, "\(written.standardError)")

        let piped = try TemporaryFolder()
        // The exit status of imgship, not of cat, is kept: sh has no pipefail.
        let script =
            #"{ "$0" export "$1" -f qcow2 -o - --name disk.qcow2 --manifest "$2/disk.qcow2.sha256" --no-progress; echo $? >"$2/status"; } | cat >"$2/disk.qcow2""#
        let run = try runProcess("/bin/sh", ["-c", script, ExportCommandTests.binary, source, piped.path])
        #expect(try String(contentsOfFile: piped.file("status"), encoding: .utf8) == "0\n", "\(run.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: piped.file("disk.qcow2"))) == Data(contentsOf: URL(fileURLWithPath: file)))
        let manifest = try String(contentsOfFile: piped.file("disk.qcow2.sha256"), encoding: .utf8)
        let fileManifest = try String(contentsOfFile: file + ".sha256", encoding: .utf8)
        #expect(manifest.split(separator: " ").first == fileManifest.split(separator: " ").first, "\(manifest) \(fileManifest)")
        let verify = try runProcess("/bin/sh", ["-c", "cd '\(piped.path)' && sha256sum -c disk.qcow2.sha256"])
        #expect(verify.status == 0, "sha256sum -c: \(String(decoding: verify.standardOutput, as: UTF8.self))")
        let check = try runProcess("/usr/bin/env", ["qemu-img", "check", "-f", "qcow2", piped.file("disk.qcow2")])
        #expect(check.status == 0, "\(String(decoding: check.standardOutput, as: UTF8.self))")
        let compare = try runProcess("/usr/bin/env", ["qemu-img", "compare", "-f", "raw", "-F", "qcow2", source, piped.file("disk.qcow2")])
        #expect(compare.status == 0, "\(String(decoding: compare.standardOutput, as: UTF8.self))")
    }
}
