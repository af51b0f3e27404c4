import Foundation
import Synchronization
import TestSupport
import Testing

@testable import DiskImage

/// A source that changes while it is read fails the export; staging copies are private.
@Suite("Sources that change, staging copies")
struct SourceChangeTests {
    /// 48 MiB of data: many batches, so the export is still reading when the seam fires.
    func makeSource(_ path: String) throws {
        let image = try ImageBuilder(path: path, size: 48 << 20)
        try image.write(ImageBuilder.noise(48 << 20, seed: 3), at: 0)
    }

    @Test(arguments: [OutputFormat.raw, .vmdk, .vhdDynamic])
    func aSourceTruncatedDuringTheExportFailsIt(format: OutputFormat) throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try makeSource(source)
        var options = fixedOptions(format, threads: 1)
        // The seam: after the first batch, another party cuts the source to 4 KiB.
        let truncated = Atomic<Bool>(false)
        options.progress = { _ in
            if !truncated.exchange(true, ordering: .relaxed) { _ = truncate(source, 4096) }
        }
        let error = #expect(throws: DiskImageError.self) {
            try Exporter.export(source: source, to: .file(folder.file("out")), options: options)
        }
        guard case let .sourceModified(path, change)? = error else {
            Issue.record("expected sourceModified, got \(String(describing: error))")
            return
        }
        #expect(path == source)
        #expect(change.hasPrefix("size 50331648 -> 4096 bytes"), "\(change)")
        #expect(error?.description.hasPrefix("\(source): changed while it was read (size 50331648 -> 4096 bytes") == true)
        #expect(folder.names() == ["disk.raw"], "no output, no manifest, no temporary file")
    }

    @Test func aSourceRenamedOverDuringTheExportFailsIt() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try makeSource(source)
        try Data("other".utf8).write(to: URL(fileURLWithPath: folder.file("other.raw")))
        var options = fixedOptions(.raw, threads: 1)
        let replaced = Atomic<Bool>(false)
        let other = folder.file("other.raw")
        options.progress = { _ in
            if !replaced.exchange(true, ordering: .relaxed) { rename(other, source) }
        }
        #expect {
            try Exporter.export(source: source, to: .file(folder.file("out")), options: options)
        } throws: { error in
            guard case let .sourceModified(path, change) = error as? DiskImageError else { return false }
            return path == source && change.contains("another file now has its name")
        }
        #expect(folder.names() == ["disk.raw"])
    }

    @Test func ovaStagesItsDiskPrivately() throws {
        let folder = try TemporaryFolder()
        let source = folder.file("disk.raw")
        try makeSource(source)
        var options = fixedOptions(.ova, threads: 1)
        let modes = Mutex<[String: mode_t]>([:])
        let path = folder.path
        options.progress = { _ in
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where name.hasPrefix(".disk.vmdk.imgship-") {
                var info = stat()
                if stat(path + "/" + name, &info) == 0 { modes.withLock { $0[name] = info.st_mode & 0o777 } }
            }
        }
        try Exporter.export(source: source, to: .file(folder.file("disk.ova")), options: options)
        let seen = modes.withLock { $0 }
        #expect(!seen.isEmpty)
        #expect(seen.values.allSatisfy { $0 == 0o600 }, "\(seen)")
        #expect(folder.names() == ["disk.ova", "disk.ova.sha256", "disk.raw"])
    }

    @Test func aStreamIsStagedPrivatelyAndSparse() throws {
        let folder = try TemporaryFolder()
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let payload = [UInt8](repeating: 0, count: 3 << 20) + ImageBuilder.noise(5000, seed: 1)
        let writeEnd = ends[1]
        let writer = Thread {
            payload.withUnsafeBytes { bytes in
                var done = 0
                while done < bytes.count { done += max(0, write(writeEnd, bytes.baseAddress! + done, bytes.count - done)) }
            }
            close(writeEnd)
        }
        writer.start()
        let readEnd = ends[0]
        let staged = try StreamStaging.stage(descriptor: readEnd, label: "standard input", in: folder.path, isCancelled: { false })
        close(readEnd)
        var info = stat()
        #expect(stat(staged.temporaryPath, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(info.st_size == payload.count)
        #expect(info.st_blocks * 512 < 1 << 20, "zero chunks stay holes")
        #expect(try readFile(staged.temporaryPath) == payload)
        staged.discard()
        #expect(folder.names().isEmpty)
    }
}
