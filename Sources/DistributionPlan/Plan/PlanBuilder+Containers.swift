import ConfigDocument

extension PlanBuilder {
    /// ECR distribution of a container image (Image Builder ContainerDistributionConfiguration).
    mutating func containerTask(_ region: String, _ container: DistributionConfiguration.ContainerDistribution) {
        var parameters: [PlanValue.Member] = [
            .init("repositoryName", .string(container.repositoryName)),
            .init("service", .string(container.service)),
            .init("tags", .list(container.containerTags.map(PlanValue.string))),
        ]
        if let description = container.description { parameters.append(.init("description", .string(description))) }
        tasks.append(
            PlanTask(
                id: "distribute-container:\(region)", kind: .distributeContainer, region: region, account: owner,
                parameters: parameters, dependsOn: [],
                summary: "push the container image to ECR \(container.repositoryName)"
                    + (container.containerTags.isEmpty ? "" : " with tags \(container.containerTags.joined(separator: ", "))")))
        prerequisites.add(owner, region, "ECR repository \(container.repositoryName) exists")
    }
}
