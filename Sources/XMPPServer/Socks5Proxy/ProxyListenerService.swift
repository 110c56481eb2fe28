import Logging
import NIOCore
import NIOPosix
import XMPPCore
import XMPPServerKernel

/// The SOCKS5 listener of the bytestreams proxy (XEP-0065) on `proxy_port`, on the `bind` addresses. Each
/// connection does the SOCKS5 handshake, waits (at most `proxyIdleSeconds`) for the initiator's activation, then relays.
public final class ProxyListenerService: ServerService, Sendable {
    public let name = "proxy65"
    /// Seconds a connection may wait for its stream's activation.
    static let proxyIdleSeconds: Int64 = 60

    private let configuration: ServerConfiguration
    private let kernel: ServerKernel
    private let group: any EventLoopGroup
    private let logger: Logger
    private let listeners = ListenerSet()

    init(configuration: ServerConfiguration, kernel: ServerKernel, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.kernel = kernel
        self.group = group
        self.logger = logger
    }

    /// The ports bound (useful with port 0).
    public var boundPorts: [Int] { listeners.ports }

    public func start() async throws {
        guard listeners.begin() else { return }
        guard let service = ProxyModule.service(of: kernel) else { return }
        let port: Int = kernel.configuration.value(of: ProxyModule.port)
        let pairing = service.pairing
        let limits = configuration.limits
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 65_536, high: 262_144))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    // Until activation a connection sends a few bytes: the c2s read rate; the transfer's rate after.
                    try operations.addHandler(ReadRateLimiter(bytesPerSecond: limits.readBytesPerSecond, burst: limits.readBurstBytes,
                                                              gate: ReadGate()))
                    try operations.addHandler(Socks5Handler(pairing: pairing))
                    channel.eventLoop.scheduleTask(in: .seconds(Self.proxyIdleSeconds)) {
                        if (try? channel.pipeline.syncOperations.handler(type: Socks5Handler.self)) != nil { channel.close(promise: nil) }
                    }
                }
            }
        do {
            let channels = try await ListenerBinding.bind(bootstrap, port: port, addresses: configuration.bindAddresses,
                                                          kind: "SOCKS5 proxy (XEP-0065)", logger: logger)
            listeners.add(channels)
            let configuredHost: String = kernel.configuration.value(of: ProxyModule.host)
            let bound = channels.first?.localAddress?.port ?? port
            let host = !configuredHost.isEmpty ? configuredHost
                : configuration.bindAddresses.first { !["0.0.0.0", "::"].contains($0) } ?? configuration.domain
            service.streamhost.withLock { $0 = (host, bound) }
        } catch {
            await stop()
            throw error
        }
    }

    public func stop() async {
        await listeners.closeAll()
    }
}
