/// A platform an export is meant for (`imgship export --target`, a job's `target`): it picks
/// the output format and its details, and checks before anything is written what that
/// platform's importer is documented to reject (`ExportTarget+Rules.swift`, each rule with its
/// source).
public enum ExportTarget: Sendable, Equatable, CustomStringConvertible {
    /// EC2 VM Import/Export (`aws ec2 import-image`) and Image Builder's S3 export formats.
    case aws
    /// An Azure managed disk or image from an uploaded page blob: a fixed VHD.
    case azure
    /// vSphere (ESXi), deploying an OVA or attaching a stream-optimized VMDK.
    case vsphere(VSphereRelease)
    /// Oracle VirtualBox, importing an OVA ("Import Appliance").
    case virtualbox
    /// Microsoft Hyper-V, attaching a VHDX.
    case hyperv

    /// The names `--target` takes, for help texts and errors.
    public static let names = ["aws", "azure", "vsphere[:VERSION]", "virtualbox", "hyperv"]

    /// Reads `aws`, `azure`, `vsphere`, `vsphere:7.0`, `virtualbox` or `hyperv` (any case;
    /// `hyper-v` too). The error text says what was expected, and shows the value with its
    /// control characters escaped (`debugDescription`), so it stays on one line.
    public init(parsing text: String) throws(ExportTargetParseError) {
        let lowered = text.lowercased()
        let (name, version) =
            lowered.firstIndex(of: ":").map { (String(lowered[..<$0]), String(lowered[lowered.index(after: $0)...])) } ?? (lowered, nil)
        if name == "vsphere" {
            guard let version else {
                self = .vsphere(.default)
                return
            }
            guard let release = VSphereRelease.named(version) else {
                throw ExportTargetParseError(
                    "vSphere version \(version.debugDescription) is not one imgship knows; expected one of \(VSphereRelease.known.map(\.version).joined(separator: ", "))"
                )
            }
            self = .vsphere(release)
            return
        }
        if version != nil {
            throw ExportTargetParseError("only vsphere takes a version (vsphere:7.0); \(text.debugDescription) does not")
        }
        switch name {
        case "aws": self = .aws
        case "azure": self = .azure
        case "virtualbox", "vbox": self = .virtualbox
        case "hyperv", "hyper-v": self = .hyperv
        default:
            throw ExportTargetParseError("\(text.debugDescription) is not a target; expected one of \(Self.names.joined(separator: ", "))")
        }
    }

    /// `aws`, `vsphere:6.5`, ...: what `init(parsing:)` reads back.
    public var description: String {
        switch self {
        case .aws: "aws"
        case .azure: "azure"
        case let .vsphere(release): "vsphere:\(release.version)"
        case .virtualbox: "virtualbox"
        case .hyperv: "hyperv"
        }
    }

    /// The platform's name in messages.
    public var platformName: String {
        switch self {
        case .aws: "AWS VM Import"
        case .azure: "Azure"
        case let .vsphere(release): "vSphere \(release.version)"
        case .virtualbox: "VirtualBox"
        case .hyperv: "Hyper-V"
        }
    }

    /// The output formats the platform imports, the one written by default first.
    public var formats: [OutputFormat] {
        switch self {
        // VM Import/Export user guide, "Image formats supported by VM Import/Export": OVA,
        // stream-optimized VMDK, fixed and dynamic VHD and VHDX, raw. A stream-optimized VMDK
        // is the smallest upload of them.
        case .aws: [.vmdk, .ova, .vhdDynamic, .vhdFixed, .vhdx, .raw]
        // Azure takes fixed VHDs only, VHDX not ("Prepare Linux images for Azure", general
        // notes), whose virtual size is a whole MiB.
        case .azure: [.vhdFixed]
        // vSphere deploys OVF packages (an OVA) and attaches stream-optimized VMDKs.
        case .vsphere: [.ova, .vmdk]
        // VirtualBox imports appliances (an OVA, manual "Importing and Exporting Virtual
        // Machines"); the OVF carries the NAT adapter and firmware a bare disk cannot.
        case .virtualbox: [.ova]
        // Hyper-V: generation 2 boots from a SCSI VHDX only; VHDX also holds 64 TB to VHD's
        // 2040 GB ("Should I create a generation 1 or 2 virtual machine in Hyper-V?").
        case .hyperv: [.vhdx]
        }
    }

    /// The format written when none is given.
    public var defaultFormat: OutputFormat { formats[0] }
}

/// A `--target` value that names no target imgship knows.
public struct ExportTargetParseError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A vSphere release: the newest virtual hardware version its ESXi runs, and the manifest
/// digest its OVF deployment checks.
///
/// Hardware versions: Broadcom KB 315655 (formerly VMware KB 1003746), "Virtual machine
/// hardware versions", as the vSphere Automation API's `Vm.Hardware.Version` cites it: ESXi 5.5
/// runs vmx-10, 6.0 vmx-11, 6.5 vmx-13, 6.7 vmx-14, 7.0 vmx-17, 8.0 vmx-20; an update may run a
/// later one (6.7 U2 vmx-15, 7.0 U2 vmx-19, 8.0 U2 vmx-21), so each release's first version is
/// written, which every update of it deploys.
///
/// Manifests: OVF Tool 4.2 (vSphere 6.5) made SHA-256 its default; vSphere 6.0 and older
/// refuse a `SHA256(...)` manifest line (VMware KB 2151537).
public struct VSphereRelease: Sendable, Equatable {
    /// "6.5", as `--target vsphere:6.5` names it.
    public let version: String
    /// vmx-N in the OVF's `vssd:VirtualSystemType`.
    public let hardwareVersion: Int
    /// vSphere 6.0 and older check OVF manifests with SHA-1 only; 6.5 added SHA-256 (KB 2151537).
    public let acceptsSHA256Manifest: Bool

    /// The releases `--target vsphere:VERSION` knows, oldest first.
    public static let known: [VSphereRelease] = [
        VSphereRelease(version: "5.5", hardwareVersion: 10, acceptsSHA256Manifest: false),
        VSphereRelease(version: "6.0", hardwareVersion: 11, acceptsSHA256Manifest: false),
        VSphereRelease(version: "6.5", hardwareVersion: 13, acceptsSHA256Manifest: true),
        VSphereRelease(version: "6.7", hardwareVersion: 14, acceptsSHA256Manifest: true),
        VSphereRelease(version: "7.0", hardwareVersion: 17, acceptsSHA256Manifest: true),
        VSphereRelease(version: "8.0", hardwareVersion: 20, acceptsSHA256Manifest: true),
    ]

    /// `vsphere` alone: 6.5, the oldest release that takes a SHA-256 manifest, whose vmx-13
    /// every later release deploys (and what imgship's OVAs declared before targets).
    public static var `default`: VSphereRelease { known.first { $0.version == "6.5" } ?? known[0] }

    /// "7.0", "7" or "7.0.3" (the release's updates deploy the same hardware version).
    static func named(_ text: String) -> VSphereRelease? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else { return nil }
        let releaseName = parts[0] + "." + (parts.count > 1 ? parts[1] : "0")
        return known.first { $0.version == releaseName }
    }
}
