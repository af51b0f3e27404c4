/// Renders cost estimates and cost deltas as text and JSON. Money is summed exactly in
/// micro-dollars and shown to the cent; JSON carries it as whole cents (`monthlyCents`),
/// rounded half away from zero once, from the exact sum, so no reader has to parse floating
/// point. What the price table cannot price is `unknown` in text and `null` in JSON, and a total
/// with an unknown part is marked incomplete (`at least $X` in text, `complete: false` in JSON).
///
/// Estimate JSON schema (`CostRenderer.json`):
/// ```
/// {
///   "imageSize": {"gib": int, "source": "given" | "recipe", "path"?: string},
///   "prices": {"date": string, "source": string},
///   "totals": Totals,
///   "stored": [{"region": string, "account": string, "snapshotGiB": int, "monthlyCents": int | null}],
///   "tasks": [{"id": string, "kind": string, "region": string, "account": string,
///              "snapshotGiB": int, "transferGiB": int, "s3GiB": int,
///              "monthlyCents": int | null, "oneTimeCents": int | null}],
///   "unpricedRegions": [string],
///   "caveats": [string]
/// }
/// Totals: {"snapshotGiB": int, "transferGiB": int, "s3GiB": int,
///          "monthlyCents": int | null, "oneTimeCents": int | null, "complete": bool}
///   (an incomplete total's cents are those of its priced parts: a lower bound; null when no
///   part is priced)
/// ```
public enum CostRenderer {
    /// `$1234.50`, `-$0.75`.
    public static func dollars(_ money: Money) -> String {
        let total = money.cents
        let magnitude = total.magnitude
        let fraction = magnitude % 100
        return (total < 0 ? "-" : "") + "$\(magnitude / 100)." + (fraction < 10 ? "0" : "") + String(fraction)
    }

    /// A line's amount: dollars, or `unknown` without a price.
    static func dollars(_ money: Money?) -> String { money.map(dollars) ?? "unknown" }

    /// A sum: dollars when complete, `at least` its priced parts when not, `unknown` when none is.
    static func dollars(_ sum: CostSum) -> String {
        if sum.isComplete { return dollars(sum.known) }
        return sum.pricedParts == 0 ? "unknown" : "at least " + dollars(sum.known)
    }

    static func cents(_ money: Money?) -> PlanValue { money.map { .int($0.cents) } ?? .null }

    static func cents(_ sum: CostSum) -> PlanValue { sum.pricedParts == 0 && !sum.isComplete ? .null : .int(sum.known.cents) }

    static func signed(_ number: Int) -> String { number > 0 ? "+\(number)" : String(number) }

    /// The change between two sums as shown: the difference of the rounded amounts, so the
    /// old amount plus the change is the new one, to the cent; unknown when either is incomplete.
    static func change(_ old: CostSum, _ new: CostSum) -> String {
        guard let old = old.exact, let new = new.exact else { return "change unknown" }
        let cents = new.cents - old.cents
        let money = Money(microdollars: Int128(cents) * 10_000)
        return cents > 0 ? "+" + dollars(money) : dollars(money)
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
        var snapshots = CostSum()
        for item in estimate.stored { snapshots.add(item.monthly) }
        out +=
            "snapshots stored: \(totals.snapshotGiB) GiB in \(regions) \(regions == 1 ? "region" : "regions") and \(accounts) \(accounts == 1 ? "account" : "accounts")"
        out += ", \(dollars(snapshots))/month\n"
        out += "cross-region copy transfer: \(totals.transferGiB) GiB, \(dollars(totals.oneTime)) once a build\n"
        let exports = estimate.lines.filter { $0.kind == .exportImage }
        if !exports.isEmpty {
            var exported = CostSum()
            for line in exports { exported.add(line.monthly) }
            out += "S3 exports: at most \(totals.s3GiB) GiB, \(dollars(exported))/month\n"
        }
        out += "total: \(dollars(totals.monthly))/month stored, \(dollars(totals.oneTime)) transfer a build"
        if !totals.isComplete {
            out += " (incomplete: no prices for \(estimate.unpricedRegions.joined(separator: ", ")))"
        }
        out += "\n"
        if !estimate.stored.isEmpty {
            out += "\nSnapshots by region and account\n"
            for item in estimate.stored {
                out += "  \(item.region) \(item.account): \(item.snapshotGiB) GiB, \(dollars(item.monthly))/month\n"
            }
        }
        if !exports.isEmpty {
            out += "\nS3 exports\n"
            for line in exports {
                out += "  \(line.taskID): at most \(line.s3GiB) GiB, \(dollars(line.monthly))/month\n"
            }
        }
        out += "\nWhy this is an estimate\n"
        for caveat in estimate.caveats { out += "  - \(caveat)\n" }
        return out
    }

    static func totalsJSON(_ totals: CostEstimate.Totals) -> PlanValue {
        .object([
            .init("snapshotGiB", .int(totals.snapshotGiB)), .init("transferGiB", .int(totals.transferGiB)), .init("s3GiB", .int(totals.s3GiB)),
            .init("monthlyCents", cents(totals.monthly)), .init("oneTimeCents", cents(totals.oneTime)),
            .init("complete", .bool(totals.isComplete)),
        ])
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
                            .init("snapshotGiB", .int(item.snapshotGiB)), .init("monthlyCents", cents(item.monthly)),
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
                            .init("s3GiB", .int(line.s3GiB)), .init("monthlyCents", cents(line.monthly)),
                            .init("oneTimeCents", cents(line.oneTime)),
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
        out += "  monthly: \(dollars(delta.old.monthly)) -> \(dollars(delta.new.monthly)) (\(change(delta.old.monthly, delta.new.monthly)))\n"
        out += "  transfer a build: \(dollars(delta.old.oneTime)) -> \(dollars(delta.new.oneTime)) (\(change(delta.old.oneTime, delta.new.oneTime)))\n"
        return out
    }

    /// The `cost` member of a diff's JSON.
    public static func deltaJSON(_ delta: CostDelta) -> PlanValue {
        // The difference of the rounded totals, so old + delta = new in cents; null when
        // either side is incomplete.
        func difference(_ old: CostSum, _ new: CostSum) -> PlanValue {
            guard let old = old.exact, let new = new.exact else { return .null }
            return .int(new.cents - old.cents)
        }
        return .object([
            .init("priceDate", .string(delta.priceDate)),
            .init("imageSizeGiB", .int(delta.imageSizeGiB)),
            .init("old", totalsJSON(delta.old)),
            .init("new", totalsJSON(delta.new)),
            .init(
                "delta",
                .object([
                    .init("snapshotGiB", .int(delta.snapshotGiB)), .init("transferGiB", .int(delta.transferGiB)), .init("s3GiB", .int(delta.s3GiB)),
                    .init("monthlyCents", difference(delta.old.monthly, delta.new.monthly)),
                    .init("oneTimeCents", difference(delta.old.oneTime, delta.new.oneTime)),
                ])),
        ])
    }
}
