#if canImport(Glibc)
import Glibc
#endif

/// What `imgship verify` found: every check made, passed or not, in order.
public struct VerificationReport: Sendable {
    public struct Check: Sendable {
        public var name: String
        public var passed: Bool
        /// What was seen, for the line printed after the name.
        public var detail: String
    }

    public var info: ImageInfo?
    public var checks: [Check] = []
    public var sha256: String?

    public var passed: Bool { !checks.isEmpty && checks.allSatisfy(\.passed) }

    mutating func record(_ name: String, _ passed: Bool, _ detail: String) {
        checks.append(Check(name: name, passed: passed, detail: detail))
    }
}

public enum ImageVerifier {
    /// What `verify` does about the image's sha256sum manifest.
    public enum ManifestCheck: Sendable {
        /// Compare with the manifest when there is one; a missing default manifest passes.
        case ifPresent
        /// A missing manifest is a failed check (`imgship verify`, unless --no-manifest).
        case required
        /// Compute no digest and compare nothing (`imgship verify --no-manifest`).
        case skipped
    }

    /// Walks the whole structure of the image at `path` (tables on open, then every stored
    /// cluster read and every compressed one inflated), then compares the file's SHA-256 with
    /// `manifestPath`, or `path.sha256` when it exists. Problems are checks that failed; only
    /// an image that cannot be opened at all throws. `allowExternalExtents` is
    /// `ImageReader.open`'s; `manifestCheck` says what a missing manifest means. A signed
    /// OVA's signature is checked, and its certificate against the CA certificates in
    /// `caFile` when one is given (which then requires a signed OVA).
    public static func verify(
        path: String, format: SourceFormat? = nil, manifestPath: String? = nil,
        manifestCheck: ManifestCheck = .ifPresent,
        allowExternalExtents: Bool = false,
        caFile: String? = nil,
        progress: (@Sendable (ExportProgress) -> Void)? = nil
    ) throws(DiskImageError) -> VerificationReport {
        var report = VerificationReport()
        let opened: OpenedImage
        do {
            opened = try ImageReader.open(path: path, format: format, allowExternalExtents: allowExternalExtents)
        } catch let error {
            if case .malformedImage = error {
                report.record("structure", false, "\(error)")
                return report
            }
            throw error
        }
        report.info = opened.info
        report.record("structure", true, "header and every table entry lie inside the file")
        for finding in opened.findings {
            report.record(finding.check, finding.passed, finding.passed ? "matches" : "does not match")
        }
        report.checks += try streamChecks(opened)
        if opened.info.format == .ova {
            report.checks += try packageManifestChecks(path: path, caFile: caFile)
        } else if let caFile {
            report.record("signature", false, "--ca-file \(caFile) checks the signature of an OVA; this is \(opened.info.format.rawValue), which has none")
        }

        // Every byte of data the tables point at, read (and inflated) as an export would.
        let disk = opened.disk
        let window: UInt64 = 4 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(window), alignment: 64)
        defer { buffer.deallocate() }
        var dataBytes: UInt64 = 0
        var position: UInt64 = 0
        do {
            while let next = disk.nextDataOffset(from: position) {
                let start = next / window * window
                for range in try disk.dataRanges(in: start..<min(start + window, disk.size)) {
                    try disk.readExactly(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(range.count)]), at: range.lowerBound)
                    dataBytes += UInt64(range.count)
                }
                position = start + window
                progress?(ExportProgress(phase: .checking, completed: min(position, disk.size), total: disk.size))
            }
            report.record(
                "data", true,
                "\(dataBytes) bytes of allocated data read\(opened.info.details.contains { $0.value.description.hasPrefix("deflate") } ? " and inflated" : "")")
        } catch let error {
            guard case .malformedImage = error else { throw error }
            report.record("data", false, "\(error)")
        }

        // The file's digest against its manifest.
        guard manifestCheck != .skipped else { return report }
        let file = try SourceImage(path: path)
        let digest = try Self.digest(of: file, range: 0..<file.fileSize, .sha256, progress: progress)
        report.sha256 = digest
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let manifest = manifestPath ?? path + ".sha256"
        if SystemCalls.access(manifest, F_OK) != 0 && !PendingManifest.find(for: manifest).isEmpty {
            // An export killed between moving its output and its manifest into place: finish
            // the move when the manifest it left gives this digest; otherwise the output is
            // not the one that manifest describes.
            var mismatched: [String] = []
            if let completed = PendingManifest.complete(manifest, digest: digest, name: name, mismatched: &mismatched) {
                report.record(
                    "sha256", true, "\(digest) matches \(manifest) (completed an interrupted export: the manifest was still \(splitPath(completed).name))")
            } else {
                report.record(
                    "sha256", false,
                    "\(digest), but \(manifest) is missing and the manifest an interrupted export left says \(mismatched.first ?? "something else"): the output is unverified"
                )
            }
            return report
        }
        if manifestPath == nil && SystemCalls.access(manifest, F_OK) != 0 {
            if manifestCheck == .required {
                report.record("sha256", false, "\(digest), but there is no \(manifest) to compare with (pass --no-manifest to verify without one)")
            } else {
                report.record("sha256", true, "\(digest) (no \(manifest) to compare with)")
            }
            return report
        }
        guard let text = readSmallFile(manifest) else {
            report.record("sha256", false, "cannot read the manifest \(manifest)")
            return report
        }
        let lines = ManifestLine.parse(text).map { (digest: $0.digest, name: $0.name) }
        let entry = lines.first { $0.name == name || $0.name.hasSuffix("/" + name) } ?? (lines.count == 1 ? lines[0] : nil)
        guard let entry else {
            report.record("sha256", false, "\(manifest) has no line for \(name)")
            return report
        }
        report.record(
            "sha256", entry.digest == digest,
            entry.digest == digest ? "\(digest) matches \(manifest)" : "\(digest), but \(manifest) says \(entry.digest)")
        return report
    }

    /// Checks of stream-optimized VMDK framing: the footer repeats the header, and an
    /// end-of-stream marker closes the file.
    private static func streamChecks(_ opened: OpenedImage) throws(DiskImageError) -> [VerificationReport.Check] {
        guard let image = opened.disk as? VMDK.SparseDisk, image.footerUsed else { return [] }
        let file = image.file
        var header = try file.bytes(512, at: 0, reading: "the header")
        var footer = try file.bytes(512, at: file.fileSize - 1024, reading: "the footer")
        let endMarker = try file.bytes(512, at: file.fileSize - 512, reading: "the end-of-stream marker")
        // The footer differs from the header only in the grain directory offset.
        let gdOffset = VMDK.SparseExtentHeader.Offset.gdOffset
        header.replaceSubrange(gdOffset..<(gdOffset + 8), with: [UInt8](repeating: 0, count: 8))
        footer.replaceSubrange(gdOffset..<(gdOffset + 8), with: [UInt8](repeating: 0, count: 8))
        return [
            .init(name: "footer repeats the header", passed: header == footer, detail: header == footer ? "matches" : "differs"),
            .init(name: "end-of-stream marker", passed: endMarker.allSatisfy { $0 == 0 }, detail: endMarker.allSatisfy { $0 == 0 } ? "present" : "missing"),
        ]
    }

    /// An OVA's `.mf`: every `SHA256(member)= digest`, `SHA512(...)` or `SHA1(...)` line
    /// against the member's bytes, and every member but the manifest and certificate listed
    /// (DSP0243 section 5.1: the manifest lists every file but itself and the certificate).
    /// Then the `.cert`, when the package has one or `caFile` asks for one.
    static func packageManifestChecks(path: String, caFile: String? = nil) throws(DiskImageError) -> [VerificationReport.Check] {
        let file = try SourceImage(path: path)
        let archive = try OVA.Archive(file)
        guard let manifest = archive.member(endingWith: ".mf").first else {
            return [.init(name: "OVA manifest", passed: false, detail: "the package has no .mf")]
        }
        guard manifest.size <= 1 << 20 else {
            return [.init(name: "OVA manifest", passed: false, detail: "\(manifest.name) is \(manifest.size) bytes, absurd for a manifest")]
        }
        let text = String(decoding: try file.bytes(Int(manifest.size), at: manifest.offset, reading: "the manifest"), as: UTF8.self)
        var checks: [VerificationReport.Check] = []
        var listed: Set<String> = []
        var repeated: [String: Int] = [:]
        var repeatedOrder: [String] = []
        // Each member is hashed once, whatever the manifest says: a manifest repeating the
        // line of a large disk would otherwise have it read once a line.
        var membersByName: [String: OVA.Archive.Member] = [:]
        for member in archive.members where membersByName[member.name] == nil { membersByName[member.name] = member }
        for line in text.split(whereSeparator: \.isNewline) where !line.allSatisfy(\.isWhitespace) {
            // SHA256(name)= digest
            guard let open = line.firstIndex(of: "("), let close = line.lastIndex(of: ")"), open < close,
                line[line.index(after: close)...].hasPrefix("= ")
            else {
                checks.append(.init(name: "\(manifest.name) line", passed: false, detail: "\"\(line)\" is not ALGORITHM(name)= digest"))
                continue
            }
            let algorithm = line[..<open].uppercased()
            let name = String(line[line.index(after: open)..<close])
            let expected = line[line.index(close, offsetBy: 3)...].trimmingPrefix(" ").lowercased()
            guard listed.insert(name).inserted else {
                if repeated[name] == nil { repeatedOrder.append(name) }
                repeated[name, default: 1] += 1
                continue
            }
            // The digests OVF manifests use (DSP0243 OVF 1.1 section 5.1 names SHA1; OVF 2.x
            // SHA256 and SHA512; OVF Tool 4.2 and later write SHA256 by default).
            guard let digestAlgorithm = VirtualMachineSettings.ManifestDigest(manifestName: algorithm)?.algorithm else {
                checks.append(
                    .init(
                        name: "\(name) digest", passed: false,
                        detail: "\(manifest.name) gives a \(algorithm) digest; imgship checks SHA1, SHA256 and SHA512 manifests only"))
                continue
            }
            guard let member = membersByName[name] else {
                checks.append(.init(name: "\(name) digest", passed: false, detail: "\(manifest.name) lists \(name), which the package does not hold"))
                continue
            }
            let digest = try Self.digest(of: file, range: member.offset..<(member.offset + member.size), digestAlgorithm)
            checks.append(
                .init(
                    name: "\(name) digest", passed: digest == expected,
                    detail: digest == expected ? "\(digest) matches \(manifest.name)" : "\(digest), but \(manifest.name) says \(expected)"))
        }
        for name in repeatedOrder {
            checks.append(
                .init(
                    name: "\(name) digest", passed: false,
                    detail: "\(manifest.name) lists \(name) \(repeated[name] ?? 2) times; a manifest gives one digest a file"))
        }
        let certificates = archive.member(endingWith: ".cert")
        for member in archive.members
        where member.name != manifest.name && !listed.contains(member.name) && !certificates.contains(where: { $0.name == member.name }) {
            checks.append(.init(name: "\(member.name) digest", passed: false, detail: "\(member.name) is not in \(manifest.name)"))
        }
        guard let certificate = certificates.first else {
            if let caFile {
                checks.append(
                    .init(name: "signature", passed: false, detail: "--ca-file \(caFile) was given, but the package is not signed (it holds no .cert)"))
            }
            return checks
        }
        guard certificates.count == 1, certificate.size <= 1 << 20 else {
            checks.append(
                .init(
                    name: "signature", passed: false,
                    detail: "the package holds \(certificates.count) .cert files or one over 1 MiB; a signed OVF package has one"))
            return checks
        }
        checks += OVA.signatureChecks(
            certificateFile: try file.bytes(Int(certificate.size), at: certificate.offset, reading: "the certificate file"),
            certificateName: certificate.name, manifest: try file.bytes(Int(manifest.size), at: manifest.offset, reading: "the manifest"),
            manifestName: manifest.name, caFile: caFile)
        return checks
    }

    static func digest(
        of file: SourceImage, range: Range<UInt64>, _ algorithm: MessageDigestHasher.Algorithm,
        progress: (@Sendable (ExportProgress) -> Void)? = nil
    ) throws(DiskImageError) -> String {
        let hasher = MessageDigestHasher(algorithm)
        let window = 4 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: window, alignment: 64)
        defer { buffer.deallocate() }
        var offset = range.lowerBound
        while offset < range.upperBound {
            let length = Int(min(UInt64(window), range.upperBound - offset))
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])
            try file.readExactly(into: part, at: offset)
            hasher.update(UnsafeRawBufferPointer(part))
            offset += UInt64(length)
            progress?(ExportProgress(phase: .hashing, completed: offset - range.lowerBound, total: range.upperBound - range.lowerBound))
        }
        return hasher.finalizeHex()
    }

    private static func readSmallFile(_ path: String) -> String? {
        guard let file = try? SourceImage(path: path), file.fileSize <= 16 << 20,
            let bytes = try? file.bytes(Int(file.fileSize), at: 0, reading: "the manifest")
        else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
