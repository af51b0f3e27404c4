#if canImport(Glibc)
import Glibc
#endif

/// The virtual machine an OVA declares around its one disk: what VMware, VirtualBox and VM
/// Import create when they import it.
public struct VirtualMachineSettings: Sendable, Equatable {
    /// Guest operating systems by their CIM `OperatingSystemSection` id and VMware guest id.
    public enum OperatingSystem: String, Sendable, CaseIterable, Codable {
        case linux64, windows64, other64

        var cimIdentifier: Int {
            switch self {
            case .linux64: 101  // CIM_OperatingSystem "Linux 64-Bit"
            case .other64: 102  // "Other 64-Bit"
            case .windows64: 103  // "Microsoft Windows Server 2008 R2" and later 64-bit Windows
            }
        }

        var vmwareGuest: String {
            switch self {
            case .linux64: "otherLinux64Guest"
            case .other64: "otherGuest64"
            case .windows64: "windows9Server64Guest"
            }
        }

        var description: String {
            switch self {
            case .linux64: "Linux 64-bit"
            case .other64: "Other 64-bit"
            case .windows64: "Microsoft Windows Server 64-bit"
            }
        }
    }

    /// The firmware the machine boots with, declared the way vSphere reads it: a VMware
    /// `vmw:Config` key `firmware` in the VirtualHardwareSection (the form ESXi's own OVF
    /// exports use; see vmware/open-vmdk's `ova/template-hw13-uefi.ovf`). VirtualBox's
    /// importer does not read it: without a `vbox:Machine` element it gives the machine the
    /// firmware its guest OS type recommends.
    public enum Firmware: String, Sendable, CaseIterable, Codable { case bios, efi }

    /// The one network adapter a package declares, with the OVF network it connects to.
    public enum NetworkAdapter: Sendable, Equatable {
        /// A VMXNET3 adapter on the network "VM Network", the default port group of a vSphere
        /// host (the names ESXi's own OVF exports use).
        case vmxnet3
        /// An Intel E1000 adapter on the network "NAT", which VirtualBox's importer attaches
        /// to its NAT engine.
        case natE1000
    }

    /// The digest of the package manifest's lines, and of the signature over the manifest
    /// when the package is signed.
    public enum ManifestDigest: String, Sendable, CaseIterable {
        case sha1, sha256, sha512

        /// The name a manifest or certificate line starts with (DSP0243 OVF 1.1 section 5.1
        /// names SHA1; OVF 2.x section 5.1 SHA256 and SHA512).
        var manifestName: String {
            switch self {
            case .sha1: "SHA1"
            case .sha256: "SHA256"
            case .sha512: "SHA512"
            }
        }

        var algorithm: MessageDigestHasher.Algorithm {
            switch self {
            case .sha1: .sha1
            case .sha256: .sha256
            case .sha512: .sha512
            }
        }

        /// The digest a manifest or certificate line names (`SHA256`, any case).
        init?(manifestName: String) {
            guard let digest = Self.allCases.first(where: { $0.manifestName == manifestName.uppercased() }) else { return nil }
            self = digest
        }
    }

    public var cpus: Int
    public var memoryMiB: Int
    public var operatingSystem: OperatingSystem
    /// Nil: no firmware is declared and each hypervisor picks its default.
    public var firmware: Firmware?
    /// The VMware virtual hardware version, `vmx-N` in `vssd:VirtualSystemType`.
    public var hardwareVersion: Int
    /// Nil: the machine has no network adapter.
    public var networkAdapter: NetworkAdapter?
    public var manifestDigest: ManifestDigest

    public init(
        cpus: Int = 2, memoryMiB: Int = 2048, operatingSystem: OperatingSystem = .linux64,
        firmware: Firmware? = nil, hardwareVersion: Int = 13, networkAdapter: NetworkAdapter? = nil,
        manifestDigest: ManifestDigest = .sha256
    ) {
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.operatingSystem = operatingSystem
        self.firmware = firmware
        self.hardwareVersion = hardwareVersion
        self.networkAdapter = networkAdapter
        self.manifestDigest = manifestDigest
    }
}

/// OVA packages (DMTF DSP0243 OVF 1.0, section 5.3 "Distribution as a single file"): a USTAR
/// archive of an OVF descriptor, its manifest, its certificate when signed, and one
/// stream-optimized VMDK, in that order.
///
/// ```
/// +---------+----------+---------+---------+---------+------------+---------+-----------+--------+
/// | tar hdr | NAME.ovf | tar hdr | NAME.mf | tar hdr | NAME.cert  | tar hdr | NAME.vmdk | 2 zero |
/// | 512     | (padded  | 512     | SHA256( | 512     | (signed    | 512     | stream-   | blocks |
/// |         |  to 512) |         | ..)= .. |         |  only)     |         | optimized | (end)  |
/// +---------+----------+---------+---------+---------+------------+---------+-----------+--------+
/// ```
/// Tar header: `OVA.TarHeader`; descriptor and manifest lines: `OVA+Descriptor.swift`;
/// certificate file: `OVA+Signature.swift`. Reading: `OVA+Reader.swift`; writing:
/// `OVA+Writer.swift`.
package enum OVA {
    /// The names of the members for a package named `name` (`appliance.ova` gives
    /// `appliance.ovf`, `appliance.mf`, `appliance.cert` when signed, `appliance.vmdk`).
    static func memberNames(forPackage name: String) -> (ovf: String, manifest: String, certificate: String, disk: String) {
        let base = name.lowercased().hasSuffix(".ova") ? String(name.dropLast(4)) : name
        return (base + ".ovf", base + ".mf", base + ".cert", base + ".vmdk")
    }
}
