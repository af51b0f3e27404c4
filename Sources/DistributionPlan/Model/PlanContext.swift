/// What the configuration does not say and the command line (or a get-image response) does.
public struct PlanContext: Sendable, Equatable {
    public enum Platform: String, Sendable, CaseIterable, Codable {
        case linux, windows, macos
    }

    /// The owner's stand-in when no owner account is known: not an account id, so it can
    /// never be mistaken for a target account of the same number.
    public static let placeholderOwner = "<owner>"

    /// The region the image is built in; nil means the document's (get-image's ARN) or the
    /// first listed region.
    public var sourceRegion: String?
    /// The owner account; nil means the document's ARN, else the placeholder, shown as `<owner>`.
    public var ownerAccount: String?
    public var platform: Platform?
    /// Regions outside `RegionTable` are planned with a warning instead of refused.
    public var allowUnknownRegions = false
    /// Image Builder's build date, substituted for `{{ imagebuilder:buildDate }}`; nil means
    /// the image's (get-image), else `fallbackBuildDate`.
    public var buildDate: String?
    /// Substituted for `{{ imagebuilder:buildVersion }}`; nil means the image's, else 1.
    public var buildVersion: Int?
    /// The image recipe's name: Image Builder names an AMI `<recipe name> <build date>` when
    /// the configuration gives no name. Nil means get-image's `name`, else unknown.
    public var recipeName: String?
    /// The build date used when neither the command line nor the document gives one.
    public var fallbackBuildDate: String

    public init(
        sourceRegion: String? = nil, ownerAccount: String? = nil, platform: Platform? = nil,
        buildDate: String? = nil, buildVersion: Int? = nil, recipeName: String? = nil,
        fallbackBuildDate: String = "2026-01-01T00-00-00Z"
    ) {
        self.sourceRegion = sourceRegion
        self.ownerAccount = ownerAccount
        self.platform = platform
        self.buildDate = buildDate
        self.buildVersion = buildVersion
        self.recipeName = recipeName
        self.fallbackBuildDate = fallbackBuildDate
    }

    var owner: String { ownerAccount ?? Self.placeholderOwner }
    public var effectiveBuildDate: String { buildDate ?? fallbackBuildDate }
    public var effectiveBuildVersion: Int { buildVersion ?? 1 }
}

/// An AWS partition: the ARN prefix and DNS suffix of every region in it. A distribution
/// never crosses partitions (AMIs cannot be copied between them).
public struct Partition: Sendable, Equatable {
    /// `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b`, ...: the second field of an ARN.
    public var name: String
    /// `amazonaws.com`, or `amazonaws.com.cn` in China: endpoints and ECR registries.
    public var dnsSuffix: String

    /// The region names AWS uses, as the issue and botocore's endpoint rules write them:
    /// two letters, an optional `-gov` or `-iso[x]`, a direction, a number.
    public static let regionPattern = #"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$"#

    /// Checked by hand rather than with a Regex: the pattern is fixed, and a literal regex
    /// cannot be built from `regionPattern` without a `try!`.
    public static func isRegionName(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        func letters(_ part: Substring) -> Bool { !part.isEmpty && part.utf8.allSatisfy { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") } }
        func digits(_ part: Substring) -> Bool { !part.isEmpty && part.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } }
        guard text.utf8.count <= 64, parts.count == 3 || parts.count == 4, parts[0].utf8.count == 2, letters(parts[0]),
            digits(parts[parts.count - 1]), letters(parts[parts.count - 2])
        else { return false }
        // The optional second part: `gov`, `iso` or `iso` and one letter.
        guard parts.count == 4 else { return true }
        let middle = parts[1]
        return middle == "gov" || middle == "iso" || (middle.utf8.count == 4 && middle.hasPrefix("iso") && letters(middle))
    }

    /// The partition of a region, by its prefix (botocore's endpoints.json `regionRegex`).
    public init(region: String) {
        func named(_ name: String, _ suffix: String) -> Partition { Partition(name: name, dnsSuffix: suffix) }
        if region.hasPrefix("cn-") {
            self = named("aws-cn", "amazonaws.com.cn")
        } else if region.hasPrefix("us-gov-") {
            self = named("aws-us-gov", "amazonaws.com")
        } else if region.hasPrefix("us-isob-") {
            self = named("aws-iso-b", "sc2s.sgov.gov")
        } else if region.hasPrefix("us-isof-") {
            self = named("aws-iso-f", "csp.hci.ic.gov")
        } else if region.hasPrefix("eu-isoe-") {
            self = named("aws-iso-e", "cloud.adc-e.uk")
        } else if region.hasPrefix("us-iso-") {
            self = named("aws-iso", "c2s.ic.gov")
        } else {
            self = named("aws", "amazonaws.com")
        }
    }

    init(name: String, dnsSuffix: String) {
        self.name = name
        self.dnsSuffix = dnsSuffix
    }

    /// `arn:PARTITION:iam::ACCOUNT:role/NAME`.
    public func roleARN(account: String, role: String) -> String {
        "arn:\(name):iam::\(account):role/\(role)"
    }
}

/// The parts of an ARN (`arn:partition:service:region:account:resource`), when the text is one.
struct ARN: Equatable {
    var partition: String
    var service: String
    var region: String
    var account: String
    var resource: String

    init?(_ text: String) {
        let fields = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard fields.count == 6, fields[0] == "arn" else { return nil }
        partition = String(fields[1])
        service = String(fields[2])
        region = String(fields[3])
        account = String(fields[4])
        resource = String(fields[5])
    }
}
