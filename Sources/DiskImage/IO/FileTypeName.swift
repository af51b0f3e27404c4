#if canImport(Glibc)
import Glibc
#endif

/// "a FIFO", "a character device", ... for messages.
func fileTypeName(_ type: mode_t) -> String {
    switch type {
    case S_IFREG: "a regular file"
    case S_IFDIR: "a directory"
    case S_IFIFO: "a FIFO"
    case S_IFCHR: "a character device"
    case S_IFBLK: "a block device"
    case S_IFSOCK: "a socket"
    case S_IFLNK: "a symbolic link"
    default: "of an unknown file type"
    }
}
