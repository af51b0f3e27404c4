import DiskImage

#if canImport(Glibc)
import Glibc
#endif

/// One of N shards of a job, run as one task of a batch engine (a Kubernetes Indexed Job, an
/// AWS Batch array job, GNU parallel): every output of the job belongs to exactly one shard,
/// by a rule every machine computes alike, so shards never write the same file and a rerun of
/// shard I redoes only its own outputs. Indexes count from 0, as the engines' do.
public struct JobShard: Sendable, Equatable, CustomStringConvertible {
    /// How outputs are dealt to shards.
    public enum Balance: String, Sendable, CaseIterable {
        /// By a hash of the output's path as the job file names it: stable whatever the
        /// machine, its mount points or the order of the job file.
        case path
        /// By source bytes: the largest first, each to the shard with the fewest bytes so far
        /// (ties to the lowest index). Every shard must see the same sources at the same sizes.
        case size
    }

    public var index: Int
    public var count: Int

    public init?(index: Int, count: Int) {
        guard count >= 1, count <= Self.maximumCount, (0..<count).contains(index) else { return nil }
        self.index = index
        self.count = count
    }

    /// More shards than this is a typing error, not a fleet.
    public static let maximumCount = 100_000

    /// `I/N`, as `--shard` takes it.
    public var description: String { "\(index)/\(count)" }

    /// The report a shard of the job file `job` (its file name) writes beside it:
    /// `JOB.report.I-of-N.json` (`job.yaml.report.0-of-4.json`).
    public func reportName(job: String) -> String { "\(job).report.\(index)-of-\(count).json" }

    /// The lock a run of this shard holds (`JobLock`): `JOB.I-of-N.lock`.
    public func lockName(job: String) -> String { "\(job).\(index)-of-\(count).lock" }

    /// The shard whose report is named `name` (spelled exactly as `reportName(job:)` spells
    /// it for the job file `job`); nil for any other name.
    public init?(reportName name: String, job: String) {
        let prefix = job + ".report."
        guard name.hasPrefix(prefix), name.hasSuffix(".json"), name.utf8.count > prefix.utf8.count + 5 else { return nil }
        let middle = name.dropFirst(prefix.count).dropLast(".json".count)
        guard let shard = JobShard(parsing: middle.replacingOccurrences(of: "-of-", with: "/")), shard.reportName(job: job) == name else { return nil }
        self = shard
    }

    /// `I/N`: 0 <= I < N.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let index = Int(parts[0]), let count = Int(parts[1])
        else { return nil }
        self.init(index: index, count: count)
    }

    /// The variables `--shard auto` reads, in this order; the first pair whose index is set wins.
    /// - AWS Batch array jobs: `AWS_BATCH_JOB_ARRAY_INDEX` (AWS Batch user guide, "Array
    ///   jobs") with `AWS_BATCH_JOB_ARRAY_SIZE`.
    /// - Kubernetes Indexed Jobs: `JOB_COMPLETION_INDEX` (Kubernetes documentation, "Jobs",
    ///   completion mode Indexed); Kubernetes gives no count, so the manifest sets
    ///   `IMGSHIP_SHARD_COUNT` to the Job's `completions`.
    /// - Anything else (GNU parallel, xargs): `IMGSHIP_SHARD_INDEX` with `IMGSHIP_SHARD_COUNT`.
    public static let environmentPairs: [(index: String, count: String)] = [
        ("AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE"),
        ("JOB_COMPLETION_INDEX", "IMGSHIP_SHARD_COUNT"),
        ("IMGSHIP_SHARD_INDEX", "IMGSHIP_SHARD_COUNT"),
    ]

    /// Why `--shard auto` found no shard.
    public struct EnvironmentError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The shard the engine's variables name; see `environmentPairs`.
    public static func fromEnvironment(_ environment: [String: String]) throws(EnvironmentError) -> JobShard {
        for (indexName, countName) in environmentPairs {
            guard let indexText = environment[indexName] else { continue }
            guard let countText = environment[countName] else {
                throw EnvironmentError(description: "\(indexName) is set (\(indexText)) but \(countName), the number of shards, is not")
            }
            guard let shard = JobShard(parsing: "\(indexText)/\(countText)") else {
                throw EnvironmentError(
                    description: "\(indexName)=\(indexText) and \(countName)=\(countText) are not a shard: expected 0 <= index < count <= \(maximumCount)")
            }
            return shard
        }
        let names = environmentPairs.map(\.index).joined(separator: ", ")
        throw EnvironmentError(description: "--shard auto found none of \(names) in the environment")
    }

    /// The shard of each unit, in order. `sourceBytes` gives a source's size for `.size`.
    public static func assign(
        _ units: [ExportUnit], count: Int, by balance: Balance,
        sourceBytes: (String) -> UInt64 = JobShard.sourceBytes
    ) -> [Int] {
        switch balance {
        case .path:
            return units.map { Int(mixedHash(of: $0.shardKey) % UInt64(count)) }
        case .size:
            let sizes = units.map { sourceBytes($0.source) }
            // Largest first; equal sizes in path order, so the deal never depends on file order.
            let order = units.indices.sorted { left, right in
                (sizes[left], units[right].shardKey) > (sizes[right], units[left].shardKey)
            }
            var load = [UInt64](repeating: 0, count: count)
            var shards = [Int](repeating: 0, count: units.count)
            for index in order {
                var lightest = 0
                for shard in 1..<max(1, count) where load[shard] < load[lightest] { lightest = shard }
                shards[index] = lightest
                load[lightest] &+= sizes[index]
            }
            return shards
        }
    }

    /// The units of this shard, in job order.
    public func select(
        _ units: [ExportUnit], by balance: Balance,
        sourceBytes: (String) -> UInt64 = JobShard.sourceBytes
    ) -> [ExportUnit] {
        let shards = Self.assign(units, count: count, by: balance, sourceBytes: sourceBytes)
        return zip(units, shards).filter { $0.1 == index }.map(\.0)
    }

    /// FNV-1a (64-bit) of the UTF-8 bytes, then SplitMix64's finalizer so the low bits a
    /// modulo keeps are well mixed. Fixed constants, no seed: the same on every machine and
    /// every run (Swift's `Hasher` is seeded per process and cannot be used).
    static func mixedHash(of text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        hash ^= hash >> 30
        hash &*= 0xbf58_476d_1ce4_e5b9
        hash ^= hash >> 27
        hash &*= 0x94d0_49bb_1331_11eb
        hash ^= hash >> 31
        return hash
    }

    /// A source's size in bytes as `stat` gives it; 0 when it cannot be read (the export
    /// then fails on its own and says why).
    public static func sourceBytes(_ path: String) -> UInt64 {
        var status = stat()
        guard SystemCalls.stat(path, &status) == 0 else { return 0 }
        return UInt64(max(0, status.st_size))
    }
}
