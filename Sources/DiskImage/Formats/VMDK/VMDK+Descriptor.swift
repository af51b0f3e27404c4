extension VMDK {
    /// A VMDK text descriptor (technote, "The Descriptor File"): the embedded one at sector 1
    /// of a sparse extent, padded with zeros to its reserved sectors, or a descriptor file
    /// naming extents beside it.
    ///
    /// ```
    /// # Disk DescriptorFile
    /// version=1
    /// CID=<8 hex>                         contentID
    /// parentCID=ffffffff                  parentCID (anything else: a delta disk)
    /// createType="streamOptimized"        createType
    ///
    /// # Extent description
    /// RW <sectors> SPARSE "<file>" [off]  extents
    ///
    /// # The Disk Data Base
    /// #DDB
    /// ddb.<key> = "<value>"               diskDatabase, in order
    /// ```
    struct Descriptor: Equatable, Sendable {
        /// One extent line: `RW 2048 FLAT "disk-flat.vmdk" 0`.
        struct Extent: Equatable, Sendable {
            enum Kind: String, Sendable {
                case flat = "FLAT", sparse = "SPARSE", zero = "ZERO", vmfs = "VMFS"
            }
            /// RW, RDONLY or NOACCESS.
            var access: String
            var sectors: UInt64
            var kind: Kind
            var fileName: String?
            /// Sectors into a flat file where the extent starts.
            var offset: UInt64
            /// The descriptor line (from 1) that names the extent; where it was read, not part
            /// of the value (ignored by `==`).
            var line: Int

            init(access: String = "RW", sectors: UInt64, kind: Kind, fileName: String?, offset: UInt64 = 0, line: Int = 0) {
                self.access = access
                self.sectors = sectors
                self.kind = kind
                self.fileName = fileName
                self.offset = offset
                self.line = line
            }

            static func == (a: Extent, b: Extent) -> Bool {
                a.access == b.access && a.sectors == b.sectors && a.kind == b.kind && a.fileName == b.fileName
                    && a.offset == b.offset
            }
        }

        /// One `ddb.key = "value"` line.
        struct Entry: Equatable, Sendable {
            var key: String
            var value: String
        }

        /// Content id, 8 hex digits, changed whenever the disk changes; nil when unreadable.
        var contentID: UInt32?
        var parentCID: String?
        var createType: String?
        var parentFileNameHint: String?
        var extents: [Extent]
        var diskDatabase: [Entry]

        var adapterType: String? { diskDatabase.first { $0.key == "ddb.adapterType" }?.value }

        /// The embedded descriptor imgship writes into a stream-optimized VMDK: one SPARSE
        /// extent naming the file itself, the adapter and its geometry (IDE disks report 16
        /// heads, SCSI adapters 255; both 63 sectors a track).
        init(contentID: UInt32, capacitySectors: UInt64, extentFileName: String, adapter: Adapter) {
            let heads: UInt64 = adapter == .ide ? 16 : 255
            let cylinders = min(65535, (capacitySectors + heads * 63 - 1) / (heads * 63))
            // The name is quoted on one line; a quote or line break in it would end it early.
            let name = String(extentFileName.map { $0 == "\"" || $0.isNewline ? "_" : $0 })
            self.contentID = contentID
            parentCID = "ffffffff"
            createType = "streamOptimized"
            extents = [Extent(sectors: capacitySectors, kind: .sparse, fileName: name)]
            diskDatabase = [
                Entry(key: "ddb.adapterType", value: adapter.rawValue),
                Entry(key: "ddb.geometry.cylinders", value: "\(cylinders)"),
                Entry(key: "ddb.geometry.heads", value: "\(heads)"),
                Entry(key: "ddb.geometry.sectors", value: "63"),
                Entry(key: "ddb.virtualHWVersion", value: "4"),
                Entry(key: "ddb.toolsInstallType", value: "4"),
                Entry(key: "ddb.toolsVersion", value: "2147483647"),
            ]
        }

        var text: String {
            let cid = String(contentID ?? 0, radix: 16)
            let paddedCID = String(repeating: "0", count: max(0, 8 - cid.count)) + cid
            var lines = ["# Disk DescriptorFile", "version=1", "CID=\(paddedCID)", "parentCID=\(parentCID ?? "ffffffff")"]
            if let createType { lines.append("createType=\"\(createType)\"") }
            if let parentFileNameHint { lines.append("parentFileNameHint=\"\(parentFileNameHint)\"") }
            lines += ["", "# Extent description"]
            for extent in extents {
                var line = "\(extent.access) \(extent.sectors) \(extent.kind.rawValue)"
                if let fileName = extent.fileName { line += " \"\(fileName)\"" }
                if extent.offset != 0 { line += " \(extent.offset)" }
                lines.append(line)
            }
            lines += ["", "# The Disk Data Base", "#DDB"]
            lines += diskDatabase.map { "\($0.key) = \"\($0.value)\"" }
            return lines.joined(separator: "\n") + "\n"
        }

        /// The descriptor padded to `descriptorSectors`; nil when the text does not fit.
        func encoded() -> [UInt8]? {
            var bytes = Array(text.utf8)
            let capacity = Int(VMDK.descriptorSectors) * VMDK.sectorSize
            guard bytes.count <= capacity else { return nil }
            bytes.append(contentsOf: repeatElement(0, count: capacity - bytes.count))
            return bytes
        }

        /// Parses descriptor text (zero padding and all), refusing delta disks; `path` names
        /// the file for errors.
        init(decoding bytes: [UInt8], path: String) throws(DiskImageError) {
            try self.init(parsing: String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self), path: path)
        }

        /// Parses `text`; `path` names the file for errors.
        init(parsing text: String, path: String) throws(DiskImageError) {
            extents = []
            diskDatabase = []
            for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = rawLine.trimmingCharacters(in: " \t\r\0")
                if line.isEmpty || line.hasPrefix("#") { continue }
                if let equals = line.firstIndex(of: "="), !line.hasPrefix("RW "), !line.hasPrefix("RDONLY "), !line.hasPrefix("NOACCESS ") {
                    let key = line[..<equals].trimmingCharacters(in: " \t")
                    let value = line[line.index(after: equals)...].trimmingCharacters(in: " \t").trimmingCharacters(in: "\"")
                    switch key {
                    case "CID": contentID = UInt32(value, radix: 16)
                    case "createType": createType = value
                    case "parentCID": parentCID = value
                    case "parentFileNameHint": parentFileNameHint = value
                    case _ where key.hasPrefix("ddb."): diskDatabase.append(Entry(key: key, value: value))
                    default: break
                    }
                    continue
                }
                extents.append(try Self.extent(line, number: number + 1, path: path))
            }
            if let parentFileNameHint, !parentFileNameHint.isEmpty {
                throw DiskImageError.unsupportedSource(
                    path: path,
                    reason:
                        "is a VMDK delta disk on the parent \"\(parentFileNameHint)\"; imgship reads standalone images only: consolidate the snapshot chain first"
                )
            }
            if let parentCID, parentCID.lowercased() != "ffffffff" {
                throw DiskImageError.unsupportedSource(
                    path: path, reason: "is a VMDK delta disk (parentCID \(parentCID)); imgship reads standalone images only")
            }
        }

        /// `RW 2048 FLAT "disk-flat.vmdk" 0` on line `number`.
        private static func extent(_ line: String, number: Int, path: String) throws(DiskImageError) -> Extent {
            func malformed(_ reason: String) -> DiskImageError {
                .malformedImage(path: path, offset: 0, reason: reason)
            }
            let fields = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true).map(String.init)
            guard fields.count >= 3, ["RW", "RDONLY", "NOACCESS"].contains(fields[0]), let sectors = UInt64(fields[1]),
                let kind = Extent.Kind(rawValue: fields[2])
            else {
                throw malformed("descriptor line \(number) is not understood: \"\(line)\"")
            }
            var fileName: String?
            var offset: UInt64 = 0
            if fields.count == 4 {
                let rest = fields[3]
                guard rest.hasPrefix("\""), let close = rest.dropFirst().firstIndex(of: "\"") else {
                    throw malformed("descriptor line \(number): the extent file name must be in double quotes")
                }
                fileName = String(rest[rest.index(after: rest.startIndex)..<close])
                let tail = rest[rest.index(after: close)...].trimmingCharacters(in: " \t")
                if !tail.isEmpty {
                    guard let value = UInt64(tail) else {
                        throw malformed("descriptor line \(number): extent offset \"\(tail)\" is not a number")
                    }
                    offset = value
                }
            } else if kind != .zero {
                throw malformed("descriptor line \(number): a \(kind.rawValue) extent needs a file name")
            }
            return Extent(access: fields[0], sectors: sectors, kind: kind, fileName: fileName, offset: offset, line: number)
        }
    }
}

private extension StringProtocol {
    /// Linear in the length: `dropFirst`/`dropLast` one character at a time walk the string
    /// from its start each time, which a damaged descriptor full of blanks turns quadratic.
    func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        guard let first = firstIndex(where: { !characters.contains($0) }),
            let last = lastIndex(where: { !characters.contains($0) })
        else { return "" }
        return String(self[first...last])
    }
}
