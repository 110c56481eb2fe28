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
    /// The domains served, ``ServerConfiguration/domain`` first, then the virtual hosts.
    public let hosts: [ServerHost]
    /// The first domain's kernel (router, sessions, modules).
    public let kernel: ServerKernel
    /// The first domain's TLS identity.
    public let tls: ServerTLS
    /// The first domain's SQLite database, when that backend is in use.
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
    /// The administration API behind the admin socket, the web console and its JSON API.
    public let administration: ServerAdministration
    /// The services in start order; a `ServiceGroup` stops them in reverse (listeners first, sessions last).
    public let services: [any ServerService]
    private let logger: Logger

    /// Opens storage (creating the data directory), loads or generates the certificates, and builds the kernels with
    /// their modules (one per domain) and the services.
    /// - Parameters:
    ///   - modules: The features of the first domain (``StandardModules/all`` by default).
    ///   - virtualHostModules: Makes the features of each virtual host (``StandardModules/virtualHost`` by default).
    ///   - extraServices: Services of the embedding application, started after the server's own.
    public init(configuration: ServerConfiguration, logger: Logger, modules: [any ServerModule] = StandardModules.all,
                virtualHostModules: () -> [any ServerModule] = { StandardModules.virtualHost },
                extraServices: [any ServerService] = [], group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        var configuration = configuration
        configuration.kernel.domain = configuration.domain
        // The admin console's log page shows the recent warnings and errors.
        let recentLog = RecentLogLines()
        let logger = recentLog.teeing(logger)
        try Self.checkDomains(of: &configuration)
        self.logger = logger
        // Only the server's user may read the database, the key, the secret and the admin socket in it.
        if !FileManager.default.fileExists(atPath: configuration.dataDirectory) {
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        configuration.kernel.secret = try ServerSecret.load(in: configuration.dataDirectory)
        self.configuration = configuration
        let componentLinks = ComponentLinks()
        let withComponents = configuration.components.isEmpty
            ? modules : modules + [ComponentModule(domains: configuration.components.keys.sorted(), links: componentLinks)]
        var first = configuration
        if !configuration.virtualHosts.isEmpty {
            // Each domain's administrators are its own accounts (``ServerConfiguration/virtualHost(_:)``).
            first.kernel.admins = configuration.kernel.admins.filter { $0.domainpart == configuration.domain }
        }
        // Made before the hosts, so their databases report statement times; it learns the kernels once they exist.
        let metrics = ServerMetrics()
        let statementSeconds: @Sendable (Double) -> Void = { metrics.storageStatement(seconds: $0) }
        var hosts = [try ServerHost(configuration: first, modules: withComponents, logger: logger, statementSeconds: statementSeconds)]
        for domain in configuration.virtualHosts {
            guard let host = configuration.virtualHost(domain) else { continue }
            let modules = virtualHostModules()
            hosts.append(try ServerHost(configuration: host.keepingOptions(of: modules), modules: modules, logger: logger,
                                        statementSeconds: statementSeconds))
        }
        self.hosts = hosts
        for host in hosts {
            // A domain that is another domain's service (conference.example.org beside example.org) would have two
            // owners: the lookups of the listeners and of the in-process routes would disagree about it.
            if let owner = hosts.first(where: { $0 !== host && $0.kernel.isHostedService(host.domain) }) {
                throw HostSetupError.invalidDomains("\(host.domain) is a service of \(owner.domain) (rename the service, or leave the domain out)")
            }
        }
        (kernel, tls, database) = (hosts[0].kernel, hosts[0].tls, hosts[0].database)
        metrics.attach(kernels: hosts.map(\.kernel))
        self.metrics = metrics
        c2s = C2SService(configuration: configuration, hosts: hosts, group: group, logger: logger, metrics: metrics)
        administration = ServerAdministration(kernels: hosts.map(\.kernel), configuration: configuration, metrics: metrics,
                                              recentLog: recentLog, throttle: { [shared = c2s.shared] domain in
                                                  shared.hosts?.shared(for: domain)?.throttle ?? shared.throttle
                                              })
        web = WebService(configuration: configuration, c2s: c2s, tls: tls, group: group, logger: logger, metrics: metrics,
                         administration: administration)
        admin = AdminSocketService(administration: administration, dataDirectory: configuration.dataDirectory, group: group)
        components = ComponentListenerService(configuration: configuration, kernel: kernel, links: componentLinks, group: group, logger: logger)
        proxy = ProxyListenerService(configuration: configuration, kernel: kernel, group: group, logger: logger)
        federation = FederationListenerService(configuration: configuration, hosts: hosts, group: group, logger: logger)
        services = hosts.map { SessionsService(kernel: $0.kernel, database: $0.database, postgres: $0.postgres, logger: logger) }
            + [c2s, web, components, proxy, federation, admin] + extraServices
    }

    /// Normalizes the virtual hosts (set in code, they may be unnormalized or repeated) and checks the per-domain
    /// certificates name served domains.
    private static func checkDomains(of configuration: inout ServerConfiguration) throws {
        var seen: Set<String> = [configuration.domain]
        var hosts: [String] = []
        for name in configuration.virtualHosts {
            guard let domain = JID(validating: name).flatMap({ $0.localpart == nil && $0.resourcepart == nil ? $0.domainpart : nil }) else {
                throw HostSetupError.invalidDomains("\(name) is not a domain name")
            }
            if seen.insert(domain).inserted { hosts.append(domain) }
        }
        configuration.virtualHosts = hosts
        for domain in configuration.hostCertificates.keys where !hosts.contains(domain) {
            throw HostSetupError.invalidDomains("certificate.\(domain) is set, but \(domain) is not one of the domains served (domains = ...)")
        }
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
