import Logging
import NIOCore
import NIOPosix
import NIOSSL
import XMPPCore
import XMPPServerKernel
import XMPPTransport

/// The server-to-server listeners on `s2s_port` (STARTTLS) and `s2s_tls_port` (TLS from the start, XEP-0368; when
/// set), on the `bind` addresses, and the start of outgoing federation: when
/// it starts, ``ServerLinks`` may open streams to remote servers. Nothing runs when the `s2s` module is off.
public final class FederationListenerService: ServerService, Sendable {
    public let name = "s2s"
    private let configuration: ServerConfiguration
    /// The domains served, the first domain's first.
    private let hosts: [ServerHost]
    private let group: any EventLoopGroup
    private let logger: Logger
    private let listeners = ListenerSet()
    /// The `s2s_tls_port` listeners.
    private let directTLSListeners = ListenerSet()
    /// Incoming streams now: against `s2s_max_incoming` (key "all") and, per address, `connections_per_ip`.
    private let incoming = ConnectionCounter()

    init(configuration: ServerConfiguration, hosts: [ServerHost], group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.hosts = hosts
        self.group = group
        self.logger = logger
    }

    /// The STARTTLS ports bound (useful with port 0).
    public var boundPorts: [Int] { listeners.ports }
    /// The direct TLS ports bound (XEP-0368), when `s2s_tls_port` is set.
    public var directTLSPorts: [Int] { directTLSListeners.ports }

    /// Each domain's links (none when the `s2s` module is off).
    private var allLinks: [ServerLinks] { hosts.compactMap { $0.kernel.remoteRouter as? ServerLinks } }

    public func start() async throws {
        guard listeners.begin(), directTLSListeners.begin() else { return }
        guard let links = hosts[0].kernel.remoteRouter as? ServerLinks else { return }
        for entry in FederationSettings.unparsableHosts(hosts[0].kernel.configuration.value(of: FederationModule.hosts)) {
            logger.warning("s2s_hosts: not DOMAIN=HOST:PORT, left out", metadata: ["entry": "\(entry)"])
        }
        // Certificates are asked for and presented both ways, and judged per domain by `trust` (a chain that does not
        // verify leaves dialback, unless s2s_secure_auth).
        let trust = try ServerCertificateTrust(caFile: links.settings.caFile)
        let neighbours = hosts.count > 1
            ? NeighbourRoutes(kernels: hosts.map(\.kernel), group: group, limit: links.settings.queueLimit) : nil
        var domains: [FederationHosts.Host] = []
        for host in hosts {
            guard let links = host.kernel.remoteRouter as? ServerLinks else { continue }
            let (serverTLS, clientTLS) = try host.tls.federationContexts()
            links.attach(ServerLinks.Environment(group: group, kernel: host.kernel, clientTLS: clientTLS, trust: trust,
                                                 tryExternal: !host.tls.isSelfSigned || links.settings.secureAuth,
                                                 logger: logger, maxStanzaBytes: configuration.limits.maxStanzaBytes,
                                                 neighbours: neighbours))
            domains.append(FederationHosts.Host(kernel: host.kernel, links: links, serverTLS: serverTLS))
        }
        let federationHosts = FederationHosts(domains)
        let first = domains[0]
        let (settings, logger, incoming) = (links.settings, logger, incoming)
        let limits = XMLParserLimits(maxStanzaBytes: configuration.limits.maxStanzaBytes)
        let (perAddress, ipv6PrefixLength) = (configuration.limits.connectionsPerIP, configuration.limits.ipv6PrefixLength)
        /// A bootstrap for `s2s_port` (STARTTLS) or, with `directTLS`, `s2s_tls_port` (XEP-0368).
        func bootstrap(directTLS: Bool) -> ServerBootstrap {
            ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let operations = channel.pipeline.syncOperations
                        let address = AddressGrouping.key(channel.remoteAddress?.ipAddress ?? "unknown", ipv6PrefixLength: ipv6PrefixLength)
                        var refusal: String?
                        if !incoming.open(address, limit: perAddress) {
                            refusal = "too many connections from your address"
                            logger.notice("server-to-server connection refused: too many from one address", metadata: ["peer": "\(address)"])
                        } else if !incoming.open("all", limit: settings.maxIncoming) {
                            incoming.close(address)
                            refusal = "too many server-to-server connections"
                            logger.notice("server-to-server connection refused: s2s_max_incoming reached")
                        }
                        // TLS comes first on the direct TLS port: refusals go out encrypted too (with the first domain's
                        // certificate; an accepted connection's SNI picks its domain's).
                        let presented = directTLS ? PresentedCertificates() : nil
                        if let presented { try federationHosts.addTLS(to: channel, presenting: presented, choosingBySNI: refusal == nil) }
                        let encoder = XMPPStreamEncoder(contentNamespace: XMLNamespace.server)
                        if let refusal {
                            try operations.addHandlers([encoder, RefusingHandler(domain: settings.localDomain, contentNamespace: XMLNamespace.server,
                                                                                 text: refusal)])
                            return
                        }
                        channel.closeFuture.whenComplete { _ in
                            incoming.close("all")
                            incoming.close(address)
                        }
                        let decoder = XMPPStreamDecoder(limits: limits)
                        let gate = ReadGate()
                        try operations.addHandlers([
                            ReadRateLimiter(bytesPerSecond: settings.bytesPerSecond, burst: settings.bytesPerSecond, gate: gate),
                            decoder, encoder,
                            IdleStateHandler(allTimeout: .seconds(settings.idleSeconds)),
                            IncomingServerStream(host: first, hosts: federationHosts, trust: trust,
                                                 directTLS: presented, decoder: decoder, gate: gate, logger: logger),
                        ])
                    }
                }
        }
        do {
            listeners.add(try await ListenerBinding.bind(bootstrap(directTLS: false), port: settings.port, addresses: configuration.bindAddresses,
                                                         kind: "server-to-server", logger: logger))
            if settings.tlsPort != 0 {
                directTLSListeners.add(try await ListenerBinding.bind(bootstrap(directTLS: true), port: settings.tlsPort,
                                                             addresses: configuration.bindAddresses,
                                                             kind: "server-to-server (direct TLS)", logger: logger))
            }
        } catch {
            await stop()
            throw error
        }
    }

    public func stop() async {
        for links in allLinks { links.closeAll() }
        await listeners.closeAll()
        await directTLSListeners.closeAll()
    }
}
