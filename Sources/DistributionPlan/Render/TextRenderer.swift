import ConfigDocument

/// Renders a plan for people: a headline with totals, then the tasks grouped by region and
/// account in plan order, then prerequisites and warnings.
public enum TextRenderer {
    public static func render(_ plan: Plan) -> String {
        render(plan, pipeline: [], cost: nil)
    }

    /// `pipeline`: the lines of the pipeline that builds the image (`PlanReview`), shown in the
    /// header; `cost`: the size and cost estimate, shown after the tasks.
    public static func render(_ plan: Plan, pipeline: [String], cost: CostEstimate?) -> String {
        var out = ""
        let title = plan.configurationName.map { "\"\($0)\"" } ?? "(unnamed)"
        out += "Distribution plan for \(title)\n"
        out += "source region \(plan.sourceRegion), owner \(plan.display(account: plan.context.owner)), "
        out +=
            "platform \(plan.context.platform?.rawValue ?? "linux"), build \(plan.context.effectiveBuildDate) version \(plan.context.effectiveBuildVersion)\n"
        if let image = plan.buildImage {
            out += "build AMI: \"\(image.name.displayText)\"" + (image.description.map { ", description \"\($0)\"" } ?? "")
            out += " (Image Builder names it so when it creates it in \(image.region))\n"
        }
        // Lines made of documents' values: a line break in a name must not start a line of its own.
        for line in pipeline { out += escapedForDisplay(line) + "\n" }
        out += "Totals: \(headline(plan.totals))\n"

        var regions: [String] = []
        var byRegion: [String: [PlanTask]] = [:]
        for task in plan.tasks {
            if byRegion[task.region] == nil { regions.append(task.region) }
            byRegion[task.region, default: []].append(task)
        }
        for region in regions {
            let marker = region == plan.sourceRegion ? " (source region: the build AMI is here)" : ""
            out += "\n\(region)\(marker)\n"
            var accounts: [String] = []
            var byAccount: [String: [PlanTask]] = [:]
            for task in byRegion[region, default: []] {
                if byAccount[task.account] == nil { accounts.append(task.account) }
                byAccount[task.account, default: []].append(task)
            }
            for account in accounts {
                out += "  \(plan.display(account: account))\n"
                for task in byAccount[account, default: []] {
                    out += "    \(task.kind.rawValue): \(task.summary)"
                    out += task.assumeRole.map { " (as \($0))" } ?? ""
                    out += "\n"
                }
            }
        }
        if let cost { out += "\n" + CostRenderer.text(cost) }
        if !plan.prerequisites.isEmpty {
            out += "\nPrerequisites\n"
            for item in plan.prerequisites {
                out += "  \(plan.display(account: item.account)) in \(item.regions.joined(separator: ", ")): \(item.requirement)\n"
            }
        }
        if !plan.assumptions.isEmpty {
            out += "\nAssumptions\n"
            for assumption in plan.assumptions {
                out += "  assumption: \(assumption)\n"
            }
        }
        if !plan.warnings.isEmpty {
            out += "\nWarnings\n"
            for warning in plan.warnings {
                out += "  \(warning)\n"
            }
        }
        return visibleLines(out)
    }

    /// The text with every control character but the line breaks it is made of shown as an
    /// escape (`DisplayText.escapedLines`).
    static func visibleLines(_ text: String) -> String { DisplayText.escapedLines(text) }

    /// `text` on one line: control characters (line breaks included) as escapes
    /// (`DisplayText.escaped`, the one display escaper).
    public static func escapedForDisplay(_ text: String) -> String { DisplayText.escaped(text) }

    /// "12 tasks: 5 AMI copies in 3 regions and 2 accounts, 1 launch permission change, ..."
    public static func headline(_ totals: PlanTotals) -> String {
        func count(_ kind: TaskKind) -> Int { totals.byKind[kind] ?? 0 }
        func plural(_ number: Int, _ word: String, _ words: String) -> String { "\(number) \(number == 1 ? word : words)" }
        var parts: [String] = []
        if count(.copyImage) > 0 {
            var copies = plural(count(.copyImage), "AMI copy", "AMI copies") + " in " + plural(totals.copyRegions, "region", "regions")
            if totals.copyAccounts > 0 { copies += " and " + plural(totals.copyAccounts, "other account", "other accounts") }
            parts.append(copies)
        }
        let labels: [(TaskKind, String, String)] = [
            (.shareBuildImage, "build AMI share", "build AMI shares"),
            (.tagBuildImage, "build AMI tagging", "build AMI taggings"),
            (.modifyImageAttribute, "launch permission change", "launch permission changes"),
            (.associateLicenses, "license association", "license associations"),
            (.createLaunchTemplateVersion, "launch template version", "launch template versions"),
            (.setDefaultLaunchTemplateVersion, "default version change", "default version changes"),
            (.putSSMParameter, "SSM parameter", "SSM parameters"),
            (.enableFastLaunch, "fast launch setting", "fast launch settings"),
            (.exportImage, "S3 export", "S3 exports"),
            (.distributeContainer, "container distribution", "container distributions"),
        ]
        for (kind, one, many) in labels where count(kind) > 0 {
            parts.append(plural(count(kind), one, many))
        }
        let head = plural(totals.tasks, "task", "tasks")
        return parts.isEmpty ? head : head + ": " + parts.joined(separator: ", ")
    }
}
