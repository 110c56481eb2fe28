import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
import XMPPCore
import XMPPServerKernel
import XMPPServerSQLite
import XMPPTransport

/// A running XMPP server: storage, TLS identity, kernel with the standard modules, and the c2s listeners
/// (STARTTLS on ``ServerConfiguration/c2sPort``, direct TLS on ``ServerConfiguration/c2sTLSPort``).
///
/// ```swift
/// let server = try XMPPServer(configuration: configuration, logger: logger)
/// try await server.start()
/// // ... or run it as a Service in a ServiceGroup, which stops it on SIGTERM/SIGINT.
/// ```
public final class XMPPServer: Service, Sendable {
    /// The configuration it runs with.
    public let configuration: ServerConfiguration
    /// The kernel (router, sessions, modules).
    public let kernel: ServerKernel
    /// The TLS identity.
    public let tls: ServerTLS
    /// The SQLite database, when that backend is in use.
    public let database: SQLiteDatabase?
    private let logger: Logger
    private let group: any EventLoopGroup
    private let listeners = Mutex<[any Channel]>([])
    private let started = Date()

    /// Opens storage (creating the data directory), loads or generates the certificate and builds the kernel.
    public init(configuration: ServerConfiguration, logger: Logger,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        var configuration = configuration
        configuration.kernel.domain = configuration.domain
        self.configuration = configuration
        self.logger = logger
        self.group = group
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let storage: ServerStorage
        if configuration.storage == "memory" {
            database = nil
            storage = .inMemory()
        } else {
            let database = try SQLiteDatabase(path: "\(configuration.dataDirectory)/xmppd.sqlite")
            self.database = database
            storage = database.storage
        }
        if let certificate = configuration.certificatePath, let key = configuration.privateKeyPath {
            tls = try ServerTLS(certificatePath: certificate, privateKeyPath: key)
        } else {
            tls = try ServerTLS.selfSigned(domain: configuration.domain, directory: configuration.dataDirectory, logger: logger)
        }
        logger.notice("TLS certificate", metadata: ["sha256": "\(tls.fingerprint)"])
        kernel = try ServerKernel(configuration: configuration.kernel, storage: storage, modules: StandardModules.all,
                                  logger: logger)
    }

    /// The ports the listeners are bound to, in the order started (useful with port 0).
    public var boundPorts: [Int] {
        listeners.withLock { $0.compactMap { $0.localAddress?.port } }.filter { $0 > 0 }
    }

    /// Binds the listeners. Addresses that cannot be bound (no IPv6, say) are logged and skipped, but at
    /// least one must succeed per port.
    public func start() async throws {
        let limits = configuration.limits
        let negotiation = ServerNegotiationStateMachine.Configuration(
            domains: [configuration.domain], tls: configuration.requireTLS ? .required : .optional,
            preAuthenticationFeatures: kernel.preAuthenticationFeatures,
            postAuthenticationFeatures: kernel.postAuthenticationFeatures,
            allowsPreAuthenticationIQ: configuration.kernel.registration != .closed)
        let shared = C2SConnectionHandler.Shared(
            kernel: kernel, tls: tls, limits: limits,
            throttle: AuthenticationThrottle(window: TimeInterval(limits.authFailureWindowSeconds),
                                             perAddress: limits.authFailuresPerIP, perAccount: limits.authFailuresPerAccount),
            connections: ConnectionCounter(), negotiation: negotiation, logger: logger,
            channelBinding: configuration.channelBinding, batchers: DeliveryBatchers(group: group))
        var ports: [(Int, Bool)] = [(configuration.c2sPort, false)]
        if let tlsPort = configuration.c2sTLSPort { ports.append((tlsPort, true)) }
        for (port, directTLS) in ports {
            var bound = 0
            for address in configuration.bindAddresses {
                do {
                    let channel = try await bootstrap(shared: shared, directTLS: directTLS).bind(host: address, port: port).get()
                    listeners.withLock { $0.append(channel) }
                    bound += 1
                    logger.notice("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? address)",
                                                          "kind": "\(directTLS ? "c2s direct TLS" : "c2s STARTTLS")"])
                } catch {
                    logger.warning("cannot listen", metadata: ["address": "\(address)", "port": "\(port)", "error": "\(error)"])
                }
            }
            guard bound > 0 else { throw ServerStartError.noListener(port: port) }
        }
        let admin = try await AdminSocket.bind(kernel: kernel, dataDirectory: configuration.dataDirectory, group: group, started: started)
        listeners.withLock { $0.append(admin) }
    }

    /// The path of the administration socket `xmppctl` uses.
    public var adminSocketPath: String { AdminSocket.path(in: configuration.dataDirectory) }

    private func bootstrap(shared: C2SConnectionHandler.Shared, directTLS: Bool) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            // Each connection keeps its last receive buffer: start small (an idle client sends little), and stay at
            // most 8 KiB so receive buffers remain on the heap's fast path (see MemoryTuning).
            .childChannelOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 256, initial: 1024, maximum: 8192))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try C2SPipeline.configure(channel, shared: shared, directTLS: directTLS)
                }
            }
    }

    /// Runs until graceful shutdown is requested (SIGTERM/SIGINT in a ServiceGroup), then stops.
    public func run() async throws {
        if listeners.withLock({ $0.isEmpty }) { try await start() }
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Stops accepting connections, closes every stream with `system-shutdown`, and flushes storage.
    public func shutdown() async {
        logger.notice("shutting down", metadata: ["sessions": "\(kernel.registry.count)"])
        let channels = listeners.withLock { channels in
            defer { channels = [] }
            return channels
        }
        for channel in channels { try? await channel.close() }
        kernel.closeAllSessions(with: StreamError(.systemShutdown, text: "the server is shutting down"))
        // Let the closing tags reach the clients and the sessions' last writes reach storage.
        try? await Task.sleep(for: .milliseconds(300))
        do {
            try database?.checkpoint()
        } catch {
            logger.warning("database checkpoint failed", metadata: ["error": "\(error)"])
        }
        logger.notice("stopped")
    }
}

/// Why the server could not start.
public enum ServerStartError: Error, CustomStringConvertible {
    /// No bind address could be used for this port.
    case noListener(port: Int)

    public var description: String {
        switch self {
        case .noListener(let port): "could not listen on port \(port) on any bind address"
        }
    }
}
