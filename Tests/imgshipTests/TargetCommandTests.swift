import Foundation
import TestSupport
import Testing

/// `imgship export --target`: for each platform, one input it is documented to
/// reject is refused or warned of, naming the rule's source, and nothing is written; the good
/// output passes the independent readers here (qemu-img, the AWS CLI against moto).
@Suite("export --target")
struct TargetCommandTests {
    static let binary = ExportCommandTests.binary
    static let qemuImg = which("qemu-img")

    func export(_ arguments: [String]) throws -> ProcessResult {
        try runProcess(Self.binary, ["export"] + arguments + ["--no-progress"])
    }

    func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    /// The `--json` summary's `target` member.
    func targetJSON(_ result: ProcessResult) throws -> [String: Any] {
        let document = try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any])
        return try #require(document["target"] as? [String: Any])
    }

    func fileSize(_ path: String) throws -> UInt64 {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64)
    }

    // MARK: AWS

    /// A stand-in `aws` that answers `ec2 import-image` (moto does not implement ImportImage)
    /// by checking it against botocore's model and moto's S3, and passes every other command to
    /// the real AWS CLI against moto.
    static let standInAWS = """
        #!/bin/bash
        { printf '%s' "${AWS_ACCESS_KEY_ID:-}"; printf '\\x1f%s' "$@"; printf '\\n'; } >> "$IMGSHIP_CALL_LOG"
        case "${1:-} ${2:-}" in
          "ec2 import-image") exec python3 "$IMGSHIP_AWS_CALLS" emulate "$@" ;;
        esac
        exec "$IMGSHIP_REAL_AWS" "$@"
        """

    /// A UEFI-only disk for AWS: a stream-optimized VMDK identical to the source under
    /// qemu-img, and import commands that, run as printed against moto, upload the file byte
    /// for byte and ask ImportImage for a UEFI boot of a VMDK under the printed key.
    @Test(.enabled(if: MotoServer.isInstalled && qemuImg != nil, "needs moto_server, the AWS CLI and qemu-img"))
    func awsImportCommandsRunAgainstTheEmulation() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("golden disk.raw")
        try GuestDisk.write(disk, size: 64 << 20, boot: .uefiOnly)
        let output = folder.file("golden disk.vmdk")
        let result = try export([
            disk, "--target", "aws", "-o", output, "--s3-bucket", "imgship-imports", "--s3-prefix", "vm imports/", "--region", "eu-west-1", "--json",
        ])
        #expect(result.status == 0, "\(result.standardError)")
        let target = try targetJSON(result)
        #expect(target["bootMode"] as? String == "uefi")
        #expect(target["importFormat"] as? String == "VMDK")
        #expect((target["firmwareReason"] as? String)?.contains("EFI system partition") == true)
        let compare = try runProcess(Self.qemuImg!, ["compare", "-f", "raw", "-F", "vmdk", disk, output])
        #expect(compare.status == 0, "\(text(compare.standardOutput)) \(compare.standardError)")

        let commands = try #require(target["importCommands"] as? [String])
        #expect(commands.count == 2)
        // Both name the bucket's region: the emulation's default region is us-east-1, so a
        // command without --region would act there.
        #expect(commands.allSatisfy { $0.contains(" --region eu-west-1 ") }, "\(commands)")
        let world = try MotoWorld(standInAWS: Self.standInAWS)
        let script = (["set -euo pipefail", "aws s3 mb s3://imgship-imports --region eu-west-1 >/dev/null"] + commands).joined(separator: "\n") + "\n"
        let run = try world.run(script: script, arguments: [])
        #expect(run.status == 0, "\(text(run.standardOutput)) \(run.standardError)")

        let imports = try world.emulatedCalls().filter { $0.operation == "ImportImage" }
        try #require(imports.count == 1)
        #expect(imports[0].error == nil, "\(String(describing: imports[0].error))")
        #expect(imports[0].params["BootMode"]?.string == "uefi")
        #expect(imports[0].region == "eu-west-1")
        guard case let .list(containers)? = imports[0].params["DiskContainers"], case let .object(container)? = containers.first,
            case let .object(bucket)? = container["UserBucket"]
        else {
            Issue.record("DiskContainers is not a list of one container: \(String(describing: imports[0].params["DiskContainers"]))")
            return
        }
        #expect(container["Format"]?.string == "VMDK")
        #expect(bucket["S3Bucket"]?.string == "imgship-imports")
        #expect(bucket["S3Key"]?.string == "vm imports/golden disk.vmdk")
        // The object moto holds is the file imgship wrote.
        let downloaded = folder.file("downloaded.vmdk")
        let fetch = try world.run(script: "aws s3 cp 's3://imgship-imports/vm imports/golden disk.vmdk' \"$1\" >/dev/null\n", arguments: [downloaded])
        #expect(fetch.status == 0, "\(fetch.standardError)")
        #expect(FileManager.default.contentsEqual(atPath: downloaded, andPath: output))
    }

    /// A stand-in `aws` for the snapshot path. moto 5 implements RegisterImage (which it
    /// records without checking boot mode, architecture, ENA or the mapped snapshot) and S3,
    /// which the real AWS CLI reaches; it does not implement ImportSnapshot or
    /// DescribeImportSnapshotTasks, which `aws_calls.py emulate` answers after checking them
    /// against botocore's model (the import making a real moto snapshot), nor therefore the
    /// `wait snapshot-imported` waiter, which is answered from the emulated task's status as
    /// botocore's SnapshotImported waiter reads it.
    static let standInAWSForSnapshots = """
        #!/bin/bash
        { printf '%s' "${AWS_ACCESS_KEY_ID:-}"; printf '\\x1f%s' "$@"; printf '\\n'; } >> "$IMGSHIP_CALL_LOG"
        case "${1:-} ${2:-}" in
          "ec2 import-snapshot"|"ec2 describe-import-snapshot-tasks") exec python3 "$IMGSHIP_AWS_CALLS" emulate "$@" ;;
          "ec2 wait")
            [[ ${3:-} == snapshot-imported ]] || exec "$IMGSHIP_REAL_AWS" "$@"
            status=$(python3 "$IMGSHIP_AWS_CALLS" emulate ec2 describe-import-snapshot-tasks "${@:4}" \\
              --query 'ImportSnapshotTasks[].SnapshotTaskDetail.Status' --output text) || exit 255
            [[ $status == completed ]] || { echo "Waiter SnapshotImported failed: $status" >&2; exit 255; }
            exit 0 ;;
        esac
        exec "$IMGSHIP_REAL_AWS" "$@"
        """

    /// `--aws-import snapshot`: the printed upload, import-snapshot, wait, look-up and
    /// register-image run as printed against moto and register an AMI of the imported
    /// snapshot with the boot mode read from the disk, the architecture, ENA and HVM.
    @Test(.enabled(if: MotoServer.isInstalled, "needs moto_server and the AWS CLI"))
    func awsSnapshotImportRunsAgainstTheEmulation() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("it's a disk.raw")
        try GuestDisk.write(disk, size: 64 << 20, boot: .uefiOnly)
        let output = folder.file("it's a disk.vmdk")
        let result = try export([
            disk, "--target", "aws", "-o", output, "--aws-import", "snapshot", "--architecture", "arm64", "--s3-bucket", "imgship-imports", "--json",
        ])
        #expect(result.status == 0, "\(result.standardError)")
        let commands = try #require(try targetJSON(result)["importCommands"] as? [String])
        #expect(commands.count == 5)
        #expect(commands[2] == "aws ec2 wait snapshot-imported --region us-east-1 --import-task-ids \"$import_task\"")

        let world = try MotoWorld(standInAWS: Self.standInAWSForSnapshots)
        let script =
            (["set -euo pipefail", "aws s3 mb s3://imgship-imports >/dev/null"] + commands + ["printf '%s\\n' \"$snapshot\""])
            .joined(separator: "\n") + "\n"
        let run = try world.run(script: script, arguments: [])
        #expect(run.status == 0, "\(text(run.standardOutput)) \(run.standardError)")

        let imports = try world.emulatedCalls().filter { $0.operation == "ImportSnapshot" }
        try #require(imports.count == 1)
        guard case let .object(container)? = imports[0].params["DiskContainer"], case let .object(bucket)? = container["UserBucket"] else {
            Issue.record("DiskContainer is not one container: \(String(describing: imports[0].params["DiskContainer"]))")
            return
        }
        #expect(container["Format"]?.string == "VMDK")
        #expect(bucket["S3Bucket"]?.string == "imgship-imports")
        #expect(bucket["S3Key"]?.string == "it's a disk.vmdk")
        let snapshot = text(run.standardOutput).split(separator: "\n").last.map(String.init) ?? ""
        #expect(snapshot.hasPrefix("snap-"), "\(text(run.standardOutput))")

        // register-image reached moto through the real AWS CLI (which checks its parameters
        // against botocore's model) with these words, and moto holds the AMI.
        let calls = try String(contentsOfFile: world.folder.file("calls.log"), encoding: .utf8).split(separator: "\n")
        let register = try #require(calls.first { $0.contains("\u{1f}register-image\u{1f}") }).split(separator: "\u{1f}").dropFirst().map(String.init)
        func value(_ option: String) -> String? { register.firstIndex(of: option).map { register[$0 + 1] } }
        #expect(value("--name") == "it's a disk")
        #expect(value("--boot-mode") == "uefi")
        #expect(value("--architecture") == "arm64")
        #expect(value("--virtualization-type") == "hvm")
        #expect(value("--root-device-name") == "/dev/xvda")
        #expect(register.contains("--ena-support"))
        let mapping = try #require(value("--block-device-mappings"))
        let mappings = try #require(try JSONSerialization.jsonObject(with: Data(mapping.utf8)) as? [[String: Any]])
        #expect(mappings.first?["DeviceName"] as? String == "/dev/xvda")
        #expect((mappings.first?["Ebs"] as? [String: Any])?["SnapshotId"] as? String == snapshot)
        let images = try world.run(script: "aws ec2 describe-images --owners self --query 'Images[].Name' --output text\n", arguments: [])
        #expect(text(images.standardOutput).contains("it's a disk"), "\(images.standardError)")
    }

    /// The snapshot path refuses what ImportSnapshot or RegisterImage would: a format
    /// ImportSnapshot does not take, an AMI name or architecture RegisterImage refuses, and
    /// its own options without it.
    @Test(arguments: [
        (["-f", "vhdx", "--aws-import", "snapshot"], "ImportSnapshot takes VHD, VMDK, RAW disks, not vhdx"),
        (["--aws-import", "snapshot", "--ami-name", "no*stars"], "is not an AMI name"),
        (["--aws-import", "snapshot", "--architecture", "i386"], "--architecture i386: VM Import takes x86_64 or arm64"),
        (["--architecture", "arm64"], "--architecture applies with --aws-import snapshot only"),
        (["--boot-mode", "uefi-preferred"], "--boot-mode uefi-preferred applies with --aws-import snapshot only"),
    ])
    func awsSnapshotOptionsAreChecked(arguments: [String], message: String) throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 8 << 20, boot: .uefiOnly)
        let result = try export([disk, "--target", "aws", "-o", folder.file("out.img")] + arguments)
        #expect(result.status == 64, "\(result.standardError)")
        #expect(result.standardError.contains(message), "\(result.standardError)")
        #expect(folder.names() == ["disk.raw"])
    }

    /// Disks VM Import or EBS is documented to reject: nothing is written, the exit status is
    /// 2 and the message names the rule's source.
    @Test(
        .enabled(if: qemuImg != nil, "needs qemu-img"),
        arguments: [
            ("17 TiB", "smaller than 16 TiB", "limitations-image.html"),
            ("3 TiB MBR", "an MBR-partitioned EBS volume holds at most 2 TiB", "volume_constraints.html"),
        ])
    func awsRefusesWhatVMImportRejects(disk: String, rule: String, source: String) throws {
        let folder = try TemporaryFolder()
        let path: String
        if disk == "17 TiB" {
            path = folder.file("huge.qcow2")
            let create = try runProcess(Self.qemuImg!, ["create", "-q", "-f", "qcow2", path, "17T"])
            try #require(create.status == 0, "\(create.standardError)")
        } else {
            path = folder.file("mbr.raw")
            try GuestDisk.write(path, size: 3 << 40, boot: .biosMBR)
        }
        let before = folder.names()
        let result = try export([path, "--target", "aws", "-o", folder.file("out.vmdk")])
        #expect(result.status == 2)
        #expect(result.standardError.contains("--target aws: "), "\(result.standardError)")
        #expect(result.standardError.contains(rule), "\(result.standardError)")
        #expect(result.standardError.contains(source), "\(result.standardError)")
        #expect(folder.names() == before)
    }

    // MARK: Azure

    /// A disk of 30 MiB + 1234 bytes becomes a fixed VHD of 31 MiB (+ the 512-byte footer),
    /// the size told as rounded; qemu-img reads 31 MiB of the source's bytes and zeros.
    @Test(.enabled(if: qemuImg != nil, "needs qemu-img"))
    func azureWritesAWholeMiBFixedVHD() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 30 << 20 + 1234, boot: .biosMBR)
        let output = folder.file("disk.vhd")
        let result = try export([disk, "--target", "azure", "-o", output])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardError.contains("rounded up from 31458514 to 32505856 bytes (a whole MiB)"), "\(result.standardError)")
        #expect(try fileSize(output) == 31 << 20 + 512)
        let info = try runProcess(Self.qemuImg!, ["info", "-f", "vpc", "--output=json", output])
        let document = try #require(try JSONSerialization.jsonObject(with: info.standardOutput) as? [String: Any])
        #expect(document["virtual-size"] as? Int == 31 << 20)
        let compare = try runProcess(Self.qemuImg!, ["compare", "-f", "raw", "-F", "vpc", disk, output])
        #expect(compare.status == 0, "\(text(compare.standardOutput)) \(compare.standardError)")
    }

    @Test func azureRefusesADynamicVHDAndADiskUnder20MiB() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 64 << 20, boot: .biosMBR)
        let dynamic = try export([disk, "--target", "azure", "-f", "vhd-dynamic", "-o", folder.file("out.vhd")])
        #expect(dynamic.status == 2)
        #expect(
            dynamic.standardError.contains(
                "--target azure: Azure imports only vhd-fixed, not vhd-dynamic (https://learn.microsoft.com/azure/virtual-machines/linux/create-upload-generic)"
            ),
            "\(dynamic.standardError)")
        let small = folder.file("small.raw")
        try GuestDisk.write(small, size: 10 << 20, boot: .biosMBR)
        let refused = try export([small, "--target", "azure", "-o", folder.file("small.vhd")])
        #expect(refused.status == 2)
        #expect(refused.standardError.contains("at least 20 MiB + 512 bytes; this disk is 10485760 bytes"), "\(refused.standardError)")
        #expect(refused.standardError.contains("diskcreationdata.uploadsizebytes"), "\(refused.standardError)")
        #expect(folder.names() == ["disk.raw", "small.raw"])
    }

    /// Without a target, a fixed VHD that is not a whole MiB is written as asked, with the
    /// warning that Azure rejects it.
    @Test func fixedVHDOfAPartMiBWarnsOfAzure() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 30 << 20 + 1024, boot: .biosMBR)
        let result = try export([disk, "-f", "vhd-fixed", "-o", folder.file("disk.vhd")])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(
            result.standardError.contains("warning: virtual size 31458304 is not a whole MiB, which Azure rejects in a fixed VHD"), "\(result.standardError)")
        #expect(result.standardError.contains("--target azure or --align-mib rounds it up"))
        #expect(try fileSize(folder.file("disk.vhd")) == 30 << 20 + 1024 + 512)
        // Aligned, or made for Azure: no such warning.
        let aligned = try export([disk, "-f", "vhd-fixed", "--align-mib", "-o", folder.file("aligned.vhd")])
        #expect(!aligned.standardError.contains("not a whole MiB"))
    }

    // MARK: Google Compute Engine

    /// A UEFI-only disk for GCP: a .tar.gz whose disk.raw (GNU tar) is the source rounded up
    /// to a whole GiB, and printed gcloud commands, every value quoted, naming
    /// UEFI_COMPATIBLE and the bucket placeholder.
    @Test(.enabled(if: qemuImg != nil && which("tar") != nil, "needs qemu-img and tar"))
    func gcpWritesAWholeGiBDiskRawAndPrintsGcloud() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 40 << 20, boot: .uefiOnly)
        let output = folder.file("web server.tar.gz")
        let result = try export([disk, "--target", "gce", "-o", output])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardError.contains("rounded up from 41943040 to 1073741824 bytes (a whole GiB"), "\(result.standardError)")
        let printed = text(result.standardOutput)
        #expect(printed.contains("    gcloud storage cp '\(output)' 'gs://YOUR_BUCKET/web server.tar.gz'\n"), "\(printed)")
        #expect(
            printed.contains(
                "    gcloud compute images create web-server --source-uri 'gs://YOUR_BUCKET/web server.tar.gz' --guest-os-features UEFI_COMPATIBLE\n"),
            "\(printed)")
        #expect(printed.contains("(YOUR_BUCKET stands for your Cloud Storage bucket: replace it"))
        let unpacked = folder.file("x")
        try FileManager.default.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
        let untar = try runProcess(try #require(which("tar")), ["-xzf", output, "-C", unpacked])
        #expect(untar.status == 0, "\(untar.standardError)")
        let raw = unpacked + "/disk.raw"
        #expect(try fileSize(raw) == 1 << 30)
        let compare = try runProcess(Self.qemuImg!, ["compare", "-f", "raw", "-F", "raw", disk, raw])
        #expect(compare.status == 0, "\(text(compare.standardOutput)) \(compare.standardError)")

        // A BIOS disk: no guest OS feature, in the JSON summary too.
        let bios = folder.file("bios.raw")
        try GuestDisk.write(bios, size: 40 << 20, boot: .biosMBR)
        let json = try export([bios, "--target", "gcp", "-o", folder.file("bios.tar.gz"), "--json"])
        let target = try targetJSON(json)
        #expect(target["guestOSFeatures"] as? [String] == [])
        let commands = try #require(target["importCommands"] as? [String])
        #expect(commands.last == "gcloud compute images create bios --source-uri gs://YOUR_BUCKET/bios.tar.gz")
    }

    /// `check --target gcp` refuses a disk that is not a whole GiB, naming Google's page; an
    /// export for gcp refuses any format but gce; `-f gce` alone warns of the size.
    @Test func gcpRefusesAPartGiBAndOtherFormats() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 40 << 20, boot: .biosMBR)
        let check = try runProcess(Self.binary, ["check", "--target", "gcp", disk])
        #expect(check.status != 0)
        #expect(
            text(check.standardOutput).contains(
                "FAIL virtual size a whole GiB: Google Compute Engine takes a disk.raw whose size is a whole GiB; this one is 41943040 bytes (https://cloud.google.com/compute/docs/import/import-existing-image#requirements_for_the_image_file)"
            ), "\(text(check.standardOutput))")
        let vmdk = try export([disk, "--target", "gcp", "-f", "vmdk", "-o", folder.file("disk.vmdk")])
        #expect(vmdk.status == 2)
        #expect(vmdk.standardError.contains("--target gcp: Google Compute Engine imports only gce, not vmdk"), "\(vmdk.standardError)")
        let plain = try export([disk, "-f", "tar.gz", "-o", folder.file("plain.tar.gz")])
        #expect(plain.status == 0, "\(plain.standardError)")
        #expect(plain.standardError.contains("virtual size 41943040 is not a whole GiB, which Google Compute Engine rejects in disk.raw"))
        #expect(folder.names() == ["disk.raw", "plain.tar.gz", "plain.tar.gz.sha256"])
    }

    // MARK: Hyper-V

    /// A UEFI-only disk: a VHDX qemu-img checks clean and finds identical, for a generation 2
    /// virtual machine.
    @Test(.enabled(if: qemuImg != nil, "needs qemu-img"))
    func hypervWritesAVHDXForGeneration2() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 96 << 20, boot: .uefiOnly)
        let output = folder.file("disk.vhdx")
        let result = try export([disk, "--target", "hyperv", "-o", output])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(text(result.standardOutput).contains("Hyper-V: attach it as the boot disk of a generation 2 virtual machine"))
        let check = try runProcess(Self.qemuImg!, ["check", "-f", "vhdx", output])
        #expect(check.status == 0, "\(text(check.standardOutput)) \(check.standardError)")
        let compare = try runProcess(Self.qemuImg!, ["compare", "-f", "raw", "-F", "vhdx", disk, output])
        #expect(compare.status == 0, "\(text(compare.standardOutput)) \(compare.standardError)")
        let json = try export([disk, "--target", "hyperv", "-o", folder.file("again.vhdx"), "--json"])
        #expect(try targetJSON(json)["hyperVGeneration"] as? Int == 2)
    }

    @Test func hypervRefusesAVMDKAndWarnsOfAGeneration1DiskOver2TB() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 64 << 20, boot: .biosMBR)
        let vmdk = try export([disk, "--target", "hyperv", "-f", "vmdk", "-o", folder.file("disk.vmdk")])
        #expect(vmdk.status == 2)
        #expect(vmdk.standardError.contains("--target hyperv: Hyper-V imports only vhdx, not vmdk"), "\(vmdk.standardError)")
        #expect(vmdk.standardError.contains("should-i-create-a-generation-1-or-2-virtual-machine-in-hyper-v"))
        #expect(folder.names() == ["disk.raw"])

        let large = folder.file("large.raw")
        try GuestDisk.write(large, size: 3 << 40, boot: .biosMBR)
        let result = try export([large, "--target", "hyperv", "-o", folder.file("large.vhdx"), "--no-manifest"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(
            result.standardError.contains("a generation 1 (BIOS) virtual machine boots from an IDE disk of at most 2 TB; this one is 3298534883328 bytes"),
            "\(result.standardError)")
        #expect(text(result.standardOutput).contains("generation 1 virtual machine"))
    }

    // MARK: vSphere and VirtualBox

    @Test func vsphereAndVirtualBoxRefuseFormatsTheyDoNotImport() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 64 << 20, boot: .biosMBR)
        let vhd = try export([disk, "--target", "vsphere:7.0", "-f", "vhd", "-o", folder.file("disk.vhd")])
        #expect(vhd.status == 2)
        #expect(vhd.standardError.contains("--target vsphere:7.0: vSphere 7.0 imports ova or vmdk, not vhd-dynamic"), "\(vhd.standardError)")
        #expect(vhd.standardError.contains("techdocs.broadcom.com"))
        let vmdk = try export([disk, "--target", "virtualbox", "-f", "vmdk", "-o", folder.file("disk.vmdk")])
        #expect(vmdk.status == 2)
        #expect(vmdk.standardError.contains("--target virtualbox: VirtualBox imports only ova, not vmdk"), "\(vmdk.standardError)")
        #expect(vmdk.standardError.contains("virtualbox.org/manual"), "\(vmdk.standardError)")
        #expect(folder.names() == ["disk.raw"])
    }

    static let ovfTools = ["tar", "xmllint", "sha1sum", "qemu-img"].allSatisfy { which($0) != nil }
    static let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../testdata/ovf-schema/dsp8023_1.1.1.xsd")
        .standardized.path

    /// Extracts the OVA in `folder` and returns its descriptor's text, after xmllint has
    /// validated it against the DMTF OVF schema.
    func extractAndValidate(_ ova: String, into folder: String) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let untar = try runProcess(try #require(which("tar")), ["-xf", ova, "-C", folder])
        try #require(untar.status == 0, "\(untar.standardError)")
        let name = URL(fileURLWithPath: ova).deletingPathExtension().lastPathComponent
        let validation = try runProcess(try #require(which("xmllint")), ["--noout", "--nonet", "--schema", Self.schema, folder + "/" + name + ".ovf"])
        #expect(validation.status == 0, "\(validation.standardError)")
        return try String(contentsOfFile: folder + "/" + name + ".ovf", encoding: .utf8)
    }

    /// vSphere 6.0: vmx-11, a VMXNET3 adapter, EFI read from the disk, and a manifest in
    /// SHA-1 that sha1sum confirms; the OVF passes the DMTF schema and the disk is identical.
    @Test(.enabled(if: ovfTools, "needs tar, xmllint, sha1sum and qemu-img"))
    func vsphere60GetsVMX11AndASHA1Manifest() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 64 << 20, boot: .uefiOnly)
        let ova = folder.file("appliance.ova")
        let result = try export([disk, "--target", "vsphere:6.0", "-o", ova])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(text(result.standardOutput).contains("virtual hardware vmx-11\n  network adapter vmxnet3 on VM Network\n  OVF manifest SHA-1\n"))
        let extracted = folder.file("x")
        let descriptor = try extractAndValidate(ova, into: extracted)
        #expect(descriptor.contains("<vssd:VirtualSystemType>vmx-11</vssd:VirtualSystemType>"))
        #expect(descriptor.contains("<rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType>"))
        #expect(descriptor.contains(#"vmw:key="firmware" vmw:value="efi""#))
        // `SHA1(name)= hex` lines, rewritten as sha1sum's `hex  name`.
        let manifest = try String(contentsOfFile: extracted + "/appliance.mf", encoding: .utf8)
        let lines = manifest.split(separator: "\n").map { line -> String in
            #expect(line.hasPrefix("SHA1("))
            let name = line.dropFirst(5).prefix { $0 != ")" }
            return "\(line.split(separator: " ").last ?? "")  \(name)"
        }
        #expect(lines.count == 2)
        try (lines.joined(separator: "\n") + "\n").write(toFile: extracted + "/SHA1SUMS", atomically: true, encoding: .utf8)
        let check = try runProcess("/bin/sh", ["-c", "cd \"$1\" && sha1sum -c SHA1SUMS", "sh", extracted])
        #expect(check.status == 0, "\(text(check.standardOutput)) \(check.standardError)")
        let compare = try runProcess(Self.qemuImg!, ["compare", "-f", "raw", "-F", "vmdk", disk, extracted + "/appliance.vmdk"])
        #expect(compare.status == 0, "\(text(compare.standardOutput))")
        // vsphere alone is 6.5: vmx-13 and SHA-256.
        let later = try export([disk, "--target", "vsphere", "-o", folder.file("later.ova"), "--json"])
        #expect(try targetJSON(later)["hardwareVersion"] as? String == "vmx-13")
        #expect(try targetJSON(later)["manifestDigest"] as? String == "sha256")
    }

    /// VirtualBox: an E1000 adapter on NAT, valid OVF; a UEFI-only disk is warned of, as
    /// VirtualBox's importer does not read the firmware from the OVF.
    @Test(.enabled(if: ovfTools, "needs tar, xmllint, sha1sum and qemu-img"))
    func virtualboxGetsANATAdapter() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 64 << 20, boot: .uefiOnly)
        let ova = folder.file("box.ova")
        let result = try export([disk, "--target", "virtualbox", "-o", ova])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardError.contains("VBoxManage modifyvm NAME --firmware efi"), "\(result.standardError)")
        let descriptor = try extractAndValidate(ova, into: folder.file("x"))
        #expect(descriptor.contains("<rasd:Connection>NAT</rasd:Connection>"))
        #expect(descriptor.contains("<rasd:ResourceSubType>E1000</rasd:ResourceSubType>"))
        #expect(descriptor.contains(#"<Network ovf:name="NAT">"#))
        let verify = try runProcess(Self.binary, ["verify", ova])
        #expect(verify.status == 0, "\(verify.standardError)")
    }

    // MARK: Flags

    @Test func flagsThatDoNotFitTheTargetAreUsageErrors() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 64 << 20, boot: .biosMBR)
        let out = folder.file("out")
        let cases: [([String], String)] = [
            ([disk, "-o", out], "give the output format with -f FORMAT"),
            ([disk, "--target", "vsphere:6.2", "-o", out], "vSphere version \"6.2\" is not one imgship knows; expected one of 5.5, 6.0, 6.5, 6.7, 7.0, 8.0"),
            (
                [disk, "--target", "ibmcloud", "-o", out],
                "\"ibmcloud\" is not a target; expected one of aws, azure, vsphere[:VERSION], virtualbox, hyperv, openstack, kvm, proxmox, oci, gcp"
            ),
            ([disk, "--target", "azure:1", "-o", out], "only vsphere takes a version"),
            // A hostile value is shown escaped, on the one line of the error.
            ([disk, "--target", "aws\n$(id)", "-o", out], #"--target: "aws\n$(id)" is not a target"#),
            ([disk, "-f", "raw", "--firmware", "efi", "-o", out], "--firmware applies with --target only"),
            ([disk, "--target", "vsphere", "--boot-mode", "uefi", "-o", out], "--boot-mode applies with --target aws only"),
            ([disk, "--target", "aws", "--boot-mode", "uefi", "--firmware", "bios", "-o", out], "contradict each other"),
            ([disk, "--target", "aws", "--s3-bucket", "My_Bucket", "-o", out], "is not an S3 bucket name"),
            ([disk, "--target", "aws", "--s3-prefix", "../up", "-o", out], "has an empty, '.' or '..' folder"),
            ([disk, "-f", "vhdx", "--block-size", "3", "-o", out], "--block-size \"3\" is not a VHDX block size: a power of two from 1 to 256 MiB"),
            ([disk, "-f", "vhdx", "--block-size", "512M", "-o", out], "--block-size \"512M\" is not a VHDX block size"),
        ]
        for (arguments, message) in cases {
            let result = try export(arguments)
            #expect(result.status == 64, "\(arguments): \(result.standardError)")
            #expect(result.standardError.contains(message), "\(arguments): \(result.standardError)")
        }
        #expect(folder.names() == ["disk.raw"])
    }

    /// `--firmware` overrides the disk, with a warning when the disk cannot boot that way;
    /// `--boot-mode` is AWS's name for it.
    @Test func firmwareGivenAgainstTheDiskIsWarnedOf() throws {
        let folder = try TemporaryFolder()
        let disk = folder.file("disk.raw")
        try GuestDisk.write(disk, size: 64 << 20, boot: .biosMBR)
        let result = try export([disk, "--target", "aws", "--boot-mode", "uefi", "-o", folder.file("disk.vmdk"), "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(try targetJSON(result)["bootMode"] as? String == "uefi")
        #expect(try targetJSON(result)["firmwareReason"] as? String == "given")
        #expect(result.standardError.contains("UEFI firmware was chosen but the disk has no EFI system partition"), "\(result.standardError)")
        let data = folder.file("data.raw")
        try GuestDisk.write(data, size: 64 << 20, boot: .nothing)
        let bare = try export([data, "--target", "hyperv", "-o", folder.file("data.vhdx")])
        #expect(bare.status == 0)
        #expect(bare.standardError.contains("nothing on the disk boots"), "\(bare.standardError)")
    }
}
