#if canImport(Glibc)
import Glibc
#endif

/// The last step of an export, the one most likely to lose data if done in the wrong order:
/// the record, the output and the manifest, each written and synced under its temporary
/// name, are moved into place in that order.
///
/// The manifest is written first under its temporary name, then the output is moved into
/// place, then the manifest. A kill between the two moves leaves the output with its
/// manifest still under the temporary name, which `imgship verify` and job resumption
/// recognise and complete (`PendingManifest`). When replacing, the old output, manifest and
/// record are first kept under second names (hard links, locked while the commit runs), and
/// the old manifest is removed before the new output takes its name, so an old manifest
/// never stands beside a new output. When any later move fails, the new files leave their
/// names and the kept ones take them back: a failure leaves the old set or the new one,
/// never an output without its manifest.
final class OutputCommit {
    /// The output file, staged; nil for standard output or a device.
    let output: StagedFile?
    /// The manifest, staged; nil when no manifest is written.
    let manifest: StagedFile?
    /// The job's record, staged; placed first.
    let record: StagedFile?
    /// Whether an existing output (and its manifest) is replaced: the old manifest is then
    /// removed before the new output takes its name.
    let replacing: Bool
    /// Files no move may replace (the source, by any name).
    let protected: [ProtectedFile]

    init(output: StagedFile?, manifest: StagedFile?, record: StagedFile?, replacing: Bool, protecting protected: [ProtectedFile]) {
        self.output = output
        self.manifest = manifest
        self.record = record
        self.replacing = replacing
        self.protected = protected
    }

    /// Writes the manifest line (`digest  outputName`) and the record, syncs the three files,
    /// and moves them into place; on return they are closed and their folders synced. On a
    /// failure nothing new stands at a final name beside something it does not match.
    /// - Parameter recordContents: the record's bytes; called only when there is a record.
    func commit(digest: String?, outputName: String, recordContents: () -> [UInt8]) throws(DiskImageError) {
        try output?.sync()
        if let manifest, let digest {
            try write(Array("\(digest)  \(outputName)\n".utf8), to: manifest)
        }
        if let record {
            try write(recordContents(), to: record)
        }
        try place()
        for staged in [record, output, manifest] { staged?.close() }
        // Manifests an interrupted run left for the output this one replaced are obsolete now.
        if let manifest, output != nil { OutputSafety.removeStaleTemporaries(in: splitPath(manifest.finalPath).folder) }
        for staged in [output, manifest, record] {
            if let staged { syncFolder(of: staged.finalPath) }
        }
    }

    /// Removes the temporary files not moved into place; harmless after `commit`.
    func discard() {
        for staged in [record, output, manifest] { staged?.discard() }
    }

    /// Writes `bytes` to the staged file from its start and syncs it.
    private func write(_ bytes: [UInt8], to staged: StagedFile) throws(DiskImageError) {
        let sink = OutputSink(descriptor: staged.descriptor, path: staged.finalPath)
        try sink.write(bytes)
        _ = try sink.finish()
        try staged.sync()
    }

    /// The moves, in order: the old set kept, old manifest away, record, output, manifest;
    /// on a failure, the old set back.
    private func place() throws(DiskImageError) {
        guard let output else {
            try manifest?.place()
            return
        }
        // Without a new manifest (no digest computed) an old one must not stand beside the
        // new output either: it goes too.
        let manifestPath = manifest?.finalPath ?? output.finalPath + ".sha256"
        var kept: [KeptFile] = []
        defer { for file in kept { file.drop() } }
        if replacing {
            if let reason = OutputSafety.refusal(toReplace: manifestPath, protecting: protected) {
                throw DiskImageError.refusedOutput(path: manifestPath, reason: reason)
            }
            for path in [output.finalPath, manifestPath, record?.finalPath].compactMap({ $0 }) {
                if let file = try KeptFile(keeping: path) { kept.append(file) }
            }
            if SystemCalls.unlink(manifestPath) != 0 && errno != ENOENT {
                throw DiskImageError.system(call: "unlink", path: manifestPath, errno: errno)
            }
        }
        var placed: [StagedFile] = []
        do throws(DiskImageError) {
            if let record {
                try record.place()
                placed.append(record)
            }
            try output.place()
            placed.append(output)
            try manifest?.place()
        } catch {
            // A name that held nothing before is freed; the others get their old file back.
            for staged in placed where !kept.contains(where: { $0.finalPath == staged.finalPath }) { staged.withdraw() }
            for file in kept { file.restore() }
            throw error
        }
    }
}

/// A file a commit replaces, kept under a second name (a hard link in its folder, named as
/// a temporary file so a cleaner removes it after a crash) until the commit stands; locked
/// meanwhile, so a cleaner does not take it for stale (`OutputSafety.lockIfStale`).
private final class KeptFile {
    let finalPath: String
    let keptPath: String
    private let descriptor: Int32

    /// Nil when nothing is at `finalPath`.
    init?(keeping finalPath: String) throws(DiskImageError) {
        var info = stat()
        guard SystemCalls.lstat(finalPath, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw DiskImageError.system(call: "lstat", path: finalPath, errno: errno)
        }
        let (folder, name) = splitPath(finalPath)
        var attempt = 0
        while true {
            let candidate = folder + "/." + name + ".imgship-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
            if SystemCalls.link(finalPath, candidate) == 0 {
                keptPath = candidate
                break
            }
            attempt += 1
            guard errno == EEXIST, attempt < 16 else { throw DiskImageError.system(call: "link", path: finalPath, errno: errno) }
        }
        self.finalPath = finalPath
        descriptor = SystemCalls.open(keptPath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if descriptor >= 0 { _ = SystemCalls.flock(descriptor, LOCK_EX | LOCK_NB) }
    }

    /// Gives the kept file its name back: rename(2), which replaces a new file atomically,
    /// or, when that fails and the name is free, link(2).
    func restore() {
        if SystemCalls.rename(keptPath, finalPath) != 0 {
            _ = SystemCalls.link(keptPath, finalPath)
        }
    }

    /// Removes the second name (gone already after `restore`) and the lock.
    func drop() {
        SystemCalls.unlink(keptPath)
        if descriptor >= 0 { _ = SystemCalls.close(descriptor) }
    }
}
