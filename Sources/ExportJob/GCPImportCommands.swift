import ConfigDocument
import DiskImage

/// The gcloud commands that make a Compute Engine image of an output made for `--target gcp`:
/// an upload to Cloud Storage, then `gcloud compute images create --source-uri` with
/// `--guest-os-features UEFI_COMPATIBLE` for a disk that boots UEFI ("Import a custom image",
/// "Manually import boot disks"; gcloud reference, `compute images create`). imgship prints
/// them (`ShellQuoting`, the one quoting function) and never runs them.
public struct GCPImportCommands: Sendable, Equatable {
    /// What stands for the user's bucket: not a valid bucket name (upper case), so a command
    /// run as printed fails at once instead of writing somewhere unintended.
    public static let bucketPlaceholder = "YOUR_BUCKET"

    /// `gcloud storage cp FILE gs://YOUR_BUCKET/NAME`; nil when the output is no file.
    public var upload: [String]?
    /// `gcloud compute images create IMAGE --source-uri gs://YOUR_BUCKET/NAME [...]`.
    public var createImage: [String]

    /// - Parameters:
    ///   - file: the output's path as given, or nil for standard output.
    ///   - fileName: the output's file name: the object's name.
    public init?(file: String?, fileName: String, decision: TargetDecision) {
        guard let features = decision.guestOSFeatures else { return nil }
        let uri = "gs://\(Self.bucketPlaceholder)/\(fileName)"
        // A path starting with '-' would be read by gcloud as a flag: `./-x` is the same file.
        upload = file.map { ["gcloud", "storage", "cp", $0.hasPrefix("-") ? "./" + $0 : $0, uri] }
        createImage = ["gcloud", "compute", "images", "create", Self.imageName(for: fileName), "--source-uri", uri]
        if !features.isEmpty { createImage += ["--guest-os-features", features.joined(separator: ",")] }
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

    /// The commands as lines of shell text.
    public var lines: [String] {
        [upload, createImage].compactMap { $0.map(ShellQuoting.command) }
    }

    /// The line that says what to replace.
    public static var placeholderNote: String {
        "(\(bucketPlaceholder) stands for your Cloud Storage bucket: replace it; the image name may be changed)"
    }
}
