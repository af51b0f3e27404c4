import Foundation
import TestSupport
import Testing

@testable import DiskImage

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The virtual machines an OVA declares for vSphere and VirtualBox, each package checked by
/// readers that share no code with ours: the DMTF OVF schema (xmllint), GNU tar and Python's
/// tarfile, sha1sum/sha256sum and qemu-img.
@Suite("OVA machine settings, checked by independent readers")
struct OVAMachineTests {
    /// The settings `imgship export --target` asks for, one case a target style.
    enum Machine: String, CaseIterable, Sendable {
        case unchanged, vSphere60, vSphere7, virtualBox

        var settings: VirtualMachineSettings {
            switch self {
            case .unchanged: VirtualMachineSettings()
            case .vSphere60: VirtualMachineSettings(firmware: .bios, hardwareVersion: 11, networkAdapter: .vmxnet3, manifestDigest: .sha1)
            case .vSphere7: VirtualMachineSettings(firmware: .efi, hardwareVersion: 17, networkAdapter: .vmxnet3, manifestDigest: .sha256)
            case .virtualBox: VirtualMachineSettings(firmware: .efi, networkAdapter: .natE1000)
            }
        }
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let schema = repository + "/testdata/ovf-schema/dsp8023_1.1.1.xsd"
    static let toolsPresent = ["tar", "python3", "xmllint", "qemu-img", "sha1sum", "sha256sum"].allSatisfy { which($0) != nil }

    /// 9 MiB + 512 bytes: text, noise and holes, so the disk has compressed and skipped grains.
    static func makeSource(in folder: TemporaryFolder) throws -> String {
        let path = folder.file("source.raw")
        let image = try ImageBuilder(path: path, size: 9 * 1024 * 1024 + 512)
        try image.write(ImageBuilder.text(700_000, seed: 3), at: 4096)
        try image.write(ImageBuilder.noise(300_000, seed: 5), at: 5 * 1024 * 1024)
        return path
    }

    func run(_ tool: String, _ arguments: [String]) throws -> String {
        let result = try runProcess(try #require(which(tool)), arguments)
        #expect(result.status == 0, "\(tool) \(arguments.joined(separator: " ")): \(result.standardError)")
        return String(decoding: result.standardOutput, as: UTF8.self)
    }

    @Test(.enabled(if: toolsPresent, "needs tar, python3, xmllint (libxml2-utils), qemu-img, sha1sum and sha256sum"), arguments: Machine.allCases)
    func packageIsReadByEveryIndependentReader(_ machine: Machine) throws {
        let folder = try TemporaryFolder()
        let source = try Self.makeSource(in: folder)
        let package = folder.file("appliance.ova")
        var options = fixedOptions(.ova)
        options.machine = machine.settings
        try Exporter.export(source: source, to: .file(package), options: options)

        // Both tar readers list the members in OVF order.
        let members = "appliance.ovf\nappliance.mf\nappliance.vmdk\n"
        #expect(try run("tar", ["-tf", package]) == members)
        let pythonListing = try run("python3", ["-c", "import sys, tarfile\nfor m in tarfile.open(sys.argv[1]): print(m.name)", package])
        #expect(pythonListing == members)
        let extracted = folder.file("extracted")
        try FileManager.default.createDirectory(atPath: extracted, withIntermediateDirectories: true)
        _ = try run("tar", ["-xf", package, "-C", extracted])
        let descriptor = extracted + "/appliance.ovf"

        // The DMTF schema takes the descriptor; --nonet keeps it to the schema files in git.
        let validation = try runProcess(try #require(which("xmllint")), ["--noout", "--nonet", "--schema", Self.schema, descriptor])
        #expect(validation.status == 0, "\(validation.standardError)")
        #expect(validation.standardError.contains("appliance.ovf validates"), "\(validation.standardError)")

        // Every manifest line is the digest sha1sum or sha256sum computes, in the manifest's
        // algorithm.
        let (tool, name) = machine.settings.manifestDigest == .sha1 ? ("sha1sum", "SHA1") : ("sha256sum", "SHA256")
        var expected = ""
        for member in ["appliance.ovf", "appliance.vmdk"] {
            let digest = try run(tool, [extracted + "/" + member]).prefix { $0 != " " }
            expected += "\(name)(\(member))= \(digest)\n"
        }
        #expect(try String(contentsOfFile: extracted + "/appliance.mf", encoding: .utf8) == expected)

        // The disk inside holds the source's bytes, and imgship's own verifier agrees.
        _ = try run("qemu-img", ["compare", "-f", "raw", "-F", "vmdk", source, extracted + "/appliance.vmdk"])
        let report = try ImageVerifier.verify(path: package)
        #expect(report.passed, "\(report.checks.filter { !$0.passed })")

        try expectDeclarations(of: machine.settings, in: descriptor)
    }

    /// The hardware version, firmware and network adapter the settings ask for, and nothing the
    /// settings leave out.
    func expectDeclarations(of settings: VirtualMachineSettings, in descriptor: String) throws {
        let document = try XMLDocument(contentsOf: URL(fileURLWithPath: descriptor), options: [])
        func elements(_ path: String) throws -> [XMLElement] { try document.nodes(forXPath: path).compactMap { $0 as? XMLElement } }
        func text(_ item: XMLElement, _ name: String) -> String? { item.elements(forName: name).first?.stringValue }

        let systemType = try elements("//*[local-name()='VirtualSystemType']").map { $0.stringValue ?? "" }
        #expect(systemType == ["vmx-\(settings.hardwareVersion)"])

        let firmware = try elements("//*[local-name()='VirtualHardwareSection']/*[local-name()='Config']")
            .filter { $0.attribute(forName: "vmw:key")?.stringValue == "firmware" }
        #expect(firmware.map { $0.attribute(forName: "vmw:value")?.stringValue } == (settings.firmware.map { [$0.rawValue] } ?? []))
        #expect(firmware.allSatisfy { $0.attribute(forName: "ovf:required")?.stringValue == "false" })
        // DSP8023's VirtualHardwareSection_Type is System, Items, then the other namespaces'
        // elements; libxml2 lets an Item follow a vmw:Config, so the order is checked here.
        let hardware = try elements("//*[local-name()='VirtualHardwareSection']/*").map { $0.localName ?? "" }
        #expect(hardware.drop { $0 != "Item" }.drop { $0 == "Item" }.allSatisfy { $0 == "Config" }, "\(hardware)")

        let adapters = try elements("//*[local-name()='Item']").filter { text($0, "rasd:ResourceType") == "10" }
        let networks = try elements("//*[local-name()='NetworkSection']/*[local-name()='Network']").compactMap {
            $0.attribute(forName: "ovf:name")?.stringValue
        }
        switch settings.networkAdapter {
        case nil:
            #expect(adapters.isEmpty)
            #expect(networks.isEmpty)
        case .vmxnet3?:
            #expect(adapters.map { text($0, "rasd:ResourceSubType") } == ["VmxNet3"])
            #expect(adapters.map { text($0, "rasd:Connection") } == ["VM Network"])
            #expect(networks == ["VM Network"])
        case .natE1000?:
            #expect(adapters.map { text($0, "rasd:ResourceSubType") } == ["E1000"])
            #expect(adapters.map { text($0, "rasd:Connection") } == ["NAT"])
            #expect(networks == ["NAT"])
        }
    }

    /// The descriptor of default settings is byte for byte the one imgship wrote before machine
    /// settings grew firmware, networks and hardware versions (made by the previous release
    /// for a 24 MiB disk whose VMDK is 3,094,016 bytes).
    @Test func defaultDescriptorIsUnchanged() throws {
        let golden = try String(contentsOfFile: Self.repository + "/testdata/ovf-golden/default.ovf", encoding: .utf8)
        let descriptor = OVA.descriptor(
            machineName: "gold", diskFile: "gold.vmdk", diskFileSize: 3_094_016, capacity: 24 << 20,
            adapter: .lsilogic, settings: VirtualMachineSettings())
        #expect(descriptor == golden)
    }

    @Test func manifestLinesNameTheirDigest() {
        #expect(OVA.manifestLine(name: "a.ovf", digest: "00ff", algorithm: .sha1) == "SHA1(a.ovf)= 00ff\n")
        #expect(OVA.manifestLine(name: "a.ovf", digest: "00ff", algorithm: .sha256) == "SHA256(a.ovf)= 00ff\n")
        // FIPS 180 test vector "abc".
        #expect(MessageDigestHasher.hex(Array("abc".utf8), .sha1) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(MessageDigestHasher.hex(Array("abc".utf8), .sha256) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// A member over 8 GiB - 1 (the most 11 octal digits hold) gets a base-256 size. GNU tar
    /// and Python's tarfile must read that size and find the member after it where the size
    /// says; the archive is sparse, so its 9 GiB cost no disk space or time.
    @Test(.enabled(if: which("tar") != nil && which("python3") != nil, "needs tar and python3"))
    func aMemberOverEightGiBIsReadByTarReaders() throws {
        let folder = try TemporaryFolder()
        let archive = folder.file("large.ova")
        let largeSize = UInt64(9) << 30 + 1
        let large = try #require(USTAR.header(name: "large.vmdk", size: largeSize, modificationTime: 1_700_000_000))
        #expect(large[124] == 0x80, "a size over 8 GiB - 1 is written in base-256")
        let trailer = Array("after\n".utf8)
        let trailerHeader = try #require(USTAR.header(name: "after.txt", size: UInt64(trailer.count), modificationTime: 1_700_000_000))
        let trailerOffset = UInt64(USTAR.blockSize) + largeSize + UInt64(USTAR.padding(after: largeSize))
        let image = try ImageBuilder(path: archive, size: trailerOffset + 3 * UInt64(USTAR.blockSize) + UInt64(USTAR.blockSize))
        try image.write(large, at: 0)
        try image.write(trailerHeader + trailer, at: trailerOffset)

        let listing = try run("tar", ["-tvf", archive])
        #expect(listing.contains(" \(largeSize) "), "\(listing)")
        #expect(listing.hasSuffix("after.txt\n"), "\(listing)")
        let python = try run(
            "python3",
            [
                "-c",
                "import sys, tarfile\nt = tarfile.open(sys.argv[1])\nfor m in t: print(m.name, m.size)\nprint(t.extractfile('after.txt').read().decode(), end='')",
                archive,
            ])
        #expect(python == "large.vmdk \(largeSize)\nafter.txt \(trailer.count)\nafter\n")
        let members = try OVA.Archive(SourceImage(path: archive)).members
        #expect(members.map(\.name) == ["large.vmdk", "after.txt"])
        #expect(members.map(\.size) == [largeSize, UInt64(trailer.count)])
    }
}
