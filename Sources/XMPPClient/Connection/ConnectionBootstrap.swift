import NIOCore
import NIOPosix
#if canImport(Network)
import NIOTransportServices
#endif

/// The one place that chooses the transport. On Apple platforms a client runs on Network.framework through
/// NIOTransportServices (its default event loops are a `NIOTSEventLoopGroup`): the system's own TCP, which knows the
/// device's interfaces, VPNs and proxies. Elsewhere, and on Apple platforms when the app hands the client NIOPosix
/// event loops, BSD sockets through NIOPosix. TLS stays NIOSSL's on both, so STARTTLS, channel binding and the trust
/// settings work the same everywhere.
@usableFromInline
enum ConnectionBootstrap {
    /// The event loops a client runs on unless the app gives it others.
    @usableFromInline
    static var defaultGroup: any EventLoopGroup {
        #if canImport(Network)
        NIOTSEventLoopGroup.singleton
        #else
        MultiThreadedEventLoopGroup.singleton
        #endif
    }

    /// A TCP client bootstrap for `group` (Nagle's algorithm off, `connectTimeout`), setting up each channel with
    /// `initializer`.
    static func make(group: any EventLoopGroup, connectTimeout: TimeAmount,
                     initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>) -> any NIOClientTCPBootstrapProtocol {
        #if canImport(Network)
        if let bootstrap = NIOTSConnectionBootstrap(validatingGroup: group) {
            // Nagle's algorithm is off there by default.
            return bootstrap
                .connectTimeout(connectTimeout)
                .channelInitializer(initializer)
        }
        #endif
        return ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(connectTimeout)
            .channelInitializer(initializer)
    }
}
