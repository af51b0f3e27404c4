import DiskImage
import Foundation

extension JobFile {
    /// One region's S3 export as a distribution configuration asks for it
    /// (`s3ExportConfiguration`), in plain values: the planner's `PlannedExport` without the
    /// planner.
    public struct RegionExport: Sendable, Equatable {
        public var region: String
        /// VMDK, RAW or VHD, as configured; a name the format table does not know is raw.
        public var diskImageFormat: String
        public var s3Bucket: String
        public var s3Prefix: String?

        public init(region: String, diskImageFormat: String, s3Bucket: String, s3Prefix: String? = nil) {
            self.region = region
            self.diskImageFormat = diskImageFormat
            self.s3Bucket = s3Bucket
            self.s3Prefix = s3Prefix
        }
    }

    /// A job exporting `source` once a region, in that region's disk image format, bucket and
    /// prefix (`imgship plan --emit-job`). Image Builder names the object `export-ami-<id>`;
    /// the AMI id exists only after the build, so the local name is
    /// `export-<image name>-<region>`, and each export has `target: aws`, whose rules are VM
    /// Import/Export's (the S3 export's formats are ones it imports). Relative `source` and `destination` are made absolute
    /// against `currentDirectory`, as the job file may be saved anywhere.
    public init(
        exporting source: String, to destination: String, as exports: [RegionExport],
        currentDirectory: String
    ) {
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : currentDirectory + "/" + path }
        let imageName = URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
        self.init(
            exports: exports.map { export in
                Export(
                    source: absolute(source), formats: [OutputFormat(parsing: export.diskImageFormat) ?? .raw],
                    destination: absolute(destination), s3Bucket: export.s3Bucket, s3Prefix: export.s3Prefix, s3Region: export.region,
                    name: "export-\(imageName)-\(export.region)", options: Options(target: .aws))
            })
    }
}
