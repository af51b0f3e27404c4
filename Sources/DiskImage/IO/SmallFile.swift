/// The bytes of the file at `path` when it holds at most `limit` bytes; nil when it cannot be
/// opened or read, or is larger. Read through `SystemCalls`, as every file imgship touches
/// is, so a failure a test plants reaches it too.
package func smallFileContents(_ path: String, atMost limit: UInt64) -> [UInt8]? {
    guard let file = try? SourceImage(path: path), file.fileSize <= limit else { return nil }
    return try? file.bytes(Int(file.fileSize), at: 0, reading: "the file")
}
