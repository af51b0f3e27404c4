#if canImport(Glibc)
import Glibc
#endif

/// The rename into place: a staged file, written and synced under its temporary name, takes
/// its final name in one step, so a reader finds the old file or the whole new one, never
/// part of it. rename(2) replaces atomically; link(2) never replaces (EEXIST). Then the
/// folder is synced, so the new name survives a crash (fsync(2): "an explicit fsync() on a
/// file descriptor for the directory is also needed").
extension StagedFile {
    /// fsync, move into place, close, fsync the folder: `sync` then `place` then `close`.
    func commit() throws(DiskImageError) {
        try sync()
        try place()
        close()
        syncFolder(of: finalPath)
    }

    /// A failure names the final path, the one the user gave: the temporary name means
    /// nothing to them, and a write's ENOSPC or EIO may surface only here (fsync(2), ERRORS).
    func sync() throws(DiskImageError) {
        _ = try retryingInterrupts("fsync", path: finalPath) { SystemCalls.fsync(descriptor) }
    }

    /// Moves the file into place, keeping it open (and locked) until `close`: rename when
    /// overwriting, link (which never replaces) when not. What is at the final name is looked
    /// at again first: a directory, device or source that appeared since is still refused.
    func place() throws(DiskImageError) {
        if let reason = OutputSafety.refusal(toReplace: finalPath, protecting: protected) {
            throw DiskImageError.refusedOutput(path: finalPath, reason: reason)
        }
        if overwrite {
            _ = try retryingInterrupts("rename", path: finalPath) { SystemCalls.rename(temporaryPath, finalPath) }
        } else if !(try moveWithoutReplacing(temporaryPath, to: finalPath)) {
            throw DiskImageError.outputExists(path: finalPath)
        }
        isPlaced = true
    }

    /// Removes the file just moved into place, when a later step of the same commit failed;
    /// only while the name still holds this file.
    func withdraw() {
        guard isPlaced, isOpen else { return }
        var placed = stat()
        var mine = stat()
        if SystemCalls.lstat(finalPath, &placed) == 0, SystemCalls.fstat(descriptor, &mine) == 0,
            placed.st_dev == mine.st_dev, placed.st_ino == mine.st_ino
        {
            SystemCalls.unlink(finalPath)
        }
        isPlaced = false
    }
}

/// Gives the file at `temporary` the name `final` unless that name is taken, and drops the
/// temporary name: link(2), which never replaces, then unlink(2). On a filesystem without
/// hard links (link fails with another errno), rename(2) after one more look that the name is
/// still free. False when `final` exists.
func moveWithoutReplacing(_ temporary: String, to final: String) throws(DiskImageError) -> Bool {
    if SystemCalls.link(temporary, final) == 0 {
        SystemCalls.unlink(temporary)
        return true
    }
    if errno == EEXIST || SystemCalls.access(final, F_OK) == 0 {
        return false
    }
    _ = try retryingInterrupts("rename", path: final) { SystemCalls.rename(temporary, final) }
    return true
}

/// fsyncs the folder holding `path`, so a rename in it survives a crash.
func syncFolder(of path: String) {
    let folderDescriptor = SystemCalls.open(splitPath(path).folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if folderDescriptor >= 0 {
        _ = SystemCalls.fsync(folderDescriptor)
        SystemCalls.close(folderDescriptor)
    }
}
