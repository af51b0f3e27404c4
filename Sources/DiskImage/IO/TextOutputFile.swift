/// A small output written whole (a plan, a diff, a job file: `imgship plan -o FILE`), with the
/// rules every imgship output follows: written under a temporary name in the final folder and
/// moved into place when complete, an existing file replaced only with `overwrite`, and never
/// a directory or a device, and never one of the command's `inputs`.
package enum TextOutputFile {
    /// `inputs` are the files the command read (its configuration, job file, side documents):
    /// the output may be none of them, by any name (a hard or symbolic link, another
    /// spelling), whatever `overwrite` says: they are compared by device and inode, before the
    /// work and again just before the move.
    package static func write(_ text: String, to path: String, overwrite: Bool, inputs: [String] = []) throws(DiskImageError) {
        let staged = try StagedFile(finalPath: path, overwrite: overwrite, protecting: inputs.compactMap(ProtectedFile.init(input:)))
        // No manifest is written for these, so no digest is computed.
        let sink = OutputSink(descriptor: staged.descriptor, path: path, hashing: false)
        try sink.write(Array(text.utf8))
        _ = try sink.finish()
        try staged.commit()
    }
}

extension TextOutputFile {
    /// Why `path` may not be written as the output of a command that reads `inputs`, or nil:
    /// the check `write` makes, for a command to make before any work.
    package static func refusal(toReplace path: String, inputs: [String]) -> DiskImageError? {
        OutputSafety.refusal(toReplace: path, protecting: inputs.compactMap(ProtectedFile.init(input:)))
            .map { DiskImageError.refusedOutput(path: path, reason: $0) }
    }
}
