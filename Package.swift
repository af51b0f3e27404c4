// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "imgship",
    products: [
        .executable(name: "imgship", targets: ["imgship"]),
        .library(name: "DiskImage", targets: ["DiskImage"]),
        .library(name: "ConfigDocument", targets: ["ConfigDocument"]),
        .library(name: "DistributionPlan", targets: ["DistributionPlan"]),
        .library(name: "ExportJob", targets: ["ExportJob"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CDeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "COpenSSL", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CISAL", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CZstd", providers: [.apt(["libzstd-dev"])]),
        .target(
            name: "DiskImage",
            dependencies: ["CDeflate", "COpenSSL", "CISAL", "CZstd", "CZlib"]
        ),
        .target(
            name: "ConfigDocument",
            // For libyaml: YAMLReader imports Yams' C target CYaml, which SwiftPM builds and
            // makes visible with the Yams product, and reads its events.
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "DistributionPlan",
            dependencies: ["ConfigDocument"]
        ),
        .target(
            name: "ExportJob",
            dependencies: ["DiskImage", "ConfigDocument"]
        ),
        .target(
            name: "ImgshipCommands",
            dependencies: [
                "ConfigDocument",
                "DiskImage",
                "DistributionPlan",
                "ExportJob",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "imgship",
            dependencies: ["ImgshipCommands"]
        ),
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "DiskImageTests",
            dependencies: ["DiskImage", "CZlib", "CZstd", "TestSupport"]
        ),
        .testTarget(
            name: "DistributionPlanTests",
            dependencies: ["DistributionPlan", "ConfigDocument", "TestSupport"],
            exclude: ["Fixtures", "Moto"]
        ),
        .testTarget(
            name: "ExportJobTests",
            dependencies: ["ExportJob", "DiskImage", "ConfigDocument", "TestSupport"]
        ),
        .testTarget(
            name: "imgshipTests",
            dependencies: ["imgship", "ImgshipCommands", "DiskImage", "TestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
