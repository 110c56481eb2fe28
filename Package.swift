// swift-tools-version: 6.1
// SwiftXMPP: an XMPP server, client library and tools in Swift.
// The layering is described in docs/ARCHITECTURE.md: dependencies point toward XMPPCore only,
// and the client and server never import each other.
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "SwiftXMPP",
    platforms: [.macOS(.v15), .iOS(.v18)],
    products: [
        .library(name: "XMPPCore", targets: ["XMPPCore"]),
        .library(name: "XMPPTransport", targets: ["XMPPTransport"]),
        .library(name: "XMPPServerKernel", targets: ["XMPPServerKernel"]),
        .library(name: "XMPPServer", targets: ["XMPPServer"]),
        .library(name: "XMPPClient", targets: ["XMPPClient"]),
        .executable(name: "xmppd", targets: ["xmppd"]),
        .executable(name: "xmppctl", targets: ["xmppctl"]),
        .executable(name: "xmpp", targets: ["xmpp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
    ],
    targets: [
        // Wire core: XML stream parser, elements, JID, stanzas, errors, data forms, SASL, negotiation.
        .target(
            name: "XMPPCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // NIO glue: stream decoder/encoder handlers, STARTTLS, direct TLS.
        .target(
            name: "XMPPTransport",
            dependencies: [
                "XMPPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        .target(name: "XMPPServerKernel", dependencies: ["XMPPCore"], swiftSettings: strictSettings),
        .target(name: "XMPPServer", dependencies: ["XMPPServerKernel", "XMPPTransport"], swiftSettings: strictSettings),
        .target(name: "XMPPClient", dependencies: ["XMPPCore", "XMPPTransport"], swiftSettings: strictSettings),
        .executableTarget(name: "xmppd", dependencies: ["XMPPServer"], swiftSettings: strictSettings),
        .executableTarget(name: "xmppctl", dependencies: ["XMPPServer"], swiftSettings: strictSettings),
        .executableTarget(name: "xmpp", dependencies: ["XMPPClient"], swiftSettings: strictSettings),
        .testTarget(
            name: "XMPPCoreTests",
            dependencies: [
                "XMPPCore",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "XMPPTransportTests",
            dependencies: [
                "XMPPTransport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
