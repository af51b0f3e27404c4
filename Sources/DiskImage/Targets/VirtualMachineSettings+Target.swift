extension VirtualMachineSettings {
    /// The OVF details a target fixes: the firmware decided for it, and for vSphere the
    /// release's hardware version, a VMXNET3 adapter and the manifest digest the release
    /// checks; for VirtualBox a NAT adapter (what its own "Import Appliance" gives a new
    /// machine). CPUs, memory and the OS type stay the user's.
    mutating func apply(_ decision: TargetDecision, for target: ExportTarget) {
        firmware = decision.firmware
        switch target {
        case let .vsphere(release):
            hardwareVersion = release.hardwareVersion
            networkAdapter = .vmxnet3
            manifestDigest = release.acceptsSHA256Manifest ? .sha256 : .sha1
        case .virtualbox:
            networkAdapter = .natE1000
        case .aws, .azure, .hyperv:
            break
        }
    }
}
