import ConfigDocument
import Foundation
import Testing

@testable import DistributionPlan

@Suite("Pipeline documents")
struct PipelineTests {
    static func text(_ name: String) throws -> String {
        try Repository.text(Repository.configurations.appendingPathComponent("pipeline/\(name)"))
    }

    static func mapping(_ ebs: String) throws -> ConfigValue {
        try DocumentReader.parse(#"[{"deviceName": "/dev/xvda", "ebs": \#(ebs)}]"#)
    }

    static func problems(_ ebs: String) throws -> [String] {
        BlockDeviceRules.check(try mapping(ebs), path: "blockDeviceMappings").map(\.description)
    }

    @Test func responsesMakeTheHeader() throws {
        let documents = PipelineDocuments.load(
            pipeline: try Self.text("get-image-pipeline.json"), recipe: try Self.text("get-image-recipe.json"),
            infrastructure: try Self.text("get-infrastructure-configuration.json"))
        #expect(documents.problems.isEmpty, "\(documents.problems)")
        #expect(documents.recipe?.size?.gib == 130)
        let summary = documents.summary(now: ScheduleTests.date("2026-03-07T12:00:00Z"), nextRuns: 2)
        #expect(
            summary.lines == [
                "pipeline: web-app (enabled)",
                "schedule: cron(30 2 ? * * *) in America/Los_Angeles, EXPRESSION_MATCH_ONLY; next: 2026-03-09 02:30 -07:00 (2026-03-09T09:30Z), 2026-03-10 02:30 -07:00 (2026-03-10T09:30Z)",
                "schedule assumption: \(Schedule.daylightSavingAssumption)",
                "image recipe: web-app 1.2.0, from arn:aws:imagebuilder:us-east-1:aws:image/amazon-linux-2023-x86/x.x.x, 2 components, 130 GiB of EBS volumes",
                "platform: Linux",
                "instance types: m7i.large, m6i.large",
                "placement: tenancy default, us-east-1a",
            ])
    }

    @Test func aMacOSTemplateOnADedicatedHost() throws {
        let template = try Self.text("macos-template.yaml")
        let documents = PipelineDocuments.load(pipeline: template, platform: .macos)
        #expect(documents.errors.isEmpty, "\(documents.problems)")
        #expect(documents.pipeline?.schedule?.timeZone.identifier == "Europe/Berlin")
        #expect(documents.infrastructure?.tenancy == "host" && documents.infrastructure?.instanceTypes == ["mac2.metal"])
        #expect(documents.recipe?.size?.gib == 200)
        let starts = try #require(documents.pipeline?.schedule).nextStarts(after: ScheduleTests.date("2026-03-01T00:00:00Z"), count: 2)
        // The first Mondays of March and April 2026: the 2nd and the 6th.
        #expect(starts.map(\.local) == ["2026-03-02 06:00 +01:00", "2026-04-06 06:00 +02:00"])
    }

    @Test func macOSNeedsHostTenancyAndAMacFamily() throws {
        let infrastructure = #"{"infrastructureConfiguration": {"name": "mac", "instanceTypes": ["m7i.large"], "placement": {"tenancy": "dedicated"}}}"#
        let documents = PipelineDocuments.load(infrastructure: infrastructure, platform: .macos)
        #expect(documents.errors.map(\.path) == ["infrastructureConfiguration.placement.tenancy", "infrastructureConfiguration.instanceTypes"])
        #expect(documents.errors.last?.message.contains("not m7i.large") == true)
        let none = PipelineDocuments.load(platform: .macos)
        #expect(none.problems.first?.severity == .warning)
    }

    @Test(arguments: [
        (
            #"{"tenancy": "host", "hostId": "h-0123456789abcdef0", "hostResourceGroupArn": "arn:aws:resource-groups:us-east-1:123456789012:group/macs"}"#,
            ["infrastructureConfiguration.placement: give hostId or hostResourceGroupArn, not both: Image Builder refuses both"]
        ),
        (
            #"{"hostId": "h-0123456789abcdef0"}"#,
            [
                "infrastructureConfiguration.placement.hostId: applies only to tenancy host (Image Builder API, Placement.hostId), not default (tenancy omitted); set placement.tenancy to host"
            ]
        ),
        // Image Builder API, Placement.hostId: "only applies if tenancy is host".
        (
            #"{"tenancy": "default", "hostId": "h-0123456789abcdef0"}"#,
            [
                "infrastructureConfiguration.placement.hostId: applies only to tenancy host (Image Builder API, Placement.hostId), not default; set placement.tenancy to host"
            ]
        ),
        (
            #"{"tenancy": "dedicated", "hostResourceGroupArn": "arn:aws:resource-groups:us-east-1:123456789012:group/macs"}"#,
            [
                "infrastructureConfiguration.placement.hostResourceGroupArn: applies only to tenancy host (Image Builder API; EC2 Placement: omit tenancy or set it to host), not dedicated; set placement.tenancy to host"
            ]
        ),
        // EC2 API Placement.HostResourceGroupArn: "either omit the Tenancy parameter or set it
        // to host"; Image Builder only promises host: a warning, not an error.
        (
            #"{"hostResourceGroupArn": "arn:aws:resource-groups:us-east-1:123456789012:group/macs"}"#,
            [
                "infrastructureConfiguration.placement.hostResourceGroupArn: tenancy is omitted: EC2 then launches into the host resource group, but Image Builder documents the group as applying only to tenancy host; set placement.tenancy to host to be sure"
            ]
        ),
        (#"{"tenancy": "shared"}"#, [#"infrastructureConfiguration.placement.tenancy: "shared" is not one of "default", "dedicated", "host""#]),
        (#"{"tenancy": "host", "hostId": "h-0123456789abcdef0"}"#, []),
        (#"{"tenancy": "host"}"#, []),
    ])
    func placementRules(placement: String, expected: [String]) {
        let documents = PipelineDocuments.load(
            infrastructure: #"{"infrastructureConfiguration": {"name": "i", "instanceTypes": ["mac2.metal"], "placement": \#(placement)}}"#)
        #expect(documents.problems.map(\.description) == expected)
    }

    @Test func macOSImagesAreNotExported() throws {
        let configuration = try #require(
            ConfigurationLoader.load(try Repository.text(Repository.configurations.appendingPathComponent("s3-export-all-formats.json"))).configuration)
        // The documents alone say macOS (the pipeline's platform): they refuse the export.
        let documents = PipelineDocuments.load(
            pipeline: #"{"imagePipeline": {"name": "p", "platform": "macOS"}}"#,
            infrastructure: #"{"infrastructureConfiguration": {"name": "m", "instanceTypes": ["mac2.metal"], "placement": {"tenancy": "host"}}}"#,
            distribution: configuration)
        #expect(!documents.errors.isEmpty)
        #expect(documents.errors.allSatisfy { $0.path.hasSuffix(".s3ExportConfiguration") && $0.message == "VM Import/Export cannot export a macOS image" })
        // --platform macos with no side file at all: the planner's own rules refuse it (it
        // passed before unless --infrastructure was given).
        let text = try Repository.text(Repository.configurations.appendingPathComponent("s3-export-all-formats.json"))
        let planned = DistributionPlanner.plan(document: text, context: PlanContext(sourceRegion: "us-east-1", platform: .macos))
        #expect(planned.plan == nil)
        #expect(planned.problems.contains { $0.path.hasSuffix(".s3ExportConfiguration") && $0.message == "VM Import/Export cannot export a macOS image" })
    }

    /// The pipeline's platform drives the plan: a Windows pipeline makes a Windows plan (its
    /// header says so, and fast launch is planned, not refused); the side file's problems are
    /// printed under its name with line and column.
    @Test func pipelinePlatformDrivesThePlan() throws {
        let config =
            #"{"name": "win-config", "distributions": [{"region": "us-east-1", "amiDistributionConfiguration": {"name": "w {{imagebuilder:buildDate}}"}, "fastLaunchConfigurations": [{"enabled": true, "maxParallelLaunches": 6}]}]}"#
        let pipeline = "{\"imagePipeline\": {\"name\": \"win\", \"platform\": \"Windows\",\n  \"schedule\": {\"scheduleExpression\": \"0 10 * * ? *\"}}}"
        let review = PlanReview.make(
            config: NamedDocument(name: nil, text: config), context: PlanContext(sourceRegion: "us-east-1"),
            inputs: .init(pipeline: NamedDocument(name: "pipeline.json", text: pipeline), now: ScheduleTests.date("2026-03-07T12:00:00Z")))
        let plan = try #require(review.plan, "\(review.problems)")
        #expect(plan.context.platform == .windows)
        #expect(review.text(plan).contains("platform windows"))
        #expect(review.pipelineSummary.contains("platform: Windows"))
        // The bare cron form is warned about in the pipeline's file, at the member's line and column.
        let bare = try #require(review.warnings.first { $0.path == "imagePipeline.schedule.scheduleExpression" })
        #expect(bare.file == "pipeline.json" && bare.line == 2 && bare.column == 38, "\(bare)")
    }

    @Test func recipePlatformMustMatchThePipeline() throws {
        let recipe =
            #"{"containerRecipe": {"name": "c", "platform": "Windows", "components": [{"componentArn": "arn:aws:imagebuilder:us-east-1:aws:component/x/1.0.0"}]}}"#
        let pipeline = #"{"imagePipeline": {"name": "p", "platform": "Linux"}}"#
        let documents = PipelineDocuments.load(pipeline: pipeline, recipe: recipe)
        #expect(documents.errors.map(\.path) == ["containerRecipe.platform"])
        #expect(PipelineDocuments.load(recipe: recipe, platform: .linux).errors.count == 1)
    }

    @Test func getImageCarriesRecipeAndInfrastructure() throws {
        let image = #"""
            {"image": {"platform": "Linux", "sourcePipelineName": "web-app",
              "imageRecipe": {"name": "web-app", "platform": "Linux", "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 16, "volumeType": "gp3"}}]},
              "infrastructureConfiguration": {"name": "web", "instanceTypes": ["t3.large"]}}}
            """#
        let documents = PipelineDocuments.load(pipeline: image)
        #expect(documents.problems.isEmpty)
        #expect(documents.pipeline?.name == "web-app" && documents.recipe?.size?.gib == 16 && documents.infrastructure?.instanceTypes == ["t3.large"])
    }

    @Test func scheduleProblemsNameTheDocumentPath() {
        let documents = PipelineDocuments.load(
            pipeline: #"{"imagePipeline": {"name": "p", "schedule": {"scheduleExpression": "cron(0 0 * * * *)", "timezone": "Nowhere/Land"}}}"#)
        #expect(documents.errors.map(\.path) == ["imagePipeline.schedule.timezone", "imagePipeline.schedule.scheduleExpression"])
        let template = PipelineDocuments.load(
            pipeline: """
                Resources:
                  P:
                    Type: AWS::ImageBuilder::ImagePipeline
                    Properties:
                      Name: p
                      Schedule: {ScheduleExpression: "cron(0 0 * * ? *)", PipelineExecutionStartCondition: SOMETIMES}
                """)
        #expect(template.errors.map(\.path) == ["Resources.P.Properties.Schedule.PipelineExecutionStartCondition"])
    }

    // MARK: block devices, each rule at and past its bounds

    @Test(arguments: [
        // gp3: iops 3,000-16,000, 500 per GiB; throughput 125-1,000, 4 iops per MiB/s.
        (#"{"volumeType": "gp3", "volumeSize": 8, "iops": 3000}"#, []),
        // EBS user guide, gp3: the 3,000 IOPS baseline whatever the size (kubernetes/kops made
        // the same fix): a 1 GiB or 4 GiB gp3 volume takes 3,000; the ratio applies above it.
        (#"{"volumeType": "gp3", "volumeSize": 1, "iops": 3000}"#, []),
        (#"{"volumeType": "gp3", "volumeSize": 4, "iops": 3000}"#, []),
        (
            #"{"volumeType": "gp3", "volumeSize": 4, "iops": 3001}"#,
            ["blockDeviceMappings[0].ebs.iops: 3001 iops on 4 GiB is more than 500 per GiB (gp3): at most 3000, or a volume of at least 7 GiB"]
        ),
        (#"{"volumeType": "gp3", "volumeSize": 8, "iops": 2999}"#, ["blockDeviceMappings[0].ebs.iops: gp3 iops are 3000-64000, not 2999"]),
        (#"{"volumeType": "gp3", "volumeSize": 32, "iops": 16000}"#, []),
        // The Image Builder model's 64,000, below EC2's 80,000 for gp3 since September 2025.
        (#"{"volumeType": "gp3", "volumeSize": 128, "iops": 64000}"#, []),
        (#"{"volumeType": "gp3", "volumeSize": 200, "iops": 64001}"#, ["blockDeviceMappings[0].ebs.iops: gp3 iops are 3000-64000, not 64001"]),
        (
            #"{"volumeType": "gp3", "volumeSize": 31, "iops": 16000}"#,
            ["blockDeviceMappings[0].ebs.iops: 16000 iops on 31 GiB is more than 500 per GiB (gp3): at most 15500, or a volume of at least 32 GiB"]
        ),
        (#"{"volumeType": "gp3", "throughput": 125}"#, []),
        (#"{"volumeType": "gp3", "throughput": 124}"#, ["blockDeviceMappings[0].ebs.throughput: gp3 throughput is 125-1000 MiB/s, not 124"]),
        (#"{"volumeType": "gp3", "volumeSize": 8, "iops": 4000, "throughput": 1000}"#, []),
        (
            #"{"volumeType": "gp3", "volumeSize": 8, "iops": 4000, "throughput": 1001}"#,
            ["blockDeviceMappings[0].ebs.throughput: gp3 throughput is 125-1000 MiB/s, not 1001"]
        ),
        (
            #"{"volumeType": "gp3", "volumeSize": 8, "iops": 3999, "throughput": 1000}"#,
            ["blockDeviceMappings[0].ebs.throughput: 1000 MiB/s needs at least 4000 iops (gp3 allows 0.25 MiB/s per IOPS); the volume has 3999"]
        ),
        (#"{"volumeType": "gp3", "throughput": 750}"#, []),
        (
            #"{"volumeType": "gp3", "throughput": 751}"#,
            ["blockDeviceMappings[0].ebs.throughput: 751 MiB/s needs at least 3004 iops (gp3 allows 0.25 MiB/s per IOPS); the volume has 3000"]
        ),
        (#"{"volumeType": "gp2", "throughput": 200}"#, ["blockDeviceMappings[0].ebs.throughput: throughput can be set for gp3 volumes only, not gp2"]),
        (#"{"volumeType": "gp2", "iops": 300}"#, ["blockDeviceMappings[0].ebs.iops: iops cannot be provisioned for gp2 volumes"]),
        // io1: 100-64,000, 50 per GiB, 4 GiB and up, iops required.
        (#"{"volumeType": "io1", "volumeSize": 4, "iops": 100}"#, []),
        (#"{"volumeType": "io1", "volumeSize": 4, "iops": 99}"#, ["blockDeviceMappings[0].ebs.iops: io1 iops are 100-64000, not 99"]),
        (#"{"volumeType": "io1", "volumeSize": 4, "iops": 200}"#, []),
        (
            #"{"volumeType": "io1", "volumeSize": 4, "iops": 201}"#,
            ["blockDeviceMappings[0].ebs.iops: 201 iops on 4 GiB is more than 50 per GiB (io1): at most 200, or a volume of at least 5 GiB"]
        ),
        (#"{"volumeType": "io1", "volumeSize": 1280, "iops": 64000}"#, []),
        (#"{"volumeType": "io1", "volumeSize": 2000, "iops": 64001}"#, ["blockDeviceMappings[0].ebs.iops: io1 iops are 100-64000, not 64001"]),
        (#"{"volumeType": "io1", "volumeSize": 3, "iops": 100}"#, ["blockDeviceMappings[0].ebs.volumeSize: io1 volumes are 4-16000 GiB, not 3"]),
        (#"{"volumeType": "io1", "volumeSize": 100}"#, ["blockDeviceMappings[0].ebs: io1 volumes need iops (provisioned IOPS)"]),
        // io2: 1,000 per GiB.
        (#"{"volumeType": "io2", "volumeSize": 4, "iops": 4000}"#, []),
        (
            #"{"volumeType": "io2", "volumeSize": 4, "iops": 4001}"#,
            ["blockDeviceMappings[0].ebs.iops: 4001 iops on 4 GiB is more than 1000 per GiB (io2): at most 4000, or a volume of at least 5 GiB"]
        ),
        (#"{"volumeType": "io2", "volumeSize": 100}"#, ["blockDeviceMappings[0].ebs: io2 volumes need iops (provisioned IOPS)"]),
        // Sizes.
        (#"{"volumeType": "st1", "volumeSize": 125}"#, []),
        (#"{"volumeType": "st1", "volumeSize": 124}"#, ["blockDeviceMappings[0].ebs.volumeSize: st1 volumes are 125-16000 GiB, not 124"]),
        (#"{"volumeType": "sc1", "volumeSize": 124}"#, ["blockDeviceMappings[0].ebs.volumeSize: sc1 volumes are 125-16000 GiB, not 124"]),
        (#"{"volumeType": "standard", "volumeSize": 1024}"#, []),
        (#"{"volumeType": "standard", "volumeSize": 1025}"#, ["blockDeviceMappings[0].ebs.volumeSize: standard volumes are 1-1024 GiB, not 1025"]),
        (#"{"volumeType": "gp3", "volumeSize": 16000}"#, []),
        (#"{"volumeType": "gp3", "volumeSize": 16001}"#, ["blockDeviceMappings[0].ebs.volumeSize: 16001 GiB is outside 1-16000 (Image Builder API)"]),
        (#"{"volumeSize": 0}"#, ["blockDeviceMappings[0].ebs.volumeSize: 0 GiB is outside 1-16000 (Image Builder API)"]),
        (#"{"volumeType": "gp4"}"#, [#"blockDeviceMappings[0].ebs.volumeType: "gp4" is not one of gp2, gp3, io1, io2, sc1, st1, standard"#]),
        (#"{"volumeSize": "big"}"#, ["blockDeviceMappings[0].ebs.volumeSize: expected a whole number, found a string"]),
    ])
    func volumeRules(ebs: String, expected: [String]) throws {
        #expect(try Self.problems(ebs) == expected)
    }

    @Test func noDeviceExcludesEBS() throws {
        let mappings = try DocumentReader.parse(
            #"[{"deviceName": "/dev/xvdb", "noDevice": "", "ebs": {"volumeSize": 8}}, {"deviceName": "/dev/xvdc", "noDevice": "yes"}, {"deviceName": "/dev/xvdd", "noDevice": ""}]"#
        )
        #expect(
            BlockDeviceRules.check(mappings, path: "imageRecipe.blockDeviceMappings").map(\.description) == [
                "imageRecipe.blockDeviceMappings[0].ebs: a mapping with noDevice removes the device; it cannot also configure ebs",
                "imageRecipe.blockDeviceMappings[1].noDevice: must be an empty string: it removes the device from the parent image",
            ])
    }

    @Test func cloudFormationPathsAreInItsSpelling() throws {
        let mappings = try DocumentReader.parse(#"[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeType": "gp3", "Iops": 1000}}]"#)
        #expect(
            BlockDeviceRules.check(mappings, path: "Resources.R.Properties.BlockDeviceMappings", naming: .cloudFormation).map(\.path)
                == ["Resources.R.Properties.BlockDeviceMappings[0].Ebs.Iops"])
    }
}
