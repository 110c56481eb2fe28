// swift-tools-version: 6.1
// Benchmarks for SwiftXMPP, kept apart from the main package so that normal builds never depend on the
// benchmark framework or on libexpat (used here only as the yardstick). Run: see docs/BENCHMARKS.md.
import PackageDescription

let package = Package(
    name: "SwiftXMPPBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "SwiftXMPP", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.0", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
    ],
    targets: [
        .systemLibrary(name: "CExpat", pkgConfig: "expat", providers: [.apt(["libexpat1-dev"])]),
        .target(
            name: "ParserCorpus",
            dependencies: [
                "CExpat",
                .product(name: "XMPPCore", package: "SwiftXMPP"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "ParserBenchmarks",
            dependencies: [
                "ParserCorpus",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "XMPPCore", package: "SwiftXMPP"),
            ],
            path: "Benchmarks/ParserBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
