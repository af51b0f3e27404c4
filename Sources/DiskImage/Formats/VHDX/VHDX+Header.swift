extension VHDX {
    /// One of the two 4 KiB headers (section 2.2.2), at 64 KiB and 128 KiB, each in a 64 KiB
    /// slot. The current header is the valid one (signature and CRC-32C) with the larger
    /// sequence number.
    struct Header: Equatable, Sendable {
        static let size = 4096
        static let signature = Array("head".utf8)

        /// Field offsets, as section 2.2.2 gives them.
        enum Offset {
            static let signature = 0
            static let checksum = 4
            static let sequenceNumber = 8
            static let fileWriteGUID = 16
            static let dataWriteGUID = 32
            static let logGUID = 48
            static let logVersion = 64
            static let version = 66
            static let logLength = 68
            static let logOffset = 72
        }

        var sequenceNumber: UInt64
        /// Changes each time the file is opened for writing.
        var fileWriteGUID: GUID
        /// Changes each time the disk's contents are written.
        var dataWriteGUID: GUID
        /// Zero when the log is empty; otherwise log entries carrying it must be replayed.
        var logGUID: GUID
        /// 0: the only log format the spec defines.
        var logVersion: UInt16 = 0
        /// 1: the only version the spec defines.
        var version: UInt16 = 1
        /// Bytes; a multiple of 1 MiB.
        var logLength: UInt32
        /// Absolute byte offset of the log; a multiple of 1 MiB.
        var logOffset: UInt64
        /// Whether the stored CRC-32C matched the bytes (always true for a header made here).
        var checksumMatches = true

        init(
            sequenceNumber: UInt64, fileWriteGUID: GUID, dataWriteGUID: GUID, logGUID: GUID = .zero,
            logOffset: UInt64, logLength: UInt32
        ) {
            self.sequenceNumber = sequenceNumber
            self.fileWriteGUID = fileWriteGUID
            self.dataWriteGUID = dataWriteGUID
            self.logGUID = logGUID
            self.logOffset = logOffset
            self.logLength = logLength
        }

        func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: Header.size)
            bytes.storeASCII("head", at: Offset.signature)  // 0 signature
            bytes.storeLittleEndian(sequenceNumber, at: Offset.sequenceNumber)  // 8 sequence number
            bytes.replaceSubrange(Offset.fileWriteGUID..<(Offset.fileWriteGUID + 16), with: fileWriteGUID.bytes)  // 16
            bytes.replaceSubrange(Offset.dataWriteGUID..<(Offset.dataWriteGUID + 16), with: dataWriteGUID.bytes)  // 32
            bytes.replaceSubrange(Offset.logGUID..<(Offset.logGUID + 16), with: logGUID.bytes)  // 48
            bytes.storeLittleEndian(logVersion, at: Offset.logVersion)  // 64 log version
            bytes.storeLittleEndian(version, at: Offset.version)  // 66 version
            bytes.storeLittleEndian(logLength, at: Offset.logLength)  // 68 log length
            bytes.storeLittleEndian(logOffset, at: Offset.logOffset)  // 72 log offset
            // 80..<4096 reserved, zero. The checksum covers all 4 KiB with its field zero.
            bytes.storeLittleEndian(VHDX.crc32c(bytes), at: Offset.checksum)  // 4 checksum
            return bytes
        }

        /// Decodes the 4 KiB at `bytes`, which lie at `offset` of the file `path`. A checksum
        /// mismatch is recorded in `checksumMatches`, not thrown: the other header may serve.
        init(decoding bytes: [UInt8], at offset: UInt64 = 0, path: String = "VHDX header") throws(DiskImageError) {
            guard bytes.count >= Header.size, Array(bytes[0..<4]) == Header.signature else {
                throw DiskImageError.malformedImage(path: path, offset: offset, reason: "no VHDX header signature \"head\"")
            }
            let header = Array(bytes[0..<Header.size])
            checksumMatches = VHDX.crc32c(header, zeroing: Offset.checksum) == header.loadLittleEndian(UInt32.self, at: Offset.checksum)
            sequenceNumber = header.loadLittleEndian(UInt64.self, at: Offset.sequenceNumber)
            fileWriteGUID = GUID(in: header, at: Offset.fileWriteGUID)
            dataWriteGUID = GUID(in: header, at: Offset.dataWriteGUID)
            logGUID = GUID(in: header, at: Offset.logGUID)
            logVersion = header.loadLittleEndian(UInt16.self, at: Offset.logVersion)
            version = header.loadLittleEndian(UInt16.self, at: Offset.version)
            logLength = header.loadLittleEndian(UInt32.self, at: Offset.logLength)
            logOffset = header.loadLittleEndian(UInt64.self, at: Offset.logOffset)
        }
    }
}
