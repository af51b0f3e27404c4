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
/// recognise and complete (`PendingManifest`). When replacing, the old manifest is removed
/// before the new output takes its name, so an old manifest never stands beside a new
/// output; when the manifest cannot take its name, the new output is withdrawn, so a new
/// output never stands without its manifest where one was asked for.
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

    /// The moves, in order: old manifest away, record, output, manifest.
    private func place() throws(DiskImageError) {
        if let output, let manifest {
            if replacing { try Self.removeReplacedManifest(manifest.finalPath, protecting: protected) }
            try record?.place()
            try output.place()
            do throws(DiskImageError) {
                try manifest.place()
            } catch {
                output.withdraw()
                throw error
            }
        } else if let output {
            // No manifest (no digest computed): an old one must not stand beside the new
            // output, so it goes first, as above.
            if replacing { try Self.removeReplacedManifest(output.finalPath + ".sha256", protecting: protected) }
            try record?.place()
            try output.place()
        } else if let manifest {
            try manifest.place()
        }
    }

    /// Before a new output takes the name of an old one, the old manifest goes, so a kill in
    /// between leaves an output without a manifest (unverified), never beside a wrong one.
    static func removeReplacedManifest(_ path: String, protecting protected: [ProtectedFile]) throws(DiskImageError) {
        if let reason = OutputSafety.refusal(toReplace: path, protecting: protected) {
            throw DiskImageError.refusedOutput(path: path, reason: reason)
        }
        if SystemCalls.unlink(path) != 0 && errno != ENOENT {
            throw DiskImageError.system(call: "unlink", path: path, errno: errno)
        }
    }
}
