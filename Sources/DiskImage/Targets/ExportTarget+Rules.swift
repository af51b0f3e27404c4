/// What an export for a target was decided to be, and why: reported by `export` (text and
/// `--json`) and used for the output's details (an OVF's firmware, the AWS import command).
public struct TargetDecision: Sendable, Equatable, Codable {
    /// `aws`, `vsphere:6.5`, ...
    public var target: String
    public var format: OutputFormat
    public var firmware: VirtualMachineSettings.Firmware
    /// Where the firmware came from: the flag, or what the disk's first sectors show.
    public var firmwareReason: String
    /// Hyper-V: generation 2 boots with UEFI, generation 1 with a BIOS.
    public var hyperVGeneration: Int?
    /// vSphere: the OVF's virtual hardware version (vmx-N).
    public var hardwareVersion: Int?
    /// vSphere: the digest of the OVA's manifest (`sha1` for 6.0 and older, `sha256`).
    public var manifestDigest: String?
    /// vSphere and VirtualBox: the network adapter the OVF declares.
    public var networkAdapter: String?
    /// AWS: `--boot-mode` of `aws ec2 import-image` (`uefi` or `legacy-bios`).
    public var bootMode: String?
    /// AWS: the `Format` of the import's disk container (`VMDK`, `OVA`, `VHD`, `VHDX`, `RAW`).
    public var importFormat: String?
    /// True when the firmware was read from a disk that boots either way (nil otherwise):
    /// AWS's snapshot path then registers the AMI `uefi-preferred`.
    public var bootsEitherWay: Bool?
    /// Google Compute Engine: the image's `--guest-os-features` (`UEFI_COMPATIBLE` for UEFI;
    /// empty for BIOS).
    public var guestOSFeatures: [String]?
    /// What the target is known to take badly but may still take; each names its source.
    public var warnings: [String]

    /// The decision that reports `machine`. The OVF's details (hardware version, network
    /// adapter, manifest digest) only for a format that declares a machine: a bare disk has
    /// no OVF, nothing of the machine to declare.
    init(target: String, format: OutputFormat, machine: TargetMachine, firmwareReason: String, warnings: [String]) {
        let ovf = format.entry.declaresMachine
        self.init(
            target: target, format: format, firmware: machine.firmware, firmwareReason: firmwareReason,
            hyperVGeneration: machine.hyperVGeneration, hardwareVersion: ovf ? machine.hardwareVersion : nil,
            manifestDigest: ovf ? machine.manifestDigest?.rawValue : nil, networkAdapter: ovf ? machine.networkAdapter?.reportName : nil,
            bootMode: machine.bootMode, importFormat: machine.importFormat, guestOSFeatures: machine.guestOSFeatures, warnings: warnings)
    }

    public init(
        target: String, format: OutputFormat, firmware: VirtualMachineSettings.Firmware, firmwareReason: String,
        hyperVGeneration: Int? = nil, hardwareVersion: Int? = nil, manifestDigest: String? = nil, networkAdapter: String? = nil,
        bootMode: String? = nil, importFormat: String? = nil, guestOSFeatures: [String]? = nil, warnings: [String] = []
    ) {
        self.target = target
        self.format = format
        self.firmware = firmware
        self.firmwareReason = firmwareReason
        self.hyperVGeneration = hyperVGeneration
        self.hardwareVersion = hardwareVersion
        self.manifestDigest = manifestDigest
        self.networkAdapter = networkAdapter
        self.bootMode = bootMode
        self.importFormat = importFormat
        self.guestOSFeatures = guestOSFeatures
        self.warnings = warnings
    }
}

/// One documented rule of a target's importer: what breaks it, and the document it comes
/// from. A broken `.refuse` rule stops the export before any output exists; a broken `.warn`
/// rule is told with the summary.
struct TargetRule: Sendable {
    enum Effect: Sendable { case refuse, warn }

    /// What a rule looks at: known after the source is opened, before anything is written.
    struct Facts: Sendable {
        var virtualSize: UInt64
        /// Nil for an image whose first sectors could not be read (`imgship check`): only the
        /// rules that do not read them are checked (`readsGuest`).
        var guest: GuestInspection?
        var firmware: VirtualMachineSettings.Firmware
    }

    /// What the rule asks, as `imgship check` lists it.
    let name: String
    let effect: Effect
    /// The document the rule comes from: a URL.
    let source: String
    /// nil when the export keeps the rule; otherwise what breaks it, as a clause.
    let broken: @Sendable (Facts) -> String?
    /// Whether the rule is checked only with the disk's first sectors read (`Facts.guest`).
    var readsGuest = true
    /// Nil when the rule applies to the disk; otherwise why it does not (`imgship check`
    /// shows it `n/a`, not `ok`).
    var notApplicable: @Sendable (Facts) -> String? = { _ in nil }
}

extension TargetRule {
    static let tebibyte: UInt64 = 1 << 40

    /// Why a rule about MBR disks says nothing of this one.
    static let mbrOnly: @Sendable (Facts) -> String? = { facts in
        guard let table = facts.guest?.partitionTable, table != .mbr else { return nil }
        return table == .gpt ? "the disk has a GPT, not an MBR" : "the disk has no partition table"
    }
    static let mebibyte: UInt64 = 1 << 20

    /// Every target's rules, after its own (`TargetPlatform.rules`).
    static let everyTarget: [TargetRule] = [.bootable, .firmwareBootsDisk]

    // Azure: "Prepare Linux images for Azure", general notes. An export keeps it by rounding
    // the size up (`TargetPlatform.azure.adjust`); `imgship check` finds an image that does not.
    static let azureWholeMiB = TargetRule(
        name: "virtual size a whole MiB",
        effect: .refuse,
        source: "https://learn.microsoft.com/azure/virtual-machines/linux/create-upload-generic",
        broken: { facts in
            facts.virtualSize % mebibyte == 0
                ? nil
                : "Azure takes a fixed VHD whose virtual size is a whole MiB (the file N MiB + 512 bytes); this one is \(facts.virtualSize) bytes"
        }, readsGuest: false)

    // Google Compute Engine: "Import a custom image", "Requirements for the image file": the
    // disk.raw file's size a whole multiple of 1 GB (whole GiB). An export keeps it by
    // rounding the size up (`TargetPlatform.gcp.adjust`); `imgship check` finds an image that
    // does not.
    static let gcpWholeGiB = TargetRule(
        name: "virtual size a whole GiB",
        effect: .refuse,
        source: GCE.requirementsSource,
        broken: { facts in
            facts.virtualSize % GCE.sizeUnit == 0
                ? nil
                : "Google Compute Engine takes a disk.raw whose size is a whole GiB; this one is \(facts.virtualSize) bytes"
        }, readsGuest: false)

    // AWS. The VM Import/Export user guide, "Limitations for importing images".
    static let awsUnder16TiB = TargetRule(
        name: "disk under 16 TiB",
        effect: .refuse,
        source: "https://docs.aws.amazon.com/vm-import/latest/userguide/limitations-image.html",
        broken: { facts in
            facts.virtualSize >= 16 * tebibyte
                ? "VM Import takes disk images smaller than 16 TiB; this one is \(facts.virtualSize) bytes" : nil
        })

    static let awsManifestOver8TiB = TargetRule(
        name: "manifest-file import over 8 TiB",
        effect: .warn,
        source: "https://docs.aws.amazon.com/vm-import/latest/userguide/limitations-image.html",
        broken: { facts in
            facts.virtualSize > 8 * tebibyte
                ? "VM Import needs a manifest file for images over 8 TiB (this one is \(facts.virtualSize) bytes); import-image with one S3 object will be refused"
                : nil
        })

    // EBS boots an MBR volume of at most 2 TiB: an MBR cannot address more.
    static let awsMBRAtMost2TiB = TargetRule(
        name: "MBR disk at most 2 TiB",
        effect: .refuse,
        source: "https://docs.aws.amazon.com/ebs/latest/userguide/volume_constraints.html#partitioning",
        broken: { facts in
            facts.guest?.partitionTable == .mbr && facts.virtualSize > 2 * tebibyte
                ? "an MBR-partitioned EBS volume holds at most 2 TiB; this disk has an MBR and is \(facts.virtualSize) bytes (convert it to GPT first)"
                : nil
        }, notApplicable: mbrOnly)

    // Elsewhere an MBR over 2 TiB imports, but its 32-bit sector numbers (LBA and count of
    // 512-byte sectors, UEFI 2.10 §5.2.1 Table 5-2) cannot reach past 2 TiB.
    static let mbrReachesWholeDisk = TargetRule(
        name: "MBR partitions reach the whole disk",
        effect: .warn,
        source: "UEFI 2.10, section 5.2.1 (Legacy MBR: 32-bit StartingLBA and SizeInLBA)",
        broken: { facts in
            facts.guest?.partitionTable == .mbr && facts.virtualSize > 2 * tebibyte
                ? "an MBR addresses at most 2 TiB; this disk has an MBR and is \(facts.virtualSize) bytes, so the space past 2 TiB cannot be partitioned (convert it to GPT)"
                : nil
        }, notApplicable: mbrOnly)

    // Azure. Direct upload sizes: the DiskCreationData.UploadSizeBytes reference gives
    // 20,972,032 (20 MiB + 512) to 35,183,298,347,520 (32 TiB + 512) bytes of file.
    static let azureAtLeast20MiB = TargetRule(
        name: "at least 20 MiB",
        effect: .refuse,
        source: "https://learn.microsoft.com/dotnet/api/azure.resourcemanager.compute.models.diskcreationdata.uploadsizebytes",
        broken: { facts in
            facts.virtualSize < 20 * mebibyte
                ? "Azure's direct upload takes a VHD of at least 20 MiB + 512 bytes; this disk is \(facts.virtualSize) bytes" : nil
        })

    static let azureAtMost32TiB = TargetRule(
        name: "at most 32 TiB",
        effect: .refuse,
        source: "https://learn.microsoft.com/dotnet/api/azure.resourcemanager.compute.models.diskcreationdata.uploadsizebytes",
        broken: { facts in
            facts.virtualSize > 32 * tebibyte
                ? "Azure's direct upload takes a VHD of at most 32 TiB + 512 bytes; this disk is \(facts.virtualSize) bytes" : nil
        })

    // Generation 2 ("Support for generation 2 VMs on Azure"): UEFI boot, and OS disks over
    // 2 TiB; a generation 1 (BIOS) OS disk holds at most 2 TiB.
    static let azureGeneration = TargetRule(
        name: "generation for the firmware",
        effect: .warn,
        source: "https://learn.microsoft.com/azure/virtual-machines/generation-2",
        broken: { facts in
            switch facts.firmware {
            case .efi: "the disk boots with UEFI: create the Azure disk or image as generation 2 (HyperVGeneration V2)"
            case .bios where facts.virtualSize > 2 * tebibyte:
                "a generation 1 (BIOS) OS disk holds at most 2 TiB; this one is \(facts.virtualSize) bytes (attach it as a data disk, or boot it with UEFI as generation 2)"
            case .bios: nil
            }
        })

    // Hyper-V, "Should I create a generation 1 or 2 virtual machine": generation 2 boots
    // UEFI from SCSI VHDX (up to 64 TB); generation 1 boots a BIOS from IDE, up to 2 TB.
    static let hyperVGeneration1BootDisk = TargetRule(
        name: "generation 1 boot disk at most 2 TB",
        effect: .warn,
        source: "https://learn.microsoft.com/windows-server/virtualization/hyper-v/plan/should-i-create-a-generation-1-or-2-virtual-machine-in-hyper-v",
        broken: { facts in
            facts.firmware == .bios && facts.virtualSize > 2 * tebibyte
                ? "a generation 1 (BIOS) virtual machine boots from an IDE disk of at most 2 TB; this one is \(facts.virtualSize) bytes"
                : nil
        })

    // OpenStack Glance: image_size_cap, "Maximum size of image a user can upload", 1 TiB
    // (1099511627776 bytes) unless the operator changed it. The upload is the qcow2 file,
    // which holds no more than the disk: a disk over 1 TiB may be over it.
    static let glanceImageSizeCap = TargetRule(
        name: "upload within Glance's default image_size_cap (1 TiB)",
        effect: .warn,
        source: "https://docs.openstack.org/glance/latest/configuration/glance_api.html (image_size_cap)",
        broken: { facts in
            facts.virtualSize > tebibyte
                ? "Glance refuses uploads over its image_size_cap, 1 TiB by default; this disk is \(facts.virtualSize) bytes, so its qcow2 may be over it (ask the cloud's operator, or upload fewer stored bytes)"
                : nil
        }, readsGuest: false)

    // Oracle Cloud, "Bring Your Own Image": the maximum image size is 400 GB (OCI's GB are
    // GiB, as its volume sizes are).
    static let ociAtMost400GB = TargetRule(
        name: "at most 400 GB",
        effect: .refuse,
        source: "https://docs.oracle.com/pls/topic/lookup?ctx=en%2Fsolutions%2Fopc-import-workloads&id=byoi-intro",
        broken: { facts in
            facts.virtualSize > 400 << 30
                ? "Oracle Cloud imports images of at most 400 GB (429496729600 bytes); this disk is \(facts.virtualSize) bytes" : nil
        }, readsGuest: false)

    // VirtualBox's OVF reader (src/VBox/Main/xml/ovfreader.cpp) reads firmware only from its
    // own vbox:Machine element, never from the VMware key; without it the machine gets the
    // firmware its OS type recommends, which is a BIOS for imgship's OS types.
    static let virtualBoxFirmware = TargetRule(
        name: "firmware in VirtualBox's importer",
        effect: .warn,
        source: "https://www.virtualbox.org/browser/vbox/trunk/src/VBox/Main/xml/ovfreader.cpp",
        broken: { facts in
            facts.firmware == .efi
                ? "VirtualBox's importer takes the firmware from its own vbox:Machine settings only, so the imported machine boots with a BIOS; switch it to EFI after the import (VBoxManage modifyvm NAME --firmware efi)"
                : nil
        })

    // Every target: a disk nothing boots (a data disk is fine to attach, not to boot).
    static let bootable = TargetRule(
        name: "something on the disk boots",
        effect: .warn,
        source: "UEFI 2.10, sections 5.2.1 and 5.3.3 (EFI system partition, LegacyBIOSBootable); GRUB manual, BIOS installation",
        broken: { facts in
            guard let guest = facts.guest else { return nil }
            return guest.firmware == .none
                ? "nothing on the disk boots (\(guest.evidence.joined(separator: "; "))): fine for a data disk, not for a virtual machine's boot disk"
                : nil
        })

    // Every target: a firmware the disk cannot boot with.
    static let firmwareBootsDisk = TargetRule(
        name: "the firmware boots the disk",
        effect: .warn,
        source: "UEFI 2.10, sections 5.2.1 and 5.3.3 (EFI system partition, LegacyBIOSBootable); GRUB manual, BIOS installation",
        broken: { facts in
            guard let guest = facts.guest else { return nil }
            return switch facts.firmware {
            case .efi where guest.firmware == .bios:
                "UEFI firmware was chosen but the disk has no EFI system partition (only a BIOS boots it): the virtual machine will not find a boot loader"
            case .bios where guest.firmware == .efi:
                "BIOS firmware was chosen but the disk boots only with UEFI (\(guest.evidence(against: .bios)))"
            default: nil
            }
        })
}

extension ExportTarget {
    /// The rules, in the order they are checked: the row's, then every target's.
    /// docs/export.md, "Targets", lists the same.
    var rules: [TargetRule] { platform.rules + TargetRule.everyTarget }

    /// The firmware to declare for `target` (nil: an OVA exported without one), with the
    /// reason for the report: the one given, else the one the disk boots with. A disk that
    /// boots either way gets the row's `firmwareWhenEither` (AWS and VirtualBox: BIOS);
    /// elsewhere UEFI when the UEFI path is a GPT EFI system partition, as virt-v2v decides
    /// (convert/inspect_source.ml), else BIOS. A disk nothing boots gets BIOS with a target
    /// (a warning says why) and no firmware without one.
    public static func firmware(
        given: VirtualMachineSettings.Firmware?, guest: GuestInspection, for target: ExportTarget?
    ) -> (VirtualMachineSettings.Firmware?, String) {
        if let given { return (given, "given") }
        switch guest.firmware {
        case .efi:
            return (.efi, "read from the disk: only UEFI boots it (\(guest.uefiPath ?? "")); \(guest.evidence(against: .bios))")
        case .bios:
            return (.bios, "read from the disk: only a BIOS boots it (\(guest.biosPath ?? "")); \(guest.evidence(against: .efi))")
        case .none:
            let nothing = "nothing on the disk boots (\(guest.evidence.joined(separator: "; ")))"
            return target == nil ? (nil, nothing) : (.bios, "the default: " + nothing)
        case .both:
            let either = "read from the disk: it boots either way (\(guest.evidence.joined(separator: "; ")))"
            if let (firmware, why) = target?.platform.firmwareWhenEither { return (firmware, either + "; " + why) }
            return guest.hasGPTEFISystemPartition
                ? (.efi, either + "; UEFI, as virt-v2v picks when a GPT EFI system partition exists")
                : (.bios, either + "; BIOS, as virt-v2v picks UEFI only for a GPT EFI system partition")
        }
    }

    /// Refuses a format the target does not import, before the source is read.
    public func checkFormat(_ format: OutputFormat) throws(DiskImageError) {
        guard formats.contains(format) else {
            let names = formats.map(\.rawValue)
            let list = names.count == 1 ? "only " + names[0] : names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "")
            throw DiskImageError.refusedByTarget(
                target: description, reason: "\(platformName) imports \(list), not \(format.rawValue)", source: formatSource)
        }
    }

    /// `options` as this target exports: its format checked, and the row's adjustments made
    /// (Azure: the size rounded to a whole MiB).
    func adjusted(_ options: ExportOptions) throws(DiskImageError) -> ExportOptions {
        try checkFormat(options.format)
        var options = options
        platform.adjust(&options)
        return options
    }

    /// `decide` for the disk `source` will be written as, its guest read from its first sectors.
    func decide(_ options: ExportOptions, source: any VirtualDisk, virtualSize: UInt64) throws(DiskImageError) -> TargetDecision {
        try decide(format: options.format, virtualSize: virtualSize, guest: GuestInspection.inspect(source), firmware: options.firmware)
    }

    /// Checks every rule of this target against what the export will write: the first
    /// broken refusal throws, broken warnings are returned in the decision.
    func decide(
        format: OutputFormat, virtualSize: UInt64, guest: GuestInspection, firmware given: VirtualMachineSettings.Firmware?
    ) throws(DiskImageError) -> TargetDecision {
        try checkFormat(format)
        let (decided, reason) = Self.firmware(given: given, guest: guest, for: self)
        let firmware = decided ?? .bios
        let facts = TargetRule.Facts(virtualSize: virtualSize, guest: guest, firmware: firmware)
        var warnings: [String] = []
        for rule in rules {
            guard let broken = rule.broken(facts) else { continue }
            switch rule.effect {
            case .refuse: throw DiskImageError.refusedByTarget(target: description, reason: broken, source: rule.source)
            case .warn: warnings.append("--target \(description): \(broken) (\(rule.source))")
            }
        }
        var decision = TargetDecision(
            target: description, format: format, machine: machine(format: format, firmware: firmware), firmwareReason: reason,
            warnings: warnings)
        if given == nil && guest.firmware == .both { decision.bootsEitherWay = true }
        return decision
    }
}
