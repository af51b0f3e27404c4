/// The commands that import an output into its platform, as words (the caller quotes each
/// one with the one shell quoting function, `ShellQuoting.command`), and notes on the values
/// that stand in for the user's own. imgship prints them and never runs them.
public struct TargetImportCommands: Sendable, Equatable {
    public var commands: [[String]]
    /// What a placeholder stands for, or what is left to do by hand.
    public var notes: [String]
}

extension ExportTarget {
    /// The import commands of this target's row for an output at `file` (nil: a stream or a
    /// device, not a file) named `name`, as `decision` decided it; nil for a row without them
    /// (AWS prints its own, with the S3 bucket it checks).
    public func importCommands(for decision: TargetDecision, file: String?, name: String) -> TargetImportCommands? {
        platform.importCommands?(decision, file, name)
    }
}

/// The import commands of the KVM family and Oracle Cloud rows (`TargetPlatform`).
enum KVMImportCommands {
    /// `disk.qcow2` -> `disk`: the image or machine name the commands give.
    static func stem(_ name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot > name.startIndex else { return name }
        return String(name[..<dot])
    }

    /// A path a CLI could take for an option: `./-x` for a name starting with '-'.
    static func path(_ file: String?, _ name: String) -> String {
        let path = file ?? name
        return path.hasPrefix("-") ? "./" + path : path
    }

    /// `openstack image create` (python-openstackclient) with Glance's disk and container
    /// formats and the image properties Nova boots by ("Useful image properties":
    /// hw_firmware_type bios|uefi; hw_machine_type q35 with UEFI, whose OVMF needs it for
    /// Secure Boot and which libvirt pairs with it).
    static func openstack(_ decision: TargetDecision, file: String?, name: String) -> TargetImportCommands {
        var words = ["openstack", "image", "create", "--disk-format", decision.format.rawValue, "--container-format", "bare"]
        words += ["--file", path(file, name)]
        if decision.firmware == .efi {
            words += ["--property", "hw_firmware_type=uefi", "--property", "hw_machine_type=q35"]
        } else {
            words += ["--property", "hw_firmware_type=bios"]
        }
        words.append(stem(name))
        return TargetImportCommands(commands: [words], notes: [])
    }

    /// `virt-install --import` (virt-manager's virt-install(1)): a machine around the disk,
    /// booting with UEFI (`--boot uefi`) or from the disk with the default BIOS (`--boot hd`).
    static func libvirt(_ decision: TargetDecision, file: String?, name: String) -> TargetImportCommands {
        let disk = "path=\(path(file, name)),format=\(decision.format.rawValue),bus=virtio"
        let words = [
            "virt-install", "--import", "--name", stem(name), "--memory", "2048", "--vcpus", "2", "--disk", disk,
            "--os-variant", "generic", "--network", "default", "--boot", decision.firmware == .efi ? "uefi" : "hd", "--noautoconsole",
        ]
        return TargetImportCommands(
            commands: [words],
            notes: ["copy the disk into a libvirt storage pool (such as /var/lib/libvirt/images) first if libvirt cannot read it where it is"])
    }

    /// Proxmox VE's qm(1): `qm importdisk VMID FILE STORAGE` into a machine made beforehand,
    /// the disk attached and made the boot disk, and OVMF with an EFI disk when it boots with
    /// UEFI (`--bios ovmf`, `--efidisk0`).
    static func proxmox(_ decision: TargetDecision, file: String?, name: String) -> TargetImportCommands {
        let vmid = "100", storage = "local-lvm"
        var commands = [
            ["qm", "importdisk", vmid, path(file, name), storage],
            ["qm", "set", vmid, "--scsihw", "virtio-scsi-pci", "--scsi0", "\(storage):vm-\(vmid)-disk-0", "--boot", "order=scsi0"],
        ]
        if decision.firmware == .efi {
            commands.append(["qm", "set", vmid, "--bios", "ovmf", "--machine", "q35", "--efidisk0", "\(storage):1,efitype=4m,pre-enrolled-keys=0"])
        }
        return TargetImportCommands(
            commands: commands, notes: ["\(vmid) stands for your virtual machine's id (made first with qm create), \(storage) for your storage"])
    }

    /// OCI CLI: `oci os object put`, then `oci compute image import from-object` with its
    /// four required options (--bucket-name, --compartment-id, --name, --namespace), the
    /// source image type and the launch mode. Paravirtualized: Oracle's "Bring Your Own
    /// Image" recommends it for an OS that supports it (virtio, every current Linux), and AMD
    /// and Arm shapes run imported images only so.
    static func oci(_ decision: TargetDecision, file: String?, name: String) -> TargetImportCommands {
        let bucket = "my-bucket", namespace = "my-namespace", compartment = "ocid1.compartment.oc1..exampleuniqueID"
        let type = decision.format == .vmdk ? "VMDK" : "QCOW2"
        var commands: [[String]] = []
        if let file { commands.append(["oci", "os", "object", "put", "--bucket-name", bucket, "--file", path(file, name), "--name", name]) }
        commands.append([
            "oci", "compute", "image", "import", "from-object", "--bucket-name", bucket, "--compartment-id", compartment, "--namespace", namespace,
            "--name", name, "--display-name", stem(name), "--source-image-type", type, "--launch-mode", "PARAVIRTUALIZED",
        ])
        let firmware = decision.firmware == .efi ? "UEFI_64" : "BIOS"
        return TargetImportCommands(
            commands: commands,
            notes: [
                "\(bucket), \(namespace) and \(compartment) stand for your bucket, Object Storage namespace and compartment OCID",
                "firmware \(firmware): set the image's Compute.Firmware capability to \(firmware) after the import (Edit image capabilities)",
            ])
    }
}

/// The gcloud commands that make a Compute Engine image of an output made for `--target gcp`
/// (`TargetPlatform.gcp`): an upload to Cloud Storage, then `gcloud compute images create
/// --source-uri` with `--guest-os-features UEFI_COMPATIBLE` for a disk that boots UEFI
/// ("Import a custom image", "Manually import boot disks"; gcloud reference, `compute images
/// create`).
enum GCPImportCommands {
    /// What stands for the user's bucket: not a valid bucket name (upper case), so a command
    /// run as printed fails at once instead of writing somewhere unintended.
    static let bucketPlaceholder = "YOUR_BUCKET"

    /// `gcloud storage cp FILE gs://YOUR_BUCKET/NAME` when the output is a file, then
    /// `gcloud compute images create IMAGE --source-uri gs://YOUR_BUCKET/NAME [...]`.
    static func commands(_ decision: TargetDecision, file: String?, name: String) -> TargetImportCommands {
        let uri = "gs://\(bucketPlaceholder)/\(name)"
        var commands: [[String]] = []
        // A path starting with '-' would be read by gcloud as a flag: `./-x` is the same file.
        if let file { commands.append(["gcloud", "storage", "cp", KVMImportCommands.path(file, name), uri]) }
        var create = ["gcloud", "compute", "images", "create", imageName(for: name), "--source-uri", uri]
        if let features = decision.guestOSFeatures, !features.isEmpty { create += ["--guest-os-features", features.joined(separator: ",")] }
        commands.append(create)
        return TargetImportCommands(
            commands: commands, notes: ["\(bucketPlaceholder) stands for your Cloud Storage bucket: replace it; the image name may be changed"])
    }

    /// An image name Compute Engine takes, from the file name: `[a-z]([-a-z0-9]*[a-z0-9])?`,
    /// at most 63 characters (Compute Engine API, `images` resource, `name`): lower case,
    /// anything else a '-', `image-` before a name that does not start with a letter.
    static func imageName(for fileName: String) -> String {
        var stem = fileName.lowercased()
        for suffix in [".tar.gz", ".tgz"] where stem.hasSuffix(suffix) { stem = String(stem.dropLast(suffix.count)) }
        var name = String(stem.unicodeScalars.map { ("a"..."z").contains($0) || ("0"..."9").contains($0) ? Character($0) : "-" })
        if !(name.first.map { ("a"..."z").contains($0) } ?? false) { name = "image-" + name }
        name = String(name.prefix(63))
        while name.hasSuffix("-") { name.removeLast() }
        return name
    }
}
