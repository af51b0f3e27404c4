import Foundation
import TestSupport
import Testing

/// A short run of the libFuzzer harness of each reader (tools/fuzz): it builds with the fuzzer
/// and address sanitizer, and 2,000 mutated images per format, 2,000 raw disks' boot
/// structures (MBR, GPT, FAT), and 2,000 mutated JSON and YAML configuration files and VMDK
/// text descriptors, neither crash, hang, leak nor pass their
/// memory limit. A hang is each input's libFuzzer `-timeout` (tools/fuzz/run), not a
/// `.timeLimit` trait, whose clock runs while the body waits for a thread on a loaded runner.
@Suite("fuzz smoke run")
struct FuzzSmokeTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img (Debian qemu-utils) for the seeds"))
    func eachReaderSurvivesMutatedImages() throws {
        let folder = try TemporaryFolder()
        var environment = ProcessInfo.processInfo.environment
        environment["IMGSHIP"] = ExportCommandTests.binary
        environment["FUZZ_WORK"] = folder.path
        let result = try runProcess("/bin/bash", ["\(Self.repository)/tools/fuzz/run", "2000"], environment: environment)
        #expect(result.status == 0, "\(result.standardError)")
        let formats = ["vhd", "vhdx", "vmdk", "qcow2", "vdi", "ova", "gce", "guest", "json", "yaml", "descriptor"]
        for format in formats {
            #expect(result.standardError.contains("== \(format): 2000 runs\n"), "\(result.standardError)")
        }
        #expect(result.standardError.components(separatedBy: "Done 2000 runs").count == formats.count + 1, "\(result.standardError)")
        #expect(!folder.names().contains { $0.hasPrefix("crash-") })
    }
}
