import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension SystemCalls {
    /// A failure a test plants where a full disk or a failing drive would give one, without
    /// root (no loop device, no dm-error target): the `call`s on the file `path`, or on any
    /// file under the folder `path`, fail with `errno` once `succeeding` of them have gone
    /// through, and keep failing (a full disk stays full).
    ///
    /// A call on a descriptor matches by the file it has open (its /proc/self/fd link, see
    /// proc(5)), so a write to `.out.raw.imgship-3fa2` matches a failure planted under the
    /// folder of `out.raw`. Being scoped to a path, a failure leaves alone the tests that run
    /// at the same time in the same process, each in a folder of its own.
    struct PlantedFailure: Sendable {
        var call: Call
        var path: String
        var errno: Int32
        var succeeding: Int

        init(_ call: Call, under path: String, errno: Int32, after succeeding: Int = 0) {
            self.call = call
            self.path = path
            self.errno = errno
            self.succeeding = succeeding
        }
    }

    /// A planted failure while it is planted: how many calls it matched and failed so far.
    struct Planted: Sendable {
        fileprivate let id: Int

        var matched: Int { plantedFailures.withLock { $0.planted[id]?.matched ?? 0 } }
        var failed: Int { plantedFailures.withLock { $0.planted[id]?.failed ?? 0 } }
    }

    /// Runs `body` with `failure` planted, and removes it after however `body` ends.
    @discardableResult
    static func withPlantedFailure<Result, Failure: Error>(
        _ failure: PlantedFailure, _ body: (Planted) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        // Resolved once, as the calls' files are: /tmp/x and /tmp/./x are one folder.
        let resolved = realPath(failure.path) ?? failure.path
        let id = plantedFailures.withLock { registry in
            registry.nextID += 1
            registry.planted[registry.nextID] = PlantedState(failure: failure, resolvedPath: resolved)
            return registry.nextID
        }
        plantedFailureCount.add(1, ordering: .relaxed)
        defer {
            plantedFailures.withLock { _ = $0.planted.removeValue(forKey: id) }
            plantedFailureCount.subtract(1, ordering: .relaxed)
        }
        return try body(Planted(id: id))
    }

    /// `body`'s result, or -1 with `errno` set when a planted failure takes this call on
    /// `descriptor`'s file.
    @inline(__always)
    static func planted<Result: BinaryInteger>(_ call: Call, descriptor: Int32, _ body: () -> Result) -> Result {
        failsAsPlanted(call, descriptor: descriptor) ? -1 : body()
    }

    /// `body`'s result, or -1 with `errno` set when a planted failure takes this call on the
    /// file `path`.
    @inline(__always)
    static func planted<Result: BinaryInteger>(_ call: Call, path: String, _ body: () -> Result) -> Result {
        failsAsPlanted(call, path: path) ? -1 : body()
    }

    /// True, with `errno` set, when a planted failure takes this call on `descriptor`'s file.
    @inline(__always)
    static func failsAsPlanted(_ call: Call, descriptor: Int32) -> Bool {
        guard plantedFailureCount.load(ordering: .relaxed) > 0 else { return false }
        return failsAsPlanted(call) { openedPath(descriptor) }
    }

    /// True, with `errno` set, when a planted failure takes this call on the file `path`.
    @inline(__always)
    static func failsAsPlanted(_ call: Call, path: String) -> Bool {
        guard plantedFailureCount.load(ordering: .relaxed) > 0 else { return false }
        return failsAsPlanted(call) { resolvedLocation(path) }
    }

    @inline(never)
    private static func failsAsPlanted(_ call: Call, file: () -> String?) -> Bool {
        guard plantedFailures.withLock({ $0.planted.values.contains { $0.failure.call == call } }),
            let file = file()
        else { return false }
        let code: Int32? = plantedFailures.withLock { registry in
            var code: Int32?
            for (id, var state) in registry.planted where state.failure.call == call && state.covers(file) {
                state.matched += 1
                if state.matched > state.failure.succeeding {
                    state.failed += 1
                    code = code ?? state.failure.errno
                }
                registry.planted[id] = state
            }
            return code
        }
        guard let code else { return false }
        Glibc.errno = code
        return true
    }

    /// The path of the file `descriptor` has open, as the kernel names it in /proc/self/fd.
    private static func openedPath(_ descriptor: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = Glibc.readlink("/proc/self/fd/\(descriptor)", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `path` with its folder resolved (the file itself may not exist yet).
    private static func resolvedLocation(_ path: String) -> String {
        let (folder, name) = splitPath(path)
        guard let resolved = Glibc.realpath(folder, nil) else { return path }
        defer { free(resolved) }
        let realFolder = String(cString: resolved)
        return (realFolder == "/" ? "" : realFolder) + "/" + name
    }
}

private struct PlantedState {
    var failure: SystemCalls.PlantedFailure
    var resolvedPath: String
    var matched = 0
    var failed = 0

    func covers(_ file: String) -> Bool {
        file == resolvedPath || file.hasPrefix(resolvedPath == "/" ? "/" : resolvedPath + "/")
    }
}

private struct PlantedRegistry {
    var nextID = 0
    var planted: [Int: PlantedState] = [:]
}

/// How many failures are planted: all that a system call reads when none is.
private let plantedFailureCount = Atomic<Int>(0)
private let plantedFailures = Mutex(PlantedRegistry())
