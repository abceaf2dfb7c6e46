// swift-tools-version:6.0
// The benchmarks, in their own package (as swift-nio's Benchmarks/ is), so
// that building the product and its tests never compiles them. bench/stats
// and bench/drift build both executables here, in one release build.
import PackageDescription

let package = Package(
    name: "latentscale-bench",
    platforms: [.macOS(.v14)],
    dependencies: [
        // Named, because a path package is otherwise known by its folder's name.
        .package(name: "latentscale", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
    ],
    targets: [
        .target(name: "BenchSupport"),
        .executableTarget(
            name: "scalebench",
            dependencies: ["BenchSupport", .product(name: "LatentStats", package: "latentscale")]
        ),
        .executableTarget(
            name: "driftbench",
            dependencies: [
                "BenchSupport",
                .product(name: "LatentStats", package: "latentscale"),
                .product(name: "StreamModel", package: "latentscale"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ]
)
