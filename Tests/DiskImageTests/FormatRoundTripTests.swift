import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// Every on-disk structure: encoded, decoded, equal; and qemu-img's own bytes decode.
@Suite("format structures round trip")
struct FormatRoundTripTests {
    let identifier: [UInt8] = Array(0x10...0x1F)

    @Test(arguments: [VHD.DiskType.fixed, .dynamic])
    func vhdFooter(type: VHD.DiskType) throws {
        let footer = VHD.Footer(diskType: type, diskSize: 100 << 20, timestamp: 0x1234_5678, uniqueID: identifier)
        let decoded = try VHD.Footer(decoding: footer.encoded())
        #expect(decoded == footer)
        #expect(decoded.encoded() == footer.encoded())
    }

    @Test func vhdFooterChecksumMismatchIsAFindingNotAnError() throws {
        var bytes = VHD.Footer(diskType: .fixed, diskSize: 1 << 20, timestamp: 1, uniqueID: identifier).encoded()
        bytes[100] ^= 0xFF
        #expect(try VHD.Footer(decoding: bytes).checksumMatches == false)
        bytes[0] = 0
        #expect(throws: DiskImageError.self) { try VHD.Footer(decoding: bytes) }
    }

    @Test func vhdDynamicHeader() throws {
        let header = VHD.DynamicHeader(tableOffset: 1536, maxTableEntries: 50, blockSize: 0x20_0000)
        #expect(try VHD.DynamicHeader(decoding: header.encoded()) == header)
    }

    @Test func vmdkSparseExtentHeader() throws {
        let header = VMDK.SparseExtentHeader(capacity: 204_801, gdOffset: 12_345)
        #expect(try VMDK.SparseExtentHeader(decoding: header.encoded()) == header)
    }

    @Test(arguments: [VMDK.MarkerType.grainTable, .grainDirectory, .footer])
    func vmdkMetadataMarker(type: VMDK.MarkerType) {
        let marker = VMDK.MetadataMarker(type, sectors: 4)
        #expect(VMDK.MetadataMarker(decoding: marker.encoded()) == marker)
    }

    @Test func vmdkGrainMarker() {
        let marker = VMDK.GrainMarker(lba: 128 * 7, compressedSize: 4321)
        #expect(VMDK.GrainMarker(decoding: marker.encoded()) == marker)
    }

    @Test func vmdkDescriptor() throws {
        let descriptor = VMDK.Descriptor(contentID: 0x0a0b_0c0d, capacitySectors: 204_801, extentFileName: "disk.vmdk", adapter: .ide)
        let decoded = try VMDK.Descriptor(decoding: try #require(descriptor.encoded()), path: "disk.vmdk")
        #expect(decoded == descriptor)
        #expect(decoded.text == descriptor.text)
        #expect(decoded.adapterType == "ide")
    }

    @Test(arguments: [UInt32(2), 3])
    func qcow2Header(version: UInt32) throws {
        var header = QCOW2.Header(
            version: version, clusterBits: 16, size: 1 << 30, l1Size: 2, l1TableOffset: 0x30000,
            refcountTableOffset: 0x10000, refcountTableClusters: 1)
        if version == 3 { header.incompatibleFeatures = 1 }
        #expect(try QCOW2.Header(decoding: header.encoded()) == header)
    }

    @Test func ovaTarHeader() throws {
        let header = OVA.TarHeader(name: "appliance.vmdk", size: 9 << 30, modificationTime: 1_700_000_000)
        let bytes = try #require(header.encoded())
        #expect(try OVA.TarHeader(decoding: bytes, at: 0, path: "x.ova") == header)
        #expect(try OVA.TarHeader(decoding: [UInt8](repeating: 0, count: 512), at: 0, path: "x.ova") == nil)
    }

    // qemu-img's bytes.

    func qemuImage(_ arguments: [String], _ name: String, in folder: TemporaryFolder) throws -> [UInt8] {
        let path = folder.file(name)
        let result = try runProcess(try #require(which("qemu-img")), ["create", "-q"] + arguments + [path, "64M"])
        #expect(result.status == 0, "\(result.standardError)")
        return try readFile(path)
    }

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img"))
    func qemuVHDDecodes() throws {
        let folder = try TemporaryFolder()
        let file = try qemuImage(["-f", "vpc"], "q.vhd", in: folder)
        let footer = try VHD.Footer(decoding: file, at: file.count - 512)
        #expect(footer.diskType == .dynamic)
        #expect(footer.checksumMatches)
        #expect(footer.dataOffset == 512)
        #expect(try VHD.Footer(decoding: file) == footer)
        let header = try VHD.DynamicHeader(decoding: Array(file[512..<1536]))
        #expect(header.checksumMatches)
        #expect(header.blockSize == 0x20_0000)
        #expect(UInt64(header.maxTableEntries) * UInt64(header.blockSize) >= footer.virtualSize)
    }

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img"))
    func qemuVMDKDecodes() throws {
        let folder = try TemporaryFolder()
        let file = try qemuImage(["-f", "vmdk", "-o", "subformat=streamOptimized"], "q.vmdk", in: folder)
        let header = try VMDK.SparseExtentHeader(decoding: Array(file[0..<512]))
        #expect(header.capacity == (64 << 20) / 512)
        #expect(header.isCompressed && header.hasMarkers)
        #expect(header.encoded() == Array(file[0..<512]))
        let start = Int(header.descriptorOffset) * 512
        let descriptor = try VMDK.Descriptor(decoding: Array(file[start..<(start + Int(header.descriptorSize) * 512)]), path: "q.vmdk")
        #expect(descriptor.createType == "streamOptimized")
        #expect(descriptor.extents.map(\.sectors) == [header.capacity])
    }

    @Test(.enabled(if: which("qemu-img") != nil, "needs qemu-img"), arguments: ["0.10", "1.1"])
    func qemuQCOW2Decodes(compat: String) throws {
        let folder = try TemporaryFolder()
        let file = try qemuImage(["-f", "qcow2", "-o", "compat=\(compat)"], "q.qcow2", in: folder)
        let header = try QCOW2.Header(decoding: file)
        #expect(header.version == (compat == "0.10" ? 2 : 3))
        #expect(header.size == 64 << 20)
        #expect(header.clusterBits == 16)
        let length = Int(header.headerLength)
        #expect(header.encoded() == Array(file[0..<length]))
    }
}
