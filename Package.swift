// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "latentscale",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "scaled", targets: ["scaled"]),
        .executable(name: "scalectl", targets: ["scalectl"]),
        .library(name: "LatentStats", targets: ["LatentStats"]),
        .library(name: "StreamModel", targets: ["StreamModel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.70.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.20.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.19"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLAPACKE", path: "Sources/CLAPACKE", pkgConfig: "lapacke",
                       providers: [.apt(["liblapacke-dev"])]),
        // The ingest kernel's AVX2 loops, chosen at run time (no CPU flags).
        .target(name: "CIngestSIMD"),
        .target(name: "LatentStats", dependencies: ["CBLAS", "CLAPACKE", "CIngestSIMD"]),
        .target(name: "NpyFormat"),
        .target(name: "ScaledPaths"),
        .target(name: "StreamModel", dependencies: ["LatentStats"]),
        .target(
            name: "ScaleStore",
            dependencies: [
                "StreamModel",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "ScaleServer",
            dependencies: [
                "LatentStats", "StreamModel", "ScaleStore", "NpyFormat", "ScaledPaths",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .executableTarget(
            name: "scaled",
            dependencies: [
                "ScaleServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ScalectlCore",
            dependencies: [
                "NpyFormat", "ScaledPaths", "LatentStats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
        .executableTarget(
            name: "scalectl",
            dependencies: [
                "ScalectlCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // What several test targets share (a seeded generator); not a product.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "LatentStatsTests", dependencies: ["LatentStats", "TestSupport"]),
        .testTarget(name: "StreamModelTests", dependencies: ["StreamModel", "LatentStats", "TestSupport"]),
        .testTarget(name: "ScaleStoreTests", dependencies: ["ScaleStore", "StreamModel"]),
        .testTarget(
            name: "ScaleServerTests",
            dependencies: [
                "ScaleServer", "StreamModel", "LatentStats", "ScaleStore", "ScaledPaths", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "ScalectlTests", dependencies: ["ScalectlCore", "ScaledPaths", "scalectl", "scaled", "TestSupport"]),
    ]
)

// libFuzzer targets, one per decoder of untrusted bytes (`fuzz/README.md`).
// Declared only with LATENTSCALE_FUZZ=1 so that a plain `swift build` does not
// build them; scripts/fuzz builds them with
// `swift build -c debug -Xswiftc -sanitize=fuzzer,address` in .build-fuzz.
if Context.environment["LATENTSCALE_FUZZ"] == "1" {
    package.targets.append(.systemLibrary(name: "CLibFuzzer", path: "Sources/CLibFuzzer"))
    let fuzzTargets: [(String, [Target.Dependency])] = [
        ("FuzzNpyHeader", ["NpyFormat", "ScaleServer"]),
        ("FuzzPushQuery", ["ScaleServer"]),
        ("FuzzConfigPatch", ["ScaleServer"]),
        ("FuzzStoredState", ["ScaleServer"]),
        ("FuzzSummary", ["LatentStats"]),
    ]
    for (name, dependencies) in fuzzTargets {
        package.targets.append(.executableTarget(name: name, dependencies: ["CLibFuzzer"] + dependencies))
    }
}
