/// The one table of targets (`imgship export --target`, a job's `target`, `imgship check
/// --target`), beside the format tables (`Formats/ImageFormat.swift`): one row a platform, with
/// its names, the formats it imports, what it changes in the options, the rules of its
/// importer (each with its source) and the machine it declares. The report, the OVF writer
/// and `check` read the row. Adding a target is one row here (and its line in `all`).
public struct TargetPlatform: Sendable {
    /// `aws`, `vsphere`: what `--target` takes, and what `ExportTarget.description` prints.
    public let name: String
    /// Other names accepted, in any case.
    let aliases: [String]
    /// The platform's name in messages: `AWS VM Import`, `vSphere` (then the release).
    let displayName: String
    /// The releases `NAME:VERSION` names, oldest first; empty for a platform without them.
    let releases: [VSphereRelease]
    /// The release `NAME` alone means.
    let defaultRelease: VSphereRelease?
    /// The output formats the platform imports, the one written by default first.
    public let formats: [OutputFormat]
    /// The document `formats` comes from: a URL.
    let formatSource: String
    /// What the target changes in the options before the export (Azure's whole-MiB rounding);
    /// the rule that says why is in `rules`.
    let adjust: @Sendable (inout ExportOptions) -> Void
    /// The platform's own rules, in the order they are checked; `TargetRule.everyTarget`
    /// follows them.
    let rules: [TargetRule]
    /// For a disk that boots either way: the firmware this platform gets and why (a clause
    /// after "; "); nil picks UEFI for a GPT EFI system partition, as virt-v2v does.
    let firmwareWhenEither: (firmware: VirtualMachineSettings.Firmware, reason: String)?
    /// Whether the platform boots an OVA with the firmware its OVF declares, and a BIOS when
    /// it declares none (vSphere; VirtualBox reads only its own vbox:Machine element).
    let bootsOVFFirmware: Bool
    /// The machine an export for `target` declares, booting with `firmware`.
    let machine: @Sendable (_ target: ExportTarget, _ format: OutputFormat, _ firmware: VirtualMachineSettings.Firmware) -> TargetMachine
    /// The commands that import an output (at a path, or nil for a stream, with its file
    /// name), printed by the report and never run; nil for none (AWS prints its own).
    var importCommands: (@Sendable (_ decision: TargetDecision, _ file: String?, _ name: String) -> TargetImportCommands)? = nil

    /// In the order help texts list them.
    public static let all: [TargetPlatform] = [aws, azure, vsphere, virtualbox, hyperv, openstack, kvm, proxmox, oci, gcp]

    /// EC2 VM Import/Export (`aws ec2 import-image`) and Image Builder's S3 export formats.
    static let aws = TargetPlatform(
        name: "aws", aliases: [], displayName: "AWS VM Import", releases: [], defaultRelease: nil,
        // VM Import/Export user guide, "Image formats supported by VM Import/Export": OVA,
        // stream-optimized VMDK, fixed and dynamic VHD and VHDX, raw. A stream-optimized VMDK
        // is the smallest upload of them.
        formats: [.vmdk, .ova, .vhdDynamic, .vhdFixed, .vhdx, .raw],
        formatSource: "https://docs.aws.amazon.com/vm-import/latest/userguide/prerequisites.html",
        adjust: { _ in },
        rules: [.awsUnder16TiB, .awsManifestOver8TiB, .awsMBRAtMost2TiB],
        // import-image takes no `uefi-preferred`, and legacy BIOS is what every x86 instance
        // type boots, the default of an AMI without a boot mode (EC2 user guide, "Determine
        // the boot mode parameter of an AMI").
        firmwareWhenEither: (.bios, "legacy-bios for AWS: import-image takes no uefi-preferred, and every x86 instance type boots legacy BIOS"),
        bootsOVFFirmware: false,
        machine: { _, format, firmware in
            TargetMachine(
                firmware: firmware, bootMode: firmware == .efi ? "uefi" : "legacy-bios", importFormat: awsImportFormat(format))
        })

    /// An Azure managed disk or image from an uploaded page blob: a fixed VHD.
    static let azure = TargetPlatform(
        name: "azure", aliases: [], displayName: "Azure", releases: [], defaultRelease: nil,
        // Azure takes fixed VHDs only, VHDX not ("Prepare Linux images for Azure", general
        // notes), whose virtual size is a whole MiB.
        formats: [.vhdFixed],
        formatSource: "https://learn.microsoft.com/azure/virtual-machines/linux/create-upload-generic",
        // The rule `azureWholeMiB`: an export rounds the size up rather than be refused.
        adjust: { $0.alignToMiB = true },
        rules: [.azureWholeMiB, .mbrReachesWholeDisk, .azureAtLeast20MiB, .azureAtMost32TiB, .azureGeneration],
        firmwareWhenEither: nil, bootsOVFFirmware: false,
        machine: { _, _, firmware in TargetMachine(firmware: firmware) })

    /// vSphere (ESXi), deploying an OVA or attaching a stream-optimized VMDK.
    static let vsphere = TargetPlatform(
        name: "vsphere", aliases: [], displayName: "vSphere", releases: VSphereRelease.known, defaultRelease: .default,
        // vSphere deploys OVF packages (an OVA) and attaches stream-optimized VMDKs.
        formats: [.ova, .vmdk],
        formatSource:
            "https://techdocs.broadcom.com/us/en/vmware-cis/vsphere/vsphere/8-0/vsphere-virtual-machine-administration-guide-8-0.html (Deploying OVF and OVA Templates)",
        adjust: { _ in },
        rules: [.mbrReachesWholeDisk],
        firmwareWhenEither: nil, bootsOVFFirmware: true,
        // The release's hardware version and manifest digest, and a VMXNET3 adapter on the
        // host's default port group.
        machine: { target, _, firmware in
            let release = target.release ?? .default
            return TargetMachine(
                firmware: firmware, hardwareVersion: release.hardwareVersion, networkAdapter: .vmxnet3,
                manifestDigest: release.acceptsSHA256Manifest ? .sha256 : .sha1)
        })

    /// Oracle VirtualBox, importing an OVA ("Import Appliance").
    static let virtualbox = TargetPlatform(
        name: "virtualbox", aliases: ["vbox"], displayName: "VirtualBox", releases: [], defaultRelease: nil,
        // VirtualBox imports appliances (an OVA, manual "Importing and Exporting Virtual
        // Machines"); the OVF carries the NAT adapter and firmware a bare disk cannot.
        formats: [.ova],
        formatSource: "https://www.virtualbox.org/manual/topics/BasicConcepts.html#ovf (Importing and Exporting Virtual Machines)",
        adjust: { _ in },
        rules: [.mbrReachesWholeDisk, .virtualBoxFirmware],
        // Its importer gives the machine a BIOS whatever the OVF declares (`virtualBoxFirmware`).
        firmwareWhenEither: (.bios, "BIOS for VirtualBox: its importer gives the machine a BIOS whatever the OVF declares"),
        bootsOVFFirmware: false,
        // A NAT adapter: what VirtualBox's own "Import Appliance" gives a new machine.
        machine: { _, _, firmware in TargetMachine(firmware: firmware, networkAdapter: .natE1000) })

    /// Microsoft Hyper-V, attaching a VHDX.
    static let hyperv = TargetPlatform(
        name: "hyperv", aliases: ["hyper-v"], displayName: "Hyper-V", releases: [], defaultRelease: nil,
        // Hyper-V: generation 2 boots from a SCSI VHDX only; VHDX also holds 64 TB to VHD's
        // 2040 GB ("Should I create a generation 1 or 2 virtual machine in Hyper-V?").
        formats: [.vhdx],
        formatSource: "https://learn.microsoft.com/windows-server/virtualization/hyper-v/plan/should-i-create-a-generation-1-or-2-virtual-machine-in-hyper-v",
        adjust: { _ in },
        rules: [.mbrReachesWholeDisk, .hyperVGeneration1BootDisk],
        firmwareWhenEither: nil, bootsOVFFirmware: false,
        // Generation 2 boots with UEFI, generation 1 with a BIOS.
        machine: { _, _, firmware in TargetMachine(firmware: firmware, hyperVGeneration: firmware == .efi ? 2 : 1) })

    /// OpenStack: a qcow2 uploaded to Glance with `openstack image create`, booted by Nova
    /// under the firmware its hw_firmware_type property names.
    static let openstack = TargetPlatform(
        name: "openstack", aliases: ["glance"], displayName: "OpenStack", releases: [], defaultRelease: nil,
        // Glance's disk formats include qcow2, the format Nova's libvirt driver runs from
        // (Glance "Disk and Container Formats"); a container format of bare: no envelope.
        formats: [.qcow2],
        formatSource: "https://docs.openstack.org/glance/latest/user/formats.html",
        adjust: { _ in },
        rules: [.mbrReachesWholeDisk, .glanceImageSizeCap],
        firmwareWhenEither: nil, bootsOVFFirmware: false,
        machine: { _, _, firmware in TargetMachine(firmware: firmware) },
        importCommands: KVMImportCommands.openstack)

    /// KVM under libvirt (virt-install, virt-manager): a qcow2 the machine runs from.
    static let kvm = TargetPlatform(
        name: "kvm", aliases: ["libvirt"], displayName: "KVM (libvirt)", releases: [], defaultRelease: nil,
        // qcow2 is libvirt's and qemu's own format (virt-install(1), --disk format=qcow2).
        formats: [.qcow2],
        formatSource: "https://libvirt.org/formatstorage.html#storage-volume-target-elements (format type qcow2)",
        adjust: { _ in },
        rules: [.mbrReachesWholeDisk],
        firmwareWhenEither: nil, bootsOVFFirmware: false,
        machine: { _, _, firmware in TargetMachine(firmware: firmware) },
        importCommands: KVMImportCommands.libvirt)

    /// Proxmox VE: a qcow2 imported into a machine's storage with `qm importdisk`.
    static let proxmox = TargetPlatform(
        name: "proxmox", aliases: ["pve"], displayName: "Proxmox VE", releases: [], defaultRelease: nil,
        // qm(1), importdisk: any format qemu-img reads; qcow2 is Proxmox's own file format.
        formats: [.qcow2],
        formatSource: "https://pve.proxmox.com/pve-docs/qm.1.html (qm importdisk)",
        adjust: { _ in },
        rules: [.mbrReachesWholeDisk],
        firmwareWhenEither: nil, bootsOVFFirmware: false,
        machine: { _, _, firmware in TargetMachine(firmware: firmware) },
        importCommands: KVMImportCommands.proxmox)

    /// Oracle Cloud Infrastructure: a custom image imported from Object Storage.
    static let oci = TargetPlatform(
        name: "oci", aliases: ["oracle"], displayName: "Oracle Cloud", releases: [], defaultRelease: nil,
        // "Importing Custom Linux-Based Images": QCOW2 or VMDK (the OCI format is Oracle's
        // own export); the CLI's --source-image-type takes QCOW2 and VMDK.
        formats: [.qcow2, .vmdk],
        formatSource: "https://docs.oracle.com/en-us/iaas/Content/Compute/Tasks/imageimportexport.htm",
        adjust: { _ in },
        rules: [.mbrReachesWholeDisk, .ociAtMost400GB],
        firmwareWhenEither: nil, bootsOVFFirmware: false,
        machine: { _, _, firmware in TargetMachine(firmware: firmware) },
        importCommands: KVMImportCommands.oci)

    /// Google Compute Engine, creating an image from a `.tar.gz` in Cloud Storage
    /// (`gcloud compute images create --source-uri`).
    static let gcp = TargetPlatform(
        name: "gcp", aliases: ["gce"], displayName: "Google Compute Engine", releases: [], defaultRelease: nil,
        // "Import a custom image", "Requirements for the image file": disk.raw in a gzip'd
        // tar (`tar --format=oldgnu -Sczf`), the one form `images create --source-uri` takes.
        formats: [.gce],
        formatSource: GCE.requirementsSource,
        // The rule `gcpWholeGiB`: an export rounds the size up rather than be refused.
        adjust: { $0.alignToGiB = true },
        rules: [.gcpWholeGiB, .mbrReachesWholeDisk],
        firmwareWhenEither: nil, bootsOVFFirmware: false,
        // An image boots UEFI only with the UEFI_COMPATIBLE guest OS feature ("Operating
        // system details", guest OS features; `gcloud compute images create
        // --guest-os-features`), BIOS without it.
        machine: { _, _, firmware in TargetMachine(firmware: firmware, guestOSFeatures: firmware == .efi ? ["UEFI_COMPATIBLE"] : []) },
        importCommands: GCPImportCommands.commands)

    /// The `Format` of an `import-image` disk container (EC2 API reference, ImageDiskContainer:
    /// OVA | VHD | VHDX | VMDK | RAW).
    static func awsImportFormat(_ format: OutputFormat) -> String {
        switch format {
        case .raw: "RAW"
        case .vhdFixed, .vhdDynamic: "VHD"
        case .vhdx: "VHDX"
        case .vmdk: "VMDK"
        case .ova: "OVA"
        // Not an import-image format; no AWS row lists qcow2.
        case .qcow2: "RAW"
        // Not in the aws row's formats: import-image never receives one.
        case .gce: ""
        }
    }

    /// The row named `name` (its name or an alias, lowercased).
    static func named(_ name: String) -> TargetPlatform? {
        all.first { $0.name == name || $0.aliases.contains(name) }
    }
}

/// The machine a target declares, typed: what the report (`TargetDecision`, text and JSON),
/// the OVF (`VirtualMachineSettings.apply`) and `imgship check --target` all read.
public struct TargetMachine: Sendable, Equatable {
    public var firmware: VirtualMachineSettings.Firmware
    /// Hyper-V: generation 2 boots with UEFI, generation 1 with a BIOS.
    public var hyperVGeneration: Int?
    /// vSphere: the OVF's virtual hardware version (vmx-N).
    public var hardwareVersion: Int?
    /// vSphere and VirtualBox: the network adapter the OVF declares.
    public var networkAdapter: VirtualMachineSettings.NetworkAdapter?
    /// vSphere: the digest of the OVA's manifest.
    public var manifestDigest: VirtualMachineSettings.ManifestDigest?
    /// AWS: `--boot-mode` of `aws ec2 import-image` (`uefi` or `legacy-bios`).
    public var bootMode: String?
    /// AWS: the `Format` of the import's disk container.
    public var importFormat: String?
    /// Google Compute Engine: the image's `--guest-os-features` (UEFI_COMPATIBLE for UEFI).
    public var guestOSFeatures: [String]?

    init(
        firmware: VirtualMachineSettings.Firmware, hyperVGeneration: Int? = nil, hardwareVersion: Int? = nil,
        networkAdapter: VirtualMachineSettings.NetworkAdapter? = nil, manifestDigest: VirtualMachineSettings.ManifestDigest? = nil,
        bootMode: String? = nil, importFormat: String? = nil, guestOSFeatures: [String]? = nil
    ) {
        self.firmware = firmware
        self.hyperVGeneration = hyperVGeneration
        self.hardwareVersion = hardwareVersion
        self.networkAdapter = networkAdapter
        self.manifestDigest = manifestDigest
        self.bootMode = bootMode
        self.importFormat = importFormat
        self.guestOSFeatures = guestOSFeatures
    }
}
