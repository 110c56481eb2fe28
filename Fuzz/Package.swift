// swift-tools-version: 6.1
// libFuzzer targets for XMPPCore. Build and run as README.md ("Fuzzing") describes; this package is kept
// apart from the main one so that normal builds never link libFuzzer.
import PackageDescription

let package = Package(
    name: "SwiftXMPPFuzz",
    dependencies: [.package(name: "SwiftXMPP", path: "..")],
    targets: [
        .target(name: "CFuzzDriver"),
        .executableTarget(
            name: "XMLParserFuzzer",
            dependencies: ["CFuzzDriver", .product(name: "XMPPCore", package: "SwiftXMPP")]
        ),
    ]
)
