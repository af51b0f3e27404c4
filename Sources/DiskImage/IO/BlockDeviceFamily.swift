#if canImport(Glibc)
import Glibc
#endif

/// The block devices that share storage with one device, read from sysfs (sysfs(5),
/// Documentation/ABI/stable/sysfs-block): the device, the disk it is a partition of, its
/// partitions, the devices it is built on (`slaves/`) and those built on it (`holders/`),
/// and for a loop device the file behind it (`loop/backing_file`). `--to-device` refuses a
/// device whose family holds a source by any of these ways, not by path.
///
/// `sysfs` and `mountInfo` are parameters so tests can lay out a fake tree.
struct BlockDeviceFamily {
    /// A member of the family: its name in `class/block` and its `major:minor`.
    struct Member: Hashable {
        var name: String
        var number: String
    }

    let members: [Member]
    let sysfs: String

    /// The family of the device numbered `major:minor` (`st_rdev`); nil when sysfs does not
    /// list it (no sysfs: the caller falls back to comparing device numbers alone).
    init?(major: UInt32, minor: UInt32, sysfs: String = "/sys") {
        self.sysfs = sysfs
        let classBlock = sysfs + "/class/block"
        guard let names = SystemCalls.names(inFolder: classBlock) else { return nil }
        var numbers: [String: String] = [:]
        for name in names {
            if let number = Self.firstLine(classBlock + "/" + name + "/dev") { numbers[name] = number }
        }
        let wanted = "\(major):\(minor)"
        guard let start = numbers.first(where: { $0.value == wanted })?.key else { return nil }
        var found: [String] = [start]
        var seen: Set<String> = [start]
        func add(_ name: String) {
            if numbers[name] != nil, seen.insert(name).inserted { found.append(name) }
        }
        var index = 0
        while index < found.count {
            let name = found[index]
            let folder = classBlock + "/" + name
            // A partition's folder lies inside its disk's: the disk is the entry holding it.
            if SystemCalls.access(folder + "/partition", F_OK) == 0 {
                for disk in names where SystemCalls.access(classBlock + "/" + disk + "/" + name + "/partition", F_OK) == 0 { add(disk) }
            }
            for entry in SystemCalls.names(inFolder: folder) ?? [] where SystemCalls.access(folder + "/" + entry + "/partition", F_OK) == 0 {
                add(entry)
            }
            for relation in ["holders", "slaves"] {
                for entry in SystemCalls.names(inFolder: folder + "/" + relation) ?? [] { add(entry) }
            }
            index += 1
        }
        members = found.compactMap { name in numbers[name].map { Member(name: name, number: $0) } }
    }

    /// The file behind a loop device of the family, with the member's name.
    var backingFiles: [(member: String, path: String)] {
        members.compactMap { member in
            guard let path = Self.firstLine(sysfs + "/block/" + member.name + "/loop/backing_file"), !path.isEmpty else { return nil }
            return (member.name, path)
        }
    }

    /// Where a member of the family is mounted (proc(5), /proc/self/mountinfo: field 3 is the
    /// filesystem's `major:minor`, field 5 the mount point), or nil.
    func mountPoint(mountInfo: String = "/proc/self/mountinfo") -> (member: String, mountPoint: String)? {
        guard let text = Self.contents(mountInfo, limit: 1 << 22) else { return nil }
        let numbers = Dictionary(members.map { ($0.number, $0.name) }, uniquingKeysWith: { first, _ in first })
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4, let name = numbers[String(fields[2])] else { continue }
            return (name, String(fields[4]))
        }
        return nil
    }

    /// The first line of a small sysfs file; nil when it cannot be read.
    static func firstLine(_ path: String) -> String? {
        contents(path, limit: 1 << 16)?.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init)
    }

    /// Up to `limit` bytes of a sysfs or proc file, as text; nil when it cannot be opened.
    static func contents(_ path: String, limit: Int) -> String? {
        let fd = SystemCalls.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { SystemCalls.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count < limit {
            let count = chunk.withUnsafeMutableBytes { SystemCalls.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `major:minor` of a device number (the glibc `makedev` encoding, sys/sysmacros.h).
    static func number(_ device: UInt64) -> String {
        let major = ((device >> 8) & 0xFFF) | ((device >> 32) & ~UInt64(0xFFF))
        let minor = (device & 0xFF) | ((device >> 12) & ~UInt64(0xFF))
        return "\(major):\(minor)"
    }
}

/// What `--to-device` knows of one source file: where it lives and what it is.
struct SourceNode {
    var path: String
    var identity: FileIdentity
    /// The device number of a source that is itself a block device (`st_rdev`).
    var blockDevice: UInt64?
}

extension OutputSafety {
    /// Why the block device numbered `device` (named `path`) must not be written for an
    /// export of `sources`, or nil when it may: a member of its family is mounted, is a
    /// source, holds a source's filesystem, or is a loop device backed by a source.
    static func deviceRefusal(
        _ path: String, device: UInt64, sources: [SourceNode], sysfs: String = "/sys", mountInfo: String = "/proc/self/mountinfo"
    ) -> String? {
        let number = BlockDeviceFamily.number(device)
        let parts = number.split(separator: ":").compactMap { UInt32($0) }
        let family = parts.count == 2 ? BlockDeviceFamily(major: parts[0], minor: parts[1], sysfs: sysfs) : nil
        let members = family?.members ?? [BlockDeviceFamily.Member(name: splitPath(path).name, number: number)]
        func via(_ member: BlockDeviceFamily.Member) -> String {
            member.number == number ? "" : " (through \(member.name), which shares its storage)"
        }
        if let family, let (member, point) = family.mountPoint(mountInfo: mountInfo) {
            let through = member == members[0].name ? "" : " (its \(member))"
            return "is mounted\(through) at \(point); unmount it first: --to-device writes over the whole device"
        }
        for source in sources {
            for member in members {
                if let special = source.blockDevice, BlockDeviceFamily.number(special) == member.number {
                    return "is the source \(source.path)\(via(member)); an export never writes onto what it reads"
                }
                if BlockDeviceFamily.number(source.identity.device) == member.number {
                    return "holds the filesystem of the source \(source.path)\(via(member)); an export never writes onto what it reads"
                }
            }
            for (member, backing) in family?.backingFiles ?? [] {
                var info = stat()
                guard SystemCalls.stat(backing, &info) == 0, FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)) == source.identity else {
                    continue
                }
                return "is backed by the source \(source.path) (loop device \(member), file \(backing)); an export never writes onto what it reads"
            }
        }
        return nil
    }
}
