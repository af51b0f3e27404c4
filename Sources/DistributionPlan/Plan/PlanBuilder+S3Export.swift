import ConfigDocument

extension PlanBuilder {
    /// EC2 ExportImage of the region's AMI to S3 (VM Import/Export), with its service role.
    mutating func exportTask(_ entry: DistributionConfiguration.Distribution, _ stages: RegionStages) -> [PlanTask] {
        guard let export = entry.s3Export else { return [] }
        let region = stages.region
        let id = "export-image:\(region)"
        var location: [PlanValue.Member] = [.init("S3Bucket", .string(export.s3Bucket))]
        if let prefix = export.s3Prefix { location.append(.init("S3Prefix", .string(prefix))) }
        let fileExtension = export.diskImageFormat.lowercased()
        prerequisites.add(owner, region, "IAM role \(export.roleName) (VM Import/Export service role) and S3 bucket \(export.s3Bucket) it can write to")
        return [
            PlanTask(
                id: id, kind: .exportImage, region: region, account: owner,
                parameters: [
                    .init("ImageId", stages.regionImage), .init("DiskImageFormat", .string(export.diskImageFormat)),
                    .init("S3ExportLocation", .object(location)), .init("RoleName", .string(export.roleName)),
                    .init("ClientToken", .string(clientToken(id))),
                ],
                dependsOn: stages.after(stages.ownerCopy),
                // VM Import/Export user guide: the object key is the prefix plus the
                // export task id (export-ami-...), not the AMI id.
                summary: "export the AMI as \(export.diskImageFormat) to s3://\(export.s3Bucket)/\(export.s3Prefix ?? "")<export task id>.\(fileExtension)")
        ]
    }
}
