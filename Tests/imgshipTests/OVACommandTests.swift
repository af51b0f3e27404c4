import Foundation
import TestSupport
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

/// `imgship export -f ova` and `imgship verify` of OVAs, run as a user would, checked with
/// tar, an XML parser, sha256 and qemu-img.
@Suite("OVA packages, end to end")
struct OVACommandTests {
    static let binary = ExportCommandTests.binary

    func exportOVA(in folder: TemporaryFolder, _ extra: [String] = []) throws -> (source: String, package: String) {
        let source = try ExportCommandTests().makeSource(in: folder)
        let package = folder.file("appliance.ova")
        let result = try runProcess(Self.binary, ["export", source, "-f", "ova", "-o", package, "--no-progress"] + extra)
        try #require(result.status == 0, "\(result.standardError)")
        return (source, package)
    }

    @Test(.enabled(if: which("tar") != nil, "needs tar"))
    func packageHoldsDescriptorManifestAndDiskInOrder() throws {
        let folder = try TemporaryFolder()
        let (source, package) = try exportOVA(in: folder, ["--cpus", "4", "--memory-mib", "8192", "--os-type", "windows64", "--adapter", "ide"])
        let tar = try #require(which("tar"))

        // Members in OVF order, as tar itself lists them.
        let listing = try runProcess(tar, ["-tf", package])
        #expect(listing.status == 0, "\(listing.standardError)")
        #expect(String(decoding: listing.standardOutput, as: UTF8.self) == "appliance.ovf\nappliance.mf\nappliance.vmdk\n")

        let extracted = folder.file("extracted")
        try FileManager.default.createDirectory(atPath: extracted, withIntermediateDirectories: true)
        #expect(try runProcess(tar, ["-xf", package, "-C", extracted]).status == 0)

        // The manifest's digests are the members' digests.
        let manifest = try String(contentsOfFile: extracted + "/appliance.mf", encoding: .utf8)
        let sha256sum = try #require(which("sha256sum"))
        var expected = ""
        for member in ["appliance.ovf", "appliance.vmdk"] {
            let digest = try runProcess(sha256sum, [extracted + "/" + member])
            expected += "SHA256(\(member))= \(String(decoding: digest.standardOutput.prefix(64), as: UTF8.self))\n"
        }
        #expect(manifest == expected)

        // The descriptor parses as XML and declares the disk, its file and the machine asked for.
        let document = try XMLDocument(contentsOf: URL(fileURLWithPath: extracted + "/appliance.ovf"), options: [])
        let disk = try #require(try document.nodes(forXPath: "//*[local-name()='Disk']").first as? XMLElement)
        #expect(disk.attribute(forName: "ovf:capacity")?.stringValue == "\(24 * 1024 * 1024 + 512)")
        #expect(disk.attribute(forName: "ovf:capacityAllocationUnits")?.stringValue == "byte")
        let file = try #require(try document.nodes(forXPath: "//*[local-name()='File']").first as? XMLElement)
        #expect(file.attribute(forName: "ovf:href")?.stringValue == "appliance.vmdk")
        let vmdkSize = try #require(try FileManager.default.attributesOfItem(atPath: extracted + "/appliance.vmdk")[.size] as? Int)
        #expect(file.attribute(forName: "ovf:size")?.stringValue == "\(vmdkSize)")
        let quantities = try document.nodes(forXPath: "//*[local-name()='Item']").compactMap { item -> (String, String)? in
            guard let element = item as? XMLElement,
                let type = element.elements(forName: "rasd:ResourceType").first?.stringValue
            else { return nil }
            return (type, element.elements(forName: "rasd:VirtualQuantity").first?.stringValue ?? "")
        }
        #expect(quantities.contains { $0 == ("3", "4") }, "\(quantities)")  // CPUs
        #expect(quantities.contains { $0 == ("4", "8192") }, "\(quantities)")  // memory, MiB
        #expect(quantities.contains { $0.0 == "5" }, "an IDE controller for --adapter ide: \(quantities)")
        let os = try #require(try document.nodes(forXPath: "//*[local-name()='OperatingSystemSection']").first as? XMLElement)
        #expect(os.attribute(forName: "ovf:id")?.stringValue == "103")

        // The package's own manifest, and the disk inside against the source.
        // sha256sum -c finds the names it lists in the working folder.
        let checked = try runProcess("/bin/sh", ["-c", "cd '\(folder.path)' && sha256sum -c appliance.ova.sha256"])
        #expect(checked.status == 0, "\(checked.standardError)")
        if let qemu = which("qemu-img") {
            let compare = try runProcess(qemu, ["compare", "-f", "raw", "-F", "vmdk", source, extracted + "/appliance.vmdk"])
            #expect(compare.status == 0, "\(String(decoding: compare.standardOutput, as: UTF8.self))")
        }
    }

    @Test func verifyChecksThePackageAndExportReadsItsDisk() throws {
        let folder = try TemporaryFolder()
        let (source, package) = try exportOVA(in: folder)
        let verified = try runProcess(Self.binary, ["verify", package])
        let lines = String(decoding: verified.standardOutput, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(verified.status == 0, "\(lines)")
        #expect(lines.first == "\(package): ova (vmdk streamOptimized), \(24 * 1024 * 1024 + 512) bytes virtual")
        #expect(lines.contains { $0.hasPrefix("ok   appliance.vmdk digest: ") && $0.hasSuffix(" matches appliance.mf") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("ok   appliance.ovf digest: ") }, "\(lines)")

        // An OVA is a source like any other: its disk comes back byte for byte.
        let back = try runProcess(Self.binary, ["export", package, "-f", "raw", "-o", folder.file("back.raw")])
        #expect(back.status == 0, "\(back.standardError)")
        #expect(FileManager.default.contentsEqual(atPath: folder.file("back.raw"), andPath: source))

        // One damaged byte in the disk member: its digest and the package's no longer match.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: package))
        bytes[bytes.count - 3000] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: package))
        let damaged = try runProcess(Self.binary, ["verify", package])
        let damagedLines = String(decoding: damaged.standardOutput, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(damaged.status == 1)
        #expect(damagedLines.contains { $0.hasPrefix("FAIL appliance.vmdk digest: ") && $0.contains(", but appliance.mf says ") }, "\(damagedLines)")
        #expect(damagedLines.contains { $0.hasPrefix("FAIL sha256: ") }, "\(damagedLines)")
    }

    @Test func longNamesAreRefusedBeforeAnyWork() throws {
        let folder = try TemporaryFolder()
        let source = try ExportCommandTests().makeSource(in: folder)
        let output = folder.file(String(repeating: "n", count: 100) + ".ova")
        let result = try runProcess(Self.binary, ["export", source, "-f", "ova", "-o", output])
        #expect(result.status == 2)
        #expect(result.standardError.contains("longer than the 100 bytes a tar header holds"), "\(result.standardError)")
        #expect(folder.names() == ["disk.raw"], "\(folder.names())")
    }
}
