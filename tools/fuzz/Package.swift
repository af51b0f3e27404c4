// swift-tools-version:6.0
// libFuzzer harnesses for imgship's image and configuration readers. Built apart from the
// main package, which never links them: see tools/fuzz/run.
import PackageDescription

let package = Package(
    name: "imgship-fuzz",
    // run links .build-root/imgship to the repository, so the package is named imgship
    // whatever the clone is called.
    dependencies: [.package(path: ".build-root/imgship")],
    targets: [
        .executableTarget(
            name: "FuzzReaders",
            dependencies: [
                .product(name: "DiskImage", package: "imgship"),
                .product(name: "ConfigDocument", package: "imgship"),
                .product(name: "DistributionPlan", package: "imgship"),
                .product(name: "ExportJob", package: "imgship"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ],
    swiftLanguageModes: [.v6]
)
