/// What the configuration does not say and the command line does.
public struct PlanContext: Sendable, Equatable {
    public enum Platform: String, Sendable, CaseIterable, Codable {
        case linux, windows, macos
    }

    /// The account placeholder shown when no owner account is given.
    public static let placeholderOwner = "111111111111"

    /// The region the image is built in; nil means the first listed region (with a warning).
    public var sourceRegion: String?
    /// The owner account; nil means the placeholder, shown as `<owner>`.
    public var ownerAccount: String?
    public var platform: Platform?
    /// ISO 8601 date-time substituted for `{{ imagebuilder:buildDate }}`.
    public var buildDate: String
    /// Substituted for `{{ imagebuilder:buildVersion }}`.
    public var buildVersion: Int

    public init(sourceRegion: String? = nil, ownerAccount: String? = nil, platform: Platform? = nil,
                buildDate: String = "2026-01-01T00-00-00Z", buildVersion: Int = 1) {
        self.sourceRegion = sourceRegion
        self.ownerAccount = ownerAccount
        self.platform = platform
        self.buildDate = buildDate
        self.buildVersion = buildVersion
    }

    var owner: String { ownerAccount ?? Self.placeholderOwner }
}
