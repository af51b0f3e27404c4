/// A sum of money some of whose parts may be unknown: a task in a region the price table
/// has no price for. `known` is the sum of the priced parts; an incomplete sum is shown as
/// `unknown` (nothing priced) or as at least `known`, never as a total.
public struct CostSum: Sendable, Equatable {
    public var known = Money.zero
    /// Parts priced, and parts that could not be.
    public var pricedParts = 0
    public var unknownParts = 0

    public init() {}

    public var isComplete: Bool { unknownParts == 0 }

    /// Adds one part: nil is a part without a price.
    public mutating func add(_ part: Money?) {
        if let part {
            known += part
            pricedParts += 1
        } else {
            unknownParts += 1
        }
    }

    public mutating func add(_ other: CostSum) {
        known += other.known
        pricedParts += other.pricedParts
        unknownParts += other.unknownParts
    }

    /// The sum when every part is priced, else nil.
    public var exact: Money? { isComplete ? known : nil }
}

/// What a plan stores and moves, and what that costs a month, task by task: an estimate from
/// the image's size and a price table (see `CostEstimator`). GiB are priced as billed GB:
/// AWS meters EBS snapshot and S3 storage in binary gigabytes (Amazon S3 FAQs on billing; EBS
/// sizes are GiB). Money is summed exactly, in micro-dollars (`Money`), and rounded to cents
/// once, where it is shown.
public struct CostEstimate: Sendable, Equatable {
    /// One task that stores or moves image data.
    public struct Line: Sendable, Equatable {
        public var taskID: String
        public var kind: TaskKind
        public var region: String
        /// The account that stores the data and pays for it (as plans show it).
        public var account: String
        /// Snapshot data the task leaves stored in `region` and `account`, GiB.
        public var snapshotGiB: Int
        /// Data copied across regions, GiB (charged once, at the price of the pair of regions).
        public var transferGiB: Int
        /// The S3 object an export writes, GiB: an upper bound (the disk's size).
        public var s3GiB: Int
        /// A month of snapshot and S3 storage; nil when the region has no price.
        public var monthly: Money?
        /// The inter-region transfer, once; nil when the pair has no price.
        public var oneTime: Money?
    }

    /// Snapshot storage of one region and account, summed over its tasks.
    public struct Stored: Sendable, Equatable {
        public var region: String
        public var account: String
        public var snapshotGiB: Int
        public var monthly: CostSum
    }

    public struct Totals: Sendable, Equatable {
        public var snapshotGiB = 0
        public var transferGiB = 0
        public var s3GiB = 0
        public var monthly = CostSum()
        public var oneTime = CostSum()

        /// Both sums have every part priced.
        public var isComplete: Bool { monthly.isComplete && oneTime.isComplete }
    }

    public var imageSize: ImageSize
    /// The price table's date and source.
    public var priceDate: String
    public var priceSource: String
    /// Tasks in plan order; tasks that store and move nothing are left out.
    public var lines: [Line]
    /// Per region (plan order) and account (first seen).
    public var stored: [Stored]
    public var totals: Totals
    /// Regions of the plan the price table has no prices for (their lines are unknown).
    public var unpricedRegions: [String]
    /// Why the numbers are an estimate, for the text.
    public var caveats: [String]
}

/// Estimates what a plan stores, moves and costs.
///
/// Rules (each from the page named):
/// - Every AMI copy (`copy-image`, to another region or into another account) is counted as
///   a full snapshot set of the image in the destination region and account: an upper bound.
///   The first copy into a region is full; a later copy may be incremental to an earlier copy
///   of the same snapshot lineage (EBS user guide, "Copy an Amazon EBS snapshot", and the
///   "How AWS Pricing Works" whitepaper, Amazon EBS: copies are charged for the data
///   transferred between regions and then at the destination's snapshot rate).
/// - A copy to another region moves the image's size across regions once, charged at the
///   price of the pair where the table has one (us-east-1 and us-east-2), else at the source
///   region's inter-region rate; a copy inside the source region moves nothing (EC2 pricing,
///   data transfer within a region is free between these services).
/// - `export-image` writes one S3 object in the region; the disk size is an upper bound:
///   VMDK (stream-optimized) and VHD (dynamic) leave out unused space (VM Import/Export user
///   guide, "Exporting an instance as a VM").
/// - The build AMI is not counted: it exists whether or not it is distributed.
/// - Launch permissions, tags, launch templates and SSM parameters store no image data.
/// - A region without a price makes its lines unknown and the totals incomplete: never $0.
public enum CostEstimator {
    /// The estimate for `plan` of an image of `imageSize`, priced with `prices` (USD).
    public static func estimate(plan: Plan, imageSize: ImageSize, prices: PriceTable = .bundled) -> CostEstimate {
        let size = imageSize.gib
        var lines: [CostEstimate.Line] = []
        var totals = CostEstimate.Totals()
        var unpriced: [String] = []
        var storedIndex: [String: Int] = [:]
        var stored: [CostEstimate.Stored] = []
        func noteUnpriced(_ region: String) {
            if !unpriced.contains(region) { unpriced.append(region) }
        }
        for task in plan.tasks where task.kind == .copyImage || task.kind == .exportImage {
            let regionPrices = prices.prices(task.region)
            let account = plan.display(account: task.account)
            var line = CostEstimate.Line(
                taskID: task.id, kind: task.kind, region: task.region, account: account,
                snapshotGiB: 0, transferGiB: 0, s3GiB: 0, monthly: nil, oneTime: .zero)
            if task.kind == .copyImage {
                line.snapshotGiB = size
                line.monthly = regionPrices.map { $0.snapshotGBMonth * size }
                if task.region != plan.sourceRegion {
                    line.transferGiB = size
                    line.oneTime = prices.transferPrice(from: plan.sourceRegion, to: task.region).map { $0 * size }
                    if line.oneTime == nil { noteUnpriced(plan.sourceRegion) }
                }
                let key = task.region + "\u{0}" + account
                if let position = storedIndex[key] {
                    stored[position].snapshotGiB += size
                    stored[position].monthly.add(line.monthly)
                } else {
                    storedIndex[key] = stored.count
                    var monthly = CostSum()
                    monthly.add(line.monthly)
                    stored.append(.init(region: task.region, account: account, snapshotGiB: size, monthly: monthly))
                }
            } else {
                line.s3GiB = size
                line.monthly = regionPrices.map { $0.s3StandardGBMonth * size }
            }
            if line.monthly == nil { noteUnpriced(task.region) }
            totals.snapshotGiB += line.snapshotGiB
            totals.transferGiB += line.transferGiB
            totals.s3GiB += line.s3GiB
            totals.monthly.add(line.monthly)
            totals.oneTime.add(line.oneTime)
            lines.append(line)
        }
        var caveats = [
            "an estimate from the price table of \(prices.date) (\(prices.source)), before taxes, discounts and free tiers",
            "each copy is counted as a full snapshot set of \(size) GiB, an upper bound: the first copy of an image into a region and account is full, but snapshots store only written blocks, so a mostly empty disk stores less",
            "every build makes new copies: a copy can be incremental to an earlier copy of the same snapshot lineage in that region and account, so later builds may add less than this; old AMIs keep their snapshots until deregistered and deleted",
            "S3 export objects are counted at the disk size, an upper bound: VMDK and VHD leave out unused space",
        ]
        if !unpriced.isEmpty {
            caveats.append(
                "no prices for \(unpriced.joined(separator: ", ")) (not in the table): what they store or send is unknown and the totals are incomplete; give them in a prices file"
            )
        }
        if plan.tasks.contains(where: { $0.kind == .enableFastLaunch }) {
            caveats.append("fast launch keeps pre-provisioned snapshots of launched instances: not counted")
        }
        return CostEstimate(
            imageSize: imageSize, priceDate: prices.date, priceSource: prices.source, lines: lines,
            stored: stored, totals: totals, unpricedRegions: unpriced, caveats: caveats)
    }
}

/// The cost difference of two plans of the same image.
public struct CostDelta: Sendable, Equatable {
    public var old: CostEstimate.Totals
    public var new: CostEstimate.Totals
    public var priceDate: String
    public var imageSizeGiB: Int

    /// The change of the monthly and one-time totals; nil when either side is incomplete.
    public var monthly: Money? { new.monthly.exact.flatMap { new in old.monthly.exact.map { new - $0 } } }
    public var oneTime: Money? { new.oneTime.exact.flatMap { new in old.oneTime.exact.map { new - $0 } } }
    public var snapshotGiB: Int { new.snapshotGiB - old.snapshotGiB }
    public var transferGiB: Int { new.transferGiB - old.transferGiB }
    public var s3GiB: Int { new.s3GiB - old.s3GiB }

    public init(old: CostEstimate, new: CostEstimate) {
        self.old = old.totals
        self.new = new.totals
        priceDate = new.priceDate
        imageSizeGiB = new.imageSize.gib
    }
}

extension PlanDiff {
    /// The diff with the cost delta of the two plans for an image of `imageSize`.
    public func withCost(old: Plan, new: Plan, imageSize: ImageSize, prices: PriceTable = .bundled) -> PlanDiff {
        var diff = self
        diff.cost = CostDelta(
            old: CostEstimator.estimate(plan: old, imageSize: imageSize, prices: prices),
            new: CostEstimator.estimate(plan: new, imageSize: imageSize, prices: prices))
        return diff
    }
}
