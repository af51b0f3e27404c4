/// Just enough of a FAT12, FAT16 or FAT32 filesystem to find a file by its short names: what
/// UEFI firmware does when it has no boot entries and looks for the removable-media loader,
/// `\EFI\BOOT\BOOTX64.EFI` (UEFI 2.10 §3.5.1.1), in an EFI system partition.
///
/// Layout (Microsoft's "FAT: General Overview of On-Disk Format", the boot sector and BPB):
/// bytes a sector u16 at 11, sectors a cluster u8 at 13, reserved sectors u16 at 14, FATs u8
/// at 16, root entries u16 at 17 (0 on FAT32), total sectors u16 at 19 (else u32 at 32), FAT
/// size u16 at 22 (else, FAT32, u32 at 36), FAT32's root cluster u32 at 44. The type follows
/// from the cluster count alone: under 4,085 FAT12, under 65,525 FAT16, else FAT32. A
/// directory entry is 32 bytes: the 8.3 name (11 bytes, space-padded, upper case), attributes
/// at 11 (0x10 directory, 0x08 volume label, 0x0F a long-name part), first cluster u16 at 26
/// (and its high half at 20 on FAT32), size u32 at 28; a first byte 0 ends the directory,
/// 0xE5 marks a deleted entry.
///
/// Hostile volumes cost bounded work: a directory is read for at most `maximumDirectoryEntries`
/// entries (a cluster chain that loops ends there), every volume of one inspection shares one
/// `Budget` of entries, and nothing is read past the disk's end.
struct FATVolume {
    /// Directory entries one inspection reads at most, across all its volumes: four
    /// directories' worth. Spent, the search finds nothing more.
    final class Budget {
        static let entries = 4 * FATVolume.maximumDirectoryEntries
        var remaining = Budget.entries
    }

    let reader: SectorReader
    let budget: Budget
    /// Where the volume starts on the disk.
    let start: UInt64
    let bytesPerSector: UInt64
    let sectorsPerCluster: UInt64
    let fatStart: UInt64
    let bits: Int
    let rootDirectory: Directory
    let firstDataSector: UInt64
    let clusterCount: UInt64

    enum Directory {
        /// FAT12 and FAT16: a fixed region of `entries` entries at sector `sector`.
        case fixed(sector: UInt64, entries: UInt64)
        /// A cluster chain (FAT32's root, every subdirectory).
        case chain(firstCluster: UInt64)
    }

    struct Entry {
        var name: [UInt8]
        var isDirectory: Bool
        var firstCluster: UInt64
        var size: UInt32
    }

    /// Entries read from one directory at most: 65,536, the most a FAT directory holds (2 MiB
    /// of entries; the FAT specification, "FAT Directory Structure").
    static let maximumDirectoryEntries = 65_536

    /// The volume whose boot sector is at `start`, or nil when that sector is no FAT boot
    /// sector with a consistent geometry.
    init?(reader: SectorReader, at start: UInt64, budget: Budget) throws(DiskImageError) {
        guard let boot = try reader.read(512, at: start), GuestInspection.isFATBootSector(boot) else { return nil }
        let bytesPerSector = UInt64(boot.loadLittleEndian(UInt16.self, at: 11))
        let sectorsPerCluster = UInt64(boot[13])
        let reserved = UInt64(boot.loadLittleEndian(UInt16.self, at: 14))
        let fats = UInt64(boot[16])
        let rootEntries = UInt64(boot.loadLittleEndian(UInt16.self, at: 17))
        let total16 = UInt64(boot.loadLittleEndian(UInt16.self, at: 19))
        let totalSectors = total16 != 0 ? total16 : UInt64(boot.loadLittleEndian(UInt32.self, at: 32))
        let fat16Size = UInt64(boot.loadLittleEndian(UInt16.self, at: 22))
        let fatSize = fat16Size != 0 ? fat16Size : UInt64(boot.loadLittleEndian(UInt32.self, at: 36))
        let rootSectors = (rootEntries * 32 + bytesPerSector - 1) / bytesPerSector
        // Every value is at most 32 bits: these sums cannot overflow 64.
        let firstDataSector = reserved + fats * fatSize + rootSectors
        guard fatSize != 0, totalSectors > firstDataSector else { return nil }
        let clusterCount = (totalSectors - firstDataSector) / sectorsPerCluster
        self.reader = reader
        self.budget = budget
        self.start = start
        self.bytesPerSector = bytesPerSector
        self.sectorsPerCluster = sectorsPerCluster
        self.fatStart = reserved
        self.firstDataSector = firstDataSector
        self.clusterCount = clusterCount
        if clusterCount < 4085 {
            bits = 12
        } else if clusterCount < 65525 {
            bits = 16
        } else {
            bits = 32
        }
        if bits == 32 {
            rootDirectory = .chain(firstCluster: UInt64(boot.loadLittleEndian(UInt32.self, at: 44) & 0x0FFF_FFFF))
        } else {
            rootDirectory = .fixed(sector: reserved + fats * fatSize, entries: rootEntries)
        }
    }

    /// The entries of the directory at `path` (short names, compared without regard to case),
    /// nil when a part is missing or is a file.
    func directory(_ path: [String]) throws(DiskImageError) -> [Entry]? {
        var directory = rootDirectory
        for part in path {
            guard let name = Self.shortName(part), let entry = try entries(of: directory).first(where: { $0.name == name }), entry.isDirectory
            else { return nil }
            directory = .chain(firstCluster: entry.firstCluster)
        }
        return try entries(of: directory)
    }

    /// The file `name` among `entries` (a directory there is no file).
    static func file(_ name: String, in entries: [Entry]) -> Entry? {
        guard let short = shortName(name) else { return nil }
        return entries.first { $0.name == short && !$0.isDirectory }
    }

    /// The first `count` bytes of `file` (fewer when it is shorter), following its cluster
    /// chain; nil when the chain ends or leaves the volume first.
    func head(of file: Entry, count: Int) throws(DiskImageError) -> [UInt8]? {
        let wanted = min(count, Int(file.size))
        var bytes: [UInt8] = []
        var cluster = file.firstCluster
        let clusterBytes = Int(sectorsPerCluster * bytesPerSector)
        while bytes.count < wanted {
            guard let offset = clusterOffset(cluster), let data = try reader.read(min(clusterBytes, wanted - bytes.count), at: offset) else { return nil }
            bytes += data
            guard bytes.count < wanted else { break }
            guard let next = try nextCluster(after: cluster) else { return nil }
            cluster = next
        }
        return bytes
    }

    /// "BOOTX64.EFI" as its 11-byte directory name, "BOOTX64 EFI"; nil for a name 8.3 cannot
    /// hold.
    static func shortName(_ name: String) -> [UInt8]? {
        let parts = name.uppercased().split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), (1...8).contains(parts[0].utf8.count), parts.count == 1 || parts[1].utf8.count <= 3 else { return nil }
        func padded(_ part: Substring, _ width: Int) -> [UInt8] { Array(part.utf8) + [UInt8](repeating: 0x20, count: width - part.utf8.count) }
        return padded(parts[0], 8) + padded(parts.count == 2 ? parts[1] : "", 3)
    }

    /// The live entries of `directory` (no deleted ones, labels or long-name parts), names
    /// upper-cased (a name's case flags at 12 only change how it is shown).
    private func entries(of directory: Directory) throws(DiskImageError) -> [Entry] {
        var found: [Entry] = []
        var read = 0
        func take(_ bytes: [UInt8]) -> Bool {
            for offset in stride(from: 0, to: bytes.count - 31, by: 32) {
                read += 1
                budget.remaining -= 1
                guard read <= Self.maximumDirectoryEntries, budget.remaining >= 0, bytes[offset] != 0 else { return false }
                let attributes = bytes[offset + 11]
                guard bytes[offset] != 0xE5, attributes & 0x0F != 0x0F, attributes & 0x08 == 0 else { continue }
                var name = Array(bytes[offset..<(offset + 11)])
                if name[0] == 0x05 { name[0] = 0xE5 }
                let high = bits == 32 ? UInt64(bytes.loadLittleEndian(UInt16.self, at: offset + 20)) << 16 : 0
                found.append(
                    Entry(
                        name: name.map { (0x61...0x7A).contains($0) ? $0 - 0x20 : $0 }, isDirectory: attributes & 0x10 != 0,
                        firstCluster: high | UInt64(bytes.loadLittleEndian(UInt16.self, at: offset + 26)),
                        size: bytes.loadLittleEndian(UInt32.self, at: offset + 28)))
            }
            return true
        }
        switch directory {
        case let .fixed(sector, count):
            let entries = min(count, UInt64(Self.maximumDirectoryEntries))
            guard let bytes = try reader.read(Int(entries * 32), at: start + sector * bytesPerSector) else { return found }
            _ = take(bytes)
        case let .chain(firstCluster):
            var cluster = firstCluster
            while let offset = clusterOffset(cluster), let bytes = try reader.read(Int(sectorsPerCluster * bytesPerSector), at: offset) {
                guard take(bytes), let next = try nextCluster(after: cluster) else { break }
                cluster = next
            }
        }
        return found
    }

    /// Where data cluster `cluster` starts on the disk; nil for a number no data cluster has.
    private func clusterOffset(_ cluster: UInt64) -> UInt64? {
        guard cluster >= 2, cluster - 2 < clusterCount else { return nil }
        return start + (firstDataSector + (cluster - 2) * sectorsPerCluster) * bytesPerSector
    }

    /// The FAT's entry for `cluster`: the next cluster of its chain, nil at the chain's end
    /// or on a value no data cluster has.
    private func nextCluster(after cluster: UInt64) throws(DiskImageError) -> UInt64? {
        let byteOffset = bits == 12 ? cluster + cluster / 2 : cluster * UInt64(bits / 8)
        guard let bytes = try reader.read(bits == 32 ? 4 : 2, at: start + fatStart * bytesPerSector + byteOffset) else { return nil }
        let value: UInt64
        switch bits {
        case 12:
            let pair = UInt64(bytes.loadLittleEndian(UInt16.self, at: 0))
            value = cluster % 2 == 0 ? pair & 0xFFF : pair >> 4
        case 16: value = UInt64(bytes.loadLittleEndian(UInt16.self, at: 0))
        default: value = UInt64(bytes.loadLittleEndian(UInt32.self, at: 0)) & 0x0FFF_FFFF
        }
        return clusterOffset(value) == nil ? nil : value
    }
}
