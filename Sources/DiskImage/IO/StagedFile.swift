#if canImport(Glibc)
import Glibc
#endif

/// A file written under a temporary name in its final folder and moved into place only when
/// complete, so a reader never sees a partial output under the final name. This file makes
/// and removes the temporary file; `StagedFile+RenameIntoPlace.swift` moves it into place.
///
/// The temporary file is `.NAME.imgship-XXXX`, and its writer holds an advisory `flock` on it
/// for as long as it has that name: a temporary file whose lock is free was left by a killed
/// run, and the next export into the folder removes it (`OutputSafety.removeStaleTemporaries`).
final class StagedFile {
    let finalPath: String
    let temporaryPath: String
    let descriptor: Int32
    let overwrite: Bool
    /// Files the move must never replace (the source, by any name).
    let protected: [ProtectedFile]
    private(set) var isOpen = true
    /// Set by `place` (`StagedFile+RenameIntoPlace.swift`), cleared by `withdraw`.
    var isPlaced = false

    /// Fails with `.refusedOutput` when `finalPath` is a directory, a device node or one of
    /// `protected`, and with `.outputExists` when it exists and `overwrite` is false. `mode`
    /// is the temporary file's (0600 for staging copies nobody else should read). A
    /// `scratch` file is never moved into place (a staging copy): its final name only names
    /// the temporary one, and what is there does not matter.
    init(
        finalPath: String, overwrite: Bool, mode: mode_t = 0o666, protecting protected: [ProtectedFile] = [],
        scratch: Bool = false
    ) throws(DiskImageError) {
        self.finalPath = finalPath
        self.overwrite = overwrite
        self.protected = protected
        if !scratch, let reason = OutputSafety.refusal(toReplace: finalPath, protecting: protected) {
            throw DiskImageError.refusedOutput(path: finalPath, reason: reason)
        }
        if !scratch && !overwrite && SystemCalls.access(finalPath, F_OK) == 0 {
            throw DiskImageError.outputExists(path: finalPath)
        }
        let (folder, name) = splitPath(finalPath)
        var attempt = 0
        while true {
            let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
            let candidate = folder + "/." + name + ".imgship-" + suffix
            let fd = SystemCalls.open(candidate, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode)
            if fd >= 0 {
                // A cleaner that found the file before the lock was taken has removed it
                // while holding the lock (so it has no name left): take another name.
                var info = stat()
                if SystemCalls.flock(fd, LOCK_EX) == 0, SystemCalls.fstat(fd, &info) == 0, info.st_nlink > 0 {
                    self.temporaryPath = candidate
                    self.descriptor = fd
                    return
                }
                SystemCalls.close(fd)
                attempt += 1
                // Errors name the user's path, never the hidden temporary name.
                if attempt > 16 { throw DiskImageError.system(call: "flock", path: finalPath, errno: EAGAIN) }
                continue
            }
            let code = errno
            attempt += 1
            if code != EEXIST || attempt > 16 {
                throw DiskImageError.system(call: "open", path: finalPath, errno: code)
            }
        }
    }

    deinit {
        discard()
    }

    /// Closes the descriptor (releasing the lock); the temporary file stays unless placed.
    func close() {
        if isOpen {
            SystemCalls.close(descriptor)
            isOpen = false
        }
    }

    /// Removes the temporary file unless it was moved into place; harmless after `commit`.
    func discard() {
        if !isPlaced && isOpen {
            // Unlinked while still locked, so a cleaner never sees it half gone.
            SystemCalls.unlink(temporaryPath)
        }
        close()
    }
}

/// Splits a path into its folder ("." when there is none, "/" for the root) and its last
/// component.
package func splitPath(_ path: String) -> (folder: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let folder = String(path[..<slash])
    return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
}
