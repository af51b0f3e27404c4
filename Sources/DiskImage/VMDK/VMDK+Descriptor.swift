extension VMDK {
    /// The embedded text descriptor at sector 1, padded with zeros to its reserved sectors.
    public struct Descriptor: Equatable, Sendable {
        /// Content id, 8 hex digits, changed whenever the disk changes.
        public var contentID: UInt32
        public var capacitySectors: UInt64
        /// File name in the extent line: the VMDK's own name.
        public var extentFileName: String
        public var adapter: Adapter

        public init(contentID: UInt32, capacitySectors: UInt64, extentFileName: String, adapter: Adapter) {
            self.contentID = contentID
            self.capacitySectors = capacitySectors
            self.extentFileName = extentFileName
            self.adapter = adapter
        }

        /// IDE disks report 16 heads, SCSI adapters 255; both 63 sectors a track.
        var heads: UInt64 { adapter == .ide ? 16 : 255 }

        var cylinders: UInt64 {
            min(65535, (capacitySectors + heads * 63 - 1) / (heads * 63))
        }

        public var text: String {
            let cid = String(contentID, radix: 16)
            let paddedCID = String(repeating: "0", count: 8 - cid.count) + cid
            // The name is quoted on one line; a quote or line break in it would end it early.
            let name = String(extentFileName.map { $0 == "\"" || $0.isNewline ? "_" : $0 })
            return """
            # Disk DescriptorFile
            version=1
            CID=\(paddedCID)
            parentCID=ffffffff
            createType="streamOptimized"

            # Extent description
            RW \(capacitySectors) SPARSE "\(name)"

            # The Disk Data Base
            #DDB
            ddb.adapterType = "\(adapter.rawValue)"
            ddb.geometry.cylinders = "\(cylinders)"
            ddb.geometry.heads = "\(heads)"
            ddb.geometry.sectors = "63"
            ddb.virtualHWVersion = "4"
            ddb.toolsInstallType = "4"
            ddb.toolsVersion = "2147483647"

            """
        }

        /// The descriptor padded to `descriptorSectors`; nil when the text does not fit.
        public func encoded() -> [UInt8]? {
            var bytes = Array(text.utf8)
            let capacity = Int(VMDK.descriptorSectors) * VMDK.sectorSize
            guard bytes.count <= capacity else { return nil }
            bytes.append(contentsOf: repeatElement(0, count: capacity - bytes.count))
            return bytes
        }
    }
}
