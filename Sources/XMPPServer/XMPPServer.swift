import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import XMPPCore
import XMPPServerKernel
import XMPPServerSQLite

/// A server: storage, TLS identity, the kernel with its modules, and its services (the c2s listeners, the admin
/// socket, the sessions; HTTP and s2s later), each a swift-service-lifecycle `Service` of its own.
///
/// ```swift
/// let server = try XMPPServer(configuration: configuration, logger: logger)
/// try await server.start()                         // binds every service; ports in server.boundPorts
/// let group = ServiceGroup(configuration: .init(services: server.services.map { .init(service: $0) },
///                                               gracefulShutdownSignals: [.sigterm], logger: logger))
/// try await group.run()                            // on SIGTERM: listeners stop, sessions close, storage flushes
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
    /// The client listeners.
    public let c2s: C2SService
    /// The administration socket.
    public let admin: AdminSocketService
    /// The web listeners (XMPP over WebSocket, discovery, health, metrics, upload).
    public let web: WebService
    /// The SOCKS5 bytestreams proxy's listener (XEP-0065).
    public let proxy: ProxyListenerService
    /// The external component listener (XEP-0114).
    public let components: ComponentListenerService
    /// The server-to-server listener and outgoing federation.
    public let federation: FederationListenerService
    /// What `/metrics` reports.
    let metrics: ServerMetrics
    /// The services in start order; a `ServiceGroup` stops them in reverse (listeners first, sessions last).
    public let services: [any ServerService]
    private let logger: Logger

    /// Opens storage (creating the data directory), loads or generates the certificate, and builds the kernel with
    /// `modules` and the services.
    /// - Parameters:
    ///   - modules: The features to run (``StandardModules/all`` by default).
    ///   - extraServices: Services of the embedding application, started after the server's own.
    public init(configuration: ServerConfiguration, logger: Logger, modules: [any ServerModule] = StandardModules.all,
                extraServices: [any ServerService] = [], group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        var configuration = configuration
        configuration.kernel.domain = configuration.domain
        self.configuration = configuration
        self.logger = logger
        // Only the server's user may read the database, the key, the secret and the admin socket in it.
        if !FileManager.default.fileExists(atPath: configuration.dataDirectory) {
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        configuration.kernel.secret = try ServerSecret.load(in: configuration.dataDirectory)
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
            let findings = CertificateCheck.check(certificatePath: certificate, keyPath: key, domain: configuration.domain)
            do {
                tls = try ServerTLS(certificatePath: certificate, privateKeyPath: key)
            } catch {
                let problems = findings.filter { $0.severity == .error }.map(\.message)
                throw TLSSetupError.unusable(problems.isEmpty ? ["\(certificate) and \(key) cannot be used: \(error)"] : problems)
            }
            // TLS accepts an expired or not-yet-valid certificate; clients will not: say so loudly.
            for finding in findings where finding.severity != .note {
                let level: Logger.Level = finding.severity == .error ? .error : .warning
                logger.log(level: level, "\(finding.message)", metadata: ["certificate": "\(certificate)"])
            }
        } else if configuration.certificatePath != nil || configuration.privateKeyPath != nil {
            throw TLSSetupError.unusable(["give both certificate and private_key (or neither, for a generated self-signed certificate)"])
        } else {
            tls = try ServerTLS.selfSigned(domain: configuration.domain, directory: configuration.dataDirectory, logger: logger)
        }
        logger.notice("TLS certificate", metadata: ["sha256": "\(tls.fingerprint)"])
        let componentLinks = ComponentLinks()
        let withComponents = configuration.components.isEmpty
            ? modules : modules + [ComponentModule(domains: configuration.components.keys.sorted(), links: componentLinks)]
        kernel = try ServerKernel(configuration: configuration.kernel, storage: storage, modules: withComponents, logger: logger)
        metrics = ServerMetrics(kernel: kernel)
        c2s = C2SService(configuration: configuration, kernel: kernel, tls: tls, group: group, logger: logger, metrics: metrics)
        web = WebService(configuration: configuration, c2s: c2s, tls: tls, group: group, logger: logger, metrics: metrics)
        admin = AdminSocketService(kernel: kernel, dataDirectory: configuration.dataDirectory, group: group)
        components = ComponentListenerService(configuration: configuration, kernel: kernel, links: componentLinks, group: group, logger: logger)
        proxy = ProxyListenerService(configuration: configuration, kernel: kernel, group: group, logger: logger)
        federation = FederationListenerService(configuration: configuration, kernel: kernel, tls: tls, group: group, logger: logger)
        services = [SessionsService(kernel: kernel, database: database, logger: logger), c2s, web, components, proxy, federation, admin]
            + extraServices
    }

    /// The c2s ports bound, STARTTLS first (useful with port 0).
    public var boundPorts: [Int] { c2s.boundPorts }

    /// The path of the administration socket `xmppctl` uses.
    public var adminSocketPath: String { admin.path }

    /// Starts every service in order; if one fails, those started are stopped again.
    public func start() async throws {
        for (index, service) in services.enumerated() {
            do {
                try await service.start()
            } catch {
                for started in services[..<index].reversed() { await started.stop() }
                throw error
            }
        }
    }

    /// Runs the services in a `ServiceGroup` of their own until graceful shutdown is requested, then stops them in
    /// reverse order. (xmppd runs ``services`` in its own group instead, with the signal handling.)
    public func run() async throws {
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }, logger: logger))
        try await withGracefulShutdownHandler {
            try await group.run()
        } onGracefulShutdown: {
            Task { await group.triggerGracefulShutdown() }
        }
    }

    /// Stops every service in reverse order: no new connections, every stream closed with `system-shutdown`,
    /// storage flushed.
    public func shutdown() async {
        for service in services.reversed() { await service.stop() }
    }
}

/// Why the server could not start.
public enum ServerStartError: Error, CustomStringConvertible {
    /// No bind address could be used for this port; `reason` is why the last one failed, in plain words.
    case noListener(port: Int, reason: String)

    public var description: String {
        switch self {
        case .noListener(let port, let reason): "cannot listen on port \(port): \(reason)"
        }
    }

    /// Whether the port is taken by another program.
    public var isPortInUse: Bool {
        if case .noListener(_, let reason) = self { return reason == Self.inUse }
        return false
    }

    static let inUse = "the port is in use by another program"

    /// Plain words for why binding failed.
    static func reason(_ error: any Error) -> String {
        guard let io = error as? IOError else { return "\(error)" }
        switch io.errnoCode {
        case EADDRINUSE: return inUse
        case EACCES: return "this user may not use the port (ports below 1024 need privileges)"
        case EADDRNOTAVAIL: return "the bind address is not one of this machine's"
        default: return "\(io)"
        }
    }
}
