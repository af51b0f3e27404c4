import ConfigDocument
import Foundation
import Testing

@testable import DistributionPlan

@Suite("Size and cost")
struct CostTests {
    /// The totals of multi-region-cross-account-kms.json for a 30 GiB image, recomputed by hand
    /// from the bundled table: copies into eu-west-1 (owner, 222222222222, 333333333333) and
    /// ap-southeast-2 (owner), from us-east-1; an export in ap-southeast-2.
    @Test func totalsRecomputedByHand() throws {
        let plan = try PlanTests.plan("multi-region-cross-account-kms.json")
        let table = PriceTable.bundled
        let estimate = CostEstimator.estimate(plan: plan, imageSize: ImageSize(gib: 30), prices: table)
        let euWest1 = try #require(table.prices("eu-west-1"))
        let sydney = try #require(table.prices("ap-southeast-2"))
        let virginia = try #require(table.prices("us-east-1"))
        #expect(estimate.totals.snapshotGiB == 4 * 30)
        #expect(estimate.totals.transferGiB == 4 * 30)
        #expect(estimate.totals.s3GiB == 30)
        let monthly = 3 * 30 * euWest1.snapshotGBMonth + 30 * sydney.snapshotGBMonth + 30 * sydney.s3StandardGBMonth
        #expect(abs(estimate.totals.monthlyUSD - monthly) < 1e-9)
        #expect(abs(estimate.totals.oneTimeUSD - 4 * 30 * virginia.interRegionTransferGB) < 1e-9)
        // The table's values of 2025-06-01: 90 x 0.05 + 30 x 0.055 + 30 x 0.025 = 6.90; 120 x 0.02 = 2.40.
        #expect(CostRenderer.cents(estimate.totals.monthlyUSD) == 690)
        #expect(CostRenderer.cents(estimate.totals.oneTimeUSD) == 240)
        #expect(estimate.stored.map(\.region) == ["eu-west-1", "eu-west-1", "eu-west-1", "ap-southeast-2"])
        #expect(estimate.stored.map(\.snapshotGiB) == [30, 30, 30, 30])
        let text = CostRenderer.text(estimate)
        #expect(text.contains("total: $6.90/month stored, $2.40 transfer a build"))
        #expect(text.contains("Why this is an estimate"))
    }

    @Test func goldenEstimate() throws {
        let plan = try PlanTests.plan("multi-region-cross-account-kms.json")
        let estimate = CostEstimator.estimate(plan: plan, imageSize: ImageSize(gib: 30, source: .recipe(path: "imageRecipe.blockDeviceMappings")))
        try PlanTests.expectGolden(CostRenderer.text(estimate), "cost/multi-region-cross-account-kms-30gib.txt")
        let json = CostRenderer.json(estimate)
        try PlanTests.expectGolden(json, "cost/multi-region-cross-account-kms-30gib.json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect((object["totals"] as? [String: Any])?["monthlyCents"] as? Int == 690)
    }

    @Test func everyCommercialRegionIsPriced() throws {
        // botocore's endpoints.json, partition aws (botocore 1.43).
        let regions = [
            "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
            "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
            "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1",
            "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1",
            "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
        ]
        #expect(Set(PriceTable.bundled.regions.keys) == Set(regions))
        for prices in PriceTable.bundled.regions.values {
            #expect(prices.snapshotGBMonth > 0 && prices.interRegionTransferGB > 0 && prices.s3StandardGBMonth > 0)
        }
    }

    @Test func aPricesFileOverridesTheTable() throws {
        let (table, problems) = PriceTable.bundled.overridden(
            byJSON: #"""
                {"date": "2026-11-01", "source": "negotiated", "regions": {
                  "eu-west-1": {"snapshotGBMonth": 0.04},
                  "us-gov-west-1": {"snapshotGBMonth": 0.06, "interRegionTransferGB": 0.03, "s3StandardGBMonth": 0.039}}}
                """#)
        #expect(problems.isEmpty)
        #expect(table.date == "2026-11-01" && table.source == "negotiated")
        #expect(table.prices("eu-west-1")?.snapshotGBMonth == 0.04)
        #expect(table.prices("eu-west-1")?.s3StandardGBMonth == PriceTable.bundled.prices("eu-west-1")?.s3StandardGBMonth)
        #expect(table.prices("us-gov-west-1")?.interRegionTransferGB == 0.03)
    }

    @Test func badPricesFilesNameThePath() {
        let (_, problems) = PriceTable.bundled.overridden(
            byJSON: #"{"regions": {"eu-west-1": {"snapshotGBMonth": "cheap", "egress": 1}, "xx-new-1": {"snapshotGBMonth": 0.1}}}"#)
        #expect(problems.map(\.path) == ["regions.eu-west-1.snapshotGBMonth", "regions.eu-west-1.egress", "regions.xx-new-1"])
    }

    /// The date and source are printed in the estimate: a date must be one, and a source one
    /// line without control characters.
    @Test func aPricesFileCannotWriteLinesIntoTheEstimate() {
        let (table, problems) = PriceTable.bundled.overridden(byJSON: #"{"date": "yesterday", "source": "ours\nTotals: 0 tasks\u001b[2J"}"#)
        #expect(problems.map(\.path) == ["date", "source"])
        #expect(problems.first?.message == #"expected a date as YYYY-MM-DD, found "yesterday""#)
        #expect(table.date == PriceTable.bundled.date && table.source == PriceTable.bundled.source)
    }

    @Test func unpricedRegionsAreSaid() throws {
        let json =
            #"{"name": "gov", "distributions": [{"region": "us-gov-west-1", "amiDistributionConfiguration": {"name": "a {{ imagebuilder:buildDate }}"}}, {"region": "us-gov-east-1", "amiDistributionConfiguration": {"name": "a {{ imagebuilder:buildDate }}"}}]}"#
        let plan = try #require(DistributionPlanner.plan(document: json, context: PlanContext(sourceRegion: "us-gov-west-1")).plan)
        let estimate = CostEstimator.estimate(plan: plan, imageSize: ImageSize(gib: 8))
        #expect(estimate.unpricedRegions == ["us-gov-west-1", "us-gov-east-1"])
        #expect(estimate.totals.snapshotGiB == 8 && estimate.totals.monthlyUSD == 0)
        #expect(estimate.caveats.last?.contains("no prices for us-gov-west-1, us-gov-east-1") == true)
    }

    @Test func sizeFromARecipe() throws {
        let recipe = #"""
            {"imageRecipe": {"name": "web", "blockDeviceMappings": [
              {"deviceName": "/dev/xvda", "ebs": {"volumeSize": 30, "volumeType": "gp3"}},
              {"deviceName": "/dev/xvdb", "ebs": {"volumeSize": 100, "volumeType": "gp3"}},
              {"deviceName": "/dev/xvdc", "noDevice": ""},
              {"deviceName": "/dev/xvdd", "ebs": {"volumeType": "gp3"}}]}}
            """#
        let reading = ImageSize.fromRecipe(document: recipe)
        #expect(reading.size == ImageSize(gib: 130, source: .recipe(path: "imageRecipe.blockDeviceMappings")))
        #expect(reading.unsizedDevices == ["/dev/xvdd"])
        let image = ImageSize.fromRecipe(
            document: #"{"image": {"imageRecipe": {"blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": {"volumeSize": 50}}]}}}"#)
        #expect(image.size?.gib == 50)
        let template = ImageSize.fromRecipe(
            document: """
                Resources:
                  Recipe:
                    Type: AWS::ImageBuilder::ImageRecipe
                    Properties:
                      BlockDeviceMappings:
                        - DeviceName: /dev/xvda
                          Ebs: {VolumeSize: 64, VolumeType: gp3}
                """)
        #expect(template.size == ImageSize(gib: 64, source: .recipe(path: "Resources.Recipe.Properties.BlockDeviceMappings")))
        #expect(ImageSize.fromRecipe(document: #"{"distributionConfiguration": {}}"#).problems.count == 1)
    }

    @Test func diffShowsTheCostDelta() throws {
        let old = try PlanDiffTests.plan("target-accounts", "old")
        let new = try PlanDiffTests.plan("regions", "new")
        let diff = PlanDiff.compare(old: old, new: new).withCost(old: old, new: new, imageSize: ImageSize(gib: 10))
        let cost = try #require(diff.cost)
        // Old: eu-west-1 x3 and ap-southeast-2 copies, Sydney export. New: eu-west-1 x3,
        // eu-central-1 copy and export (Frankfurt).
        #expect(cost.snapshotGiB == 0 && cost.transferGiB == 0)
        let expected =
            10 * (PriceTable.bundled.prices("eu-central-1")!.snapshotGBMonth - PriceTable.bundled.prices("ap-southeast-2")!.snapshotGBMonth)
            + 10 * (PriceTable.bundled.prices("eu-central-1")!.s3StandardGBMonth - PriceTable.bundled.prices("ap-southeast-2")!.s3StandardGBMonth)
        #expect(abs(cost.monthlyUSD - expected) < 1e-9)
        let text = DiffRenderer.text(diff)
        #expect(text.contains("Cost (an estimate for a 10 GiB image, prices of 2025-06-01)"))
        // 3 x 10 x 0.05 + 10 x 0.055 + 10 x 0.025 = 2.30 before; 1.50 + 0.54 + 0.245 after.
        #expect(CostRenderer.cents(cost.old.monthlyUSD) == 230)
        #expect(text.contains("  monthly: $2.30 -> \(CostRenderer.dollars(cost.new.monthlyUSD)) ("))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(DiffRenderer.json(diff).utf8)) as? [String: Any])
        let delta = try #require((json["cost"] as? [String: Any])?["delta"] as? [String: Any])
        #expect(delta["monthlyCents"] as? Int == CostRenderer.cents(cost.new.monthlyUSD) - 230)
    }
}
