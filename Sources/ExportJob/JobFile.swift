import ConfigDocument
import DiskImage

/// A batch of exports, read from a JSON or YAML job file (schema in docs/job.md, `schemaVersion` 1).
///
/// Each export names a source image, the formats to write it in and where: outputs follow the
/// layout of EC2 ExportImage in S3, `<destination>/<s3Bucket>/<s3Prefix><name>.<extension>`,
/// so a later `aws s3 sync <destination>/<s3Bucket> s3://<s3Bucket>` puts each object under
/// the key Image Builder would use.
public struct JobFile: Sendable, Equatable {
    public static let schemaVersion = 1

    public var exports: [Export]

    public init(exports: [Export]) {
        self.exports = exports
    }

    /// One source image written in one or more formats.
    public struct Export: Sendable, Equatable {
        /// The image path as written; relative paths are relative to the job file's folder.
        public var source: String
        /// How to read the source; nil means what its bytes say.
        public var sourceFormat: SourceFormat?
        public var formats: [OutputFormat]
        /// The local folder standing for S3; relative like `source`.
        public var destination: String
        public var s3Bucket: String?
        /// Prepended to the file name as S3 prepends it to the key: `exports/` makes a folder,
        /// `vm-` a name prefix.
        public var s3Prefix: String?
        /// The bucket's region: the import commands of a `target: aws` output name it.
        public var s3Region: String?
        /// The file name without extension; nil means the source's name without its extension.
        public var name: String?
        public var options: Options

        public init(
            source: String, sourceFormat: SourceFormat? = nil, formats: [OutputFormat], destination: String,
            s3Bucket: String? = nil, s3Prefix: String? = nil, s3Region: String? = nil, name: String? = nil, options: Options = Options()
        ) {
            self.source = source
            self.sourceFormat = sourceFormat
            self.formats = formats
            self.destination = destination
            self.s3Bucket = s3Bucket
            self.s3Prefix = s3Prefix
            self.s3Region = s3Region
            self.name = name
            self.options = options
        }

        /// The output file name for `format`: prefix, name and extension.
        public func fileName(for format: OutputFormat) -> String {
            let base = name ?? Self.defaultName(forSource: source)
            return (s3Prefix ?? "") + base + "." + format.fileExtension
        }

        /// `images/web.raw` is `web`; `/dev/sdb` is `sdb`.
        static func defaultName(forSource source: String) -> String {
            let last = source.split(separator: "/").last.map(String.init) ?? source
            guard let dot = last.lastIndex(of: "."), dot != last.startIndex else { return last }
            return String(last[..<dot])
        }
    }

    /// The export options a job may set; the same as `imgship export`'s.
    public struct Options: Sendable, Equatable {
        public var level: DeflateLevel
        public var adapter: VMDK.Adapter
        public var alignToMiB: Bool
        public var machine: VirtualMachineSettings
        /// The export's `target` (`imgship export --target`): its rules are checked and it
        /// decides the outputs' details.
        public var target: ExportTarget?
        /// With a target: the firmware to declare; nil reads it from the disk.
        public var firmware: VirtualMachineSettings.Firmware?
        /// qcow2: compress the clusters (zlib unless `qcow2Compression` says otherwise).
        public var compress = false
        /// qcow2: the compressed clusters' type; implies `compress`.
        package var qcow2Compression: QCOW2.WriteOptions.CompressionType?
        /// qcow2: the version written; nil is 1.1 (version 3).
        package var qcow2Compat: QCOW2.WriteOptions.Compatibility?
        /// VHDX payload block size in bytes; nil is `VHDX.defaultBlockSize(virtualSize:)`.
        public var vhdxBlockSize: Int?
        /// OVA: the PEM private key and certificate that sign the package's manifest, as
        /// written in the job file (relative to its folder) until `units(baseFolder:)`
        /// resolves them; both or neither.
        public var signKey: String?
        public var signCertificate: String?
        /// With target aws: the import commands the report prints; nil is `.image`.
        public var awsImport: AWSImportCommands.Method?
        /// With `awsImport: snapshot`: register-image's architecture and AMI name.
        public var architecture: String?
        public var amiName: String?

        public init(
            level: DeflateLevel = .standard, adapter: VMDK.Adapter = .lsilogic, alignToMiB: Bool = false,
            machine: VirtualMachineSettings = VirtualMachineSettings(), target: ExportTarget? = nil,
            firmware: VirtualMachineSettings.Firmware? = nil
        ) {
            self.level = level
            self.adapter = adapter
            self.alignToMiB = alignToMiB
            self.machine = machine
            self.target = target
            self.firmware = firmware
        }

        /// `compress`, `qcow2Compression` and `qcow2Compat`, as the qcow2 writer takes them.
        package var qcow2: QCOW2.WriteOptions {
            QCOW2.WriteOptions(compatibility: qcow2Compat ?? .version3, compression: qcow2Compression ?? (compress ? .zlib : nil))
        }

        /// The options set to other than their defaults, with their values as a job file
        /// writes them: what `ExportOptionRules.inapplicable` warns of where a format ignores them.
        var given: [(key: ExportOptionKey, value: String?)] {
            let defaults = Options()
            var given: [(key: ExportOptionKey, value: String?)] = []
            if level != defaults.level { given.append((.level, level.description)) }
            if compress { given.append((.compress, nil)) }
            if qcow2Compression != nil { given.append((.qcow2Compression, nil)) }
            if qcow2Compat != nil { given.append((.qcow2Compat, nil)) }
            if let vhdxBlockSize { given.append((.blockSize, "\(vhdxBlockSize >> 20)")) }
            if adapter != defaults.adapter { given.append((.adapter, adapter.rawValue)) }
            if machine.cpus != defaults.machine.cpus { given.append((.cpus, nil)) }
            if machine.memoryMiB != defaults.machine.memoryMiB { given.append((.memoryMiB, nil)) }
            if machine.operatingSystem != defaults.machine.operatingSystem { given.append((.osType, nil)) }
            if machine.manifestDigest != defaults.machine.manifestDigest { given.append((.manifestDigest, nil)) }
            if signKey != nil { given.append((.signKey, nil)) }
            if signCertificate != nil { given.append((.signCert, nil)) }
            return given
        }
    }
}

/// A job file that cannot be run: every problem found, each with its path and position.
public struct InvalidJobFile: Error, Sendable {
    public var problems: [Problem]
}

extension JobFile {
    /// Reads and checks a job document, collecting every problem rather than stopping at the first.
    public static func decode(_ text: String) throws(InvalidJobFile) -> JobFile {
        let document: ConfigValue
        do {
            document = try DocumentReader.parse(text)
        } catch {
            throw InvalidJobFile(problems: [error])
        }
        var reader = JobFileReader()
        let job = reader.read(document)
        guard let job, reader.problems.isEmpty else {
            throw InvalidJobFile(problems: reader.problems.sorted())
        }
        return job
    }
}

/// The walk behind `JobFile.decode`: one method a structure, problems appended as found.
struct JobFileReader {
    var problems: [Problem] = []

    static let topKeys = ["schemaVersion", "exports"]
    static let exportKeys = ["source", "sourceFormat", "target", "formats", "destination", "s3Bucket", "s3Prefix", "s3Region", "name", "options"]
    static let optionKeys = [
        "level", "adapter", "alignMiB", "cpus", "memoryMiB", "osType", "firmware", "compress", "qcow2Compression", "qcow2Compat", "blockSize",
        "manifestDigest", "signKey", "signCert", "awsImport", "architecture", "amiName",
    ]
    static let formatNames = ImageFormat.valueNames

    mutating func read(_ document: ConfigValue) -> JobFile? {
        let root = Path()
        guard checkKeys(document, root, allowed: Self.topKeys, structure: "the job") else { return nil }
        if let version = document["schemaVersion"] {
            if version.int != JobFile.schemaVersion {
                fail(
                    root.member("schemaVersion"), "this imgship reads schemaVersion \(JobFile.schemaVersion), found \(version.scalarText ?? version.typeName)",
                    version)
            }
        } else {
            fail(root, "missing required field 'schemaVersion' (\(JobFile.schemaVersion))", document)
        }
        guard let exportsValue = document["exports"] else {
            fail(root, "missing required field 'exports' (a list of exports)", document)
            return nil
        }
        guard let items = exportsValue.array else {
            fail(root.member("exports"), "expected a list of exports, found \(exportsValue.typeName)", exportsValue)
            return nil
        }
        if items.isEmpty {
            fail(root.member("exports"), "the list is empty; give at least one export", exportsValue)
        }
        let exports = items.enumerated().compactMap { index, item in
            readExport(item, root.member("exports").item(index))
        }
        guard exports.count == items.count else { return nil }
        return JobFile(exports: exports)
    }

    private mutating func readExport(_ value: ConfigValue, _ path: Path) -> JobFile.Export? {
        guard checkKeys(value, path, allowed: Self.exportKeys, structure: "an export") else { return nil }
        let before = problems.count
        let source = requiredString(value, "source", path)
        let destination = requiredString(value, "destination", path)
        var sourceFormat: SourceFormat?
        if let text = optionalString(value, "sourceFormat", path) {
            sourceFormat = SourceFormat(rawValue: text.lowercased())
            if sourceFormat == nil {
                fail(
                    path.member("sourceFormat"),
                    "\"\(text)\" is not a source format; expected one of \(SourceFormat.allCases.map(\.rawValue).joined(separator: ", "))",
                    value["sourceFormat"])
            }
        }
        var target: ExportTarget?
        if let text = optionalString(value, "target", path) {
            do throws(ExportTargetParseError) {
                target = try ExportTarget(parsing: text)
            } catch {
                fail(path.member("target"), error.description, value["target"])
            }
        }
        let formats = readFormats(value, path, target: target)
        let s3Bucket = optionalString(value, "s3Bucket", path)
        if let s3Bucket, !Self.isBucketName(s3Bucket) {
            fail(
                path.member("s3Bucket"),
                "\"\(s3Bucket)\" is not an S3 bucket name: 3 to 63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit",
                value["s3Bucket"])
        }
        let s3Prefix = optionalString(value, "s3Prefix", path)
        if let s3Prefix, let reason = Self.prefixProblem(s3Prefix) {
            fail(path.member("s3Prefix"), "\(Self.hasLineBreak(s3Prefix) ? jsonString(s3Prefix) : "\"\(s3Prefix)\"") \(reason)", value["s3Prefix"])
        }
        let s3Region = optionalString(value, "s3Region", path)
        if let s3Region, AWSRegion(s3Region) == nil {
            fail(path.member("s3Region"), AWSRegion.problem(s3Region), value["s3Region"])
        }
        let name = optionalString(value, "name", path)
        if let name, name.isEmpty || name.contains("/") || name == "." || name == ".." || name.contains("\u{0}") {
            fail(
                path.member("name"), "\"\(name)\" is not a file name: give a name without '/' (the folder comes from destination, s3Bucket and s3Prefix)",
                value["name"])
        } else if let name, Self.hasLineBreak(name) {
            fail(path.member("name"), "\(jsonString(name)) has a line break, which would split its SHA256SUMS line; give a name without one", value["name"])
        } else if name == nil, let source, Self.hasLineBreak(JobFile.Export.defaultName(forSource: source)) {
            fail(
                path.member("source"), "the file name of \(jsonString(source)) has a line break, which would split its outputs' SHA256SUMS lines; give a name",
                value["source"])
        }
        // The output stands for an S3 object: its key (prefix, name, extension) must be one S3
        // takes, checked here, before any work.
        if let formats, let source, problems.count == before {
            let export = JobFile.Export(source: source, formats: formats, destination: "", s3Prefix: s3Prefix, name: name)
            for format in formats where export.fileName(for: format).utf8.count > AWSImportCommands.maximumKeyBytes {
                fail(
                    path.member(s3Prefix != nil ? "s3Prefix" : name != nil ? "name" : "source"),
                    "the S3 key of its \(format.rawValue) output is \(export.fileName(for: format).utf8.count) bytes, more than the \(AWSImportCommands.maximumKeyBytes) S3 allows (Amazon S3 user guide, \"Naming objects\")",
                    value[s3Prefix != nil ? "s3Prefix" : name != nil ? "name" : "source"])
                break
            }
        }
        var options = readOptions(value["options"], path.member("options"))
        options?.target = target
        if options?.firmware != nil && target == nil {
            fail(path.member("options").member("firmware"), "applies with a target only; give the export a 'target'", value["options"]?["firmware"])
        }
        if let options, let formats {
            checkOptions(options, formats: formats, target: target, value["options"], path.member("options"))
        }
        guard problems.count == before, let source, let destination, let formats, let options else { return nil }
        return JobFile.Export(
            source: source, sourceFormat: sourceFormat, formats: formats, destination: destination,
            s3Bucket: s3Bucket, s3Prefix: s3Prefix, s3Region: s3Region, name: name, options: options)
    }

    /// `formats`; with a target, each must be one it imports, and none means its default.
    private mutating func readFormats(_ export: ConfigValue, _ path: Path, target: ExportTarget?) -> [OutputFormat]? {
        if export["formats"] == nil, let target { return [target.defaultFormat] }
        guard let value = export["formats"] else {
            fail(path, "missing required field 'formats' (a list of \(Self.formatNames.joined(separator: ", ")))", export)
            return nil
        }
        // A single format as a string is accepted: it is what people write for one format.
        let items = value.array ?? [value]
        if items.isEmpty {
            fail(path.member("formats"), "the list is empty; give at least one of \(Self.formatNames.joined(separator: ", "))", value)
            return nil
        }
        var formats: [OutputFormat] = []
        var extensions: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            let itemPath = value.array == nil ? path.member("formats") : path.member("formats").item(index)
            guard let text = item.string else {
                fail(itemPath, "expected a format name, found \(item.typeName)", item)
                continue
            }
            guard let format = OutputFormat(parsing: text) else {
                fail(itemPath, "\"\(text)\" is not an output format; expected one of \(Self.formatNames.joined(separator: ", "))", item)
                continue
            }
            if let earlier = extensions[format.fileExtension] {
                fail(
                    itemPath,
                    "\"\(text)\" writes the same .\(format.fileExtension) file as formats[\(earlier)]; give one of them, or a second export with another name",
                    item)
                continue
            }
            if let target {
                do throws(DiskImageError) {
                    try target.checkFormat(format)
                } catch {
                    if case let .refusedByTarget(_, reason, source) = error {
                        fail(itemPath, "target \(target): \(reason) (\(source))", item)
                    }
                    continue
                }
            }
            extensions[format.fileExtension] = index
            formats.append(format)
        }
        return formats.count == items.count ? formats : nil
    }

    private mutating func readOptions(_ value: ConfigValue?, _ path: Path) -> JobFile.Options? {
        var options = JobFile.Options()
        guard let value else { return options }
        guard checkKeys(value, path, allowed: Self.optionKeys, structure: "options") else { return nil }
        let before = problems.count
        if let level = value["level"] {
            if let text = level.scalarText, level.bool == nil, let parsed = DeflateLevel(parsing: text) {
                options.level = parsed
            } else {
                fail(
                    path.member("level"), "expected fast, default, best or a number 1 to 12, found \(level.scalarText.map { "\"\($0)\"" } ?? level.typeName)",
                    level)
            }
        }
        if let text = optionalString(value, "adapter", path) {
            if let adapter = VMDK.Adapter(rawValue: text.lowercased()) {
                options.adapter = adapter
            } else {
                fail(
                    path.member("adapter"),
                    "\"\(text)\" is not a VMDK adapter; expected one of \(VMDK.Adapter.allCases.map(\.rawValue).joined(separator: ", "))", value["adapter"])
            }
        }
        if let align = value["alignMiB"] {
            if let flag = align.bool {
                options.alignToMiB = flag
            } else {
                fail(path.member("alignMiB"), "expected true or false, found \(align.typeName)", align)
            }
        }
        if let cpus = integer(value, "cpus", path, in: 1...768) { options.machine.cpus = cpus }
        if let memory = integer(value, "memoryMiB", path, in: 4...(24 << 20)) { options.machine.memoryMiB = memory }
        if let text = optionalString(value, "firmware", path) {
            if let firmware = VirtualMachineSettings.Firmware(rawValue: text.lowercased()) {
                options.firmware = firmware
            } else {
                fail(path.member("firmware"), "\"\(text)\" is not a firmware; expected bios or efi", value["firmware"])
            }
        }
        if let text = optionalString(value, "osType", path) {
            if let system = VirtualMachineSettings.OperatingSystem(rawValue: text.lowercased()) {
                options.machine.operatingSystem = system
            } else {
                fail(
                    path.member("osType"),
                    "\"\(text)\" is not an OS type; expected one of \(VirtualMachineSettings.OperatingSystem.allCases.map(\.rawValue).joined(separator: ", "))",
                    value["osType"])
            }
        }
        if let compress = value["compress"] {
            if let flag = compress.bool {
                options.compress = flag
            } else {
                fail(path.member("compress"), "expected true or false, found \(compress.typeName)", compress)
            }
        }
        options.qcow2Compression = choice(value, "qcow2Compression", path, what: "a qcow2 compression type") {
            QCOW2.WriteOptions.CompressionType(parsing: $0)
        }
        // `1.1` and `0.10` are numbers to YAML and JSON; their text is what counts.
        if let compat = value["qcow2Compat"] {
            let names = QCOW2.WriteOptions.Compatibility.allCases.map(\.rawValue)
            if let text = compat.scalarText, compat.bool == nil, let parsed = QCOW2.WriteOptions.Compatibility(rawValue: text) {
                options.qcow2Compat = parsed
            } else {
                fail(
                    path.member("qcow2Compat"),
                    "\(compat.scalarText.map { "\"\($0)\"" } ?? compat.typeName) is not a qcow2 compat level; expected one of \(names.joined(separator: ", "))",
                    compat)
            }
        }
        if let problem = options.qcow2.problem {
            fail(path.member("qcow2Compression"), problem.replacing("--qcow2-compat", with: "qcow2Compat"), value["qcow2Compression"] ?? value)
        }
        if let size = value["blockSize"] {
            if let text = size.scalarText, size.bool == nil, let bytes = ExportOptionRules.vhdxBlockSize(parsing: text) {
                options.vhdxBlockSize = bytes
            } else {
                fail(path.member("blockSize"), "\(size.scalarText.map { "\"\($0)\"" } ?? size.typeName) \(ExportOptionRules.blockSizeExpectation)", size)
            }
        }
        if let digest = choice(value, "manifestDigest", path, what: "an OVF manifest digest", parse: VirtualMachineSettings.ManifestDigest.init(rawValue:)) {
            options.machine.manifestDigest = digest
        }
        options.signKey = optionalString(value, "signKey", path)
        options.signCertificate = optionalString(value, "signCert", path)
        if (options.signKey == nil) != (options.signCertificate == nil) {
            let missing = options.signKey == nil ? "signKey" : "signCert"
            fail(path, "signKey and signCert go together: the key signs, the certificate is shipped for checking; give '\(missing)' too", value)
        }
        options.awsImport = choice(value, "awsImport", path, what: "an AWS import path", parse: AWSImportCommands.Method.init(rawValue:))
        if let architecture = optionalString(value, "architecture", path) {
            if AWSImportCommands.Registration.architectureProblem(architecture) != nil {
                fail(
                    path.member("architecture"),
                    "\"\(architecture)\" is not an architecture VM Import takes; expected one of \(AWSImportCommands.Registration.architectures.joined(separator: ", "))",
                    value["architecture"])
            }
            options.architecture = architecture
        }
        if let name = optionalString(value, "amiName", path) {
            if let problem = AWSImportCommands.Registration.nameProblem(name) { fail(path.member("amiName"), problem, value["amiName"]) }
            options.amiName = name
        }
        return problems.count == before ? options : nil
    }

    /// The rules across options, formats and target, the export command's own
    /// (`ExportOptionRules`): OVA-only keys need an OVA among the formats, a manifest digest
    /// must agree with the target, AWS import keys need `target: aws`, the snapshot path its formats.
    private mutating func checkOptions(_ options: JobFile.Options, formats: [OutputFormat], target: ExportTarget?, _ value: ConfigValue?, _ path: Path) {
        let given = options.given.map(\.key)
        if let problem = ExportOptionRules.packageOptionProblem(formats: formats, given: given, name: \.rawValue),
            let key = given.first(where: [ExportOptionKey.signKey, .signCert, .manifestDigest].contains)
        {
            fail(path.member(key.rawValue), problem.replacing(" (-f ova)", with: " (format ova)"), value?[key.rawValue])
        }
        if given.contains(.manifestDigest),
            let problem = ExportOptionRules.manifestDigestProblem(options.machine.manifestDigest, target: target, name: \.rawValue, targetName: "target")
        {
            fail(path.member("manifestDigest"), problem, value?["manifestDigest"])
        }
        let awsKeys = [("awsImport", options.awsImport != nil), ("architecture", options.architecture != nil), ("amiName", options.amiName != nil)]
        for (key, isGiven) in awsKeys where isGiven && target != .aws {
            fail(path.member(key), "applies with target aws only (it shapes the AWS import commands); give the export 'target: aws'", value?[key])
        }
        guard target == .aws else { return }
        for (key, isGiven) in awsKeys.dropFirst() where isGiven && options.awsImport != .snapshot {
            fail(path.member(key), "applies with awsImport snapshot only (import-image decides the AMI itself)", value?[key])
        }
        if options.awsImport == .snapshot {
            for format in formats {
                if let problem = ExportOptionRules.snapshotFormatProblem(format) {
                    fail(path.member("awsImport"), "snapshot: \(problem); give formats vmdk, vhd or raw", value?["awsImport"])
                    break
                }
            }
        }
    }

    /// A string key whose value must be one of `T`'s names, in any case; a problem naming the
    /// path and the allowed values otherwise.
    private mutating func choice<T: RawRepresentable & CaseIterable>(
        _ object: ConfigValue, _ key: String, _ path: Path, what: String, parse: (String) -> T?
    ) -> T? where T.RawValue == String {
        guard let text = optionalString(object, key, path) else { return nil }
        if let parsed = parse(text.lowercased()) { return parsed }
        fail(
            path.member(key), "\"\(text)\" is not \(what); expected one of \(T.allCases.map(\.rawValue).joined(separator: ", "))", object[key])
        return nil
    }

    // MARK: Fields

    /// False (with a problem) when `value` is not an object; unknown keys are reported and
    /// the walk goes on, so one typo does not hide other problems.
    private mutating func checkKeys(_ value: ConfigValue, _ path: Path, allowed: [String], structure: String) -> Bool {
        guard let members = value.members else {
            fail(path, "expected \(structure) as an object, found \(value.typeName)", value)
            return false
        }
        for (key, member) in members where !allowed.contains(key) {
            let hint =
                closestName(to: key, among: allowed).map { "did you mean '\($0)'?" }
                ?? "expected one of \(allowed.joined(separator: ", "))"
            fail(path.member(key), "unknown key '\(key)'; \(hint)", member)
        }
        return true
    }

    private mutating func requiredString(_ object: ConfigValue, _ key: String, _ path: Path) -> String? {
        guard object[key] != nil else {
            fail(path, "missing required field '\(key)'", object)
            return nil
        }
        return optionalString(object, key, path)
    }

    private mutating func optionalString(_ object: ConfigValue, _ key: String, _ path: Path) -> String? {
        guard let value = object[key] else { return nil }
        guard let text = value.string else {
            fail(path.member(key), "expected a string, found \(value.typeName)", value)
            return nil
        }
        if text.isEmpty {
            fail(path.member(key), "is empty", value)
            return nil
        }
        return text
    }

    private mutating func integer(_ object: ConfigValue, _ key: String, _ path: Path, in range: ClosedRange<Int>) -> Int? {
        guard let value = object[key] else { return nil }
        guard let number = value.int, range.contains(number) else {
            fail(
                path.member(key), "expected a whole number from \(range.lowerBound) to \(range.upperBound), found \(value.scalarText ?? value.typeName)", value)
            return nil
        }
        return number
    }

    private mutating func fail(_ path: Path, _ message: String, _ value: ConfigValue?) {
        problems.append(Problem(.error, path.text, message, at: value))
    }

    // MARK: S3 names

    /// A line feed or carriage return: a sha256sum list holds one file a line.
    static func hasLineBreak(_ text: String) -> Bool {
        text.utf8.contains { $0 == 0x0A || $0 == 0x0D }
    }

    /// S3's rules for bucket names (general purpose buckets).
    static func isBucketName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (3...63).contains(bytes.count) else { return false }
        func isLetterOrDigit(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard let first = bytes.first, let last = bytes.last, isLetterOrDigit(first), isLetterOrDigit(last) else { return false }
        return bytes.allSatisfy { isLetterOrDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") } && !name.contains("..")
    }

    /// Why a prefix cannot stand for a local path, or nil. S3 keys may hold anything; a
    /// folder on disk may not climb out of its bucket.
    static func prefixProblem(_ prefix: String) -> String? {
        if prefix.hasPrefix("/") { return "starts with '/'; S3 prefixes are relative to the bucket" }
        if prefix.contains("\u{0}") { return "contains a NUL character" }
        if hasLineBreak(prefix) { return "has a line break, which would split its outputs' SHA256SUMS lines" }
        let components = prefix.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        if components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            return "has an empty, '.' or '..' folder; it would not land under the same key locally"
        }
        return nil
    }
}

extension JobFile {
    /// The job as a JSON job file, keys in schema order, options only where they differ from
    /// the defaults; `decode` reads it back to an equal job.
    public func json() -> String {
        let defaults = Options()
        let entries: [JSONOutput] = exports.map { export in
            var fields: [(key: String, value: JSONOutput)] = [("source", .string(export.source))]
            if let format = export.sourceFormat { fields.append(("sourceFormat", .string(format.rawValue))) }
            if let target = export.options.target { fields.append(("target", .string(target.description))) }
            fields.append(("formats", .array(export.formats.map { .string($0.rawValue) })))
            fields.append(("destination", .string(export.destination)))
            if let bucket = export.s3Bucket { fields.append(("s3Bucket", .string(bucket))) }
            if let prefix = export.s3Prefix { fields.append(("s3Prefix", .string(prefix))) }
            if let region = export.s3Region { fields.append(("s3Region", .string(region))) }
            if let name = export.name { fields.append(("name", .string(name))) }
            var options: [(key: String, value: JSONOutput)] = []
            let chosen = export.options
            if chosen.level != defaults.level { options.append(("level", .string(chosen.level.description))) }
            if chosen.adapter != defaults.adapter { options.append(("adapter", .string(chosen.adapter.rawValue))) }
            if chosen.alignToMiB { options.append(("alignMiB", .bool(true))) }
            if chosen.machine.cpus != defaults.machine.cpus { options.append(("cpus", .integer(chosen.machine.cpus))) }
            if chosen.machine.memoryMiB != defaults.machine.memoryMiB { options.append(("memoryMiB", .integer(chosen.machine.memoryMiB))) }
            if chosen.machine.operatingSystem != defaults.machine.operatingSystem {
                options.append(("osType", .string(chosen.machine.operatingSystem.rawValue)))
            }
            if let firmware = chosen.firmware { options.append(("firmware", .string(firmware.rawValue))) }
            if chosen.compress { options.append(("compress", .bool(true))) }
            if let type = chosen.qcow2Compression { options.append(("qcow2Compression", .string(type.rawValue))) }
            if let compat = chosen.qcow2Compat { options.append(("qcow2Compat", .string(compat.rawValue))) }
            if let size = chosen.vhdxBlockSize { options.append(("blockSize", .integer(size >> 20))) }
            if chosen.machine.manifestDigest != defaults.machine.manifestDigest {
                options.append(("manifestDigest", .string(chosen.machine.manifestDigest.rawValue)))
            }
            if let key = chosen.signKey { options.append(("signKey", .string(key))) }
            if let certificate = chosen.signCertificate { options.append(("signCert", .string(certificate))) }
            if let method = chosen.awsImport { options.append(("awsImport", .string(method.rawValue))) }
            if let architecture = chosen.architecture { options.append(("architecture", .string(architecture))) }
            if let name = chosen.amiName { options.append(("amiName", .string(name))) }
            if !options.isEmpty { fields.append(("options", .object(options))) }
            return .object(fields)
        }
        return JSONOutput.object([("schemaVersion", .integer(Self.schemaVersion)), ("exports", .array(entries))]).prettyEncoded()
    }
}
