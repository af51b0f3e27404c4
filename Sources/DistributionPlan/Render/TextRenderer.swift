/// Renders a plan for people: a headline with totals, then the tasks grouped by region and
/// account in plan order, then prerequisites and warnings.
public enum TextRenderer {
    public static func render(_ plan: Plan) -> String {
        var out = ""
        let title = plan.configurationName.map { "\"\($0)\"" } ?? "(unnamed)"
        out += "Distribution plan for \(title)\n"
        out += "source region \(plan.sourceRegion), owner \(plan.display(account: plan.context.owner)), "
        out += "platform \(plan.context.platform?.rawValue ?? "linux"), build \(plan.context.buildDate) version \(plan.context.buildVersion)\n"
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
            for task in byRegion[region]! {
                if byAccount[task.account] == nil { accounts.append(task.account) }
                byAccount[task.account, default: []].append(task)
            }
            for account in accounts {
                out += "  \(plan.display(account: account))\n"
                for task in byAccount[account]! {
                    out += "    \(task.kind.rawValue): \(task.summary)\n"
                }
            }
        }
        if !plan.prerequisites.isEmpty {
            out += "\nPrerequisites\n"
            for item in plan.prerequisites {
                out += "  \(plan.display(account: item.account)) in \(item.regions.joined(separator: ", ")): \(item.requirement)\n"
            }
        }
        if !plan.warnings.isEmpty {
            out += "\nWarnings\n"
            for warning in plan.warnings {
                out += "  \(warning)\n"
            }
        }
        return out
    }

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
