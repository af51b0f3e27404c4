import ConfigDocument

/// The regions of each AWS partition, as of a date: a region outside it is most likely a typo
/// (`us-est-1`) or not yet known to imgship (`--allow-unknown-regions`).
///
/// Source: botocore 1.43.11, `botocore/data/partitions.json` (each partition's `regions`, the
/// `*-global` pseudo-regions left out), read on the table's date. AWS adds regions; a newer
/// region than the table is planned with `--allow-unknown-regions`, with a warning instead of
/// an error.
public enum RegionTable {
    /// When the table was taken from its source.
    public static let date = "2026-12-07"
    public static let source = "botocore 1.43.11 partitions.json"

    /// Partition name to region names.
    public static let regions: [String: Set<String>] = [
        "aws": [
            "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1",
            "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1",
            "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1",
            "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
        ],
        "aws-cn": ["cn-north-1", "cn-northwest-1"],
        "aws-eusc": ["eusc-de-east-1"],
        "aws-iso": ["us-iso-east-1", "us-iso-west-1"],
        "aws-iso-b": ["us-isob-east-1", "us-isob-west-1"],
        "aws-iso-e": ["eu-isoe-west-1"],
        "aws-iso-f": ["us-isof-east-1", "us-isof-south-1"],
        "aws-us-gov": ["us-gov-east-1", "us-gov-west-1"],
    ]

    /// Whether `region` is in the table, in any partition.
    public static func contains(_ region: String) -> Bool {
        regions.values.contains { $0.contains(region) }
    }

    /// The problem of a distribution's region that is not in the table: an error, or a
    /// warning when unknown regions are allowed.
    static func problem(region: String, path: String, at value: ConfigValue?, allowUnknown: Bool) -> Problem? {
        guard !contains(region) else { return nil }
        let partition = Partition(region: region).name
        let known = regions[partition].map { " (\(partition) has \($0.count): \($0.sorted().prefix(4).joined(separator: ", ")), ...)" } ?? ""
        if allowUnknown {
            return Problem(
                .warning, path, "\(region) is not in imgship's region table of \(date) (\(source)); planned anyway (--allow-unknown-regions)", at: value)
        }
        return Problem(
            .error, path,
            "\(region) is not a region in imgship's region table of \(date) (\(source))\(known); a newer region is planned with --allow-unknown-regions",
            at: value)
    }
}
