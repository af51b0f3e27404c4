extension VirtualMachineSettings {
    /// The OVF details the target's row declares for `decision` (its `TargetMachine`).
    mutating func apply(_ decision: TargetDecision, for target: ExportTarget) {
        apply(target.machine(format: decision.format, firmware: decision.firmware))
    }

    /// The firmware `machine` boots with, and what it fixes of the OVF: for vSphere the
    /// release's hardware version, a VMXNET3 adapter and the manifest digest the release
    /// checks; for VirtualBox a NAT adapter. CPUs, memory and the OS type stay the user's.
    mutating func apply(_ machine: TargetMachine) {
        firmware = machine.firmware
        if let version = machine.hardwareVersion { hardwareVersion = version }
        if let adapter = machine.networkAdapter { networkAdapter = adapter }
        if let digest = machine.manifestDigest { manifestDigest = digest }
    }
}

extension VirtualMachineSettings.NetworkAdapter {
    /// The adapter and its network, as the target report names them (`networkAdapter`).
    var reportName: String {
        switch self {
        case .vmxnet3: "vmxnet3 on VM Network"
        case .natE1000: "E1000 on NAT"
        }
    }
}
