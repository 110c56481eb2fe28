import NIOCore
import NIOPosix
import XMPPCore

/// A TCP proxy on a loopback port in front of a server, for tests that need the network to fail under a client:
/// ``dropAll()`` resets every connection through it at once, as a phone losing its network would, while the
/// client and the server are both still running.
public final class TCPProxy: Sendable {
    private let channel: any Channel
    private let connections: Connections

    /// The port clients connect to.
    public var port: Int { channel.localAddress?.port ?? 0 }

    /// Starts a proxy to `127.0.0.1:targetPort`.
    public static func start(to targetPort: Int) async throws -> TCPProxy {
        let connections = Connections()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { inbound in
                inbound.setOption(.autoRead, value: false).flatMap {
                    ClientBootstrap(group: inbound.eventLoop).connect(host: "127.0.0.1", port: targetPort)
                }.flatMap { outbound in
                    connections.add(inbound, outbound)
                    return inbound.pipeline.addHandler(Relay(to: outbound)).flatMap {
                        outbound.pipeline.addHandler(Relay(to: inbound))
                    }.flatMap { inbound.setOption(.autoRead, value: true) }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TCPProxy(channel: channel, connections: connections)
    }

    private init(channel: any Channel, connections: Connections) {
        self.channel = channel
        self.connections = connections
    }

    /// Resets every connection through the proxy (both sides see the connection fail).
    public func dropAll() {
        for channel in connections.takeAll() {
            // Linger 0: a reset, not an orderly close.
            guard let provider = channel as? any SocketOptionProvider else { channel.close(promise: nil); continue }
            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Stops relaying on every connection through the proxy without closing any, as a broken NAT or a dead radio
    /// link would: both ends keep an open socket on which nothing arrives. New connections are relayed as usual.
    public func stallAll() {
        for channel in connections.takeAll() {
            connections.keepStalled(channel)
            channel.setOption(.autoRead, value: false).whenComplete { _ in }
        }
    }

    /// Stops accepting and drops every connection, the stalled ones too.
    public func stop() async {
        dropAll()
        for channel in connections.takeStalled() { try? await channel.close() }
        try? await channel.close()
    }

    private final class Connections: Sendable {
        private let channels = Locked<[any Channel]>([])

        func add(_ first: any Channel, _ second: any Channel) {
            channels.withLock { $0 += [first, second] }
        }

        func takeAll() -> [any Channel] {
            channels.withLock { channels in
                defer { channels = [] }
                return channels
            }
        }

        private let stalled = Locked<[any Channel]>([])

        func keepStalled(_ channel: any Channel) {
            stalled.withLock { $0.append(channel) }
        }

        func takeStalled() -> [any Channel] {
            stalled.withLock { stalled in
                defer { stalled = [] }
                return stalled
            }
        }
    }

    /// Copies what one side reads to the other side, and closes the other side when this one closes.
    private final class Relay: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        private let peer: any Channel

        init(to peer: any Channel) {
            self.peer = peer
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            peer.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            peer.close(promise: nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
