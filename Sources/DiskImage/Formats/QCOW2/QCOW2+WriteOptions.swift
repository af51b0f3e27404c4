extension QCOW2 {
    /// What `-f qcow2` writes: the header version and how clusters are stored.
    public struct WriteOptions: Sendable, Equatable {
        /// qemu-img's `compat` option: `0.10` is version 2 (readable by every qemu), `1.1`
        /// version 3 (qemu 1.1 and later; needed for a compression type other than zlib).
        public enum Compatibility: String, Sendable, CaseIterable {
            case version2 = "0.10"
            case version3 = "1.1"

            var version: UInt32 { self == .version2 ? 2 : 3 }
        }

        /// The header's compression_type (qcow2.txt): how compressed clusters are stored.
        public enum CompressionType: String, Sendable, CaseIterable {
            /// Type 0: raw DEFLATE (RFC 1951); every qemu reads it.
            case zlib
            /// Type 1: one zstd frame a cluster; qemu 5.1 and later read it, and only in a
            /// version 3 image (incompatible feature bit 3).
            case zstd

            /// `zlib`, `deflate` (the same) or `zstd`, in any case.
            public init?(parsing text: String) {
                switch text.lowercased() {
                case "zlib", "deflate": self = .zlib
                case "zstd": self = .zstd
                default: return nil
                }
            }
        }

        public var compatibility: Compatibility
        /// Nil: every cluster is stored as it is. Otherwise clusters are compressed with this
        /// type, and stored as they are only where compression does not make them smaller.
        public var compression: CompressionType?
        /// 16 (64 KiB, qemu-img's default) for every export; tests write 4 KiB clusters (12)
        /// to cross L2 tables and refcount blocks with small images.
        var clusterBits = QCOW2.writtenClusterBits

        public init(compatibility: Compatibility = .version3, compression: CompressionType? = nil) {
            self.compatibility = compatibility
            self.compression = compression
        }

        /// Why the combination cannot be written, or nil.
        public var problem: String? {
            compatibility == .version2 && compression == .zstd
                ? "the zstd compression type needs a version 3 image (qcow2.txt, header field compression_type); --qcow2-compat 0.10 writes version 2, whose compressed clusters are zlib only"
                : nil
        }
    }
}
