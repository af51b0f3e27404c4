import DiskImage
import ExportJob
import Testing

/// A job's per-output errors stay typed: the progress line, which shows the output already,
/// prints them without its path; the report prints them whole.
@Suite("Unit failures")
struct UnitFailureTests {
    @Test func detailLeavesOutTheOutputPathOnlyWhenTheMessageStartsWithIt() {
        let output = "/out/bucket/disk.vmdk"
        let cases: [(UnitFailure, String, String)] = [
            (
                .outputIsSource(output: output, source: "/src/disk.vmdk"),
                "/out/bucket/disk.vmdk is the source /src/disk.vmdk itself; give another name, s3Prefix or destination",
                "is the source /src/disk.vmdk itself; give another name, s3Prefix or destination"
            ),
            (
                .outputNotReplaced(output: output, reason: "does not verify"),
                "/out/bucket/disk.vmdk does not verify; remove it or run with --force to export it again",
                "does not verify; remove it or run with --force to export it again"
            ),
            (
                .export(.outputExists(path: output)),
                "/out/bucket/disk.vmdk exists; pass --force to overwrite it", "exists; pass --force to overwrite it"
            ),
            (
                .export(.outputExists(path: "/other")), "/other exists; pass --force to overwrite it",
                "/other exists; pass --force to overwrite it"
            ),
            (
                .folder("/out/bucket: cannot create the folder: mkdir: exists and is not a folder"),
                "/out/bucket: cannot create the folder: mkdir: exists and is not a folder",
                "/out/bucket: cannot create the folder: mkdir: exists and is not a folder"
            ),
            (.export(.cancelled), "interrupted; no output was left behind", "interrupted; no output was left behind"),
        ]
        for (failure, whole, detail) in cases {
            #expect(failure.description == whole)
            #expect(failure.detail(besides: output) == detail)
        }
    }
}
