import ConfigDocument
import Foundation

/// The pipeline around a distribution configuration: the image pipeline, its image or
/// container recipe and its infrastructure configuration, read from API responses
/// (get-image-pipeline, get-image-recipe, get-container-recipe,
/// get-infrastructure-configuration), from the matching resources of one CloudFormation
/// template (`AWS::ImageBuilder::ImagePipeline`, `ImageRecipe`, `ContainerRecipe`,
/// `InfrastructureConfiguration`), or from a get-image response, which carries the recipe and
/// the infrastructure configuration of the image it describes (Image Builder API, GetImage).
public struct PipelineDocuments: Sendable {
    /// The platform the pipeline builds for (Image Builder API `Platform`).
    public enum Platform: String, Sendable {
        case linux = "Linux", windows = "Windows", macOS
    }

    public struct Pipeline: Sendable {
        public var name: String?
        public var platform: Platform?
        public var status: String?
        public var schedule: Schedule?
        public var imageRecipeArn: String?
        public var containerRecipeArn: String?
        public var infrastructureConfigurationArn: String?
        public var distributionConfigurationArn: String?
        /// Where the schedule's expression sits in its document.
        var schedulePath: String?
    }

    /// The platform the documents say the image is for (the pipeline's, else the recipe's),
    /// as the plan's context names it.
    public var contextPlatform: PlanContext.Platform? {
        switch pipeline?.platform ?? recipe?.platform {
        case .linux: .linux
        case .windows: .windows
        case .macOS: .macos
        case nil: nil
        }
    }

    public struct Recipe: Sendable {
        /// `image` or `container`.
        public var kind: String
        public var name: String?
        public var version: String?
        public var platform: Platform?
        public var parentImage: String?
        public var componentArns: [String]
        /// The image's size from the recipe's block devices, when they give one.
        public var size: ImageSize?
    }

    public struct Infrastructure: Sendable {
        public var name: String?
        public var instanceTypes: [String]
        public var tenancy: String?
        public var hostId: String?
        public var hostResourceGroupArn: String?
        public var availabilityZone: String?
        /// Where the configuration sits in its document.
        var path = "infrastructureConfiguration"
        /// The tenancy (else the placement, else the configuration) and the instance types, for
        /// the line and column of the problems the cross checks find.
        var tenancyValue: ConfigValue?
        var instanceTypesValue: ConfigValue?
    }

    public var pipeline: Pipeline?
    public var recipe: Recipe?
    public var infrastructure: Infrastructure?
    /// Errors and warnings of every document, with JSON paths, in document order.
    public var problems: [Problem]

    public var errors: [Problem] { problems.filter { $0.severity == .error } }

    /// Reads and checks the documents given (any may be nil: `--pipeline`, `--recipe`,
    /// `--infrastructure`). A get-image response or a template may stand for several of them:
    /// pass it as any one, and the parts it carries are read from it. `distribution` and
    /// `platform` let the cross checks see the distribution: S3 export is refused for macOS.
    public static func load(
        pipeline: String? = nil, recipe: String? = nil, infrastructure: String? = nil,
        distribution: DistributionConfiguration? = nil, platform: PlanContext.Platform? = nil
    ) -> PipelineDocuments {
        load(
            [pipeline, recipe, infrastructure].compactMap { $0.map { NamedDocument(name: nil, text: $0) } },
            distribution: distribution, platform: platform)
    }

    /// Reads and checks `documents`, in any order, each a pipeline, recipe or infrastructure
    /// document, a get-image response or a template; problems of a named document name it.
    /// `now`, when given, is the instant a schedule's next start is looked for from: a schedule
    /// with none in `Schedule.searchWindowDays` gets a warning in its own document.
    public static func load(
        _ documents: [NamedDocument], distribution: DistributionConfiguration? = nil,
        platform: PlanContext.Platform? = nil, now: Date? = nil
    ) -> PipelineDocuments {
        load(
            parsed: documents.map { document -> (name: String?, value: Swift.Result<ConfigValue, Problem>) in
                do throws(Problem) {
                    return (document.name, .success(try DocumentReader.parse(document.text)))
                } catch {
                    return (document.name, .failure(error))
                }
            }, distribution: distribution, platform: platform, now: now)
    }

    /// As `load(_:distribution:platform:now:)`, for documents already read (or the problem that
    /// stopped reading one): a Terraform plan's resources, translated in place, keep the lines
    /// and columns of the plan's file.
    public static func load(
        parsed documents: [(name: String?, value: Swift.Result<ConfigValue, Problem>)], distribution: DistributionConfiguration? = nil,
        platform: PlanContext.Platform? = nil, now: Date? = nil
    ) -> PipelineDocuments {
        var result = PipelineDocuments(pipeline: nil, recipe: nil, infrastructure: nil, problems: [])
        // The file each part came from, so cross-document problems are printed under it.
        var recipeFile: String?, infrastructureFile: String?
        for document in documents {
            let before = result.problems.count
            let hadSchedule = result.pipeline?.schedule != nil
            let hadRecipe = result.recipe != nil, hadInfrastructure = result.infrastructure != nil
            defer {
                if !hadRecipe, result.recipe != nil { recipeFile = document.name }
                if !hadInfrastructure, result.infrastructure != nil { infrastructureFile = document.name }
            }
            switch document.value {
            case let .success(value): result.read(value)
            case let .failure(problem): result.problems.append(problem)
            }
            if !hadSchedule, let now, let pipeline = result.pipeline, let schedule = pipeline.schedule,
                schedule.fields.neverMatchingReason == nil, schedule.nextStarts(after: now, count: 1).isEmpty
            {
                result.problems.append(
                    Problem(
                        .warning, pipeline.schedulePath ?? "schedule",
                        "\"\(schedule.expression)\" has no start in the \(Schedule.searchWindowDays / 366) years after \(Schedule.formatUTC(now)) that imgship searches: the pipeline would not run on schedule"
                    ))
            }
            if let name = document.name {
                for index in before..<result.problems.count { result.problems[index].file = name }
            }
        }
        let before = result.problems.count
        result.crossCheck(distribution: distribution, platform: platform)
        for index in before..<result.problems.count {
            let path = result.problems[index].path
            if let infrastructure = result.infrastructure, path.hasPrefix(infrastructure.path) {
                result.problems[index].file = infrastructureFile
            } else if let recipe = result.recipe, path.hasPrefix("\(recipe.kind)Recipe") {
                result.problems[index].file = recipeFile
            }
        }
        return result
    }

    /// Whether a distribution's own document carries pipeline parts too: a get-image response
    /// (recipe, infrastructure) or a template with pipeline, recipe or infrastructure
    /// resources. A text search first, so a large configuration is not parsed twice for nothing.
    public static func carriesPipelineParts(_ text: String) -> Bool {
        if text.contains("AWS::ImageBuilder::ImagePipeline") || text.contains("AWS::ImageBuilder::ImageRecipe")
            || text.contains("AWS::ImageBuilder::ContainerRecipe") || text.contains("AWS::ImageBuilder::InfrastructureConfiguration")
        {
            return true
        }
        guard text.contains("imageRecipe") || text.contains("containerRecipe") || text.contains("infrastructureConfiguration"),
            let document = try? DocumentReader.parse(text), let image = document["image"]
        else { return false }
        return image["imageRecipe"] != nil || image["containerRecipe"] != nil || image["infrastructureConfiguration"] != nil
    }

    /// Takes whatever `document` holds.
    mutating func read(_ document: ConfigValue) {
        if let image = document["image"] {
            if let recipe = image["imageRecipe"] { readRecipe(recipe, kind: "image", path: "image.imageRecipe", naming: .api) }
            if let recipe = image["containerRecipe"] { readRecipe(recipe, kind: "container", path: "image.containerRecipe", naming: .api) }
            if let infrastructure = image["infrastructureConfiguration"] {
                readInfrastructure(infrastructure, path: "image.infrastructureConfiguration", naming: .api)
            }
            if pipeline == nil, let name = image["sourcePipelineName"]?.string {
                pipeline = Pipeline(name: name, platform: image["platform"]?.string.flatMap(Platform.init(rawValue:)))
            }
            return
        }
        if let value = document["imagePipeline"] { readPipeline(value, path: "imagePipeline", naming: .api); return }
        if let value = document["imageRecipe"] { readRecipe(value, kind: "image", path: "imageRecipe", naming: .api); return }
        if let value = document["containerRecipe"] { readRecipe(value, kind: "container", path: "containerRecipe", naming: .api); return }
        if let value = document["infrastructureConfiguration"] { readInfrastructure(value, path: "infrastructureConfiguration", naming: .api); return }
        if let resources = document["Resources"]?.members {
            var found = false
            for (name, resource) in resources {
                guard let type = resource["Type"]?.string, let properties = resource["Properties"] else { continue }
                let path = "Resources.\(name).Properties"
                switch type {
                case "AWS::ImageBuilder::ImagePipeline": readPipeline(properties, path: path, naming: .cloudFormation); found = true
                case "AWS::ImageBuilder::ImageRecipe": readRecipe(properties, kind: "image", path: path, naming: .cloudFormation); found = true
                case "AWS::ImageBuilder::ContainerRecipe": readRecipe(properties, kind: "container", path: path, naming: .cloudFormation); found = true
                case "AWS::ImageBuilder::InfrastructureConfiguration": readInfrastructure(properties, path: path, naming: .cloudFormation); found = true
                default: continue
                }
            }
            if !found {
                problems.append(
                    Problem(.error, "Resources", "the template has no image pipeline, recipe or infrastructure configuration resource", at: document))
            }
            return
        }
        problems.append(
            Problem(
                .error, "",
                "not a pipeline document: expected imagePipeline, imageRecipe, containerRecipe, infrastructureConfiguration, image (get-image) or a CloudFormation template",
                at: document))
    }

    static func platform(_ value: ConfigValue?, path: String, problems: inout [Problem]) -> Platform? {
        guard let value else { return nil }
        guard let text = value.string, let platform = Platform(rawValue: text) else {
            problems.append(
                Problem(.error, path, "\(value.scalarText.map { "\"\($0)\"" } ?? value.typeName) is not one of \"Linux\", \"Windows\", \"macOS\"", at: value))
            return nil
        }
        return platform
    }

    mutating func readPipeline(_ value: ConfigValue, path: String, naming: FieldNaming) {
        func field(_ name: String) -> String { naming.name(name) }
        func at(_ name: String) -> String { "\(path).\(field(name))" }
        var result = Pipeline(
            name: value[field("name")]?.string,
            platform: Self.platform(value[field("platform")], path: at("platform"), problems: &problems),
            status: value[field("status")]?.string,
            imageRecipeArn: value[field("imageRecipeArn")]?.string,
            containerRecipeArn: value[field("containerRecipeArn")]?.string,
            infrastructureConfigurationArn: value[field("infrastructureConfigurationArn")]?.string,
            distributionConfigurationArn: value[field("distributionConfigurationArn")]?.string)
        if let schedule = value[field("schedule")] {
            let schedulePath = at("schedule")
            if let expression = schedule[field("scheduleExpression")]?.string {
                let parsed = Schedule.parse(
                    expression, timezone: schedule[field("timezone")]?.string,
                    startCondition: schedule[field("pipelineExecutionStartCondition")]?.string,
                    path: schedulePath)
                result.schedule = parsed.schedule
                result.schedulePath = naming.path("\(schedulePath).scheduleExpression")
                // The parser names API members; CloudFormation spells them in PascalCase. Its
                // problems get the line and column of the member they are about.
                problems += parsed.problems.map { problem in
                    var problem = problem
                    let member =
                        problem.path.hasSuffix(".timezone")
                        ? field("timezone") : problem.path.hasSuffix("StartCondition") ? field("pipelineExecutionStartCondition") : field("scheduleExpression")
                    if problem.line == nil, let located = schedule[member].map({ Problem(problem.severity, "", "", at: $0) }) {
                        problem.line = located.line
                        problem.column = located.column
                    }
                    problem.path = naming.path(problem.path)
                    return problem
                }
            } else {
                problems.append(Problem(.warning, schedulePath, "no scheduleExpression: the pipeline runs only when started by hand", at: schedule))
            }
        }
        pipeline = result
    }

    mutating func readRecipe(_ value: ConfigValue, kind: String, path: String, naming: FieldNaming) {
        func field(_ name: String) -> String { naming.name(name) }
        func at(_ name: String) -> String { "\(path).\(field(name))" }
        var recipe = Recipe(
            kind: kind, name: value[field("name")]?.string, version: value[field("version")]?.string ?? value[field("semanticVersion")]?.string,
            platform: Self.platform(value[field("platform")] ?? value[field("platformOverride")], path: at("platform"), problems: &problems),
            parentImage: value[field("parentImage")]?.string,
            componentArns: (value[field("components")]?.array ?? []).compactMap { $0[field("componentArn")]?.string },
            size: nil)
        // Image recipes list blockDeviceMappings; container recipes under instanceConfiguration.
        var mappingsPath = at("blockDeviceMappings")
        var mappings = value[field("blockDeviceMappings")]
        if mappings == nil, let instance = value[field("instanceConfiguration")] {
            mappings = instance[field("blockDeviceMappings")]
            mappingsPath = "\(at("instanceConfiguration")).\(field("blockDeviceMappings"))"
        }
        if let mappings {
            problems += BlockDeviceRules.check(mappings, path: mappingsPath, naming: naming)
            // The object holding the mappings: the recipe, or its instanceConfiguration.
            let owner =
                value[field("blockDeviceMappings")] != nil ? (value, path) : (value[field("instanceConfiguration")] ?? value, at("instanceConfiguration"))
            let reading = ImageSize.sum(owner.0, path: owner.1, naming: naming)
            recipe.size = reading.size
            problems += reading.problems
        }
        self.recipe = recipe
    }

    mutating func readInfrastructure(_ value: ConfigValue, path: String, naming: FieldNaming) {
        func field(_ name: String) -> String { naming.name(name) }
        let placement = value[field("placement")]
        infrastructure = Infrastructure(
            name: value[field("name")]?.string,
            instanceTypes: (value[field("instanceTypes")]?.array ?? []).compactMap(\.string),
            tenancy: placement?[field("tenancy")]?.string,
            hostId: placement?[field("hostId")]?.string,
            hostResourceGroupArn: placement?[field("hostResourceGroupArn")]?.string,
            availabilityZone: placement?[field("availabilityZone")]?.string, path: path,
            tenancyValue: placement?[field("tenancy")] ?? placement ?? value, instanceTypesValue: value[field("instanceTypes")] ?? value)
        guard let placement else { return }
        let at = "\(path).\(field("placement"))"
        // API model, Placement / TenancyType; the 2024-10-22 API change (seeds): "If you specify
        // the host ID, you must not specify the resource group ARN"; either "only applies if
        // tenancy is host".
        if let tenancy = placement[field("tenancy")], !["default", "dedicated", "host"].contains(tenancy.string ?? "") {
            problems.append(
                Problem(
                    .error, "\(at).\(field("tenancy"))",
                    "\(tenancy.scalarText.map { "\"\($0)\"" } ?? tenancy.typeName) is not one of \"default\", \"dedicated\", \"host\"", at: tenancy))
        }
        let hostId = placement[field("hostId")], group = placement[field("hostResourceGroupArn")]
        if let hostId, group != nil {
            problems.append(Problem(.error, at, "give hostId or hostResourceGroupArn, not both: Image Builder refuses both", at: hostId))
        }
        let tenancy = placement[field("tenancy")]?.string
        // Image Builder API, Placement.hostId: "This only applies if tenancy is host". EC2's
        // Placement.HostId documents no other tenancy: with default or dedicated (or none,
        // which is default) the host is not used, so the build would not run where asked.
        if let hostId, tenancy != "host" {
            problems.append(
                Problem(
                    .error, "\(at).\(field("hostId"))",
                    "applies only to tenancy host (Image Builder API, Placement.hostId), not \(tenancy ?? "default (tenancy omitted)"); set placement.tenancy to host",
                    at: hostId))
        }
        // Placement.hostResourceGroupArn: Image Builder says it "only applies if tenancy is
        // host"; EC2's Placement.HostResourceGroupArn says "either omit the Tenancy parameter
        // or set it to host". So default or dedicated is refused, and omitted is what EC2
        // accepts but Image Builder's page does not promise: a warning.
        if let group, tenancy != "host" {
            if let tenancy {
                problems.append(
                    Problem(
                        .error, "\(at).\(field("hostResourceGroupArn"))",
                        "applies only to tenancy host (Image Builder API; EC2 Placement: omit tenancy or set it to host), not \(tenancy); set placement.tenancy to host",
                        at: group))
            } else {
                problems.append(
                    Problem(
                        .warning, "\(at).\(field("hostResourceGroupArn"))",
                        "tenancy is omitted: EC2 then launches into the host resource group, but Image Builder documents the group as applying only to tenancy host; set placement.tenancy to host to be sure",
                        at: group))
            }
        }
    }

    /// The rules that span documents: macOS needs a Dedicated Host and a mac instance
    /// family; a recipe's platform must be the pipeline's; macOS images cannot be exported.
    mutating func crossCheck(distribution: DistributionConfiguration?, platform given: PlanContext.Platform?) {
        let platform: Platform? =
            pipeline?.platform ?? recipe?.platform
            ?? given.map { given in
                switch given {
                case .linux: .linux;
                case .windows: .windows;
                case .macos: .macOS
                }
            }
        if let pipelinePlatform = pipeline?.platform, let recipe, let recipePlatform = recipe.platform, recipePlatform != pipelinePlatform {
            problems.append(
                Problem(
                    .error, "\(recipe.kind)Recipe.platform",
                    "the \(recipe.kind) recipe is for \(recipePlatform.rawValue), the pipeline builds \(pipelinePlatform.rawValue): components and recipes must match the image's platform"
                ))
        }
        if let given, let recipePlatform = recipe?.platform, recipePlatform.rawValue.lowercased() != given.rawValue {
            problems.append(
                Problem(.error, "\(recipe?.kind ?? "image")Recipe.platform", "the recipe is for \(recipePlatform.rawValue), but the image is \(given.rawValue)")
            )
        }
        guard platform == .macOS else { return }
        // Image Builder user guide, macOS images (2024-10-22 API change: macOS platform and
        // placement): build instances of a mac family run on a Dedicated Host.
        if let infrastructure {
            if infrastructure.tenancy != "host" {
                problems.append(
                    Problem(
                        .error, "\(infrastructure.path).placement.tenancy",
                        "a macOS image is built on a Dedicated Host: set placement tenancy to host (found \(infrastructure.tenancy ?? "none"))",
                        at: infrastructure.tenancyValue))
            }
            let other = infrastructure.instanceTypes.filter { !$0.hasPrefix("mac") }
            if infrastructure.instanceTypes.isEmpty || !other.isEmpty {
                problems.append(
                    Problem(
                        .error, "\(infrastructure.path).instanceTypes",
                        "a macOS image needs a mac instance family (mac1.metal, mac2.metal, ...)"
                            + (other.isEmpty ? "; none is given" : "; not \(other.joined(separator: ", "))"), at: infrastructure.instanceTypesValue))
            }
        } else {
            problems.append(
                Problem(
                    .warning, "",
                    "a macOS image needs an infrastructure configuration with placement tenancy host and a mac instance family; give --infrastructure to check it"
                ))
        }
        // VM Import/Export exports no macOS image; fast launch is Windows-only. With the
        // platform given, the distribution's own rules (CrossFieldRules) say so; here only
        // when the documents alone say macOS.
        for entry in distribution?.distributions ?? [] where given == nil && entry.s3Export != nil {
            problems.append(Problem(.error, "\(entry.path).s3ExportConfiguration", "VM Import/Export cannot export a macOS image"))
        }
    }

    /// One line each for the plan's header: the pipeline, its schedule and next run, the
    /// recipe, the instance types, the platform and the placement.
    public struct Summary: Sendable, Equatable {
        public var lines: [String]
    }

    /// The header of a plan: what builds the image that the plan distributes. `now` is the
    /// instant the next run is counted from.
    public func summary(now: Date, nextRuns: Int = 1) -> Summary {
        var lines: [String] = []
        if let pipeline {
            var line = "pipeline: \(pipeline.name ?? "(unnamed)")"
            if let status = pipeline.status { line += " (\(status.lowercased()))" }
            lines.append(line)
            if let schedule = pipeline.schedule {
                let starts = schedule.nextStarts(after: now, count: max(1, nextRuns))
                let next = starts.map { "\($0.local) (\($0.utc))" }.joined(separator: ", ")
                lines.append(
                    "schedule: \(schedule.expression) in \(schedule.timeZoneName), \(schedule.startCondition.rawValue); next: \(next.isEmpty ? "none within \(Schedule.searchWindowDays / 366) years" : next)"
                )
                if schedule.zoneChangesOffset { lines.append("schedule assumption: \(Schedule.daylightSavingAssumption)") }
            } else {
                lines.append("schedule: none (started by hand)")
            }
        }
        if let recipe {
            var line = "\(recipe.kind) recipe: \(recipe.name ?? "(unnamed)")" + (recipe.version.map { " \($0)" } ?? "")
            if let parent = recipe.parentImage { line += ", from \(parent)" }
            line += ", \(recipe.componentArns.count) component\(recipe.componentArns.count == 1 ? "" : "s")"
            if let size = recipe.size { line += ", \(size.gib) GiB of EBS volumes" }
            lines.append(line)
        }
        if let platform = pipeline?.platform ?? recipe?.platform { lines.append("platform: \(platform.rawValue)") }
        if let infrastructure {
            lines.append(
                "instance types: " + (infrastructure.instanceTypes.isEmpty ? "(service default)" : infrastructure.instanceTypes.joined(separator: ", ")))
            var placement = "placement: tenancy \(infrastructure.tenancy ?? "default")"
            if let host = infrastructure.hostId { placement += ", host \(host)" }
            if let group = infrastructure.hostResourceGroupArn { placement += ", host resource group \(group)" }
            if let zone = infrastructure.availabilityZone { placement += ", \(zone)" }
            lines.append(placement)
        }
        return Summary(lines: lines)
    }
}

extension PipelineDocuments {
    /// The pipeline for `plan --format json` (member `pipeline`), parts absent from the
    /// documents left out:
    /// ```
    /// {"name"?: string, "status"?: string, "platform"?: "Linux" | "Windows" | "macOS",
    ///  "schedule"?: {"expression": string, "timezone": string, "startCondition": string,
    ///                "next": [{"local": string, "utc": string}]},
    ///  "recipe"?: {"kind": "image" | "container", "name"?: string, "version"?: string,
    ///              "parentImage"?: string, "components": [string], "sizeGiB"?: int},
    ///  "infrastructure"?: {"name"?: string, "instanceTypes": [string], "tenancy"?: string,
    ///                      "hostId"?: string, "hostResourceGroupArn"?: string,
    ///                      "availabilityZone"?: string}}
    /// ```
    public func jsonValue(now: Date, nextRuns: Int = 1) -> PlanValue {
        var members: [PlanValue.Member] = []
        func optional(_ key: String, _ text: String?, into list: inout [PlanValue.Member]) {
            if let text { list.append(.init(key, .string(text))) }
        }
        if let pipeline {
            optional("name", pipeline.name, into: &members)
            optional("status", pipeline.status, into: &members)
            if let schedule = pipeline.schedule {
                let starts = schedule.nextStarts(after: now, count: max(1, nextRuns))
                members.append(
                    .init(
                        "schedule",
                        .object([
                            .init("expression", .string(schedule.expression)),
                            .init("timezone", .string(schedule.timeZoneName)),
                            .init("startCondition", .string(schedule.startCondition.rawValue)),
                            .init("next", .list(starts.map { .object([.init("local", .string($0.local)), .init("utc", .string($0.utc))]) })),
                        ])))
            }
        }
        optional("platform", (pipeline?.platform ?? recipe?.platform)?.rawValue, into: &members)
        if let recipe {
            var fields: [PlanValue.Member] = [.init("kind", .string(recipe.kind))]
            optional("name", recipe.name, into: &fields)
            optional("version", recipe.version, into: &fields)
            optional("parentImage", recipe.parentImage, into: &fields)
            fields.append(.init("components", .list(recipe.componentArns.map(PlanValue.string))))
            if let size = recipe.size { fields.append(.init("sizeGiB", .int(size.gib))) }
            members.append(.init("recipe", .object(fields)))
        }
        if let infrastructure {
            var fields: [PlanValue.Member] = []
            optional("name", infrastructure.name, into: &fields)
            fields.append(.init("instanceTypes", .list(infrastructure.instanceTypes.map(PlanValue.string))))
            optional("tenancy", infrastructure.tenancy, into: &fields)
            optional("hostId", infrastructure.hostId, into: &fields)
            optional("hostResourceGroupArn", infrastructure.hostResourceGroupArn, into: &fields)
            optional("availabilityZone", infrastructure.availabilityZone, into: &fields)
            members.append(.init("infrastructure", .object(fields)))
        }
        return .object(members)
    }
}
