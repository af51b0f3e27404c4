/// How hard to compress VMDK grains. Every level writes zlib-wrapped deflate (RFC 1950).
public enum DeflateLevel: Sendable, Equatable, CustomStringConvertible {
    /// ISA-L's level 1: several times faster than any libdeflate level, output about 10%
    /// larger than zlib level 6.
    case fast
    /// libdeflate level 1 to 12.
    case libdeflate(Int)

    /// The level `--level default` means: the fastest libdeflate level whose output is no
    /// larger than qemu-img's (zlib level 6) on a real filesystem image. Level 4 is 20%
    /// faster but about 1% larger; see docs/benchmarks.md.
    public static let standard = DeflateLevel.libdeflate(5)
    /// libdeflate's strongest level: smallest output, slowest.
    public static let best = DeflateLevel.libdeflate(12)

    /// Parses `fast`, `default`, `best` or a number 1 to 12.
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "fast": self = .fast
        case "default": self = .standard
        case "best": self = .best
        default:
            guard let number = Int(text), (1...12).contains(number) else { return nil }
            self = .libdeflate(number)
        }
    }

    public var description: String {
        switch self {
        case .fast: "fast"
        case let .libdeflate(level): "\(level)"
        }
    }
}
