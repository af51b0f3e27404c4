import Foundation
import TestSupport
import Testing

/// Signed OVAs: `export -f ova --sign-key --sign-cert` writes NAME.cert, which `openssl dgst
/// -verify` and `openssl verify -CAfile` accept on their own; `imgship verify` checks it and
/// refuses a changed manifest, a changed disk and a foreign CA. Keys and certificates are made
/// by `openssl` in a temporary folder: a CA, a leaf it issued, and keys that do not fit.
@Suite("signed OVA packages")
struct SignedOVATests {
    static let binary = ExportCommandTests.binary
    static let tools = ["openssl", "tar", "xmllint", "sha256sum", "sha512sum"].allSatisfy { which($0) != nil }

    /// A CA, a leaf certificate it issued for `leaf.key`, and an unrelated self-signed CA.
    struct Keys {
        let folder: TemporaryFolder
        var ca: String { folder.file("ca.pem") }
        var leafKey: String { folder.file("leaf.key") }
        var leaf: String { folder.file("leaf.pem") }
        var otherCA: String { folder.file("other-ca.pem") }

        init(in folder: TemporaryFolder, leafKey algorithm: [String] = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]) throws {
            self.folder = folder
            let openssl = try #require(which("openssl"))
            let steps: [[String]] = [
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", folder.file("ca.key"), "-out", folder.file("ca.pem"), "-days", "2", "-subj",
                    "/CN=imgship test CA",
                ],
                ["genpkey"] + algorithm + ["-out", folder.file("leaf.key")],
                ["req", "-new", "-key", folder.file("leaf.key"), "-out", folder.file("leaf.csr"), "-subj", "/CN=imgship test signer"],
                [
                    "x509", "-req", "-in", folder.file("leaf.csr"), "-CA", folder.file("ca.pem"), "-CAkey", folder.file("ca.key"), "-CAcreateserial", "-out",
                    folder.file("leaf.pem"), "-days", "2",
                ],
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", folder.file("other.key"), "-out", folder.file("other-ca.pem"), "-days", "2",
                    "-subj", "/CN=another CA",
                ],
            ]
            for step in steps {
                let result = try runProcess(openssl, step)
                try #require(result.status == 0, "openssl \(step.joined(separator: " ")): \(result.standardError)")
            }
        }
    }

    func export(_ source: String, to package: String, _ extra: [String]) throws -> ProcessResult {
        try runProcess(Self.binary, ["export", source, "-f", "ova", "-o", package, "--no-progress"] + extra)
    }

    func verify(_ package: String, _ extra: [String] = []) throws -> (status: Int32, text: String) {
        let result = try runProcess(Self.binary, ["verify", package, "--no-progress", "--no-manifest"] + extra)
        return (result.status, String(decoding: result.standardOutput, as: UTF8.self) + result.standardError)
    }

    /// The package's members in order; the .cert's signature and certificates as separate files.
    func extract(_ package: String, into folder: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let tar = try #require(which("tar"))
        #expect(try runProcess(tar, ["-xf", package, "-C", folder]).status == 0)
        return String(decoding: try runProcess(tar, ["-tf", package]).standardOutput, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test(.enabled(if: tools, "needs openssl, tar, xmllint, sha256sum and sha512sum"), arguments: ["sha256", "sha512"])
    func signatureAndChainPassOpenSSL(digest: String) throws {
        let folder = try TemporaryFolder()
        let keys = try Keys(in: folder)
        let source = try ExportCommandTests().makeSource(in: folder)
        let package = folder.file("appliance.ova")
        let result = try export(source, to: package, ["--sign-key", keys.leafKey, "--sign-cert", keys.leaf, "--manifest-digest", digest])
        try #require(result.status == 0, "\(result.standardError)")

        // DSP0243: the manifest and certificate follow the descriptor, together.
        let extracted = folder.file("x")
        #expect(try extract(package, into: extracted) == ["appliance.ovf", "appliance.mf", "appliance.cert", "appliance.vmdk"])
        let validation = try runProcess(
            try #require(which("xmllint")), ["--noout", "--nonet", "--schema", TargetCommandTests.schema, extracted + "/appliance.ovf"])
        #expect(validation.status == 0, "\(validation.standardError)")

        // The manifest's lines are `SHA512(name)= digest`, and sha512sum/sha256sum agree.
        let manifest = try String(contentsOfFile: extracted + "/appliance.mf", encoding: .utf8)
        #expect(manifest.hasPrefix("\(digest.uppercased())(appliance.ovf)= "))
        let check = try runProcess("/bin/bash", ["-c", "cd \"$1\" && \(digest)sum -c appliance.mf", "check", extracted])
        #expect(check.status == 0, "\(String(decoding: check.standardOutput, as: UTF8.self)) \(check.standardError)")

        // The .cert: one signature line, then the certificate, which openssl checks alone.
        try expectOpenSSLVerifies(extracted, digest: digest, scratch: folder)
        let openssl = try #require(which("openssl"))
        let chain = try runProcess(openssl, ["verify", "-CAfile", keys.ca, folder.file("shipped.pem")])
        #expect(chain.status == 0, "\(String(decoding: chain.standardOutput, as: UTF8.self)) \(chain.standardError)")

        let info = String(decoding: try runProcess(Self.binary, ["info", package]).standardOutput, as: UTF8.self)
        #expect(info.contains("\ncertificate:       appliance.cert (signed; imgship verify checks it)\n"), "\(info)")

        // imgship verify: without a CA it says the certificate was not checked; with it, passes.
        let plain = try verify(package)
        #expect(plain.status == 0, "\(plain.text)")
        #expect(plain.text.contains("ok   signature: \(digest.uppercased()) signature of appliance.mf valid for /CN=imgship test signer"), "\(plain.text)")
        #expect(plain.text.contains("signature valid, certificate not checked against a CA"), "\(plain.text)")
        let withCA = try verify(package, ["--ca-file", keys.ca])
        #expect(withCA.status == 0, "\(withCA.text)")
        #expect(withCA.text.contains("ok   certificate: /CN=imgship test signer chains to a CA in \(keys.ca)"), "\(withCA.text)")
    }

    /// A changed manifest, a changed disk and a foreign CA each fail verify with exit 1 and a
    /// message naming what failed.
    @Test(.enabled(if: tools, "needs openssl, tar, xmllint, sha256sum and sha512sum"))
    func tamperingAndAForeignCAFail() throws {
        let folder = try TemporaryFolder()
        let keys = try Keys(in: folder)
        let source = try ExportCommandTests().makeSource(in: folder)
        let package = folder.file("appliance.ova")
        try #require(try export(source, to: package, ["--sign-key", keys.leafKey, "--sign-cert", keys.leaf]).status == 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: package))

        let foreign = try verify(package, ["--ca-file", keys.otherCA])
        #expect(foreign.status == 1)
        #expect(
            foreign.text.contains(
                "FAIL certificate: /CN=imgship test signer does not chain to a CA in \(keys.otherCA): unable to get local issuer certificate"),
            "\(foreign.text)")

        // One digit of the manifest's first digest changed (the line stays the same length).
        let manifestLine = Data("SHA256(appliance.ovf)= ".utf8)
        let digestStart = try #require(bytes.range(of: manifestLine)).upperBound
        var changedManifest = bytes
        changedManifest[digestStart] = changedManifest[digestStart] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        let tamperedManifest = folder.file("manifest.ova")
        try changedManifest.write(to: URL(fileURLWithPath: tamperedManifest))
        let manifestResult = try verify(tamperedManifest)
        #expect(manifestResult.status == 1)
        #expect(manifestResult.text.contains("FAIL signature: the SHA256 signature in appliance.cert does not match appliance.mf"), "\(manifestResult.text)")

        // A zero byte of the padding after the VMDK's embedded descriptor changed, so the
        // disk still opens: the manifest no longer matches the disk, while the signature over
        // the unchanged manifest still does.
        var changedDisk = bytes
        let descriptor = try #require(bytes.range(of: Data("# Disk DescriptorFile".utf8)))
        let end = try #require(bytes[descriptor.upperBound...].firstIndex(of: 0))
        #expect(bytes[end + 16] == 0)
        changedDisk[end + 16] = 0x20
        let tamperedDisk = folder.file("disk.ova")
        try changedDisk.write(to: URL(fileURLWithPath: tamperedDisk))
        let diskResult = try verify(tamperedDisk)
        #expect(diskResult.status != 0)
        #expect(diskResult.text.contains("FAIL appliance.vmdk digest: "), "\(diskResult.text)")
        #expect(diskResult.text.contains("ok   signature: "), "\(diskResult.text)")

        // --ca-file asks for a signed package: an unsigned one fails.
        let unsigned = folder.file("unsigned.ova")
        try #require(try export(source, to: unsigned, []).status == 0)
        let unsignedResult = try verify(unsigned, ["--ca-file", keys.ca])
        #expect(unsignedResult.status == 1)
        #expect(unsignedResult.text.contains("the package is not signed (it holds no .cert)"), "\(unsignedResult.text)")
    }

    /// ECDSA keys sign too, and openssl checks the signature.
    @Test(.enabled(if: tools, "needs openssl, tar, xmllint, sha256sum and sha512sum"))
    func ecdsaKeysSign() throws {
        let folder = try TemporaryFolder()
        let keys = try Keys(in: folder, leafKey: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
        let source = try ExportCommandTests().makeSource(in: folder)
        let package = folder.file("appliance.ova")
        let result = try export(source, to: package, ["--sign-key", keys.leafKey, "--sign-cert", keys.leaf])
        try #require(result.status == 0, "\(result.standardError)")
        let checked = try verify(package, ["--ca-file", keys.ca])
        #expect(checked.status == 0, "\(checked.text)")
    }

    /// Keys imgship will not sign with: each refused before any work, exit 2, naming the file;
    /// signing flags that do not fit the command line are usage errors (64).
    @Test(.enabled(if: tools, "needs openssl, tar, xmllint, sha256sum and sha512sum"))
    func unusableKeysAreRefusedByName() throws {
        let folder = try TemporaryFolder()
        let keys = try Keys(in: folder)
        let openssl = try #require(which("openssl"))
        let encrypted = folder.file("encrypted.key")
        try #require(try runProcess(openssl, ["genpkey", "-algorithm", "RSA", "-aes256", "-pass", "pass:secret", "-out", encrypted]).status == 0)
        let edwards = folder.file("ed25519.key")
        try #require(try runProcess(openssl, ["genpkey", "-algorithm", "ED25519", "-out", edwards]).status == 0)
        let source = try ExportCommandTests().makeSource(in: folder)
        let fifo = folder.file("fifo.pem")
        try #require(mkfifo(fifo, 0o600) == 0)
        let cases: [(key: String, certificate: String, message: String)] = [
            (folder.file("other.key"), keys.leaf, "\(folder.file("other.key")): does not match the certificate in \(keys.leaf)"),
            (encrypted, keys.leaf, "\(encrypted): the private key is encrypted and imgship takes no pass phrase"),
            (edwards, keys.leaf, "\(edwards): holds an ED25519 key; OVF signatures are made with RSA or ECDSA keys"),
            (folder.file("missing.key"), keys.leaf, "\(folder.file("missing.key")): cannot read the private key: open failed: No such file or directory"),
            (keys.leafKey, keys.leafKey, "\(keys.leafKey): holds no PEM certificate"),
            // Not files: told as keys and certificates, not as images.
            (folder.path, keys.leaf, "\(folder.path): is a directory, expected a regular file holding a PEM private key"),
            (keys.leafKey, fifo, "\(fifo): is a FIFO, expected a regular file holding a PEM certificate"),
            ("/dev/zero", keys.leaf, "/dev/zero: is a character device, expected a regular file holding a PEM private key"),
        ]
        for (key, certificate, message) in cases {
            let package = folder.file("refused.ova")
            let result = try export(source, to: package, ["--sign-key", key, "--sign-cert", certificate])
            #expect(result.status == 2, "\(key): \(result.standardError)")
            #expect(result.standardError.contains(message), "\(result.standardError)")
            #expect(!FileManager.default.fileExists(atPath: package))
        }
        let alone = try export(source, to: folder.file("a.ova"), ["--sign-key", keys.leafKey])
        #expect(alone.status == 64 && alone.standardError.contains("--sign-key and --sign-cert go together"), "\(alone.standardError)")
        let vmdk = try runProcess(
            Self.binary, ["export", source, "-f", "vmdk", "-o", folder.file("a.vmdk"), "--sign-key", keys.leafKey, "--sign-cert", keys.leaf])
        #expect(vmdk.status == 64 && vmdk.standardError.contains("--sign-key applies to OVA packages (-f ova) only"), "\(vmdk.standardError)")
    }

    /// The first line of `folder`/appliance.cert signs appliance.mf with `digest`, by `openssl
    /// dgst -verify` with the key of the certificate the .cert ships after it, which is left
    /// in `scratch`/shipped.pem.
    func expectOpenSSLVerifies(_ folder: String, digest: String, scratch: TemporaryFolder) throws {
        let certificate = try String(contentsOfFile: folder + "/appliance.cert", encoding: .utf8)
        let firstLine = try #require(certificate.split(separator: "\n").first)
        let prefix = "\(digest.uppercased())(appliance.mf)= "
        #expect(firstLine.hasPrefix(prefix))
        #expect(certificate.dropFirst(firstLine.count + 1).hasPrefix("-----BEGIN CERTIFICATE-----\n"))
        let openssl = try #require(which("openssl"))
        let signature = try #require(hexBytes(String(firstLine.dropFirst(prefix.count))))
        try Data(signature).write(to: URL(fileURLWithPath: scratch.file("sig")))
        try String(certificate.dropFirst(firstLine.count + 1)).write(toFile: scratch.file("shipped.pem"), atomically: true, encoding: .utf8)
        let publicKey = try runProcess(openssl, ["x509", "-in", scratch.file("shipped.pem"), "-pubkey", "-noout"])
        try publicKey.standardOutput.write(to: URL(fileURLWithPath: scratch.file("pub.pem")))
        let dgst = try runProcess(
            openssl, ["dgst", "-\(digest)", "-verify", scratch.file("pub.pem"), "-signature", scratch.file("sig"), folder + "/appliance.mf"])
        #expect(dgst.status == 0 && String(decoding: dgst.standardOutput, as: UTF8.self) == "Verified OK\n", "\(dgst.standardError)")
    }

    func hexBytes(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2, limitedBy: text.endIndex) ?? text.endIndex
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            out.append(byte)
            index = next
        }
        return out
    }
}
