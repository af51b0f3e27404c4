import ConfigDocument

/// Checks of a recipe's `blockDeviceMappings` (image recipes, and container recipes'
/// `instanceConfiguration.blockDeviceMappings`) against what Image Builder and EC2 accept.
///
/// Sources: the Image Builder API model (botocore imagebuilder 2019-12-02,
/// `EbsInstanceBlockDeviceSpecification`: `volumeSize` 1-16000, `iops` 100-64000, `throughput`
/// 125-1000 "for GP3 volumes only"; `InstanceBlockDeviceMapping.noDevice` an empty string) and
/// the EBS user guide, "Amazon EBS volume types" (per type: size range, IOPS range, IOPS per
/// GiB, gp3 throughput per IOPS). Where both limit a value the smaller bound is used.
public enum BlockDeviceRules {
    /// The limits of one volume type.
    public struct Limits: Sendable, Equatable {
        /// GiB.
        public var size: ClosedRange<Int>
        /// Nil: `iops` cannot be given for the type.
        public var iops: ClosedRange<Int>?
        /// Most IOPS per GiB of size.
        public var iopsPerGiB: Int?
        /// Whether the type needs `iops` (provisioned IOPS types).
        public var iopsRequired: Bool
    }

    /// Per type (EBS user guide, "Amazon EBS volume types"; sizes capped at the Image Builder
    /// model's 16000, iops at its 64000). EC2 raised gp3 to 64 TiB, 80,000 IOPS and 2,000 MiB/s
    /// in September 2025 (botocore ec2 1.40.40 documentation, AWS What's New 2025-09), and
    /// io2 goes to 64 TiB and 256,000 IOPS; the Image Builder model (botocore 1.43.67:
    /// `EbsVolumeSizeInteger` 1-16000, `EbsIopsInteger` 100-64000, `EbsVolumeThroughput`
    /// 125-1000) has not followed, and a recipe passes through it first.
    public static let limits: [String: Limits] = [
        // gp3: 3,000-80,000 IOPS (the model: 64,000), 500 IOPS per GiB; throughput below.
        "gp3": Limits(size: 1...16000, iops: 3000...64000, iopsPerGiB: 500, iopsRequired: false),
        // gp2: IOPS follow the size (3 per GiB); they cannot be provisioned.
        "gp2": Limits(size: 1...16000, iops: nil, iopsPerGiB: nil, iopsRequired: false),
        // io1: 100-64,000 IOPS, at most 50 per GiB; 4 GiB and up.
        "io1": Limits(size: 4...16000, iops: 100...64000, iopsPerGiB: 50, iopsRequired: true),
        // io2 (Block Express): 100-256,000 IOPS (the model stops at 64,000), 1,000 per GiB.
        "io2": Limits(size: 4...16000, iops: 100...64000, iopsPerGiB: 1000, iopsRequired: true),
        // HDD types: 125 GiB and up, no provisioned IOPS.
        "st1": Limits(size: 125...16000, iops: nil, iopsPerGiB: nil, iopsRequired: false),
        "sc1": Limits(size: 125...16000, iops: nil, iopsPerGiB: nil, iopsRequired: false),
        // Magnetic (previous generation): 1-1,024 GiB.
        "standard": Limits(size: 1...1024, iops: nil, iopsPerGiB: nil, iopsRequired: false),
    ]

    /// gp3 throughput, MiB/s (Image Builder API model `EbsVolumeThroughput`; EC2 allows 2,000
    /// since September 2025).
    public static let gp3Throughput = 125...1000
    /// gp3: at most 0.25 MiB/s of throughput per provisioned IOPS, so throughput x 4 <= iops
    /// (EBS user guide, gp3 "Throughput performance").
    public static let gp3IOPSPerMiBps = 4

    /// The most IOPS a volume of `sizeGiB` can be given. gp3 has its baseline of 3,000 IOPS
    /// at every size (EBS user guide, "General Purpose SSD volumes", gp3: "a consistent
    /// baseline rate of 3,000 IOPS ... included with the price of storage", "regardless of
    /// volume size"), so the 500-per-GiB ratio only limits IOPS above the baseline; the
    /// same correction was made in kubernetes/kops's gp3 validation. Other types scale with
    /// size alone.
    static func maxIOPS(type: String, perGiB: Int, range: ClosedRange<Int>, sizeGiB: Int) -> Int {
        let scaled = perGiB.multipliedReportingOverflow(by: sizeGiB)
        let bySize = scaled.overflow ? range.upperBound : scaled.partialValue
        return type == "gp3" ? max(range.lowerBound, bySize) : bySize
    }

    /// Problems of `mappings` (the value of a `blockDeviceMappings` member) at `path`.
    /// `naming` is the document's spelling (the API's, or CloudFormation's PascalCase).
    public static func check(_ mappings: ConfigValue, path: String, naming: FieldNaming = .api) -> [Problem] {
        func field(_ name: String) -> String { naming.name(name) }
        guard let items = mappings.array else {
            return [Problem(.error, path, "expected a list of block device mappings, found \(mappings.typeName)", at: mappings)]
        }
        var problems: [Problem] = []
        for (index, mapping) in items.enumerated() {
            let at = "\(path)[\(index)]"
            func error(_ suffix: String, _ message: String, _ value: ConfigValue?) {
                problems.append(Problem(.error, suffix.isEmpty ? at : "\(at).\(suffix)", message, at: value ?? mapping))
            }
            if let noDevice = mapping[field("noDevice")] {
                // API model: noDevice is EmptyString (0 characters): it removes the parent's
                // mapping, so the mapping can say nothing else about the device.
                if noDevice.string != "" { error(field("noDevice"), "must be an empty string: it removes the device from the parent image", noDevice) }
                if let ebs = mapping[field("ebs")] { error(field("ebs"), "a mapping with noDevice removes the device; it cannot also configure ebs", ebs) }
                if let virtual = mapping[field("virtualName")] {
                    error(field("virtualName"), "a mapping with noDevice removes the device; it cannot also name an instance store", virtual)
                }
                continue
            }
            guard let ebs = mapping[field("ebs")] else { continue }
            let ebsPath = field("ebs")
            func int(_ name: String) -> (Int, ConfigValue)? {
                guard let value = ebs[field(name)] else { return nil }
                guard let number = value.int else {
                    error("\(ebsPath).\(field(name))", "expected a whole number, found \(value.typeName)", value)
                    return nil
                }
                return (number, value)
            }
            let size = int("volumeSize")
            let iops = int("iops")
            let throughput = int("throughput")
            let typeValue = ebs[field("volumeType")]
            let type = typeValue?.string
            if let size, !(1...16000).contains(size.0) {
                error("\(ebsPath).\(field("volumeSize"))", "\(size.0) GiB is outside 1-16000 (Image Builder API)", size.1)
            }
            if let throughput, type != "gp3" {
                error(
                    "\(ebsPath).\(field("throughput"))", "throughput can be set for gp3 volumes only\(type.map { ", not \($0)" } ?? " (give volumeType gp3)")",
                    throughput.1)
            }
            guard let type else { continue }
            guard let limits = limits[type] else {
                error("\(ebsPath).\(field("volumeType"))", "\"\(type)\" is not one of \(limits.keys.sorted().joined(separator: ", "))", typeValue)
                continue
            }
            if let size, (1...16000).contains(size.0), !limits.size.contains(size.0) {
                error("\(ebsPath).\(field("volumeSize"))", "\(type) volumes are \(limits.size.lowerBound)-\(limits.size.upperBound) GiB, not \(size.0)", size.1)
            }
            if let iops {
                if let range = limits.iops {
                    if !range.contains(iops.0) {
                        error("\(ebsPath).\(field("iops"))", "\(type) iops are \(range.lowerBound)-\(range.upperBound), not \(iops.0)", iops.1)
                    } else if let perGiB = limits.iopsPerGiB, let size, iops.0 > maxIOPS(type: type, perGiB: perGiB, range: range, sizeGiB: size.0) {
                        error(
                            "\(ebsPath).\(field("iops"))",
                            "\(iops.0) iops on \(size.0) GiB is more than \(perGiB) per GiB (\(type)): at most \(maxIOPS(type: type, perGiB: perGiB, range: range, sizeGiB: size.0)), or a volume of at least \((iops.0 + perGiB - 1) / perGiB) GiB",
                            iops.1)
                    }
                } else {
                    error("\(ebsPath).\(field("iops"))", "iops cannot be provisioned for \(type) volumes", iops.1)
                }
            } else if limits.iopsRequired {
                error(ebsPath, "\(type) volumes need iops (provisioned IOPS)", ebs)
            }
            if type == "gp3", let throughput {
                if !gp3Throughput.contains(throughput.0) {
                    error(
                        "\(ebsPath).\(field("throughput"))",
                        "gp3 throughput is \(gp3Throughput.lowerBound)-\(gp3Throughput.upperBound) MiB/s, not \(throughput.0)", throughput.1)
                } else {
                    // Without iops the volume has the gp3 baseline of 3,000.
                    let provisioned = iops?.0 ?? 3000
                    if throughput.0 * gp3IOPSPerMiBps > provisioned {
                        error(
                            "\(ebsPath).\(field("throughput"))",
                            "\(throughput.0) MiB/s needs at least \(throughput.0 * gp3IOPSPerMiBps) iops (gp3 allows 0.25 MiB/s per IOPS); the volume has \(provisioned)",
                            throughput.1)
                    }
                }
            }
        }
        return problems
    }
}
