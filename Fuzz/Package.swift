// swift-tools-version: 6.1
// libFuzzer targets for XMPPCore's parser and the server's kernel. Build and run as README.md ("Fuzzing") describes; this package is kept
// apart from the main one so that normal builds never link libFuzzer.
import PackageDescription

let package = Package(
    name: "SwiftXMPPFuzz",
    dependencies: [
        .package(name: "SwiftXMPP", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
    ],
    targets: [
        .target(name: "CFuzzDriver"),
        .executableTarget(
            name: "XMLParserFuzzer",
            dependencies: ["CFuzzDriver", .product(name: "XMPPCore", package: "SwiftXMPP")]
        ),
        .executableTarget(
            name: "KernelFuzzer",
            dependencies: [
                "CFuzzDriver",
                .product(name: "XMPPCore", package: "SwiftXMPP"),
                .product(name: "XMPPServerKernel", package: "SwiftXMPP"),
                .product(name: "XMPPServerMUC", package: "SwiftXMPP"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
