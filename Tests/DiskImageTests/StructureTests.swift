import Testing

@testable import DiskImage

@Suite("VHD structures, byte for byte")
struct VHDStructureTests {
    let identifier: [UInt8] = Array(0x10...0x1F)

    @Test func fixedFooterMatchesTheSpecLayout() {
        let footer = VHD.Footer(diskType: .fixed, diskSize: 100 * 1024 * 1024, timestamp: 0x1234_5678, uniqueID: identifier)
        let bytes = footer.encoded()
        #expect(bytes.count == 512)
        #expect(
            Array(bytes[0..<96])
                == hexBytes(
                    """
                    63 6f 6e 65 63 74 69 78 00 00 00 02 00 01 00 00 ff ff ff ff ff ff ff ff
                    12 34 56 78 77 69 6e 20 00 0a 00 00 57 69 32 6b 00 00 00 00 06 40 00 00
                    00 00 00 00 06 40 00 00 03 eb 0c 11 00 00 00 02 ff ff ed ad 10 11 12 13
                    14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 00 00 00 00 00 00 00 00 00 00 00 00
                    """))
        #expect(bytes[96...].allSatisfy { $0 == 0 })
    }

    @Test func dynamicFooterPointsAtTheHeader() {
        let bytes = VHD.Footer(diskType: .dynamic, diskSize: 100 * 1024 * 1024, timestamp: 0x1234_5678, uniqueID: identifier).encoded()
        #expect(Array(bytes[16..<24]) == hexBytes("00 00 00 00 00 00 02 00"))
        #expect(Array(bytes[60..<68]) == hexBytes("00 00 00 03 ff ff f5 a2"))
    }

    @Test func dynamicHeaderMatchesTheSpecLayout() {
        let bytes = VHD.DynamicHeader(tableOffset: 1536, maxTableEntries: 50, blockSize: 0x20_0000).encoded()
        #expect(bytes.count == 1024)
        #expect(
            Array(bytes[0..<48])
                == hexBytes(
                    """
                    63 78 73 70 61 72 73 65 ff ff ff ff ff ff ff ff 00 00 00 00 00 00 06 00
                    00 01 00 00 00 00 00 32 00 20 00 00 ff ff f4 45 00 00 00 00 00 00 00 00
                    """))
        #expect(bytes[48...].allSatisfy { $0 == 0 })
    }

    @Test(arguments: [
        (UInt64(100 * 1024 * 1024), VHD.Geometry(cylinders: 1003, heads: 12, sectorsPerTrack: 17)),
        (UInt64(4) << 30, VHD.Geometry(cylinders: 8322, heads: 16, sectorsPerTrack: 63)),
        (UInt64(10) << 20, VHD.Geometry(cylinders: 301, heads: 4, sectorsPerTrack: 17)),
        (UInt64(200) << 30, VHD.Geometry(cylinders: 65535, heads: 16, sectorsPerTrack: 255)),
        (VHD.maximumSize, VHD.Geometry(cylinders: 65535, heads: 16, sectorsPerTrack: 255)),
    ])
    func geometryFollowsTheSpecAppendix(size: UInt64, expected: VHD.Geometry) {
        #expect(VHD.Geometry(totalSectors: size / 512) == expected)
    }
}

@Suite("VMDK structures, byte for byte")
struct VMDKStructureTests {
    @Test func headerMatchesTheSparseExtentLayout() {
        let bytes = VMDK.SparseExtentHeader(capacity: 204_801, gdOffset: VMDK.SparseExtentHeader.gdAtEnd).encoded()
        #expect(bytes.count == 512)
        #expect(
            Array(bytes[0..<80])
                == hexBytes(
                    """
                    4b 44 4d 56 03 00 00 00 01 00 03 00 01 20 03 00 00 00 00 00 80 00 00 00
                    00 00 00 00 01 00 00 00 00 00 00 00 14 00 00 00 00 00 00 00 00 02 00 00
                    00 00 00 00 00 00 00 00 ff ff ff ff ff ff ff ff 80 00 00 00 00 00 00 00
                    00 0a 20 0d 0a 01 00 00
                    """))
        #expect(bytes[80...].allSatisfy { $0 == 0 })
    }

    @Test func markersAreOneSectorWithCountSizeAndType() {
        let table = VMDK.metadataMarker(.grainTable, sectors: 4)
        #expect(table.count == 512)
        #expect(Array(table[0..<16]) == hexBytes("04 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00"))
        #expect(table[16...].allSatisfy { $0 == 0 })
        #expect(
            Array(VMDK.metadataMarker(.grainDirectory, sectors: 1)[0..<16])
                == hexBytes("01 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00"))
        #expect(
            Array(VMDK.metadataMarker(.footer, sectors: 1)[0..<16])
                == hexBytes("01 00 00 00 00 00 00 00 00 00 00 00 03 00 00 00"))
        #expect(VMDK.metadataMarker(.endOfStream, sectors: 0).allSatisfy { $0 == 0 })
    }

    @Test func descriptorNamesTheExtentAndGeometry() throws {
        let descriptor = VMDK.Descriptor(contentID: 0x0a0b0c0d, capacitySectors: 204_801, extentFileName: "disk.vmdk", adapter: .lsilogic)
        #expect(
            descriptor.text == """
                # Disk DescriptorFile
                version=1
                CID=0a0b0c0d
                parentCID=ffffffff
                createType="streamOptimized"

                # Extent description
                RW 204801 SPARSE "disk.vmdk"

                # The Disk Data Base
                #DDB
                ddb.adapterType = "lsilogic"
                ddb.geometry.cylinders = "13"
                ddb.geometry.heads = "255"
                ddb.geometry.sectors = "63"
                ddb.virtualHWVersion = "4"
                ddb.toolsInstallType = "4"
                ddb.toolsVersion = "2147483647"

                """)
        let bytes = try #require(descriptor.encoded())
        #expect(bytes.count == 20 * 512)
        let ide = VMDK.Descriptor(contentID: 1, capacitySectors: 204_801, extentFileName: "a\"b\nc", adapter: .ide).text
        #expect(ide.contains("ddb.geometry.heads = \"16\""))
        #expect(ide.contains("ddb.geometry.cylinders = \"204\""))
        #expect(ide.contains("SPARSE \"a_b_c\""))
    }

    @Test func levelsParseAsUsersWriteThem() {
        #expect(DeflateLevel(parsing: "FAST") == .fast)
        #expect(DeflateLevel(parsing: "default") == .standard)
        #expect(DeflateLevel(parsing: "best") == .libdeflate(12))
        #expect(DeflateLevel(parsing: "7") == .libdeflate(7))
        #expect(DeflateLevel(parsing: "0") == nil)
        #expect(DeflateLevel(parsing: "13") == nil)
        #expect(OutputFormat(parsing: "VMDK") == .vmdk)
        #expect(OutputFormat(parsing: "VHD") == .vhdDynamic)
        #expect(OutputFormat(parsing: "Raw") == .raw)
        #expect(OutputFormat(parsing: "QCOW2") == .qcow2)
        #expect(OutputFormat(parsing: "qed") == nil)
    }
}
