import ConfigDocument

/// An amount of US dollars, kept as a whole number of micro-dollars (millionths of a dollar) so
/// that sums are exact: a price per GB of the AWS pricing pages has at most four decimals, and
/// a prices file at most six. `Int128` keeps every product of a price (at most
/// `PriceTable.maximumPricePerGB`) and a size (at most `ImageSize.maximumGiB`) and every sum
/// over a plan's tasks far from overflow.
public struct Money: Sendable, Hashable, Comparable {
    public var microdollars: Int128

    public init(microdollars: Int128) { self.microdollars = microdollars }

    public static let zero = Money(microdollars: 0)

    /// A literal price of the bundled table in dollars: every one has at most six decimals, so
    /// the nearest whole number of micro-dollars is the price itself (`CostTests` checks it).
    init(dollars: Double) { microdollars = Int128((dollars * 1_000_000).rounded()) }

    /// Dollars written in decimal, as JSON spells a number (`0.0245`, `1e-2`, `2`): nil when it
    /// is not a whole number of micro-dollars from 0 to `maximumDollars`, or not a number.
    public static func parse(decimal text: String, maximumDollars: Int) -> Money? {
        var mantissa = Substring(text)
        var exponent = 0
        if let e = mantissa.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            let digits = mantissa[mantissa.index(after: e)...]
            guard digits.count <= 4, let value = Int(digits) else { return nil }
            exponent = value
            mantissa = mantissa[..<e]
        }
        guard !mantissa.hasPrefix("-") else { return nil }
        let parts = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0]
        let fraction = parts.count > 1 ? parts[1] : ""
        guard !whole.isEmpty, (whole + fraction).allSatisfy(\.isASCII), (whole + fraction).allSatisfy(\.isNumber) else { return nil }
        // The value is DIGITS x 10^(exponent - fraction.count); in micro-dollars, x 10^6.
        var digits = String(whole + fraction).drop { $0 == "0" }
        var scale = exponent - fraction.count + 6
        while scale < 0, digits.last == "0" {
            digits.removeLast()
            scale += 1
        }
        guard scale >= 0 || digits.isEmpty else { return nil }
        guard digits.count + max(scale, 0) <= 20, var value = Int128(digits.isEmpty ? "0" : String(digits)) else { return nil }
        for _ in 0..<max(scale, 0) { value *= 10 }
        guard value <= Int128(maximumDollars) * 1_000_000 else { return nil }
        return Money(microdollars: value)
    }

    public static func + (left: Money, right: Money) -> Money { Money(microdollars: left.microdollars + right.microdollars) }
    public static func - (left: Money, right: Money) -> Money { Money(microdollars: left.microdollars - right.microdollars) }
    public static func += (left: inout Money, right: Money) { left.microdollars += right.microdollars }
    /// A price per GB times a size in GiB (billed as GB: see `CostEstimate`).
    public static func * (price: Money, gib: Int) -> Money { Money(microdollars: price.microdollars * Int128(gib)) }
    public static func < (left: Money, right: Money) -> Bool { left.microdollars < right.microdollars }

    /// Whole cents, rounded half away from zero, once, from the exact sum; beyond what an
    /// `Int` holds (never, with the bounds above) it saturates rather than trapping.
    public var cents: Int {
        let (quotient, remainder) = microdollars.quotientAndRemainder(dividingBy: 10_000)
        let rounded = remainder.magnitude >= 5_000 ? quotient + (microdollars < 0 ? -1 : 1) : quotient
        return Int(exactly: rounded) ?? (rounded < 0 ? Int.min / 2 : Int.max / 2)
    }

    /// The price as a decimal number of dollars, trailing zeros dropped: `0.0245`.
    public var decimalText: String {
        let magnitude = microdollars.magnitude
        var fraction = String(magnitude % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.last == "0" { fraction.removeLast() }
        return (microdollars < 0 ? "-" : "") + String(magnitude / 1_000_000) + (fraction.isEmpty ? "" : "." + fraction)
    }
}

/// The prices a cost estimate uses, per region and per region pair, in US dollars. `bundled`
/// is a dated table of every commercial (`aws` partition) region; a prices file (JSON,
/// `--prices FILE`) overrides any region, field or pair of it:
/// ```
/// {"date": "2026-11-01", "source": "our EDP rates",
///  "regions": {"eu-west-1": {"snapshotGBMonth": 0.045, "interRegionTransferGB": 0.02,
///                            "s3StandardGBMonth": 0.021}},
///  "transferPairs": {"eu-west-1": {"eu-west-2": 0.015}}}
/// ```
/// Every member is optional; a region the file does not name keeps the bundled prices.
/// `transferPairs` is FROM, then TO: the price per GB of data moved from FROM to TO where it
/// differs from FROM's `interRegionTransferGB`.
public struct PriceTable: Sendable, Equatable {
    /// One region's prices.
    public struct RegionPrices: Sendable, Equatable {
        /// EBS snapshot storage, standard tier, USD per GB-month (Amazon EBS pricing, "Snapshots").
        public var snapshotGBMonth: Money
        /// Data transfer out of this region to another AWS region, USD per GB (Amazon EC2
        /// on-demand pricing, "Data Transfer", "to other AWS regions"). A copy is charged at its
        /// source region's rate (EBS user guide, "Copy an Amazon EBS snapshot": charged for the
        /// data transferred between Regions).
        public var interRegionTransferGB: Money
        /// S3 Standard storage, first 50 TB tier, USD per GB-month (Amazon S3 pricing, "Storage").
        public var s3StandardGBMonth: Money
        /// Why a value is less certain than the rest (a new region), if it is.
        public var note: String?

        public init(snapshotGBMonth: Money, interRegionTransferGB: Money, s3StandardGBMonth: Money, note: String? = nil) {
            self.snapshotGBMonth = snapshotGBMonth
            self.interRegionTransferGB = interRegionTransferGB
            self.s3StandardGBMonth = s3StandardGBMonth
            self.note = note
        }

        /// The bundled table's rows, in dollars.
        init(snapshotGBMonth: Double, interRegionTransferGB: Double, s3StandardGBMonth: Double, note: String? = nil) {
            self.init(
                snapshotGBMonth: Money(dollars: snapshotGBMonth), interRegionTransferGB: Money(dollars: interRegionTransferGB),
                s3StandardGBMonth: Money(dollars: s3StandardGBMonth), note: note)
        }
    }

    /// The day the prices were read: `YYYY-MM-DD`.
    public var date: String
    /// Where they come from, for the estimate's text.
    public var source: String
    public var regions: [String: RegionPrices]
    /// Transfer prices of region pairs that differ from the source region's
    /// `interRegionTransferGB`: FROM, then TO, USD per GB.
    public var transferPairs: [String: [String: Money]]

    public init(date: String, source: String, regions: [String: RegionPrices], transferPairs: [String: [String: Money]] = [:]) {
        self.date = date
        self.source = source
        self.regions = regions
        self.transferPairs = transferPairs
    }

    /// The largest price a prices file may give, USD per GB (or GB-month): some 70 times the
    /// dearest list price of the bundled table (sa-east-1's 0.138 transfer).
    public static let maximumPricePerGB = 10

    /// The prices of `region`, nil when the table has none (another partition: GovCloud, China).
    public func prices(_ region: String) -> RegionPrices? { regions[region] }

    /// The price per GB of data copied from `source` to `destination`: the pair's own price
    /// where the table has one, else the source region's inter-region rate (data transfer is
    /// charged by the region it leaves); nil when neither is known.
    public func transferPrice(from source: String, to destination: String) -> Money? {
        transferPairs[source]?[destination] ?? regions[source]?.interRegionTransferGB
    }

    /// The bundled table: on-demand list prices of the AWS pricing pages (Amazon EBS pricing,
    /// Amazon EC2 on-demand pricing "Data Transfer", Amazon S3 pricing), as of `date`, for the
    /// regions of botocore's endpoints.json `aws` partition (botocore 1.43). Entries with a
    /// `note` were not listed, or not listed in full, when the table was compiled: they carry the
    /// price of the nearest comparable region. Prices change; a prices file overrides them.
    public static let bundled = PriceTable(
        date: "2025-06-01",
        source: "AWS on-demand list prices: EBS, EC2 data transfer and S3 pricing pages",
        regions: [
            "us-east-1": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.023),
            "us-east-2": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.023),
            "us-west-1": .init(snapshotGBMonth: 0.055, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.026),
            "us-west-2": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.023),
            "af-south-1": .init(snapshotGBMonth: 0.06, interRegionTransferGB: 0.147, s3StandardGBMonth: 0.0274),
            "ap-east-1": .init(snapshotGBMonth: 0.055, interRegionTransferGB: 0.09, s3StandardGBMonth: 0.025),
            "ap-east-2": .init(snapshotGBMonth: 0.055, interRegionTransferGB: 0.09, s3StandardGBMonth: 0.025, note: "priced as ap-east-1"),
            "ap-northeast-1": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.09, s3StandardGBMonth: 0.025),
            "ap-northeast-2": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.08, s3StandardGBMonth: 0.025),
            "ap-northeast-3": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.09, s3StandardGBMonth: 0.025),
            "ap-south-1": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.086, s3StandardGBMonth: 0.025),
            "ap-south-2": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.086, s3StandardGBMonth: 0.025, note: "priced as ap-south-1"),
            "ap-southeast-1": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.09, s3StandardGBMonth: 0.025),
            "ap-southeast-2": .init(snapshotGBMonth: 0.055, interRegionTransferGB: 0.098, s3StandardGBMonth: 0.025),
            "ap-southeast-3": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.10, s3StandardGBMonth: 0.025),
            "ap-southeast-4": .init(snapshotGBMonth: 0.055, interRegionTransferGB: 0.10, s3StandardGBMonth: 0.025, note: "priced as ap-southeast-2 (storage)"),
            "ap-southeast-5": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.08, s3StandardGBMonth: 0.025, note: "storage priced as ap-southeast-1"),
            "ap-southeast-6": .init(snapshotGBMonth: 0.055, interRegionTransferGB: 0.10, s3StandardGBMonth: 0.025, note: "priced as ap-southeast-2 (storage)"),
            "ap-southeast-7": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.09, s3StandardGBMonth: 0.025, note: "priced as ap-southeast-1"),
            "ca-central-1": .init(snapshotGBMonth: 0.055, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.025),
            "ca-west-1": .init(snapshotGBMonth: 0.055, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.025, note: "priced as ca-central-1"),
            "eu-central-1": .init(snapshotGBMonth: 0.054, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.0245),
            "eu-central-2": .init(snapshotGBMonth: 0.0594, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.0265),
            "eu-north-1": .init(snapshotGBMonth: 0.0475, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.023),
            "eu-south-1": .init(snapshotGBMonth: 0.053, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.024),
            "eu-south-2": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.023),
            "eu-west-1": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.023),
            "eu-west-2": .init(snapshotGBMonth: 0.053, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.024),
            "eu-west-3": .init(snapshotGBMonth: 0.053, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.024),
            "il-central-1": .init(snapshotGBMonth: 0.055, interRegionTransferGB: 0.08, s3StandardGBMonth: 0.025),
            "me-central-1": .init(snapshotGBMonth: 0.055, interRegionTransferGB: 0.085, s3StandardGBMonth: 0.025),
            "me-south-1": .init(snapshotGBMonth: 0.055, interRegionTransferGB: 0.1105, s3StandardGBMonth: 0.025),
            "mx-central-1": .init(snapshotGBMonth: 0.05, interRegionTransferGB: 0.02, s3StandardGBMonth: 0.023, note: "priced as us-east-1"),
            "sa-east-1": .init(snapshotGBMonth: 0.068, interRegionTransferGB: 0.138, s3StandardGBMonth: 0.0405),
        ],
        // Amazon EC2 on-demand pricing, "Data Transfer", data transferred out to another AWS
        // region: between US East (N. Virginia) and US East (Ohio) it is $0.01 per GB each way,
        // half the $0.02 both regions charge for every other region (the Price List's usage
        // types USE1-USE2-AWS-Out-Bytes and USE2-USE1-AWS-Out-Bytes). No other pair of
        // commercial regions is priced apart from its source region's rate.
        transferPairs: [
            "us-east-1": ["us-east-2": Money(dollars: 0.01)],
            "us-east-2": ["us-east-1": Money(dollars: 0.01)],
        ])

    /// The table with the prices of a prices file laid over it; problems name the JSON path.
    public func overridden(byJSON text: String) -> (table: PriceTable, problems: [Problem]) {
        var table = self
        var problems: [Problem] = []
        let document: ConfigValue
        do {
            document = try DocumentReader.parse(text)
        } catch {
            return (self, [error])
        }
        guard let members = document.members else {
            return (self, [Problem(.error, "", "a prices file is an object with date, source, regions and transferPairs", at: document)])
        }
        // Read where it is bounded: a price multiplies sizes of up to 2^30 GiB over every task
        // of a plan, and it is kept in micro-dollars, so more than six decimals would be lost.
        func price(_ number: ConfigValue, _ path: String) -> Money? {
            if case let .number(digits) = number.kind, let money = Money.parse(decimal: digits, maximumDollars: Self.maximumPricePerGB) {
                return money
            }
            let found = number.scalarText.map { "\"\(TextRenderer.escapedForDisplay(String($0.prefix(40))))\"" } ?? number.typeName
            problems.append(
                Problem(
                    .error, path, "expected a price in USD per GB from 0 to \(Self.maximumPricePerGB), at most 6 decimals, found \(found)",
                    at: number))
            return nil
        }
        for (key, value) in members {
            switch key {
            case "date", "source":
                guard let text = value.string else {
                    problems.append(Problem(.error, key, "expected a string, found \(value.typeName)", at: value))
                    continue
                }
                // Both are printed in the estimate's text: a date as the table dates it, and a
                // source on one line, without control characters.
                if key == "date" {
                    guard (try? /\d{4}-\d{2}-\d{2}/.wholeMatch(in: text)) != nil else {
                        problems.append(Problem(.error, key, "expected a date as YYYY-MM-DD, found \"\(TextRenderer.escapedForDisplay(text))\"", at: value))
                        continue
                    }
                    table.date = text
                } else {
                    guard text.count <= 200, !text.unicodeScalars.contains(where: \.isControlOrLineSeparator) else {
                        problems.append(Problem(.error, key, "expected one line of at most 200 characters without control characters", at: value))
                        continue
                    }
                    table.source = text
                }
            case "regions":
                guard let regions = value.members else {
                    problems.append(Problem(.error, key, "expected an object of regions, found \(value.typeName)", at: value))
                    continue
                }
                for (region, fields) in regions {
                    let path = "regions.\(region)"
                    guard let fieldMembers = fields.members else {
                        problems.append(Problem(.error, path, "expected an object of prices, found \(fields.typeName)", at: fields))
                        continue
                    }
                    var given: [String: Money] = [:]
                    for (field, number) in fieldMembers {
                        guard ["snapshotGBMonth", "interRegionTransferGB", "s3StandardGBMonth"].contains(field) else {
                            problems.append(
                                Problem(
                                    .error, "\(path).\(field)", "unknown price; expected snapshotGBMonth, interRegionTransferGB or s3StandardGBMonth",
                                    at: number))
                            continue
                        }
                        if let money = price(number, "\(path).\(field)") { given[field] = money }
                    }
                    guard !given.isEmpty else { continue }
                    let current = table.regions[region]
                    guard let snapshot = given["snapshotGBMonth"] ?? current?.snapshotGBMonth,
                        let transfer = given["interRegionTransferGB"] ?? current?.interRegionTransferGB,
                        let s3 = given["s3StandardGBMonth"] ?? current?.s3StandardGBMonth
                    else {
                        problems.append(
                            Problem(
                                .error, path, "\(region) is not in the bundled table: give snapshotGBMonth, interRegionTransferGB and s3StandardGBMonth",
                                at: fields))
                        continue
                    }
                    table.regions[region] = RegionPrices(snapshotGBMonth: snapshot, interRegionTransferGB: transfer, s3StandardGBMonth: s3)
                }
            case "transferPairs":
                guard let sources = value.members else {
                    problems.append(Problem(.error, key, "expected an object of source regions, found \(value.typeName)", at: value))
                    continue
                }
                for (source, destinations) in sources {
                    guard let destinationMembers = destinations.members else {
                        problems.append(
                            Problem(
                                .error, "transferPairs.\(source)", "expected an object of destination regions and prices, found \(destinations.typeName)",
                                at: destinations))
                        continue
                    }
                    for (destination, number) in destinationMembers {
                        let path = "transferPairs.\(source).\(destination)"
                        guard destination != source else {
                            problems.append(Problem(.error, path, "a copy inside one region moves nothing across regions; give another region", at: number))
                            continue
                        }
                        if let money = price(number, path) { table.transferPairs[source, default: [:]][destination] = money }
                    }
                }
            default:
                problems.append(Problem(.error, key, "unknown member; a prices file has date, source, regions and transferPairs", at: value))
            }
        }
        return (table, problems)
    }
}
