/// Renders cost estimates and cost deltas as text and JSON. Money is in US dollars, shown to
/// the cent; JSON carries it as whole cents (`monthlyCents`), rounded half away from zero, so
/// no reader has to parse floating point.
///
/// Estimate JSON schema (`CostRenderer.json`):
/// ```
/// {
///   "imageSize": {"gib": int, "source": "given" | "recipe", "path"?: string},
///   "prices": {"date": string, "source": string},
///   "totals": Totals,
///   "stored": [{"region": string, "account": string, "snapshotGiB": int, "monthlyCents": int}],
///   "tasks": [{"id": string, "kind": string, "region": string, "account": string,
///              "snapshotGiB": int, "transferGiB": int, "s3GiB": int,
///              "monthlyCents": int, "oneTimeCents": int}],
///   "unpricedRegions": [string],
///   "caveats": [string]
/// }
/// Totals: {"snapshotGiB": int, "transferGiB": int, "s3GiB": int, "monthlyCents": int, "oneTimeCents": int}
/// ```
public enum CostRenderer {
    /// USD as whole cents, rounded half away from zero.
    /// Prices and sizes are bounded where they are read (`PriceTable.maximumPricePerGB`,
    /// `ImageSize.maximumGiB`), which keeps every sum far inside an `Int`; a value outside it
    /// all the same saturates rather than trapping.
    public static func cents(_ usd: Double) -> Int {
        let scaled = (usd * 100).rounded(.toNearestOrAwayFromZero)
        guard !scaled.isNaN else { return 0 }
        return Int(exactly: scaled) ?? (scaled < 0 ? Int.min / 2 : Int.max / 2)
    }

    /// `$1234.50`, `-$0.75`.
    public static func dollars(_ usd: Double) -> String {
        let total = cents(usd)
        let magnitude = total.magnitude
        let fraction = magnitude % 100
        return (total < 0 ? "-" : "") + "$\(magnitude / 100)." + (fraction < 10 ? "0" : "") + String(fraction)
    }

    static func signed(_ number: Int) -> String { number > 0 ? "+\(number)" : String(number) }

    static func signedDollars(_ usd: Double) -> String {
        cents(usd) > 0 ? "+" + dollars(usd) : dollars(usd)
    }

    /// The estimate for people: totals, storage per region and account, exports, and why it is
    /// an estimate.
    public static func text(_ estimate: CostEstimate) -> String {
        var out = "Size and cost (an estimate)\n"
        switch estimate.imageSize.source {
        case .given: out += "image size: \(estimate.imageSize.gib) GiB (given)\n"
        case let .recipe(path): out += "image size: \(estimate.imageSize.gib) GiB (the sum of the recipe's EBS volume sizes, \(path))\n"
        }
        let totals = estimate.totals
        let regions = Set(estimate.stored.map(\.region)).count
        let accounts = Set(estimate.stored.map(\.account)).count
        out +=
            "snapshots stored: \(totals.snapshotGiB) GiB in \(regions) \(regions == 1 ? "region" : "regions") and \(accounts) \(accounts == 1 ? "account" : "accounts")"
        out += ", \(dollars(estimate.stored.reduce(0) { $0 + $1.monthlyUSD }))/month\n"
        out += "cross-region copy transfer: \(totals.transferGiB) GiB, \(dollars(totals.oneTimeUSD)) once a build\n"
        let exports = estimate.lines.filter { $0.kind == .exportImage }
        if !exports.isEmpty {
            out += "S3 exports: at most \(totals.s3GiB) GiB, \(dollars(exports.reduce(0) { $0 + $1.monthlyUSD }))/month\n"
        }
        out += "total: \(dollars(totals.monthlyUSD))/month stored, \(dollars(totals.oneTimeUSD)) transfer a build\n"
        if !estimate.stored.isEmpty {
            out += "\nSnapshots by region and account\n"
            for item in estimate.stored {
                out += "  \(item.region) \(item.account): \(item.snapshotGiB) GiB, \(dollars(item.monthlyUSD))/month\n"
            }
        }
        if !exports.isEmpty {
            out += "\nS3 exports\n"
            for line in exports {
                out += "  \(line.taskID): at most \(line.s3GiB) GiB, \(dollars(line.monthlyUSD))/month\n"
            }
        }
        out += "\nWhy this is an estimate\n"
        for caveat in estimate.caveats { out += "  - \(caveat)\n" }
        return out
    }

    static func totalsJSON(snapshotGiB: Int, transferGiB: Int, s3GiB: Int, monthlyUSD: Double, oneTimeUSD: Double) -> PlanValue {
        .object([
            .init("snapshotGiB", .int(snapshotGiB)), .init("transferGiB", .int(transferGiB)), .init("s3GiB", .int(s3GiB)),
            .init("monthlyCents", .int(cents(monthlyUSD))), .init("oneTimeCents", .int(cents(oneTimeUSD))),
        ])
    }

    static func totalsJSON(_ totals: CostEstimate.Totals) -> PlanValue {
        totalsJSON(
            snapshotGiB: totals.snapshotGiB, transferGiB: totals.transferGiB, s3GiB: totals.s3GiB,
            monthlyUSD: totals.monthlyUSD, oneTimeUSD: totals.oneTimeUSD)
    }

    /// The estimate as a JSON value, in the schema of the type's description.
    public static func jsonValue(_ estimate: CostEstimate) -> PlanValue {
        var size: [PlanValue.Member] = [.init("gib", .int(estimate.imageSize.gib))]
        switch estimate.imageSize.source {
        case .given: size.append(.init("source", .string("given")))
        case let .recipe(path): size += [.init("source", .string("recipe")), .init("path", .string(path))]
        }
        return .object([
            .init("imageSize", .object(size)),
            .init("prices", .object([.init("date", .string(estimate.priceDate)), .init("source", .string(estimate.priceSource))])),
            .init("totals", totalsJSON(estimate.totals)),
            .init(
                "stored",
                .list(
                    estimate.stored.map { item in
                        .object([
                            .init("region", .string(item.region)), .init("account", .string(item.account)),
                            .init("snapshotGiB", .int(item.snapshotGiB)), .init("monthlyCents", .int(cents(item.monthlyUSD))),
                        ])
                    })),
            .init(
                "tasks",
                .list(
                    estimate.lines.map { line in
                        .object([
                            .init("id", .string(line.taskID)), .init("kind", .string(line.kind.rawValue)),
                            .init("region", .string(line.region)), .init("account", .string(line.account)),
                            .init("snapshotGiB", .int(line.snapshotGiB)), .init("transferGiB", .int(line.transferGiB)),
                            .init("s3GiB", .int(line.s3GiB)), .init("monthlyCents", .int(cents(line.monthlyUSD))),
                            .init("oneTimeCents", .int(cents(line.oneTimeUSD))),
                        ])
                    })),
            .init("unpricedRegions", .list(estimate.unpricedRegions.map(PlanValue.string))),
            .init("caveats", .list(estimate.caveats.map(PlanValue.string))),
        ])
    }

    /// The estimate as JSON text, ending in a line break.
    public static func json(_ estimate: CostEstimate) -> String {
        jsonValue(estimate).jsonOutput.expandedEncoded()
    }

    /// The cost lines of a diff: old, new and the change, for an image of the given size.
    public static func deltaText(_ delta: CostDelta, color: Bool = false) -> String {
        var out = "Cost (an estimate for a \(delta.imageSizeGiB) GiB image, prices of \(delta.priceDate))\n"
        out += "  snapshots stored: \(delta.old.snapshotGiB) GiB -> \(delta.new.snapshotGiB) GiB (\(signed(delta.snapshotGiB)) GiB)\n"
        out += "  cross-region transfer a build: \(delta.old.transferGiB) GiB -> \(delta.new.transferGiB) GiB (\(signed(delta.transferGiB)) GiB)\n"
        if delta.old.s3GiB != 0 || delta.new.s3GiB != 0 {
            out += "  S3 exports, at most: \(delta.old.s3GiB) GiB -> \(delta.new.s3GiB) GiB (\(signed(delta.s3GiB)) GiB)\n"
        }
        out += "  monthly: \(dollars(delta.old.monthlyUSD)) -> \(dollars(delta.new.monthlyUSD)) (\(signedDollars(delta.monthlyUSD)))\n"
        out += "  transfer a build: \(dollars(delta.old.oneTimeUSD)) -> \(dollars(delta.new.oneTimeUSD)) (\(signedDollars(delta.oneTimeUSD)))\n"
        return out
    }

    /// The `cost` member of a diff's JSON.
    public static func deltaJSON(_ delta: CostDelta) -> PlanValue {
        .object([
            .init("priceDate", .string(delta.priceDate)),
            .init("imageSizeGiB", .int(delta.imageSizeGiB)),
            .init("old", totalsJSON(delta.old)),
            .init("new", totalsJSON(delta.new)),
            .init(
                "delta",
                .object([
                    .init("snapshotGiB", .int(delta.snapshotGiB)), .init("transferGiB", .int(delta.transferGiB)), .init("s3GiB", .int(delta.s3GiB)),
                    // The difference of the rounded totals, so old + delta = new in cents.
                    .init("monthlyCents", .int(cents(delta.new.monthlyUSD) - cents(delta.old.monthlyUSD))),
                    .init("oneTimeCents", .int(cents(delta.new.oneTimeUSD) - cents(delta.old.oneTimeUSD))),
                ])),
        ])
    }
}
