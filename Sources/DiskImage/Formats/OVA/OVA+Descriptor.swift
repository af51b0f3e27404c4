extension OVA {
    /// An OVF 1.0 descriptor for one disk of `capacity` bytes held in `diskFile` (`diskFileSize`
    /// bytes), attached to the controller the VMDK's adapter names, with the network adapter
    /// and firmware `settings` declare.
    static func descriptor(
        machineName: String, diskFile: String, diskFileSize: UInt64, capacity: UInt64,
        adapter: VMDK.Adapter, settings: VirtualMachineSettings
    ) -> String {
        let name = escapeXML(machineName)
        let file = escapeXML(diskFile)
        let os = settings.operatingSystem
        let controller: String =
            switch adapter {
            case .ide:
                """
                      <Item>
                        <rasd:Address>0</rasd:Address>
                        <rasd:Description>IDE Controller</rasd:Description>
                        <rasd:ElementName>ideController0</rasd:ElementName>
                        <rasd:InstanceID>3</rasd:InstanceID>
                        <rasd:ResourceType>5</rasd:ResourceType>
                      </Item>
                """
            case .lsilogic, .buslogic:
                """
                      <Item>
                        <rasd:Address>0</rasd:Address>
                        <rasd:Description>SCSI Controller</rasd:Description>
                        <rasd:ElementName>scsiController0</rasd:ElementName>
                        <rasd:InstanceID>3</rasd:InstanceID>
                        <rasd:ResourceSubType>\(adapter.rawValue)</rasd:ResourceSubType>
                        <rasd:ResourceType>6</rasd:ResourceType>
                      </Item>
                """
            }
        let network = settings.networkAdapter.map { networkDeclarations($0) }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
              <References>
                <File ovf:href="\(file)" ovf:id="file1" ovf:size="\(diskFileSize)"/>
              </References>
              <DiskSection>
                <Info>Virtual disk information</Info>
                <Disk ovf:capacity="\(capacity)" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
              </DiskSection>
            \(network?.section ?? "")  <VirtualSystem ovf:id="\(name)">
                <Info>A virtual machine</Info>
                <Name>\(name)</Name>
                <OperatingSystemSection ovf:id="\(os.cimIdentifier)" vmw:osType="\(os.vmwareGuest)">
                  <Info>The kind of installed guest operating system</Info>
                  <Description>\(os.description)</Description>
                </OperatingSystemSection>
                <VirtualHardwareSection>
                  <Info>Virtual hardware requirements</Info>
                  <System>
                    <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
                    <vssd:InstanceID>0</vssd:InstanceID>
                    <vssd:VirtualSystemIdentifier>\(name)</vssd:VirtualSystemIdentifier>
                    <vssd:VirtualSystemType>vmx-\(settings.hardwareVersion)</vssd:VirtualSystemType>
                  </System>
                  <Item>
                    <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
                    <rasd:Description>Number of virtual CPUs</rasd:Description>
                    <rasd:ElementName>\(settings.cpus) virtual CPU(s)</rasd:ElementName>
                    <rasd:InstanceID>1</rasd:InstanceID>
                    <rasd:ResourceType>3</rasd:ResourceType>
                    <rasd:VirtualQuantity>\(settings.cpus)</rasd:VirtualQuantity>
                  </Item>
                  <Item>
                    <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
                    <rasd:Description>Memory size</rasd:Description>
                    <rasd:ElementName>\(settings.memoryMiB) MB of memory</rasd:ElementName>
                    <rasd:InstanceID>2</rasd:InstanceID>
                    <rasd:ResourceType>4</rasd:ResourceType>
                    <rasd:VirtualQuantity>\(settings.memoryMiB)</rasd:VirtualQuantity>
                  </Item>
            \(controller)
                  <Item>
                    <rasd:AddressOnParent>0</rasd:AddressOnParent>
                    <rasd:ElementName>disk0</rasd:ElementName>
                    <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
                    <rasd:InstanceID>4</rasd:InstanceID>
                    <rasd:Parent>3</rasd:Parent>
                    <rasd:ResourceType>17</rasd:ResourceType>
                  </Item>
            \(network?.item ?? "")\(settings.firmware.map(firmwareDeclaration) ?? "")    </VirtualHardwareSection>
              </VirtualSystem>
            </Envelope>

            """
    }

    /// The NetworkSection naming the adapter's network and the adapter's Item, each a whole
    /// number of lines. DSP0243 (OVF 1.1): an adapter's `rasd:Connection` names a network
    /// listed in the NetworkSection at the Envelope level. RASD children stay in the
    /// alphabetical order of the schema's sequence (CIM_ResourceAllocationSettingData.xsd).
    private static func networkDeclarations(_ adapter: VirtualMachineSettings.NetworkAdapter) -> (section: String, item: String) {
        let (network, subtype, description) =
            switch adapter {
            // "VM Network" and "VmxNet3": the spellings of ESXi's own exports
            // (vmware/open-vmdk ova/template-hw13-uefi.ovf).
            case .vmxnet3: ("VM Network", "VmxNet3", "VMXNET3 network adapter")
            // VirtualBox's importer (ApplianceImplImport.cpp, Appliance::interpret) attaches an
            // adapter whose Connection is "NAT" to NAT (any name it does not know becomes
            // Bridged) and makes "E1000" an Intel PRO/1000 MT Server (82545EM).
            case .natE1000: ("NAT", "E1000", "E1000 network adapter")
            }
        let section = """
              <NetworkSection>
                <Info>The logical networks the virtual machine connects to</Info>
                <Network ovf:name="\(network)">
                  <Description>The \(network) network</Description>
                </Network>
              </NetworkSection>

            """
        let item = """
                  <Item>
                    <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
                    <rasd:Connection>\(network)</rasd:Connection>
                    <rasd:Description>\(description) on \(network)</rasd:Description>
                    <rasd:ElementName>ethernet0</rasd:ElementName>
                    <rasd:InstanceID>5</rasd:InstanceID>
                    <rasd:ResourceSubType>\(subtype)</rasd:ResourceSubType>
                    <rasd:ResourceType>10</rasd:ResourceType>
                  </Item>

            """
        return (section, item)
    }

    /// VMware's firmware key, after the Items as the schema's `xs:any` extension point of
    /// VirtualHardwareSection_Type requires (DSP8023 1.1.1). `ovf:required="false"`: readers
    /// that do not know the key may ignore it. VirtualBox's importer reads no firmware from an
    /// OVF without its own `vbox:Machine` element (ovfreader.cpp and Appliance::interpret read
    /// none): it gives the guest OS type's recommended firmware.
    private static func firmwareDeclaration(_ firmware: VirtualMachineSettings.Firmware) -> String {
        """
              <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="\(firmware.rawValue)"/>

        """
    }

    static func escapeXML(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// An OVF manifest line: `SHA256(name)= hex` or `SHA1(name)= hex` (DSP0243 OVF 1.1
    /// section 5.1: no space before the parenthesis, "= " after it).
    static func manifestLine(name: String, digest: String, algorithm: VirtualMachineSettings.ManifestDigest) -> String {
        "\(algorithm.manifestName)(\(name))= \(digest)\n"
    }
}

/// The disk capacity an OVF descriptor declares for its disk, in bytes: `ovf:capacity` times
/// `ovf:capacityAllocationUnits` (`byte`, or `byte * 2^N`). Nil when the text has none.
func ovfDiskCapacity(_ descriptor: String) -> UInt64? {
    func attribute(_ name: String) -> String? {
        guard let start = descriptor.firstRange(of: " " + name + "=\"")?.upperBound,
            let end = descriptor[start...].firstIndex(of: "\"")
        else { return nil }
        return String(descriptor[start..<end])
    }
    guard let capacity = attribute("ovf:capacity").flatMap(UInt64.init) else { return nil }
    guard let units = attribute("ovf:capacityAllocationUnits")?.replacing(" ", with: "") else { return capacity }
    if units == "byte" { return capacity }
    guard units.hasPrefix("byte*2^"), let power = UInt64(units.dropFirst(7)), power < 64 else { return nil }
    let (product, overflow) = capacity.multipliedReportingOverflow(by: 1 << power)
    return overflow ? nil : product
}
