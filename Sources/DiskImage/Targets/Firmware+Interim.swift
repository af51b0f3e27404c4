// Interim until the OVA branch lands its own VirtualMachineSettings.Firmware.
extension VirtualMachineSettings {
    public enum Firmware: String, Sendable, CaseIterable, Codable {
        case bios, efi
    }
}

extension VirtualMachineSettings {
    mutating func apply(_ decision: TargetDecision) {}
}
