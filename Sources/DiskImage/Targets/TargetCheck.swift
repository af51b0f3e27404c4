/// What `imgship check IMAGE --target T` found: every rule of the target run against an image
/// that already exists, kept or broken, each with its source. Nothing is written.
public struct TargetCheckReport: Sendable {
    /// A broken `refuse` rule means the platform's importer rejects the image (exit 1); a broken
    /// `warn` rule is something it is known to take badly but takes.
    public enum Effect: String, Sendable { case refuse, warn }

    public struct Rule: Sendable {
        /// What the rule asks: "format the target imports", "ovf:size matches the member", ...
        public var name: String
        public var effect: Effect
        /// Nil when the image keeps the rule; otherwise what breaks it.
        public var broken: String?
        /// The document the rule comes from: a URL or a specification section.
        public var source: String
        /// Nil when the rule applies to the image; otherwise why not (an MBR rule on a GPT
        /// disk). A rule that does not apply is kept.
        public var notApplicable: String? = nil

        public var kept: Bool { broken == nil }
    }

    /// `aws`, `vsphere:6.0`, ... as `--target` reads back.
    public var target: String
    public var info: ImageInfo
    /// The firmware the disk boots with, as `info` decides it.
    public var guest: GuestInspection?
    /// The firmware the target would boot it with: an OVA's declared one, else what
    /// `export --target` would declare; nil for a disk nothing boots without a target choice.
    public var firmware: VirtualMachineSettings.Firmware?
    public var firmwareReason: String
    public var rules: [Rule]

    /// No `refuse` rule is broken.
    public var accepted: Bool { rules.allSatisfy { $0.kept || $0.effect == .warn } }
}

/// The rules of `ExportTarget+Rules.swift`, and those an image made elsewhere can break that
/// an export never does (its subformat, an OVA's layout and manifest), run against an image.
public enum TargetCheck {
    /// Opens the image at `path` (as `format`, or what its bytes say) and runs every rule of
    /// `target` against it. Throws only when the image cannot be read.
    public static func check(
        path: String, target: ExportTarget, format: SourceFormat? = nil, allowExternalExtents: Bool = false
    ) throws(DiskImageError) -> TargetCheckReport {
        let opened = try ImageReader.open(path: path, format: format, allowExternalExtents: allowExternalExtents)
        let info = opened.info
        let guest = info.guest
        var rules: [TargetCheckReport.Rule] = []
        func record(_ name: String, _ effect: TargetCheckReport.Effect, _ source: String, _ broken: String?, notApplicable: String? = nil) {
            rules.append(.init(name: name, effect: effect, broken: broken, source: source, notApplicable: notApplicable))
        }

        // The format and subformat: what `export --target` would write, or one the target
        // imports all the same.
        let written = outputFormat(info)
        let names = target.formats.map(\.rawValue).joined(separator: ", ")
        // What the names mean where they could be read two ways, for the formats named only.
        let meanings = [(OutputFormat.vmdk, "vmdk: stream-optimized"), (.ova, "ova: one stream-optimized VMDK")]
            .filter { target.formats.contains($0.0) }.map(\.1)
        let meaning = meanings.isEmpty ? "" : " (" + meanings.joined(separator: "; ") + ")"
        record(
            "a format \(target.platformName) imports", .refuse, target.formatSource,
            written.map(target.formats.contains) == true
                ? nil
                : "\(target.platformName) imports \(names)\(meaning); this image is \(info.format.rawValue) \(info.subformat)"
        )

        // The format's own consistency checks (a VHD's footer and dynamic header checksums,
        // VHDX's stored copies, a VDI's block count, a GCE tar's end): what `verify` lists.
        // An importer that checks them refuses the file (qemu-img opens no VHD whose footer
        // checksum is wrong, block/vpc.c). An OVA's own are its package rules below, and its
        // disk, a stream-optimized VMDK, has none.
        let failedChecks = info.format == .ova ? [] : opened.failedChecks
        record(
            "the format's own checksums and copies hold", .refuse, "the format's specification (imgship verify lists each check)",
            failedChecks.isEmpty ? nil : "failed: \(failedChecks.joined(separator: ", ")); the file is damaged or was edited without them")

        var package: OVAPackage?
        if info.format == .ova {
            let read = try OVAPackage(path: path)
            package = read
            rules += read.rules(for: target, opened: opened)
        }

        // The table's rules, with the firmware the OVA declares (vSphere's default BIOS when it
        // declares none) or the one an export would declare.
        let declared = package?.declaredFirmware
        let (decided, reason) =
            guest.map { ExportTarget.firmware(given: declared, guest: $0, for: target) } ?? (declared, "the first sectors could not be read")
        let firmwareReason =
            declared != nil
            ? "declared by the OVF"
            : package != nil && target.platform.bootsOVFFirmware ? "the OVF declares none: \(target.platform.displayName)'s default" : reason
        let firmware = declared ?? (package != nil && target.platform.bootsOVFFirmware ? .bios : decided)
        // The row's rules, then every target's. Without the first sectors only those that do
        // not read them.
        let facts = TargetRule.Facts(virtualSize: info.virtualSize, guest: guest, firmware: firmware ?? .bios)
        for rule in target.rules where guest != nil || !rule.readsGuest {
            let notApplicable = rule.notApplicable(facts)
            record(
                rule.name, rule.effect == .refuse ? .refuse : .warn, rule.source, notApplicable == nil ? rule.broken(facts) : nil,
                notApplicable: notApplicable)
        }
        if let guest {
            // vSphere boots an OVA with the firmware its OVF declares: one the disk cannot boot
            // with is a machine that does not start.
            if package != nil, target.platform.bootsOVFFirmware, let firmware {
                let boots = [.both, firmware == .efi ? .efi : .bios].contains(guest.firmware)
                record(
                    "the OVF's firmware boots the disk", .refuse,
                    "https://github.com/vmware/open-vmdk (ova/template-hw13-uefi.ovf: vmw:Config firmware)",
                    boots || guest.firmware == .none
                        ? nil
                        : "the OVF \(declared == nil ? "declares no firmware, so vSphere boots a BIOS" : "declares firmware \(firmware.rawValue)"), but the disk boots with \(guest.firmware == .efi ? "UEFI" : "a BIOS") only (\(guest.evidence.joined(separator: "; ")))"
                )
            }
        }
        return TargetCheckReport(
            target: target.description, info: info, guest: guest, firmware: firmware, firmwareReason: firmwareReason, rules: rules)
    }

    /// The output format `info` is the same as: nil for what imgship never writes for a
    /// target (a monolithicSparse VMDK, an OVA of another disk format).
    static func outputFormat(_ info: ImageInfo) -> OutputFormat? {
        ImageFormat.all.first { $0.verifiedAs == info.format && ($0.readBackSubformat ?? info.subformat) == info.subformat }?.format
    }
}

/// An OVA's members, descriptor and manifest, as the package rules read them.
struct OVAPackage {
    let path: String
    let members: [OVA.Archive.Member]
    let descriptor: String
    let manifest: (name: String, text: String)?

    /// DSP0243 (OVF 1.1), section 5.3: the descriptor first, the manifest right after it.
    static let layoutSource = "DMTF DSP0243 (OVF 1.1), section 5.3 (distribution as a single file)"
    static let referencesSource = "DMTF DSP0243 (OVF 1.1), section 7.1 (References: ovf:size is the file's size in bytes)"
    static let manifestSource = "DMTF DSP0243 (OVF 1.1), section 5.1 (manifest digests)"
    static let capacitySource = "DMTF DSP0243 (OVF 1.1), section 9.1 (DiskSection: ovf:capacity)"

    init(path: String) throws(DiskImageError) {
        self.path = path
        let file = try SourceImage(path: path)
        let archive = try OVA.Archive(file)
        members = archive.members
        func text(_ member: OVA.Archive.Member, _ what: String) throws(DiskImageError) -> String {
            guard member.size <= 16 << 20 else {
                throw DiskImageError.malformedImage(path: path, offset: member.offset, reason: "\(what) \(member.name) of \(member.size) bytes is absurd")
            }
            return String(decoding: try file.bytes(Int(member.size), at: member.offset, reading: what), as: UTF8.self)
        }
        guard let ovf = archive.member(endingWith: ".ovf").first else {
            throw DiskImageError.malformedImage(path: path, offset: 0, reason: "the archive has no .ovf descriptor, so it is not an OVA")
        }
        descriptor = try text(ovf, "the OVF descriptor")
        manifest = try archive.member(endingWith: ".mf").first.map { member throws(DiskImageError) in (member.name, try text(member, "the manifest")) }
    }

    /// The firmware the descriptor's `vmw:Config vmw:key="firmware"` declares; nil for none
    /// or a value other than bios and efi.
    var declaredFirmware: VirtualMachineSettings.Firmware? {
        guard let key = descriptor.firstRange(of: #"vmw:key="firmware""#),
            let start = descriptor[..<key.lowerBound].lastIndex(of: "<"),
            let end = descriptor[key.upperBound...].firstIndex(of: ">")
        else { return nil }
        return Self.attribute("vmw:value", in: descriptor[start..<end]).flatMap { VirtualMachineSettings.Firmware(rawValue: $0.lowercased()) }
    }

    /// The value of ` name="..."` in `element`.
    static func attribute(_ name: String, in element: Substring) -> String? {
        guard let start = element.firstRange(of: " \(name)=\"")?.upperBound, let end = element[start...].firstIndex(of: "\"") else { return nil }
        return String(element[start..<end])
    }

    /// Every `<File ...>` element of the References section: its `ovf:href` and `ovf:size`.
    var fileReferences: [(href: String, size: String?)] {
        var references: [(String, String?)] = []
        var rest = descriptor[...]
        while let open = rest.firstRange(of: "<File ") {
            guard let close = rest[open.upperBound...].firstIndex(of: ">") else { break }
            let element = rest[open.lowerBound..<close]
            if let href = Self.attribute("ovf:href", in: element) { references.append((href, Self.attribute("ovf:size", in: element))) }
            rest = rest[close...]
        }
        return references
    }

    func rules(for target: ExportTarget, opened: OpenedImage) -> [TargetCheckReport.Rule] {
        var rules: [TargetCheckReport.Rule] = []
        func record(_ name: String, _ source: String, _ broken: String?) {
            rules.append(.init(name: name, effect: .refuse, broken: broken, source: source))
        }
        let order = members.map(\.name)
        record(
            "the .ovf is the first member", Self.layoutSource,
            order.first?.lowercased().hasSuffix(".ovf") == true
                ? nil : "the members are in the order \(order.joined(separator: ", ")); the .ovf must come first")
        if let manifest {
            record(
                "the .mf follows the .ovf", Self.layoutSource,
                order.count > 1 && order[1] == manifest.name
                    ? nil : "the members are in the order \(order.joined(separator: ", ")); \(manifest.name) must come second")
        }
        for reference in fileReferences {
            let name = "ovf:size of \(reference.href)"
            guard let member = members.first(where: { $0.name == reference.href }) else {
                record(name, Self.referencesSource, "the OVF references \(reference.href), which the package does not hold")
                continue
            }
            guard let size = reference.size else { continue }
            record(
                name, Self.referencesSource,
                UInt64(size) == member.size ? nil : "the OVF says ovf:size=\"\(size)\", but the member is \(member.size) bytes")
        }
        let capacity = ovfDiskCapacity(descriptor)
        record(
            "ovf:capacity is the disk's size", Self.capacitySource,
            capacity == opened.info.virtualSize
                ? nil : "the OVF declares \(capacity.map { "\($0) bytes" } ?? "no capacity"); the disk is \(opened.info.virtualSize) bytes")
        if let manifest {
            do throws(DiskImageError) {
                for check in try ImageVerifier.packageManifestChecks(path: path) {
                    record(check.name, Self.manifestSource, check.passed ? nil : check.detail)
                }
            } catch {
                record("the manifest's digests", Self.manifestSource, "\(error)")
            }
            // The digest the target's machine declares (whatever its firmware), and the older
            // SHA-1 every reader takes.
            if let digest = target.machine(format: .ova, firmware: .bios).manifestDigest {
                let algorithms = Set(
                    manifest.text.split(whereSeparator: \.isNewline).compactMap { line in
                        line.firstIndex(of: "(").map { line[..<$0].uppercased() }
                    })
                let accepted: Set<String> = digest == .sha256 ? ["SHA1", "SHA256"] : ["SHA1"]
                let refused = algorithms.subtracting(accepted).sorted()
                record(
                    "manifest digest \(target.platformName) checks", VSphereRelease.manifestSource,
                    refused.isEmpty
                        ? nil
                        : "\(manifest.name) uses \(refused.joined(separator: ", ")); \(target.platformName) takes \(accepted.sorted().joined(separator: " or "))"
                )
            }
        }
        return rules
    }
}
