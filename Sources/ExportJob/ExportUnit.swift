import ConfigDocument
import DiskImage
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One output of a job: an export entry written in one format, with its paths resolved.
public struct ExportUnit: Sendable, Equatable {
    /// The entry's path in the job file, `exports[2]`.
    public var entry: String
    public var source: String
    public var sourceFormat: SourceFormat?
    public var format: OutputFormat
    public var output: String
    /// `output` as the file system finds it (`resolvedPath`): one file is one string however
    /// it is spelled, so two outputs cannot be one file and one folder gets one SHA256SUMS.
    public var resolvedOutput: String
    /// `output.sha256`, in sha256sum format.
    public var manifest: String { output + ".sha256" }
    /// `output.imgship.json`: what the output was made from and how (`OutputRecord`),
    /// committed with the output and its manifest.
    public var record: String { output + ".imgship.json" }
    public var options: JobFile.Options
    /// The output's path as the job file names it (destination, bucket, prefix and name,
    /// before the job file's folder is put in front): the same on every machine, whatever
    /// folder the job runs from, so shards deal outputs by it (`JobShard`).
    public var shardKey: String = ""
    /// The S3 bucket the output stands for, and its key (prefix, name and extension): what
    /// the import commands of a `target: aws` output name.
    public var s3Bucket: String?
    public var s3Key: String = ""
    /// The bucket's region, which the import commands name (`--region`).
    public var s3Region: String?

    /// The folder the output lands in; its SHA256SUMS lists it.
    public var folder: String { splitPath(output).folder }

    public var fileName: String { splitPath(output).name }

    /// Compressing formats keep every core busy on their own; the others are bound by the one
    /// SHA-256 stream of their output and leave cores idle (see docs/job.md, `--concurrency`).
    var isCompressing: Bool { format.entry.compresses || (format == .qcow2 && options.qcow2.compression != nil) }

    /// Whether the output is an OVA the job signs (`signKey` and `signCert`; other formats
    /// warn that they ignore them).
    var signs: Bool { format == .ova && options.signKey != nil && options.signCertificate != nil }

    /// The options this output's format ignores, as `imgship export` warns of its flags,
    /// naming the key (`exports[0].options.blockSize 4 sets the block size of a VHDX; ...`).
    public var optionWarnings: [String] {
        ExportOptionRules.inapplicable(format: format, given: options.given, qcow2: options.qcow2) { "\(entry).options.\($0.rawValue)" }
    }

    /// The import commands of the output's target row, as `imgship export --target` prints
    /// them for this file (`PrintedImportCommands`): AWS's with the export's bucket, prefix,
    /// region and `awsImport`; nil without a target or for a row without commands.
    func importCommands(for decision: TargetDecision) -> PrintedImportCommands? {
        // The key is the prefix's folders and the file's name, as export's --s3-prefix and -o NAME.
        let prefix = s3Key.hasSuffix(fileName) ? String(s3Key.utf8.dropLast(fileName.utf8.count)) ?? "" : ""
        let aws = AWSImportRequest(
            bucket: s3Bucket, prefix: prefix.isEmpty ? nil : prefix, region: s3Region.flatMap(AWSRegion.init), method: options.awsImport ?? .image,
            architecture: options.architecture, amiName: options.amiName)
        return try? PrintedImportCommands(
            target: options.target, decision: decision, file: output, fileName: fileName, aws: aws,
            hint: (bucket: "the export an s3Bucket", region: "the export an s3Region"))
    }

    /// What the target decides for an output already there (one made or verified earlier),
    /// from the source's first sectors only: the report still tells how to import it. Nil
    /// without a target, or when the source cannot be read now.
    func targetDecision() -> TargetDecision? {
        guard options.target != nil else { return nil }
        return try? Exporter.targetDecision(
            source: source,
            options: ExportOptions(
                format: format, sourceFormat: sourceFormat, alignToMiB: options.alignToMiB,
                machine: options.machine, target: options.target, firmware: options.firmware))
    }

    /// Everything that shapes the output's bytes besides the source, in words, for the
    /// record: a rerun with any of these changed exports the output again.
    /// Only what the format uses counts: a new VMDK level leaves a raw output alone.
    var settings: [String: String] {
        var settings = [
            "format": format.rawValue,
            "sourceFormat": sourceFormat?.rawValue ?? "detected",
            "alignMiB": "\(options.alignToMiB)",
        ]
        if format.entry.compresses {
            settings["level"] = "\(options.level)"
            settings["adapter"] = options.adapter.rawValue
        }
        // A target decides details (firmware, hardware version, NIC) and may round the size.
        if let target = options.target {
            settings["target"] = target.description
            settings["firmware"] = options.firmware?.rawValue ?? "from the disk"
        }
        if format.entry.declaresMachine {
            settings["cpus"] = "\(options.machine.cpus)"
            settings["memoryMiB"] = "\(options.machine.memoryMiB)"
            settings["osType"] = options.machine.operatingSystem.rawValue
        }
        // The options added since records were first written count only when set, so an
        // output recorded before them is not made again for nothing.
        if format == .qcow2 {
            let qcow2 = options.qcow2
            if qcow2.compatibility != .version3 { settings["qcow2Compat"] = qcow2.compatibility.rawValue }
            if let compression = qcow2.compression {
                settings["qcow2Compression"] = compression.rawValue
                settings["level"] = "\(options.level)"
            }
        }
        if format == .vhdx, let size = options.vhdxBlockSize { settings["blockSize"] = "\(size)" }
        if format == .ova {
            if options.machine.manifestDigest != VirtualMachineSettings().manifestDigest {
                settings["manifestDigest"] = options.machine.manifestDigest.rawValue
            }
            // Paths only: the key's bytes are never written anywhere.
            if let key = options.signKey, let certificate = options.signCertificate {
                settings["signKey"] = key
                settings["signCert"] = certificate
            }
        }
        return settings
    }
}

extension JobFile {
    /// The outputs of the job in file order, paths resolved against `baseFolder` (the job
    /// file's folder). Two outputs that are one file (however spelled: `out/../out`, a
    /// symbolic link to a folder) are an error naming both entries; so is an output that is its
    /// own source.
    public func units(baseFolder: String) throws(InvalidJobFile) -> [ExportUnit] {
        // `-` (or `-x`) as a source in the job file is a file of that name in the job's
        // folder, never standard input or an option: `./-`.
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") ? path : (baseFolder == "." ? (path.hasPrefix("-") ? "./" + path : path) : baseFolder + "/" + path)
        }
        var units: [ExportUnit] = []
        // Resolved output path: the entry and format that write it, and its spelling there.
        var owners: [String: (owner: String, output: String)] = [:]
        var problems: [Problem] = []
        for (index, export) in exports.enumerated() {
            var folder = resolve(export.destination)
            if let bucket = export.s3Bucket { folder += "/" + bucket }
            for format in export.formats {
                let entry = "exports[\(index)]"
                let output = normalized(folder + "/" + export.fileName(for: format))
                let resolvedOutput = resolvedPath(output)
                if resolvedOutput == resolvedPath(resolve(export.source)) {
                    problems.append(
                        Problem(.error, entry, "writes its \(format.rawValue) output over its own source \(output); give another name, s3Prefix or destination")
                    )
                    continue
                }
                if let (owner, spelling) = owners[resolvedOutput] {
                    let same = spelling == output ? "" : ", the file \(spelling)"
                    problems.append(
                        Problem(
                            .error, entry,
                            "writes \(output) as \(format.rawValue)\(same), which \(owner) also writes; give one of them another name, s3Prefix or destination")
                    )
                    continue
                }
                owners[resolvedOutput] = ("\(entry) (\(format.rawValue))", output)
                var options = export.options
                options.signKey = options.signKey.map(resolve)
                options.signCertificate = options.signCertificate.map(resolve)
                let named = export.destination + (export.s3Bucket.map { "/" + $0 } ?? "") + "/" + export.fileName(for: format)
                units.append(
                    ExportUnit(
                        entry: entry, source: resolve(export.source), sourceFormat: export.sourceFormat,
                        format: format, output: output, resolvedOutput: resolvedOutput, options: options,
                        shardKey: normalized(named), s3Bucket: export.s3Bucket, s3Key: export.fileName(for: format), s3Region: export.s3Region))
            }
        }
        guard problems.isEmpty else { throw InvalidJobFile(problems: problems) }
        return units
    }

    /// `a//b/./c` as `a/b/c`, so two spellings of one path are seen as one.
    private func normalized(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        let parts = path.split(separator: "/").filter { $0 != "." }
        return (absolute ? "/" : "") + parts.joined(separator: "/")
    }
}

/// `path` as the file system finds it: absolute (relative to the current folder), every
/// symbolic link along the part that exists followed, `.` and `..` taken away. What does not
/// exist yet is taken as written. Two spellings of one file give one string.
func resolvedPath(_ path: String) -> String {
    var current: [Substring] = []
    if !path.hasPrefix("/") {
        current = FileManager.default.currentDirectoryPath.split(separator: "/")
    }
    // Components still to walk, the next one last.
    var pending = Array(path.split(separator: "/").reversed())
    var links = 0
    while let component = pending.popLast() {
        if component == "." { continue }
        if component == ".." {
            // `current` holds no link, so its parent is the physical one.
            _ = current.popLast()
            continue
        }
        let candidate = "/" + (current + [component]).joined(separator: "/")
        // 40 links, as the kernel's ELOOP: past that the rest is taken as written.
        if links < 40, let target = symbolicLinkTarget(candidate) {
            links += 1
            if target.hasPrefix("/") { current = [] }
            pending.append(contentsOf: target.split(separator: "/").reversed())
            continue
        }
        current.append(component)
    }
    return "/" + current.joined(separator: "/")
}

/// What the symbolic link at `path` points at; nil when `path` is not a link.
private func symbolicLinkTarget(_ path: String) -> String? {
    var status = stat()
    guard SystemCalls.lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFLNK else { return nil }
    return SystemCalls.readLink(path)
}
