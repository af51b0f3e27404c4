import Foundation
import TestSupport
import Testing

/// `imgship job` killed with SIGKILL at random instants, several times over, then run again:
/// the rerun succeeds, every output verifies, and no temporary file is left.
@Suite("Jobs killed at any instant")
struct KilledJobTests {
    static let binary = ExportCommandTests.binary

    @Test(.enabled(if: which("sha256sum") != nil, "needs sha256sum"))
    func aJobKilledAnywhereResumes() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        FileManager.default.createFile(atPath: source, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: source))
        try handle.truncate(atOffset: 24 << 20)
        var state: UInt64 = 0x9E3779B97F4A7C15
        try handle.write(
            contentsOf: Data(
                (0..<(16 << 20)).map { _ in
                    state ^= state << 13; state ^= state >> 7; state ^= state << 17
                    return UInt8(truncatingIfNeeded: state)
                }))
        try handle.close()
        try #"{"schemaVersion": 1, "exports": [{"source": "disk.raw", "formats": ["raw", "vmdk", "vhd", "ova"], "destination": "out"}]}"#
            .write(toFile: folder.file("job.json"), atomically: true, encoding: .utf8)
        let outputs = ["disk.raw", "disk.vmdk", "disk.vhd", "disk.ova"]

        // How long one whole run takes, to kill inside it.
        let started = Date()
        let first = try runProcess(Self.binary, ["job", folder.file("job.json"), "--concurrency", "2"])
        try #require(first.status == 0, "\(first.standardError)")
        let duration = Date().timeIntervalSince(started)
        try FileManager.default.removeItem(atPath: folder.file("out"))

        var generator = SystemRandomNumberGenerator()
        for iteration in 0..<6 {
            if iteration == 3 {
                // Half way, a source that changed: the outputs are replaced, and killed again.
                var times = [timespec(tv_sec: 2_000_000_000 + iteration, tv_nsec: 0), timespec(tv_sec: 2_000_000_000 + iteration, tv_nsec: 0)]
                #expect(utimensat(AT_FDCWD, source, &times, 0) == 0)
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = ["job", folder.file("job.json"), "--concurrency", "2"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32(Double.random(in: 0.02...1.0, using: &generator) * duration * 1_000_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        let rerun = try runProcess(Self.binary, ["job", folder.file("job.json"), "--json"])
        #expect(rerun.status == 0, "\(rerun.standardError)")
        let out = folder.file("out")
        let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(names.filter { $0.hasPrefix(".") }.isEmpty, "\(names)")
        for output in outputs {
            #expect(names.contains(output) && names.contains(output + ".sha256"), "\(names)")
            let verify = try runProcess(Self.binary, ["verify", out + "/" + output])
            #expect(verify.status == 0, "\(output): \(String(decoding: verify.standardOutput, as: UTF8.self))")
        }
        let sums = try runProcess("/bin/sh", ["-c", "cd '\(out)' && sha256sum -c SHA256SUMS"])
        #expect(sums.status == 0, "\(String(decoding: sums.standardOutput, as: UTF8.self))")
        // What the rerun left is current: one more run only skips.
        let last = try runProcess(Self.binary, ["job", folder.file("job.json")])
        #expect(last.status == 0)
        #expect(!last.standardError.contains("exported"), "\(last.standardError)")
    }
}
