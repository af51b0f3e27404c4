import ConfigDocument

/// The prices a cost estimate uses, per region, in US dollars. `bundled` is a dated table of
/// every commercial (`aws` partition) region; a prices file (JSON, `--prices FILE`) overrides
/// any region or field of it:
/// ```
/// {"date": "2026-11-01", "source": "our EDP rates",
///  "regions": {"eu-west-1": {"snapshotGBMonth": 0.045, "interRegionTransferGB": 0.02,
///                            "s3StandardGBMonth": 0.021}}}
/// ```
/// Every member is optional; a region the file does not name keeps the bundled prices.
public struct PriceTable: Sendable, Equatable {
    /// One region's prices.
    public struct RegionPrices: Sendable, Equatable {
        /// EBS snapshot storage, standard tier, USD per GB-month (Amazon EBS pricing, "Snapshots").
        public var snapshotGBMonth: Double
        /// Data transfer out of this region to another AWS region, USD per GB (Amazon EC2
        /// on-demand pricing, "Data Transfer", "to other AWS regions"). A copy is charged at its
        /// source region's rate (EBS user guide, "Copy an Amazon EBS snapshot": charged for the
        /// data transferred between Regions).
        public var interRegionTransferGB: Double
        /// S3 Standard storage, first 50 TB tier, USD per GB-month (Amazon S3 pricing, "Storage").
        public var s3StandardGBMonth: Double
        /// Why a value is less certain than the rest (a new region), if it is.
        public var note: String?

        public init(snapshotGBMonth: Double, interRegionTransferGB: Double, s3StandardGBMonth: Double, note: String? = nil) {
            self.snapshotGBMonth = snapshotGBMonth
            self.interRegionTransferGB = interRegionTransferGB
            self.s3StandardGBMonth = s3StandardGBMonth
            self.note = note
        }
    }

    /// The day the prices were read: `YYYY-MM-DD`.
    public var date: String
    /// Where they come from, for the estimate's text.
    public var source: String
    public var regions: [String: RegionPrices]

    public init(date: String, source: String, regions: [String: RegionPrices]) {
        self.date = date
        self.source = source
        self.regions = regions
    }

    /// The largest price a prices file may give, USD per GB (or GB-month): some 70 times the
    /// dearest list price of the bundled table (sa-east-1's 0.138 transfer). With image sizes
    /// bounded at 2^30 GiB, every product and sum of a plan stays far inside what a
    /// `Double` holds exactly enough and an `Int` of cents can take.
    public static let maximumPricePerGB: Double = 10

    /// The prices of `region`, nil when the table has none (another partition: GovCloud, China).
    public func prices(_ region: String) -> RegionPrices? { regions[region] }

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
            return (self, [Problem(.error, "", "a prices file is an object with date, source and regions", at: document)])
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
                    var prices = table.regions[region]
                    for (field, number) in fieldMembers {
                        // Bounded where it is read: a price multiplies sizes of up to 2^30 GiB over
                        // every task of a plan, and the sum must stay a number of cents.
                        guard case let .number(digits) = number.kind, let price = Double(digits), price.isFinite,
                            (0...Self.maximumPricePerGB).contains(price)
                        else {
                            let found = number.scalarText.map { "\"\(TextRenderer.escapedForDisplay(String($0.prefix(40))))\"" } ?? number.typeName
                            problems.append(
                                Problem(
                                    .error, "\(path).\(field)",
                                    "expected a price in USD per GB from 0 to \(Int(Self.maximumPricePerGB)), found \(found)", at: number))
                            continue
                        }
                        var current = prices ?? RegionPrices(snapshotGBMonth: .nan, interRegionTransferGB: .nan, s3StandardGBMonth: .nan)
                        switch field {
                        case "snapshotGBMonth": current.snapshotGBMonth = price
                        case "interRegionTransferGB": current.interRegionTransferGB = price
                        case "s3StandardGBMonth": current.s3StandardGBMonth = price
                        default:
                            problems.append(
                                Problem(
                                    .error, "\(path).\(field)", "unknown price; expected snapshotGBMonth, interRegionTransferGB or s3StandardGBMonth",
                                    at: number))
                            continue
                        }
                        current.note = nil
                        prices = current
                    }
                    if let prices {
                        if prices.snapshotGBMonth.isNaN || prices.interRegionTransferGB.isNaN || prices.s3StandardGBMonth.isNaN {
                            problems.append(
                                Problem(
                                    .error, path, "\(region) is not in the bundled table: give snapshotGBMonth, interRegionTransferGB and s3StandardGBMonth",
                                    at: fields))
                        } else {
                            table.regions[region] = prices
                        }
                    }
                }
            default:
                problems.append(Problem(.error, key, "unknown member; a prices file has date, source and regions", at: value))
            }
        }
        return (table, problems)
    }
}
