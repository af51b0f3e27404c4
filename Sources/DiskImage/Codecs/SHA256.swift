internal import COpenSSL

/// Streaming SHA-256 over OpenSSL's EVP interface (which uses SHA-NI where the CPU has it).
/// One instance per stream; not shared between threads.
public final class SHA256Hasher {
    private let context: OpaquePointer

    public init() {
        guard let context = EVP_MD_CTX_new() else {
            fatalError("EVP_MD_CTX_new failed: out of memory")
        }
        self.context = context
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit {
        EVP_MD_CTX_free(context)
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Hashes `count` zero bytes without materialising them.
    public func updateZeros(_ count: UInt64) {
        var remaining = count
        while remaining > 0 {
            let step = Int(min(remaining, UInt64(ZeroBlock.bytes.count)))
            update(UnsafeRawBufferPointer(rebasing: ZeroBlock.bytes[0..<step]))
            remaining -= UInt64(step)
        }
    }

    /// The digest as 64 lowercase hex digits. Call once, at the end.
    public func finalizeHex() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return hexString(digest)
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
