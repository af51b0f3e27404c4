import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A `moto_server` (moto's EC2, SSM, STS, ECR ... emulation over HTTP) on a free loopback port,
/// stopped when the value goes away. Each test has its own, so tests run side by side without
/// seeing each other's AMIs.
public final class MotoServer {
    /// The tools the moto tests need: moto_server, and the AWS CLI the scripts call.
    public static let isInstalled = which("moto_server") != nil && which("aws") != nil

    public let port: Int
    private let process: Process

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Starts the server and waits until it accepts connections. The port is one the kernel
    /// handed out a moment before; if another process takes it first, another is tried.
    public init(log: String) throws {
        let executable = try Self.require("moto_server")
        var lastError: (any Error)?
        for _ in 0..<3 {
            let port = try Self.freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["-H", "127.0.0.1", "-p", String(port)]
            FileManager.default.createFile(atPath: log, contents: nil)
            let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = output
            process.standardError = output
            try process.run()
            do {
                try Self.waitUntilListening(port: port, process: process, log: log)
                self.port = port
                self.process = process
                return
            } catch {
                lastError = error
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
            }
        }
        throw lastError ?? MotoError("moto_server did not start")
    }

    /// moto_server turns SIGTERM into an exit that waits for its request threads, so it is killed.
    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
    }

    public static func require(_ tool: String) throws -> String {
        guard let path = which(tool) else { throw MotoError("\(tool) is not on PATH; bash tools/setup installs it") }
        return path
    }

    /// A loopback port nobody listens on: bind port 0, read what the kernel chose, let it go.
    private static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw MotoError("socket: errno \(errno)") }
        defer { close(socket) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw MotoError("bind 127.0.0.1:0: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }

    /// Polls until a TCP connection to the port succeeds (moto answers from then on), the process
    /// exits, or 30 seconds pass.
    private static func waitUntilListening(port: Int, process: Process, log: String) throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            guard process.isRunning else {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw MotoError("moto_server on port \(port) exited with status \(process.terminationStatus): \(text)")
            }
            let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = loopback(port: UInt16(port))
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            close(socket)
            if connected { return }
            usleep(50_000)
        }
        throw MotoError("moto_server did not listen on port \(port) within 30 s")
    }
}

public struct MotoError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A JSON value for API parameters sent to `aws_calls.py batch`.
public enum JSONValue: Encodable, Sendable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case list([JSONValue])
    case object([String: JSONValue])

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case let .string(value): try container.encode(value)
        case let .int(value): try container.encode(value)
        case let .bool(value): try container.encode(value)
        case let .list(value): try container.encode(value)
        case let .object(value): try container.encode(value)
        }
    }
}

/// One API call for `aws_calls.py batch`: which account (through AssumeRole when not the owner),
/// region, service and operation, with the API's own parameter names.
public struct AWSRequest: Encodable, Sendable {
    public var account: String
    public var region: String
    public var service: String
    public var operation: String
    public var params: [String: JSONValue]

    public init(account: String, region: String, service: String, operation: String, params: [String: JSONValue]) {
        self.account = account
        self.region = region
        self.service = service
        self.operation = operation
        self.params = params
    }
}

/// Everything a script run against moto needs: the server, a folder with the stand-in `aws` and
/// `docker` first on PATH, and an environment that reaches moto as the owner account and nothing
/// of the developer's AWS setup.
public final class MotoWorld {
    public static let ownerAccount = "123456789012"
    /// moto maps any access key it did not issue to its default account, 123456789012.
    public static let ownerKey = "testing"
    public static let helpers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
        "DistributionPlanTests/Moto")

    public let folder: TemporaryFolder
    public let server: MotoServer
    public let environment: [String: String]

    /// `standInAWS` is the `aws` script placed first on PATH; `docker` logs its calls.
    public init(standInAWS: String) throws {
        folder = try TemporaryFolder()
        server = try MotoServer(log: folder.file("moto.log"))
        let bin = folder.file("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try standInAWS.write(toFile: bin + "/aws", atomically: true, encoding: .utf8)
        let docker = """
            #!/bin/bash
            # Stand-in docker: logs the call; `docker login --password-stdin` reads the password.
            printf '%s\\n' "docker $*" >> "$IMGSHIP_DOCKER_LOG"
            [[ $1 != login ]] || cat > /dev/null
            """
        try docker.write(toFile: bin + "/docker", atomically: true, encoding: .utf8)
        for tool in ["aws", "docker"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/" + tool)
        }
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("AWS_") }
        environment["PATH"] = bin + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        environment["AWS_ENDPOINT_URL"] = server.endpoint
        environment["AWS_ACCESS_KEY_ID"] = Self.ownerKey
        environment["AWS_SECRET_ACCESS_KEY"] = "testing"
        environment["AWS_DEFAULT_REGION"] = "us-east-1"
        environment["AWS_CONFIG_FILE"] = "/dev/null"
        environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
        environment["AWS_EC2_METADATA_DISABLED"] = "true"
        environment["AWS_PAGER"] = ""
        environment["IMGSHIP_REAL_AWS"] = try MotoServer.require("aws")
        environment["IMGSHIP_AWS_CALLS"] = Self.helpers.appendingPathComponent("aws_calls.py").path
        environment["IMGSHIP_OWNER_ACCOUNT"] = Self.ownerAccount
        environment["IMGSHIP_OWNER_KEY"] = Self.ownerKey
        environment["IMGSHIP_CALL_LOG"] = folder.file("calls.log")
        environment["IMGSHIP_DOCKER_LOG"] = folder.file("docker.log")
        environment["IMGSHIP_EMULATED_LOG"] = folder.file("emulated.log")
        environment["IMGSHIP_EMULATED_STATE"] = folder.file("emulated-state.json")
        self.environment = environment
    }

    /// Runs the requests in one Python process through botocore; one JSON response a request,
    /// `{"Error": {...}}` for a refused one.
    public func batch(_ requests: [AWSRequest]) throws -> [Data] {
        guard !requests.isEmpty else { return [] }
        let input = folder.file("batch-\(UUID().uuidString).json")
        try JSONEncoder().encode(requests).write(to: URL(fileURLWithPath: input))
        let result = try runProcess(
            "/bin/bash", ["-c", "exec python3 \"$IMGSHIP_AWS_CALLS\" batch < \"$1\"", "batch", input],
            environment: environment)
        guard result.status == 0 else { throw MotoError("aws_calls.py batch failed: \(result.standardError)") }
        let lines = result.standardOutput.split(separator: UInt8(ascii: "\n")).map { Data($0) }
        guard lines.count == requests.count else {
            throw MotoError("aws_calls.py batch answered \(lines.count) of \(requests.count) requests: \(result.standardError)")
        }
        return lines
    }

    public func batch<Response: Decodable>(_ request: AWSRequest, as type: Response.Type) throws -> Response {
        let data = try batch([request])[0]
        return try decode(data, as: type, request: request)
    }

    public func decode<Response: Decodable>(_ data: Data, as type: Response.Type, request: AWSRequest) throws -> Response {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw MotoError("\(request.operation) in \(request.account) \(request.region): \(String(decoding: data, as: UTF8.self))")
        }
    }

    /// Runs `bash script BUILD_AMI` with the world's environment plus `extra`.
    public func run(script: String, arguments: [String], extra: [String: String] = [:]) throws -> ProcessResult {
        let path = folder.file("plan-\(UUID().uuidString).sh")
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        return try runProcess("/bin/bash", [path] + arguments, environment: environment.merging(extra) { $1 })
    }

    /// Every `aws` command the scripts ran, in order: the access key it ran with (the owner's is
    /// `testing`) and its arguments.
    public func calls() -> [(key: String, arguments: [String])] {
        let text = (try? String(contentsOfFile: folder.file("calls.log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { line in
            let fields = line.split(separator: "\u{1f}", omittingEmptySubsequences: false).map(String.init)
            return (fields.first ?? "", Array(fields.dropFirst()))
        }
    }

    /// The calls the stand-in answered for moto.
    public func emulatedCalls() throws -> [EmulatedCall] {
        let text = (try? String(contentsOfFile: folder.file("emulated.log"), encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map { try JSONDecoder().decode(EmulatedCall.self, from: Data($0.utf8)) }
    }

    public func dockerCalls() -> [String] {
        let text = (try? String(contentsOfFile: folder.file("docker.log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }
}

/// A call `aws_calls.py emulate` answered, as it logged it.
public struct EmulatedCall: Decodable {
    public var account: String
    public var region: String
    public var operation: String
    public var params: [String: LooseJSON]
    public var response: [String: LooseJSON]?
    public var error: [String: String]?
}

/// Any JSON value, for reading logged parameters and responses.
public enum LooseJSON: Decodable, Equatable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case list([LooseJSON])
    case object([String: LooseJSON])
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([LooseJSON].self) {
            self = .list(value)
        } else {
            self = .object(try container.decode([String: LooseJSON].self))
        }
    }

    public var string: String? { if case let .string(value) = self { value } else { nil } }
}
