import DiskImage
import ExportJob
import Testing

/// `imgship plan --emit-job`'s conversion, called with plain values.
@Suite("Jobs from region exports")
struct JobFromRegionExportsTests {
    @Test func oneExportARegionWithAbsolutePaths() throws {
        let job = JobFile(
            exporting: "images/golden.raw", to: "exports",
            as: [
                JobFile.RegionExport(region: "us-east-1", diskImageFormat: "VMDK", s3Bucket: "bucket-1", s3Prefix: "vm/"),
                JobFile.RegionExport(region: "eu-west-1", diskImageFormat: "VHD", s3Bucket: "bucket-2"),
                JobFile.RegionExport(region: "ap-south-1", diskImageFormat: "RAW", s3Bucket: "bucket-3"),
                JobFile.RegionExport(region: "sa-east-1", diskImageFormat: "ISO", s3Bucket: "bucket-4"),
            ], currentDirectory: "/work")
        #expect(
            job.exports == [
                JobFile.Export(
                    source: "/work/images/golden.raw", formats: [.vmdk], destination: "/work/exports",
                    s3Bucket: "bucket-1", s3Prefix: "vm/", s3Region: "us-east-1", name: "export-golden-us-east-1", options: JobFile.Options(target: .aws)),
                JobFile.Export(
                    source: "/work/images/golden.raw", formats: [.vhdDynamic], destination: "/work/exports",
                    s3Bucket: "bucket-2", s3Region: "eu-west-1", name: "export-golden-eu-west-1", options: JobFile.Options(target: .aws)),
                JobFile.Export(
                    source: "/work/images/golden.raw", formats: [.raw], destination: "/work/exports",
                    s3Bucket: "bucket-3", s3Region: "ap-south-1", name: "export-golden-ap-south-1", options: JobFile.Options(target: .aws)),
                JobFile.Export(
                    source: "/work/images/golden.raw", formats: [.raw], destination: "/work/exports",
                    s3Bucket: "bucket-4", s3Region: "sa-east-1", name: "export-golden-sa-east-1", options: JobFile.Options(target: .aws)),
            ])
        #expect(try JobFile.decode(job.json()) == job)
    }

    @Test func absolutePathsAreKept() {
        let job = JobFile(
            exporting: "/images/disk.qcow2", to: "/srv/s3",
            as: [
                JobFile.RegionExport(region: "us-west-2", diskImageFormat: "raw", s3Bucket: "bucket")
            ], currentDirectory: "/elsewhere")
        #expect(job.exports.map(\.source) == ["/images/disk.qcow2"])
        #expect(job.exports.map(\.destination) == ["/srv/s3"])
        #expect(job.exports.map(\.name) == ["export-disk-us-west-2"])
    }
}
