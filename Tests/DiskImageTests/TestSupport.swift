import Foundation
import TestSupport
import Testing

@testable import DiskImage

/// Builds source images: a sparse file of a given size with chosen regions filled.
struct ImageBuilder {
    let path: String

    init(path: String, size: UInt64) throws {
        self.path = path
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: size)
        try handle.close()
    }

    func write(_ bytes: [UInt8], at offset: UInt64) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
    }

    /// Deterministic pseudo-random bytes (xorshift), incompressible.
    static func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        var bytes = [UInt8](repeating: 0, count: count)
        for index in bytes.indices {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            bytes[index] = UInt8(truncatingIfNeeded: state)
        }
        return bytes
    }

    /// Compressible bytes: text-like repeats with some variation.
    static func text(_ count: Int, seed: Int) -> [UInt8] {
        let line = Array("line \(seed): the quick brown fox jumps over the lazy dog 0123456789\n".utf8)
        return (0..<count).map { line[$0 % line.count] ^ UInt8(($0 / 4096) & 1) }
    }
}

/// Sample sources used across suites.
enum SampleImage {
    /// 100 MiB + 4 KiB + 512: not a multiple of 64 KiB or 2 MiB. Holes, text, noise, a zero
    /// region that is allocated (written zeros), and incompressible data in the last grain.
    static let awkwardSize: UInt64 = 100 * 1024 * 1024 + 4096 + 512

    static func awkward(at path: String) throws {
        let image = try ImageBuilder(path: path, size: awkwardSize)
        try image.write(ImageBuilder.text(3 * 1024 * 1024 + 777, seed: 1), at: 1024 * 1024 + 512)
        try image.write(ImageBuilder.noise(2 * 1024 * 1024, seed: 7), at: 40 * 1024 * 1024 - 4096)
        try image.write([UInt8](repeating: 0, count: 4 * 1024 * 1024), at: 60 * 1024 * 1024)  // allocated zeros
        try image.write(ImageBuilder.noise(5000, seed: 9), at: awkwardSize - 5000)
    }

    static func allZero(at path: String) throws {
        let image = try ImageBuilder(path: path, size: 16 * 1024 * 1024 + 512)
        try image.write([UInt8](repeating: 0, count: 1024 * 1024), at: 3 * 1024 * 1024)
    }

    static func random(at path: String) throws {
        let size = 12 * 1024 * 1024 + 4096 + 512
        let image = try ImageBuilder(path: path, size: UInt64(size))
        try image.write(ImageBuilder.noise(size, seed: 42), at: 0)
    }
}

func readFile(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Bytes of the file actually allocated on disk.
func allocatedBytes(_ path: String) -> UInt64 {
    var info = stat()
    guard stat(path, &info) == 0 else { return 0 }
    return UInt64(info.st_blocks) * 512
}

/// Fixed options so outputs are reproducible.
func fixedOptions(_ format: OutputFormat, threads: Int = 2, level: DeflateLevel = .standard) -> ExportOptions {
    ExportOptions(
        format: format, threads: threads, level: level, timestamp: 1_700_000_000,
        diskIdentifier: Array(0x10...0x1F))
}

extension [UInt8] {
    func bigEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        self[offset..<(offset + MemoryLayout<T>.size)].reduce(T(0)) { $0 << 8 | T($1) }
    }

    func littleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        self[offset..<(offset + MemoryLayout<T>.size)].reversed().reduce(T(0)) { $0 << 8 | T($1) }
    }
}

/// "0a 1b ..." to bytes, for literal expectations.
func hexBytes(_ text: String) -> [UInt8] {
    text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { digits in
        guard let byte = UInt8(digits, radix: 16) else {
            Issue.record("\"\(digits)\" is not a hexadecimal byte")
            return nil
        }
        return byte
    }
}

/// Compares large byte arrays and reports the first difference (a plain `#expect(a == b)`
/// would have the test library diff megabytes, which takes hours).
func expectSameBytes(
    _ actual: [UInt8], _ expected: [UInt8], _ comment: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    // The standard library's == is optimised even in debug builds; search only on failure.
    if actual == expected { return }
    if actual.count != expected.count {
        Issue.record("\(comment): \(actual.count) bytes, expected \(expected.count)", sourceLocation: sourceLocation)
    }
    if let offset = zip(actual, expected).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
        Issue.record(
            "\(comment): first difference at offset \(offset): \(actual[offset]) != \(expected[offset])",
            sourceLocation: sourceLocation)
    }
}
