internal import COpenSSL

/// A streaming message digest over OpenSSL's EVP interface (which uses SHA-NI where the CPU
/// has it). One instance per stream; not shared between threads.
package class MessageDigestHasher {
    /// The digests imgship computes: SHA-256 for its own manifests and by default for OVF
    /// manifests; SHA-1 for the OVF manifests of readers that take nothing else (ESXi and
    /// vSphere 6.0 and older reject SHA256 lines: VMware KB 2151537; OVF Tool 4.2 made SHA-256
    /// its default); SHA-512 for OVF manifests and signatures that ask for it (DSP0243 2.x
    /// names SHA256 and SHA512 manifest lines; VMware's ova-compose defaults to SHA-512).
    package enum Algorithm: Sendable {
        case sha1, sha256, sha512
    }

    let algorithm: Algorithm
    private let context: OpaquePointer

    init(_ algorithm: Algorithm) {
        guard let context = EVP_MD_CTX_new() else {
            fatalError("EVP_MD_CTX_new failed: out of memory")
        }
        self.algorithm = algorithm
        self.context = context
        switch algorithm {
        case .sha1: EVP_DigestInit_ex(context, EVP_sha1(), nil)
        case .sha256: EVP_DigestInit_ex(context, EVP_sha256(), nil)
        case .sha512: EVP_DigestInit_ex(context, EVP_sha512(), nil)
        }
    }

    deinit {
        EVP_MD_CTX_free(context)
    }

    package func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
    }

    package func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Hashes `count` zero bytes without materialising them.
    func updateZeros(_ count: UInt64) {
        var remaining = count
        while remaining > 0 {
            let step = Int(min(remaining, UInt64(ZeroBlock.bytes.count)))
            update(UnsafeRawBufferPointer(rebasing: ZeroBlock.bytes[0..<step]))
            remaining -= UInt64(step)
        }
    }

    /// The digest as lowercase hex digits (40 for SHA-1, 64 for SHA-256, 128 for SHA-512). Call once, at the end.
    package func finalizeHex() -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return hexString(digest.prefix(Int(length)))
    }

    /// The hex digest of `bytes`.
    static func hex(_ bytes: [UInt8], _ algorithm: Algorithm) -> String {
        let hasher = MessageDigestHasher(algorithm)
        hasher.update(bytes)
        return hasher.finalizeHex()
    }
}

/// Streaming SHA-256, the digest of imgship's own manifests.
package final class SHA256Hasher: MessageDigestHasher {
    package init() {
        super.init(.sha256)
    }
}

func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// A shared, read-only, page-aligned block of zeros used to hash and write zero runs.
enum ZeroBlock {
    nonisolated(unsafe) static let bytes: UnsafeRawBufferPointer = {
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        block.initializeMemory(as: UInt8.self, repeating: 0)
        return UnsafeRawBufferPointer(block)
    }()
}
