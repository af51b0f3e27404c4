import Foundation
import Testing

@testable import DiskImage
@testable import ImgshipCommands

/// `info --json`, written by the ordered JSON writer: the same bytes as the
/// JSONSerialization dictionary it replaces.
@Suite("info --json bytes")
struct InfoJSONTests {
    static func info(path: String) -> ImageInfo {
        ImageInfo(
            path: path, format: .vmdk, subformat: "streamOptimized", virtualSize: 1 << 40,
            fileSize: 123_456, allocatedBytes: 16_384,
            details: [
                ("create type", "streamOptimized"), ("grain size", "65536"), ("disk 10", "a"),
                ("disk 9", "b"), ("Adapter", "ide"), ("adapter type", "lsilogic"), ("cid", "0a\tb\"c\\"),
            ])
    }

    /// What earlier releases printed: a `[String: Any]` through JSONSerialization.
    static func serialized(_ info: ImageInfo) throws -> String {
        var object: [String: Any] = [
            "path": info.path, "format": info.format.rawValue, "subformat": info.subformat,
            "virtualSize": info.virtualSize, "fileSize": info.fileSize, "allocatedBytes": info.allocatedBytes,
        ]
        object["details"] = Dictionary(uniqueKeysWithValues: info.details.map { (InfoCommand.jsonKey($0.key), $0.value.description) })
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    @Test(arguments: ["/images/disk.vmdk", "/tmp/a \"b\"/é/disk\n1.vmdk", "rel/dir/x\u{1}y.vmdk"])
    func sameBytesAsBefore(path: String) throws {
        let info = Self.info(path: path)
        #expect(InfoCommand.json(info).encoded() == (try Self.serialized(info)))
    }

    /// Backspace and form feed are `\u0008` and `\u000c`, as in every other imgship JSON output
    /// (job report, plan, job file); JSONSerialization wrote `\b` and `\f`. Both read back as
    /// the same string: the one difference in bytes, for paths no one types.
    @Test func backspaceAndFormFeedAsInEveryOtherOutput() throws {
        let info = Self.info(path: "/x\u{8}y\u{c}z")
        let written = InfoCommand.json(info).encoded()
        #expect(written.contains(#""path":"/x\u0008y\u000cz""#))
        let old = try Self.serialized(info)
        #expect(written == old.replacingOccurrences(of: #"\b"#, with: #"\u0008"#).replacingOccurrences(of: #"\f"#, with: #"\u000c"#))
        let decoded = try JSONSerialization.jsonObject(with: Data(written.utf8)) as? [String: Any]
        #expect(decoded?["path"] as? String == info.path)
    }

    /// Sizes and counts among the details are JSON numbers, not strings.
    @Test func numbersAreJSONNumbers() throws {
        var info = Self.info(path: "/images/disk.vmdk")
        info.details = [("grain size", .number(65536)), ("allocated grains", .number(3)), ("compression", "deflate")]
        let written = InfoCommand.json(info).encoded()
        #expect(written.contains(#""details":{"allocatedGrains":3,"compression":"deflate","grainSize":65536}"#), "\(written)")
        #expect(written.contains(#""virtualSize":1099511627776"#))
    }
}
