extension OVA {
    /// An OVF 1.0 descriptor for one disk of `capacity` bytes held in `diskFile` (`diskFileSize`
    /// bytes), attached to the controller the VMDK's adapter names.
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
              <VirtualSystem ovf:id="\(name)">
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
                    <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>
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
                </VirtualHardwareSection>
              </VirtualSystem>
            </Envelope>

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

    /// An OVF manifest line: `SHA256(name)= hex`.
    static func manifestLine(name: String, digest: String) -> String {
        "SHA256(\(name))= \(digest)\n"
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
