/// What an export is in the middle of, for progress displays.
public struct ExportProgress: Sendable {
    public enum Phase: String, Sendable {
        /// VHD dynamic reads the source once to learn which blocks hold data.
        case scanning
        case writing
        /// `verify` reads every stored cluster.
        case checking
        /// `verify` computes the file's SHA-256.
        case hashing
    }
    public var phase: Phase
    /// Virtual-disk bytes done and in all.
    public var completed: UInt64
    public var total: UInt64

    public init(phase: Phase, completed: UInt64, total: UInt64) {
        self.phase = phase
        self.completed = completed
        self.total = total
    }
}

/// Everything an export can be told besides its source and output.
public struct ExportOptions: Sendable {
    public var format: OutputFormat
    /// How to read the source; nil means what its bytes say.
    public var sourceFormat: SourceFormat?
    /// Worker threads for reading, zero detection and compression.
    public var threads: Int
    /// VMDK grain compression, and qcow2's when it compresses.
    public var level: DeflateLevel
    /// qcow2: the version and whether clusters are compressed.
    package var qcow2: QCOW2.WriteOptions
    /// VMDK controller type.
    public var adapter: VMDK.Adapter
    /// Round the virtual size up to a whole MiB (Azure requires it of fixed VHDs).
    public var alignToMiB: Bool
    /// VHDX payload block size in bytes (a power of two, 1 to 256 MiB); nil:
    /// `VHDX.defaultBlockSize(virtualSize:)`.
    public var vhdxBlockSize: Int?
    /// Round the virtual size up to a whole GiB (Google requires it of a GCE image's
    /// disk.raw); set by `--target gcp`.
    public var alignToGiB = false
    /// Replace an existing output and manifest.
    public var overwrite: Bool
    /// Unix time written into the VHD footer.
    public var timestamp: UInt64
    /// 16 bytes: the VHD unique id; its first 4 bytes are the VMDK content id.
    public var diskIdentifier: [UInt8]
    /// Polled between batches; returning true stops the export with `.cancelled`.
    public var isCancelled: @Sendable () -> Bool
    /// Called on the writing thread after each batch.
    public var progress: (@Sendable (ExportProgress) -> Void)?
    /// The virtual machine an OVA declares around its disk.
    public var machine: VirtualMachineSettings
    /// Let a VMDK descriptor's extents be files outside its folder (the user's own); they
    /// must still be regular files. Off by default: see `ImageReader.open`.
    public var allowExternalExtents: Bool
    /// Compute the output's SHA-256 and write its manifest. False (`export --no-manifest`):
    /// no digest is computed at all and no manifest written (an OVA still hashes its members
    /// for its own `.mf`).
    public var computesDigest: Bool
    /// The platform the output is for: its rules are checked before anything is written and
    /// it decides the OVF's details (`ExportTarget`). `format` must be one it imports.
    public var target: ExportTarget?
    /// The firmware to declare (OVF, Hyper-V generation, AWS boot mode); nil reads it from
    /// the disk. Used with a target only.
    public var firmware: VirtualMachineSettings.Firmware?
    /// OVA: the key and certificate that sign the package's manifest (`NAME.cert`); nil
    /// writes an unsigned package.
    package var signer: OVA.PackageSigner?
    /// A file output's lock (`JobLock.path(output:)`): taken by `export` unless the caller
    /// already holds it (a job run, which holds it from its check of what is there).
    public var outputLock = OutputLocking.take(wait: false)

    /// How `Exporter.export` treats the lock of a file output.
    public enum OutputLocking: Sendable {
        /// Take it; when another run holds it, fail naming the holder, or with `wait` wait
        /// (until `isCancelled`), calling `onWaiting` once.
        case take(wait: Bool, onWaiting: @Sendable (JobLockError) -> Void = { _ in })
        /// The caller holds it for the whole export.
        case heldByCaller
    }

    package init(
        format: OutputFormat,
        sourceFormat: SourceFormat? = nil,
        threads: Int = 0,
        level: DeflateLevel = .standard,
        adapter: VMDK.Adapter = .lsilogic,
        alignToMiB: Bool = false,
        overwrite: Bool = false,
        timestamp: UInt64? = nil,
        diskIdentifier: [UInt8]? = nil,
        isCancelled: @escaping @Sendable () -> Bool = { false },
        progress: (@Sendable (ExportProgress) -> Void)? = nil,
        machine: VirtualMachineSettings = VirtualMachineSettings(),
        allowExternalExtents: Bool = false,
        computesDigest: Bool = true,
        target: ExportTarget? = nil,
        firmware: VirtualMachineSettings.Firmware? = nil,
        signer: OVA.PackageSigner? = nil,
        qcow2: QCOW2.WriteOptions = QCOW2.WriteOptions()
    ) {
        self.format = format
        self.sourceFormat = sourceFormat
        self.threads = threads
        self.level = level
        self.adapter = adapter
        self.alignToMiB = alignToMiB
        self.overwrite = overwrite
        self.timestamp = timestamp ?? currentUnixTime()
        self.diskIdentifier = diskIdentifier ?? (0..<16).map { _ in UInt8.random(in: 0...255) }
        self.isCancelled = isCancelled
        self.progress = progress
        self.machine = machine
        self.allowExternalExtents = allowExternalExtents
        self.computesDigest = computesDigest
        self.target = target
        self.firmware = firmware
        self.signer = signer
        self.qcow2 = qcow2
    }
}

/// What an export produced.
public struct ExportSummary: Sendable, Codable, Equatable {
    public var format: OutputFormat
    public var source: String
    /// The format the source was read as.
    public var sourceFormat: String
    /// The output path, or "-" for standard output.
    public var output: String
    /// The sha256sum manifest written, if any.
    public var manifest: String?
    public var sourceSize: UInt64
    public var virtualSize: UInt64
    /// Bytes of the output as a reader sees it (its length).
    public var outputSize: UInt64
    /// Bytes actually written: holes in a sparse output are not counted.
    public var bytesWritten: UInt64
    /// The output's SHA-256, hex; nil when it was not computed (`computesDigest` false).
    public var sha256: String?
    public var seconds: Double
    /// Adjustments the user should know of, such as a size rounded up, and the target's
    /// warnings.
    public var warnings: [String]
    /// What `options.target` decided; nil without a target.
    public var target: TargetDecision?
}
