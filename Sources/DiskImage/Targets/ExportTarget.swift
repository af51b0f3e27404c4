/// A platform an export is meant for (`imgship export --target`, a job's `target`): a row of
/// `TargetPlatform.all` and, for vSphere, the release. The row picks the output format and its
/// details, and its rules check before anything is written what that platform's importer is
/// documented to reject (`ExportTarget+Rules.swift`, each rule with its source).
public struct ExportTarget: Sendable, Equatable, CustomStringConvertible {
    public let platform: TargetPlatform
    /// The release `vsphere:7.0` names (the row's default for `vsphere`); nil for a platform
    /// without releases.
    public let release: VSphereRelease?

    init(_ platform: TargetPlatform, release: VSphereRelease? = nil) {
        self.platform = platform
        self.release = release ?? platform.defaultRelease
    }

    public static let aws = ExportTarget(.aws)
    public static let azure = ExportTarget(.azure)
    public static let virtualbox = ExportTarget(.virtualbox)
    public static let hyperv = ExportTarget(.hyperv)
    public static let gcp = ExportTarget(.gcp)
    public static func vsphere(_ release: VSphereRelease) -> ExportTarget { ExportTarget(.vsphere, release: release) }

    public static func == (left: ExportTarget, right: ExportTarget) -> Bool {
        left.platform.name == right.platform.name && left.release == right.release
    }

    /// The names `--target` takes, for help texts and errors.
    public static var names: [String] { TargetPlatform.all.map { $0.releases.isEmpty ? $0.name : $0.name + "[:VERSION]" } }

    /// Reads a row's name or alias (any case), and `NAME:VERSION` for a row with releases
    /// (`vsphere:7.0`). The error text says what was expected, and shows the value with its
    /// control characters escaped (`debugDescription`), so it stays on one line.
    public init(parsing text: String) throws(ExportTargetParseError) {
        let lowered = text.lowercased()
        let (name, version) =
            lowered.firstIndex(of: ":").map { (String(lowered[..<$0]), String(lowered[lowered.index(after: $0)...])) } ?? (lowered, nil)
        guard let platform = TargetPlatform.named(name) else {
            if version != nil {
                throw ExportTargetParseError("only vsphere takes a version (vsphere:7.0); \(text.debugDescription) does not")
            }
            throw ExportTargetParseError("\(text.debugDescription) is not a target; expected one of \(Self.names.joined(separator: ", "))")
        }
        guard let version else {
            self.init(platform)
            return
        }
        guard !platform.releases.isEmpty else {
            throw ExportTargetParseError("only vsphere takes a version (vsphere:7.0); \(text.debugDescription) does not")
        }
        guard let release = VSphereRelease.named(version, in: platform.releases) else {
            throw ExportTargetParseError(
                "\(platform.displayName) version \(version.debugDescription) is not one imgship knows; expected one of \(platform.releases.map(\.version).joined(separator: ", "))"
            )
        }
        self.init(platform, release: release)
    }

    /// `aws`, `vsphere:6.5`, ...: what `init(parsing:)` reads back.
    public var description: String { release.map { "\(platform.name):\($0.version)" } ?? platform.name }

    /// The platform's name in messages: `AWS VM Import`, `vSphere 6.5`.
    public var platformName: String { release.map { "\(platform.displayName) \($0.version)" } ?? platform.displayName }

    /// The output formats the platform imports, the one written by default first.
    public var formats: [OutputFormat] { platform.formats }

    /// The format written when none is given.
    public var defaultFormat: OutputFormat { formats[0] }

    /// Where the list of formats comes from.
    var formatSource: String { platform.formatSource }

    /// The machine an export in `format` declares, booting with `firmware`.
    public func machine(format: OutputFormat, firmware: VirtualMachineSettings.Firmware) -> TargetMachine {
        platform.machine(self, format, firmware)
    }
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

    /// Where `acceptsSHA256Manifest` comes from.
    static let manifestSource = "VMware KB 2151537 (vSphere 6.0 and older check SHA-1 manifests only)"

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
    static func named(_ text: String, in known: [VSphereRelease] = known) -> VSphereRelease? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else { return nil }
        let releaseName = parts[0] + "." + (parts.count > 1 ? parts[1] : "0")
        return known.first { $0.version == releaseName }
    }
}
