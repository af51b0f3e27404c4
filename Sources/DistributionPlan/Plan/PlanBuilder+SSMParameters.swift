import ConfigDocument

extension PlanBuilder {
    /// An SSM parameter holding the AMI id, per parameter, in the account it names.
    mutating func ssmParameterTasks(_ entry: DistributionConfiguration.Distribution, _ stages: RegionStages) -> [PlanTask] {
        let region = stages.region
        return entry.ssmParameters.map { parameter in
            let account = parameter.amiAccountId ?? owner
            let (parameterImage, copy) = stages.image(for: account)
            var parameters: [PlanValue.Member] = [
                .init("Name", .string(parameter.parameterName)), .init("Value", parameterImage),
                .init("Type", .string("String")), .init("Overwrite", .bool(true)),
            ]
            if let dataType = parameter.dataType { parameters.append(.init("DataType", .string(dataType))) }
            prerequisites.add(
                owner, region,
                "the Image Builder execution role allows ssm:PutParameter on the parameters it writes"
                    + (parameter.dataType == "aws:ec2:image" ? ", and ec2:DescribeImages (data type aws:ec2:image)" : ""))
            return PlanTask(
                id: "put-ssm-parameter:\(region):\(account):\(parameter.parameterName)", kind: .putSSMParameter, region: region,
                account: account, parameters: parameters, dependsOn: stages.after(copy),
                summary: "store the AMI id in SSM parameter \(parameter.parameterName)", assumeRole: role(for: account))
        }
    }
}
