import ConfigDocument
import DiskImage

/// One output of a job: an export entry written in one format, with its paths resolved.
public struct ExportUnit: Sendable, Equatable {
    /// The entry's path in the job file, `exports[2]`.
    public var entry: String
    public var source: String
    public var sourceFormat: SourceFormat?
    public var format: OutputFormat
    public var output: String
    /// `output.sha256`, in sha256sum format.
    public var manifest: String { output + ".sha256" }
    /// `output.imgship.json`: what the output was made from and how (`OutputRecord`),
    /// committed with the output and its manifest.
    public var record: String { output + ".imgship.json" }
    public var options: JobFile.Options

    /// The folder the output lands in; its SHA256SUMS lists it.
    public var folder: String { splitPath(output).folder }

    public var fileName: String { splitPath(output).name }

    /// Compressing formats keep every core busy on their own; the others are bound by the one
    /// SHA-256 stream of their output and leave cores idle (see README, `imgship job`, `--concurrency`).
    var isCompressing: Bool { format == .vmdk || format == .ova }

    /// Everything that shapes the output's bytes besides the source, in words, for the
    /// record: a rerun with any of these changed exports the output again.
    /// Only what the format uses counts: a new VMDK level leaves a raw output alone.
    var settings: [String: String] {
        var settings = [
            "format": format.rawValue,
            "sourceFormat": sourceFormat?.rawValue ?? "detected",
            "alignMiB": "\(options.alignToMiB)",
        ]
        if format == .vmdk || format == .ova {
            settings["level"] = "\(options.level)"
            settings["adapter"] = options.adapter.rawValue
        }
        if format == .ova {
            settings["cpus"] = "\(options.machine.cpus)"
            settings["memoryMiB"] = "\(options.machine.memoryMiB)"
            settings["osType"] = options.machine.operatingSystem.rawValue
        }
        return settings
    }
}

extension JobFile {
    /// The outputs of the job in file order, paths resolved against `baseFolder` (the job
    /// file's folder). Two outputs with one path are an error naming both entries.
    public func units(baseFolder: String) throws(InvalidJobFile) -> [ExportUnit] {
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") ? path : (baseFolder == "." ? path : baseFolder + "/" + path)
        }
        var units: [ExportUnit] = []
        var owners: [String: String] = [:]
        var problems: [Problem] = []
        for (index, export) in exports.enumerated() {
            var folder = resolve(export.destination)
            if let bucket = export.s3Bucket { folder += "/" + bucket }
            for format in export.formats {
                let entry = "exports[\(index)]"
                let output = normalized(folder + "/" + export.fileName(for: format))
                if output == normalized(resolve(export.source)) {
                    problems.append(Problem(.error, entry, "writes its \(format.rawValue) output over its own source \(output); give another name, s3Prefix or destination"))
                    continue
                }
                if let owner = owners[output] {
                    problems.append(Problem(.error, entry, "writes \(output) as \(format.rawValue), which \(owner) also writes; give one of them another name, s3Prefix or destination"))
                    continue
                }
                owners[output] = "\(entry) (\(format.rawValue))"
                units.append(ExportUnit(entry: entry, source: resolve(export.source), sourceFormat: export.sourceFormat,
                                        format: format, output: output, options: export.options))
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
