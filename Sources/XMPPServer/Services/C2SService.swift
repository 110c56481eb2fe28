import Foundation
import Logging
import NIOCore
import NIOPosix
import XMPPCore
import XMPPServerKernel

/// The client-to-server listeners: STARTTLS on ``ServerConfiguration/c2sPort`` and direct TLS on
/// ``ServerConfiguration/c2sTLSPort``, on every bind address.
public final class C2SService: ServerService, Sendable {
    public let name = "c2s"
    private let configuration: ServerConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let listeners = Locked<[any Channel]?>(nil)
    /// What every client connection shares (limits, login throttle, per-address counts, delivery queues, the
    /// sessions that may resume): the WebSocket endpoint (``WebService``) uses the same, so a user's streams count
    /// alike whichever way they came. The first domain's; with virtual hosts, the others' are in its `hosts`.
    let shared: C2SConnectionHandler.Shared

    init(configuration: ServerConfiguration, hosts: [ServerHost], group: any EventLoopGroup, logger: Logger,
         metrics: ServerMetrics? = nil) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        // Per address, connections count once whichever domain they are for.
        let (connections, batchers) = (ConnectionCounter(), DeliveryBatchers(group: group, maxOutboundBytes: configuration.limits.maxOutboundBytes))
        let all = hosts.map { host in
            Self.shared(of: host, connections: connections, batchers: batchers, logger: logger, metrics: metrics)
        }
        var primary = all[0]
        if all.count > 1 { primary.hosts = C2SHosts(all) }
        shared = primary
    }

    /// One domain's part of what its connections share.
    private static func shared(of host: ServerHost, connections: ConnectionCounter, batchers: DeliveryBatchers, logger: Logger,
                               metrics: ServerMetrics?) -> C2SConnectionHandler.Shared {
        let (configuration, kernel) = (host.configuration, host.kernel)
        let limits = configuration.limits
        let negotiation = ServerNegotiationStateMachine.Configuration(
            domains: [configuration.domain], tls: configuration.requireTLS ? .required : .optional,
            preAuthenticationFeatures: kernel.preAuthenticationFeatures,
            postAuthenticationFeatures: kernel.postAuthenticationFeatures,
            allowsPreAuthenticationIQ: configuration.kernel.registration != .closed)
        return C2SConnectionHandler.Shared(
            kernel: kernel, tls: host.tls, limits: limits,
            throttle: AuthenticationThrottle(window: TimeInterval(limits.authFailureWindowSeconds),
                                             perAddress: limits.authFailuresPerIP, perAccount: limits.authFailuresPerAccount),
            connections: connections, negotiation: negotiation, logger: logger,
            channelBinding: configuration.channelBinding, batchers: batchers,
            streamManagement: StreamManagementModule.settings(of: kernel), resumption: ResumptionTable(),
            maxHeldWhileInactive: ClientStateModule.maxHeld(of: kernel), metrics: metrics)
    }

    /// The ports bound, STARTTLS first (useful with port 0).
    public var boundPorts: [Int] {
        listeners.withLock { $0 ?? [] }.compactMap { $0.localAddress?.port }.filter { $0 > 0 }
    }

    /// Binds the listeners. Addresses that cannot be bound (no IPv6, say) are logged and skipped, but at least one
    /// must succeed per port.
    public func start() async throws {
        guard listeners.withLock({ $0 == nil }) else { return }
        listeners.withLock { $0 = [] }
        var ports: [(Int, Bool)] = [(configuration.c2sPort, false)]
        if let tlsPort = configuration.c2sTLSPort { ports.append((tlsPort, true)) }
        for (port, directTLS) in ports {
            do {
                let channels = try await ListenerBinding.bind(
                    bootstrap(shared: shared, directTLS: directTLS), port: port, addresses: configuration.bindAddresses,
                    kind: directTLS ? "c2s direct TLS" : "c2s STARTTLS", logger: logger)
                listeners.withLock { $0?.append(contentsOf: channels) }
            } catch {
                await stop()
                throw error
            }
        }
    }

    /// Stops accepting connections; the open ones stay until the kernel closes them.
    public func stop() async {
        let channels = listeners.withLock { channels in
            defer { channels = [] }
            return channels ?? []
        }
        for channel in channels { try? await channel.close() }
    }

    /// The outbound buffer's marks: unwritable above a quarter of the limit (at most 256 KiB), writable again below
    /// a quarter of that.
    static func waterMark(for limit: Int) -> ChannelOptions.Types.WriteBufferWaterMark {
        let high = max(4096, min(262_144, limit / 4))
        return .init(low: high / 4, high: high)
    }

    private func bootstrap(shared: C2SConnectionHandler.Shared, directTLS: Bool) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            // Above the high mark a connection turns unwritable: reading from it pauses, and past maxOutboundBytes
            // it is closed (DeliveryBatcher).
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: Self.waterMark(for: configuration.limits.maxOutboundBytes))
            // Each connection keeps its last receive buffer: start small (an idle client sends little), and stay at
            // most 8 KiB so receive buffers remain on the heap's fast path (see MemoryTuning).
            .childChannelOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 256, initial: 1024, maximum: 8192))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try C2SPipeline.configure(channel, shared: shared, directTLS: directTLS)
                }
            }
    }
}
