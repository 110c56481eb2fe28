import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import XMPPCore
import XMPPServerKernel

/// The web listeners: plain HTTP on ``ServerConfiguration/httpPort`` and HTTPS (the server's certificate) on
/// ``ServerConfiguration/httpsPort``, on every bind address. They serve XMPP over WebSocket (RFC 7395) at
/// `/xmpp-websocket`, the XEP-0156 discovery documents and `/health`.
///
/// A WebSocket stream on the plain listener counts as secured (no STARTTLS, SASL allowed) only from a loopback
/// address: that is a reverse proxy on the same host which terminated TLS, or a local client. From elsewhere
/// the upgrade is refused with 403 unless `require_tls` is off.
public final class WebService: ServerService, Sendable {
    public let name = "web"
    private let configuration: ServerConfiguration
    private let shared: C2SConnectionHandler.Shared
    private let tls: ServerTLS
    private let group: any EventLoopGroup
    private let logger: Logger
    private let listeners = Locked<[(channel: any Channel, secure: Bool)]?>(nil)
    private let running = Locked(false)
    /// The HTTP upload service's store (XEP-0363), when its module runs.
    private let upload: UploadStore?
    private let expiryTask = Locked<RepeatedTask?>(nil)
    /// The BOSH sessions of both listeners, by sid.
    private let boshSessions = BOSHSessions()
    /// Open HTTP connections per address (an IPv6 /64 as one), under `connections_per_ip` like c2s: a WebSocket stream
    /// counts here and, once upgraded, among the c2s connections too.
    private let connections = ConnectionCounter()

    private let metrics: ServerMetrics?

    /// The admin console, when it is on.
    private let admin: AdminConsole?
    private let administration: ServerAdministration?
    private let sampling = Locked<RepeatedTask?>(nil)

    init(configuration: ServerConfiguration, c2s: C2SService, tls: ServerTLS, group: any EventLoopGroup, logger: Logger,
         metrics: ServerMetrics? = nil, administration: ServerAdministration? = nil) {
        self.metrics = metrics
        self.administration = administration
        admin = configuration.adminConsole ? administration.map {
            AdminConsole(administration: $0, maxSessions: configuration.adminMaxSessions,
                         sessionTimeout: Double(configuration.adminSessionTimeoutSeconds))
        } : nil
        self.configuration = configuration
        self.shared = c2s.shared
        self.upload = HTTPUploadModule.store(of: c2s.shared.kernel)
        self.tls = tls
        self.group = group
        self.logger = logger
    }

    /// The plain HTTP ports bound (useful with port 0).
    public var httpPorts: [Int] { ports(secure: false) }
    /// The HTTPS ports bound.
    public var httpsPorts: [Int] { ports(secure: true) }

    private func ports(secure: Bool) -> [Int] {
        listeners.withLock { $0 ?? [] }.filter { $0.secure == secure }.compactMap { $0.channel.localAddress?.port }
    }

    public func start() async throws {
        guard listeners.withLock({ $0 == nil }) else { return }
        listeners.withLock { $0 = [] }
        var ports: [(Int, Bool)] = []
        if let port = configuration.httpPort { ports.append((port, false)) }
        if let port = configuration.httpsPort { ports.append((port, true)) }
        for (port, secure) in ports {
            do {
                let channels = try await ListenerBinding.bind(bootstrap(secure: secure), port: port, addresses: configuration.bindAddresses,
                                                              kind: secure ? "HTTPS" : "HTTP", logger: logger)
                listeners.withLock { $0?.append(contentsOf: channels.map { ($0, secure) }) }
            } catch {
                await stop()
                throw error
            }
        }
        try attachUpload()
        if let administration {
            let task = group.next().scheduleRepeatedTask(initialDelay: .zero, delay: .seconds(ServerAdministration.sampleSeconds)) { _ in
                administration.sample()
            }
            sampling.withLock { $0 = task }
        }
        running.withLock { $0 = true }
    }

    /// Lets the upload service hand out slots: its files under the data directory, its URLs on the HTTPS port (or
    /// `upload_url`); expired files and slots are swept every minute.
    private func attachUpload() throws {
        guard let upload else { return }
        let configured: String = shared.kernel.configuration.value(of: HTTPUploadModule.url)
        let base: String
        if !configured.isEmpty {
            base = configured
        } else if let port = httpsPorts.first {
            base = "https://\(configuration.domain):\(port)"
        } else {
            logger.warning("HTTP upload needs the HTTPS listener (https_port) or upload_url: slot requests will be refused")
            return
        }
        try upload.attach(directory: "\(configuration.dataDirectory)/uploads", baseURL: base, logger: logger)
        let task = group.next().scheduleRepeatedTask(initialDelay: .seconds(60), delay: .seconds(60)) { _ in
            NIOThreadPool.singleton.submit { _ in upload.removeExpired() }
        }
        expiryTask.withLock { $0 = task }
    }

    public func stop() async {
        running.withLock { $0 = false }
        boshSessions.closeAll()
        expiryTask.withLock { task in
            task?.cancel()
            task = nil
        }
        upload?.detach()
        sampling.withLock { task in
            task?.cancel()
            task = nil
        }
        let channels = listeners.withLock { listeners in
            defer { listeners = [] }
            return (listeners ?? []).map(\.channel)
        }
        for channel in channels { try? await channel.close() }
    }

    private func bootstrap(secure: Bool) -> ServerBootstrap {
        var webSocket = WebSocketEndpoint(shared: shared, allowedOrigins: configuration.webSocketOrigins)
        webSocket.trustedProxies = configuration.trustedProxies
        let trustedProxies = configuration.trustedProxies
        let running = self.running
        let metrics = self.metrics
        var exposition: (@Sendable () -> ByteBuffer)?
        if let metrics { exposition = { metrics.exposition() } }
        var site = WebSite(secure: secure, publicWebSocketURL: configuration.webSocketURL, webSocket: webSocket, upload: upload,
                           metrics: exposition, metricsToken: configuration.metricsToken,
                           isHealthy: { running.withLock { $0 } })
        site.admin = admin
        let tlsContext = secure ? tls.context : nil
        let plainNeedsLoopback = configuration.requireTLS
        let limits = configuration.limits
        site.bosh = configuration.bosh ? BOSHEndpoint(shared: shared, sessions: boshSessions, configuration: configuration) : nil
        // Fixed from here: every connection starts from copies of these.
        let (baseSite, endpoint) = (site, webSocket)
        return ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: C2SService.waterMark(for: limits.maxOutboundBytes))
            .childChannelOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 256, initial: 1024, maximum: 8192))
            .childChannelInitializer { [connections] channel in
                channel.eventLoop.makeCompletedFuture {
                    let address = channel.remoteAddress?.ipAddress ?? "unknown"
                    let addressKey = AddressGrouping.key(address, ipv6PrefixLength: limits.ipv6PrefixLength)
                    // A trusted proxy brings every client's connections: they are counted by their forwarded address
                    // once they become XMPP streams, not here.
                    if !trustedProxies.contains(address) {
                        guard connections.open(addressKey, limit: limits.connectionsPerIP) else {
                            channel.close(promise: nil)
                            return
                        }
                        channel.closeFuture.whenComplete { _ in connections.close(addressKey) }
                    }
                    let fromLoopback = channel.remoteAddress.map(WebService.isLoopback) ?? false
                    var site = baseSite
                    // A proxy on this machine, or one trusted by address, terminated TLS for its clients.
                    site.webSocketNeedsTLS = tlsContext == nil && plainNeedsLoopback && !fromLoopback && !trustedProxies.contains(address)
                    site.clientIsLoopback = fromLoopback
                    site.clientAddress = address
                    try WebPipeline.configure(channel, tls: tlsContext, site: site,
                                              webSocket: site.webSocketNeedsTLS ? nil : endpoint, limits: limits, metrics: metrics)
                }
            }
    }

    static func isLoopback(_ address: SocketAddress) -> Bool {
        guard let ip = address.ipAddress else { return false }
        return ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }
}
