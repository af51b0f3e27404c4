internal import COpenSSL

#if canImport(Glibc)
import Glibc
#endif

// The OVF certificate file (DMTF DSP0243 OVF 1.1 section 5.2 and OVF 2.x section 5.2,
// "Package" / "Certificate"): a package is signed by signing its manifest. The file NAME.cert
// holds one line naming the digest and the manifest, then the signer's X.509 certificate(s)
// in PEM:
//
//     SHA256(NAME.mf)= 3f9a...(the signature, in hex)
//     -----BEGIN CERTIFICATE-----
//     ...
//     -----END CERTIFICATE-----
//
// The signature is over the manifest's bytes with the named digest: what `openssl dgst
// -sha256 -sign KEY NAME.mf` makes and `openssl dgst -sha256 -verify PUB -signature SIG
// NAME.mf` checks; VMware's ova-compose writes the line that way (open-vmdk,
// ova-compose/ova-compose.py `sign_manifest`), and OVF Tool's user guide ("OVF Package
// Signing") describes the same file.

extension OVA {
    /// A private key and the certificate(s) that sign an OVF package's manifest. Loaded and
    /// checked (the key matches the certificate) before any export work; immutable after.
    public final class PackageSigner: @unchecked Sendable {
        /// The EVP_PKEY; only read after `init`, so one signer serves any thread.
        private let key: OpaquePointer
        /// The certificates of the certificate file, the signing one first, as PEM.
        let certificatesPEM: String
        public let keyPath: String
        public let certificatePath: String

        /// Reads `keyPath` (a PEM private key, RSA or EC) and `certificatePath` (PEM
        /// certificates, the one of the key first, then any intermediates to ship with it).
        /// Refuses an unreadable file, an encrypted key (imgship takes no pass phrase), a key
        /// of another kind, and a key that does not match the first certificate.
        public init(keyPath: String, certificatePath: String) throws(DiskImageError) {
            self.keyPath = keyPath
            self.certificatePath = certificatePath
            let keyText = try readPEMFile(keyPath, what: "private key")
            if keyText.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || keyText.contains("Proc-Type: 4,ENCRYPTED") {
                throw DiskImageError.signing(
                    path: keyPath,
                    reason:
                        "the private key is encrypted and imgship takes no pass phrase; decrypt a copy first (openssl pkey -in KEY.pem -out PLAIN.pem) and keep it private"
                )
            }
            guard let key = parsePrivateKey(keyText) else {
                throw DiskImageError.signing(path: keyPath, reason: "holds no PEM private key OpenSSL reads (\(drainOpenSSLErrors()))")
            }
            let kind = EVP_PKEY_get_base_id(key)
            guard kind == EVP_PKEY_RSA || kind == EVP_PKEY_EC else {
                EVP_PKEY_free(key)
                throw DiskImageError.signing(
                    path: keyPath, reason: "holds an \(String(cString: OBJ_nid2sn(kind))) key; OVF signatures are made with RSA or ECDSA keys")
            }
            let certificates = parseCertificates(try readPEMFile(certificatePath, what: "certificate"))
            defer { certificates.forEach { X509_free($0) } }
            guard let first = certificates.first else {
                EVP_PKEY_free(key)
                throw DiskImageError.signing(path: certificatePath, reason: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
            }
            guard X509_check_private_key(first, key) == 1 else {
                ERR_clear_error()
                EVP_PKEY_free(key)
                throw DiskImageError.signing(
                    path: keyPath, reason: "does not match the certificate in \(certificatePath) (the certificate holds another public key)")
            }
            self.key = key
            certificatesPEM = certificates.map(pemText).joined()
        }

        deinit { EVP_PKEY_free(key) }

        /// The certificate file's bytes for a manifest `manifestName` holding `manifest`.
        func certificateFile(manifest: [UInt8], manifestName: String, digest: VirtualMachineSettings.ManifestDigest) throws(DiskImageError) -> [UInt8] {
            guard let context = EVP_MD_CTX_new() else { throw DiskImageError.signing(path: keyPath, reason: "EVP_MD_CTX_new failed: out of memory") }
            defer { EVP_MD_CTX_free(context) }
            var length = 0
            var signature: [UInt8] = []
            let signed = manifest.withUnsafeBufferPointer { data -> Bool in
                guard EVP_DigestSignInit(context, nil, digest.evp, nil, key) == 1,
                    EVP_DigestSign(context, nil, &length, data.baseAddress, data.count) == 1
                else { return false }
                signature = [UInt8](repeating: 0, count: length)
                return EVP_DigestSign(context, &signature, &length, data.baseAddress, data.count) == 1
            }
            guard signed else {
                throw DiskImageError.signing(path: keyPath, reason: "signing the manifest failed (\(drainOpenSSLErrors()))")
            }
            let line = "\(digest.manifestName)(\(manifestName))= \(hexString(signature.prefix(length)))\n"
            return Array((line + certificatesPEM).utf8)
        }
    }

    /// What `verify` found of a package's signature: the certificate file's line and
    /// signature against the manifest, then the chain against `caFile` when one is given.
    static func signatureChecks(
        certificateFile: [UInt8], certificateName: String, manifest: [UInt8], manifestName: String, caFile: String?
    ) -> [VerificationReport.Check] {
        let text = String(decoding: certificateFile, as: UTF8.self)
        let firstLine = text.prefix { $0 != "\n" && $0 != "\r" }
        // ALGORITHM(NAME.mf)= HEX
        guard let open = firstLine.firstIndex(of: "("), let close = firstLine.lastIndex(of: ")"), open < close,
            firstLine[firstLine.index(after: close)...].hasPrefix("= ")
        else {
            return [.init(name: "signature", passed: false, detail: "the first line of \(certificateName) is not ALGORITHM(\(manifestName))= SIGNATURE")]
        }
        let algorithm = String(firstLine[..<open])
        let signedName = String(firstLine[firstLine.index(after: open)..<close])
        let hex = firstLine[firstLine.index(close, offsetBy: 3)...].trimmingPrefix(" ")
        guard let digest = VirtualMachineSettings.ManifestDigest(manifestName: algorithm) else {
            return [.init(name: "signature", passed: false, detail: "\(certificateName) names the digest \(algorithm); imgship checks SHA1, SHA256 and SHA512")]
        }
        guard signedName == manifestName else {
            return [.init(name: "signature", passed: false, detail: "\(certificateName) signs \(signedName), but the package's manifest is \(manifestName)")]
        }
        guard let signature = bytes(hex: hex) else {
            return [.init(name: "signature", passed: false, detail: "the signature in \(certificateName) is not hexadecimal")]
        }
        let certificates = parseCertificates(String(text.dropFirst(firstLine.count)))
        defer { certificates.forEach { X509_free($0) } }
        guard let signer = certificates.first, let publicKey = X509_get0_pubkey(signer) else {
            return [.init(name: "signature", passed: false, detail: "\(certificateName) holds no PEM certificate after its first line")]
        }
        let subject = subjectName(signer)
        guard let context = EVP_MD_CTX_new() else { return [.init(name: "signature", passed: false, detail: "EVP_MD_CTX_new failed: out of memory")] }
        defer { EVP_MD_CTX_free(context) }
        let valid = manifest.withUnsafeBufferPointer { data in
            signature.withUnsafeBufferPointer { signature in
                EVP_DigestVerifyInit(context, nil, digest.evp, nil, publicKey) == 1
                    && EVP_DigestVerify(context, signature.baseAddress, signature.count, data.baseAddress, data.count) == 1
            }
        }
        ERR_clear_error()
        var checks: [VerificationReport.Check] = [
            .init(
                name: "signature", passed: valid,
                detail: valid
                    ? "\(digest.manifestName) signature of \(manifestName) valid for \(subject)"
                    : "the \(digest.manifestName) signature in \(certificateName) does not match \(manifestName) and the key of \(subject): the manifest or the signature was changed"
            )
        ]
        guard valid else { return checks }
        guard let caFile else {
            checks.append(
                .init(name: "certificate", passed: true, detail: "signature valid, certificate not checked against a CA (give --ca-file CA.pem to check it)"))
            return checks
        }
        checks.append(chainCheck(signer: signer, intermediates: Array(certificates.dropFirst()), caFile: caFile))
        return checks
    }

    /// The signing certificate's chain to a CA certificate in `caFile` (X509_verify_cert, at
    /// the current time, with the package's other certificates as untrusted intermediates).
    private static func chainCheck(signer: OpaquePointer, intermediates: [OpaquePointer], caFile: String) -> VerificationReport.Check {
        let caText: String
        do {
            caText = try readPEMFile(caFile, what: "CA certificate")
        } catch {
            return .init(name: "certificate", passed: false, detail: error.description)
        }
        let authorities = parseCertificates(caText)
        defer { authorities.forEach { X509_free($0) } }
        guard !authorities.isEmpty, let store = X509_STORE_new() else {
            return .init(name: "certificate", passed: false, detail: "\(caFile): holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        }
        defer { X509_STORE_free(store) }
        for authority in authorities { X509_STORE_add_cert(store, authority) }
        guard let untrusted = imgship_sk_X509_new_null(), let context = X509_STORE_CTX_new() else {
            return .init(name: "certificate", passed: false, detail: "out of memory")
        }
        defer {
            X509_STORE_CTX_free(context)
            imgship_sk_X509_pop_free(untrusted)
        }
        for certificate in intermediates where X509_up_ref(certificate) == 1 {
            _ = imgship_sk_X509_push(untrusted, certificate)
        }
        guard X509_STORE_CTX_init(context, store, signer, untrusted) == 1 else {
            return .init(name: "certificate", passed: false, detail: "X509_STORE_CTX_init failed (\(drainOpenSSLErrors()))")
        }
        let trusted = X509_verify_cert(context) == 1
        let reason = String(cString: X509_verify_cert_error_string(Int(X509_STORE_CTX_get_error(context))))
        ERR_clear_error()
        return .init(
            name: "certificate", passed: trusted,
            detail: trusted
                ? "\(subjectName(signer)) chains to a CA in \(caFile)"
                : "\(subjectName(signer)) does not chain to a CA in \(caFile): \(reason)")
    }
}

extension VirtualMachineSettings.ManifestDigest {
    fileprivate var evp: OpaquePointer? {
        switch self {
        case .sha1: EVP_sha1()
        case .sha256: EVP_sha256()
        case .sha512: EVP_sha512()
        }
    }
}

/// A PEM file's text, at most 1 MiB: keys and certificate chains are a few KiB.
/// An unreadable file is a refusal naming it, before any work.
private func readPEMFile(_ path: String, what: String) throws(DiskImageError) -> String {
    let file: SourceImage
    do {
        file = try SourceImage(path: path)
    } catch {
        switch error {
        case let .system(call, _, code):
            throw DiskImageError.signing(path: path, reason: "cannot read the \(what): \(call) failed: \(String(cString: strerror(code))) (errno \(code))")
        case .unsupportedSource:
            // The opener's reason speaks of images; a key or certificate is a small file.
            var status = stat()
            let kind = SystemCalls.stat(path, &status) == 0 ? fileTypeName(status.st_mode & S_IFMT) : "not a regular file"
            throw DiskImageError.signing(path: path, reason: "is \(kind), expected a regular file holding a PEM \(what)")
        default:
            throw error
        }
    }
    guard file.fileSize <= 1 << 20 else {
        throw DiskImageError.signing(path: path, reason: "is \(file.fileSize) bytes, not a PEM \(what) (expected at most 1 MiB)")
    }
    return String(decoding: try file.bytes(Int(file.fileSize), at: 0, reading: "the \(what)"), as: UTF8.self)
}

/// A pass phrase callback that gives none, so OpenSSL never prompts on the terminal.
private func noPassPhrase(_: UnsafeMutablePointer<CChar>?, _: Int32, _: Int32, _: UnsafeMutableRawPointer?) -> Int32 { 0 }

private func parsePrivateKey(_ text: String) -> OpaquePointer? {
    withMemoryBIO(text, orElse: nil) { bio in PEM_read_bio_PrivateKey(bio, nil, noPassPhrase, nil) }
}

/// Every PEM certificate in `text`, in order (the caller frees them).
private func parseCertificates(_ text: String) -> [OpaquePointer] {
    let certificates = withMemoryBIO(text, orElse: []) { bio -> [OpaquePointer] in
        var found: [OpaquePointer] = []
        // Bounded: a certificate file holds a chain, not thousands of certificates.
        while found.count < 64, let certificate = PEM_read_bio_X509(bio, nil, noPassPhrase, nil) {
            found.append(certificate)
        }
        return found
    }
    ERR_clear_error()  // the end of the text is reported as an error
    return certificates
}

/// `body` run on a read-only memory BIO over `text`; `orElse` when none can be made.
private func withMemoryBIO<Result>(_ text: String, orElse: Result, _ body: (OpaquePointer) -> Result) -> Result {
    var bytes = Array(text.utf8)
    return bytes.withUnsafeMutableBytes { buffer in
        guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(clamping: buffer.count)) else { return orElse }
        defer { BIO_free(bio) }
        return body(bio)
    }
}

/// The certificate as PEM text, written by OpenSSL (so only the certificate is copied, never
/// comments or keys the input file held around it).
private func pemText(_ certificate: OpaquePointer) -> String {
    guard let bio = BIO_new(BIO_s_mem()) else { return "" }
    defer { BIO_free(bio) }
    guard PEM_write_bio_X509(bio, certificate) == 1 else { return "" }
    var bytes = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(bio)))
    let count = bytes.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(clamping: $0.count)) }
    return String(decoding: bytes.prefix(max(0, Int(count))), as: UTF8.self)
}

private func subjectName(_ certificate: OpaquePointer) -> String {
    var buffer = [CChar](repeating: 0, count: 512)
    guard X509_NAME_oneline(X509_get_subject_name(certificate), &buffer, Int32(buffer.count)) != nil else { return "the certificate" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func bytes(hex: Substring) -> [UInt8]? {
    let digits = Array(hex.utf8)
    guard !digits.isEmpty, digits.count % 2 == 0, digits.count <= 2 * 4096 else { return nil }
    func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    var index = 0
    while index < digits.count {
        guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
        out.append(high << 4 | low)
        index += 2
    }
    return out
}

/// The reasons OpenSSL queued, oldest first, and the queue emptied.
private func drainOpenSSLErrors() -> String {
    var reasons: [String] = []
    while case let code = ERR_get_error(), code != 0 {
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return reasons.isEmpty ? "no reason given" : reasons.joined(separator: "; ")
}
