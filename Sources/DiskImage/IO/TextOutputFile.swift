/// A small output written whole (a plan, a diff, a job file: `imgship plan -o FILE`), with the
/// rules every imgship output follows: written under a temporary name in the final folder and
/// moved into place when complete, an existing file replaced only with `overwrite`, and never
/// a directory or a device.
public enum TextOutputFile {
    public static func write(_ text: String, to path: String, overwrite: Bool) throws(DiskImageError) {
        let staged = try StagedFile(finalPath: path, overwrite: overwrite)
        // No manifest is written for these, so no digest is computed.
        let sink = OutputSink(descriptor: staged.descriptor, path: path, hashing: false)
        try sink.write(Array(text.utf8))
        _ = try sink.finish()
        try staged.commit()
    }
}
