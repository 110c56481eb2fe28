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
    platforms: [.macOS(.v13), .iOS(.v16)],
    products: [
        .library(name: "XMPPCore", targets: ["XMPPCore"]),
        .library(name: "XMPPTransport", targets: ["XMPPTransport"]),
        .library(name: "XMPPServerKernel", targets: ["XMPPServerKernel"]),
        .library(name: "XMPPServerMUC", targets: ["XMPPServerMUC"]),
        .library(name: "XMPPServerPubSub", targets: ["XMPPServerPubSub"]),
        .library(name: "XMPPServerPostgres", targets: ["XMPPServerPostgres"]),
        .library(name: "RedisClient", targets: ["RedisClient"]),
        .library(name: "XMPPServerCluster", targets: ["XMPPServerCluster"]),
        .library(name: "XMPPServer", targets: ["XMPPServer"]),
        .library(name: "XMPPClient", targets: ["XMPPClient"]),
        .library(name: "XMPPClientSQLite", targets: ["XMPPClientSQLite"]),
        .executable(name: "xmppd", targets: ["xmppd"]),
        .executable(name: "xmppctl", targets: ["xmppctl"]),
        .executable(name: "xmpp", targets: ["xmpp"]),
        .executable(name: "xmpp-bench", targets: ["xmpp-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio-transport-services.git", from: "1.28.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
    ],
    targets: [
        // Wire core: XML stream parser, elements, JID, stanzas, errors, data forms, SASL, negotiation.
        .target(
            name: "XMPPCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
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
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // Server kernel: router, session registry, module host and hooks, storage shapes and in-memory stores, and
        // the IM feature modules (roster, presence, offline, registration, vCard, disco, blocking, ...).
        .target(
            name: "XMPPServerKernel",
            dependencies: [
                "XMPPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Multi-user chat (XEP-0045) as a hosted service, on the kernel's public API only.
        .target(
            name: "XMPPServerMUC",
            dependencies: [
                "XMPPServerKernel", "XMPPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Publish-subscribe (XEP-0060): the node engine, PEP on every account (XEP-0163) and the pubsub service,
        // avatars (XEP-0084, XEP-0398), bookmarks (XEP-0402, XEP-0048), on the kernel's public API only.
        .target(
            name: "XMPPServerPubSub",
            dependencies: [
                "XMPPServerKernel", "XMPPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The embedded storage backend: SQLite through GRDB (WAL, migrations).
        .target(
            name: "XMPPServerSQLite",
            dependencies: ["XMPPServerKernel", "XMPPCore", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        // A small RESP3 client for Redis 7 on SwiftNIO (pipelining, pushes for pub/sub): the cluster's shared state.
        .target(
            name: "RedisClient",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOTLS", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl")],
            swiftSettings: strictSettings
        ),
        // xmppd as one node of a cluster (cluster_redis_url): the session directory, heartbeats and routing between nodes
        // over Redis, partitioned services (chat rooms) served by one node each.
        .target(
            name: "XMPPServerCluster",
            dependencies: ["XMPPServerKernel", "XMPPCore", "RedisClient",
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        // The PostgreSQL storage backend (storage = postgresql): a connection pool, migrations, the kernel's stores.
        .target(
            name: "XMPPServerPostgres",
            dependencies: ["XMPPServerKernel", "XMPPCore", .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        // Assembly: configuration, certificates, c2s listeners, the service that runs them.
        .target(
            name: "XMPPServer",
            dependencies: [
                "XMPPServerKernel", "XMPPServerMUC", "XMPPServerPubSub", "XMPPServerSQLite", "XMPPServerPostgres", "XMPPServerCluster",
                "XMPPTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Atomics", package: "swift-atomics"),
                // The web admin console's server-rendered pages.
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: strictSettings
        ),
        // Client library: connection, negotiation, IQ tracking, event streams, and the client modules (roster,
        // presence, chat, vCard, avatars, disco and caps, ping, reconnect, message archive, registration, HTTP upload).
        .target(
            name: "XMPPClient",
            dependencies: [
                "XMPPCore", "XMPPTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                // HTTP file upload's PUT and GET (the WebSocket transport's upgrade request uses it too).
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                // Network.framework on Apple platforms (ConnectionBootstrap); Linux never builds it.
                .product(name: "NIOTransportServices", package: "swift-nio-transport-services",
                         condition: .when(platforms: [.macOS, .iOS, .tvOS, .watchOS, .visionOS])),
            ],
            swiftSettings: strictSettings
        ),
        // SQLite storage for client modules (the message archive), apart so apps that keep nothing need no GRDB.
        .target(
            name: "XMPPClientSQLite",
            dependencies: ["XMPPClient", "XMPPCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictSettings
        ),
        // What the three tools share: one way to run a command, report a failure and give exit statuses.
        .target(
            name: "CommandLineSupport",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "xmppd",
            dependencies: [
                "XMPPServer", "XMPPServerPostgres", "CommandLineSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "xmppctl",
            dependencies: [
                "XMPPServer", "XMPPServerSQLite", "XMPPServerPostgres", "XMPPServerKernel", "CommandLineSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The command-line client, built only on XMPPClient.
        .executableTarget(
            name: "xmpp",
            dependencies: ["XMPPClient", "XMPPClientSQLite", "XMPPCore", "CommandLineSupport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strictSettings
        ),
        // Load generator: real XMPP over loopback, JSON figures (docs/BENCHMARKS.md).
        .target(
            name: "XMPPBench",
            dependencies: [
                "XMPPCore", "XMPPTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "xmpp-bench",
            dependencies: ["XMPPBench", "XMPPCore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
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
        // The kernel scenario harness: a kernel with in-memory stores and recording sessions that talk in XML.
        .target(
            name: "XMPPKernelTestSupport",
            dependencies: [
                "XMPPServerKernel", "XMPPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/XMPPKernelTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "XMPPServerKernelTests",
            dependencies: [
                "XMPPServerKernel", "XMPPKernelTestSupport",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "XMPPServerPubSubTests",
            dependencies: ["XMPPServerPubSub", "XMPPServerKernel", "XMPPKernelTestSupport", "XMPPCore"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "XMPPServerMUCTests",
            dependencies: ["XMPPServerMUC", "XMPPServerKernel", "XMPPKernelTestSupport", "XMPPCore"],
            swiftSettings: strictSettings
        ),
        // Fixtures shared by the server and client tests: an in-process xmppd, and running helper processes.
        .target(
            name: "XMPPTestSupport",
            dependencies: ["XMPPServer", "XMPPServerPostgres", "XMPPServerKernel", "XMPPCore", "XMPPTransport", .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "Crypto", package: "swift-crypto"), .product(name: "X509", package: "swift-certificates")],
            path: "Tests/XMPPTestSupport",
            exclude: ["Prosody"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "XMPPClientTests",
            dependencies: [
                "XMPPClient", "XMPPClientSQLite", "XMPPTestSupport",
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            resources: [.copy("Interop")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RedisClientTests",
            dependencies: ["RedisClient", "XMPPTestSupport", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "XMPPServerTests",
            dependencies: [
                "XMPPServer", "XMPPServerPostgres", "XMPPServerCluster", "XMPPBench", "XMPPTestSupport", "XMPPKernelTestSupport",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            resources: [.copy("Interop")],
            swiftSettings: strictSettings
        ),
    ]
)
