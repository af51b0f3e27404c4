import Foundation

/// A temporary folder removed when the value goes away.
public final class TemporaryFolder {
    public let path: String

    public convenience init() throws {
        try self.init(in: FileManager.default.temporaryDirectory.path)
    }

    /// A folder in `parent` (say /dev/shm, whose tmpfs holds sparse files larger than
    /// ext4's 16 TiB).
    public init(in parent: String) throws {
        path = URL(fileURLWithPath: parent).appendingPathComponent("imgship-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    /// Names in the folder, hidden ones included (temporary outputs start with a dot).
    public func names() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }
}

/// Runs a program and collects its exit status and output.
public struct ProcessResult {
    public var status: Int32
    public var standardOutput: Data
    public var standardError: String
}

@discardableResult
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    // Read both pipes concurrently so neither can fill and stall the child.
    nonisolated(unsafe) var errorData = Data()
    let errorReader = Thread { errorData = error.fileHandleForReading.readDataToEndOfFile() }
    errorReader.start()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errorReader.isFinished { usleep(1000) }
    return ProcessResult(
        status: process.terminationStatus, standardOutput: outputData,
        standardError: String(decoding: errorData, as: UTF8.self))
}

/// The path of a tool on PATH, or nil.
public func which(_ tool: String) -> String? {
    for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let candidate = "\(folder)/\(tool)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    for folder in ["/usr/sbin", "/sbin"] where FileManager.default.isExecutableFile(atPath: "\(folder)/\(tool)") {
        return "\(folder)/\(tool)"
    }
    return nil
}

/// A small seeded generator (SplitMix64), so randomised tests (fuzz rounds, kill times) do the
/// same on every machine and every run.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
