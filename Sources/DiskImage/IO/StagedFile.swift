#if canImport(Glibc)
import Glibc
#endif

/// A file written under a temporary name in its final folder and moved into place only when
/// complete, so a reader never sees a partial output under the final name.
final class StagedFile {
    let finalPath: String
    let temporaryPath: String
    let descriptor: Int32
    let overwrite: Bool
    private var isOpen = true

    /// Fails with `.outputExists` when `finalPath` exists and `overwrite` is false.
    init(finalPath: String, overwrite: Bool) throws(DiskImageError) {
        self.finalPath = finalPath
        self.overwrite = overwrite
        if !overwrite && access(finalPath, F_OK) == 0 {
            throw DiskImageError.outputExists(path: finalPath)
        }
        let (folder, name) = splitPath(finalPath)
        var attempt = 0
        while true {
            let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
            let candidate = folder + "/." + name + ".imgship-" + suffix
            let fd = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if fd >= 0 {
                self.temporaryPath = candidate
                self.descriptor = fd
                return
            }
            let code = errno
            attempt += 1
            if code != EEXIST || attempt > 16 {
                throw DiskImageError.system(call: "open", path: candidate, errno: code)
            }
        }
    }

    deinit {
        discard()
    }

    /// fsync, then move into place: rename when overwriting, link (which never replaces) when
    /// not, then fsync the folder so the new name survives a crash.
    func commit() throws(DiskImageError) {
        _ = try retryingInterrupts("fsync", path: temporaryPath) { fsync(descriptor) }
        close(descriptor)
        isOpen = false
        if overwrite {
            _ = try retryingInterrupts("rename", path: finalPath) { rename(temporaryPath, finalPath) }
        } else {
            if link(temporaryPath, finalPath) != 0 {
                let code = errno
                if code == EEXIST {
                    unlink(temporaryPath)
                    throw DiskImageError.outputExists(path: finalPath)
                }
                // Filesystems without hard links: fall back to rename after one more check.
                if access(finalPath, F_OK) == 0 {
                    unlink(temporaryPath)
                    throw DiskImageError.outputExists(path: finalPath)
                }
                _ = try retryingInterrupts("rename", path: finalPath) { rename(temporaryPath, finalPath) }
            } else {
                unlink(temporaryPath)
            }
        }
        let folder = splitPath(finalPath).folder
        let folderDescriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            fsync(folderDescriptor)
            close(folderDescriptor)
        }
    }

    /// Removes the temporary file; harmless after `commit`.
    func discard() {
        if isOpen {
            close(descriptor)
            isOpen = false
            unlink(temporaryPath)
        }
    }
}

/// Splits a path into its folder ("." when there is none, "/" for the root) and its last
/// component.
public func splitPath(_ path: String) -> (folder: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let folder = String(path[..<slash])
    return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
}
