import NIOCore
import NIOPosix
import NIOSSL
import XMPPCore
import XMPPTransport

/// One logged-in load-generator connection. Use it only on its ``eventLoop``, except ``close()``.
public final class BenchConnection: @unchecked Sendable {
    // @unchecked: `events` is touched only on the channel's event loop (every caller hops there first).
    /// The channel.
    public let channel: any Channel
    /// The JID the server bound.
    public let jid: JID
    let events: BenchStreamEvents

    init(channel: any Channel, jid: JID, events: BenchStreamEvents) {
        self.channel = channel
        self.jid = jid
        self.events = events
    }

    /// The connection's event loop.
    public var eventLoop: any EventLoop { channel.eventLoop }

    /// Ends the stream and closes the connection; a mobile connection first acknowledges what it handled (XEP-0198
    /// §4: otherwise the server treats those stanzas as undelivered and stores them offline).
    @discardableResult
    public func close() -> EventLoopFuture<Void> {
        let (channel, events) = (self.channel, self.events)
        return channel.eventLoop.flatSubmit {
            if let acknowledgement = events.finalAcknowledgement { channel.write(XMPPOutbound.element(acknowledgement), promise: nil) }
            channel.writeAndFlush(XMPPOutbound.close, promise: nil)
            return channel.close().recover { _ in }
        }
    }
}

/// Opens logged-in connections to a ``BenchTarget``: TCP, STARTTLS or direct TLS (certificates are not
/// verified: benchmarks run on loopback against self-signed servers), SASL, bind, initial presence.
public final class BenchConnector: Sendable {
    /// The target.
    public let target: BenchTarget
    /// The event loops connections run on.
    public let group: any EventLoopGroup
    private let tlsContext: NIOSSLContext
    private let keyCache = SCRAMKeyCache()

    /// Creates a connector on `group`.
    public init(target: BenchTarget, group: any EventLoopGroup) throws {
        self.target = target
        self.group = group
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        // The groups Debian's OpenSSL 3.0 offers (what Prosody and ejabberd accept), so every server does the
        // same key exchange; swift-nio-ssl would otherwise lead with the costlier hybrid X25519MLKEM768.
        tls.curves = [.x25519, .secp256r1]
        self.tlsContext = try NIOSSLContext(configuration: tls)
    }

    /// Logs account `index` in, on `eventLoop` if given.
    public func login(account index: Int, connection number: Int, on eventLoop: (any EventLoop)? = nil) -> EventLoopFuture<BenchConnection> {
        let loop = eventLoop ?? group.next()
        let configuration: ClientNegotiationStateMachine.Configuration
        do {
            configuration = .init(jid: try target.jid(index), password: target.password(index), tls: .required,
                                  mechanisms: [target.mechanism], scramKeyCache: keyCache)
        } catch {
            return loop.makeFailedFuture(error)
        }
        let directTLS = target.security == .direct
        let established = loop.makePromise(of: BenchConnection.self)
        let tlsContext = self.tlsContext
        let mobile = target.mobile
        let webSocket = target.security == .websocket ? (host: target.host, port: target.port, path: target.webSocketPath) : nil
        let plain = { var plain = configuration; plain.tls = .disabled; return plain }()
        var bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let webSocket {
                        return try XMPPWebSocketClientPipeline.configure(
                            channel, host: webSocket.host, port: webSocket.port, target: webSocket.path, domain: plain.jid.domainpart,
                            makeTLSHandler: nil,
                            makeStreamHandler: { decoder in
                                ClientStreamHandler(configuration: plain, decoder: decoder, directTLS: false, makeTLSHandler: nil,
                                                    usesChannelBinding: false,
                                                    delegate: BenchStreamEvents(established: established, mobile: mobile),
                                                    startsWhenAdded: true)
                            },
                            failed: { cause in established.fail(BenchWebSocketFailure(cause: cause)) })
                    }
                    let operations = channel.pipeline.syncOperations
                    if directTLS {
                        try operations.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: nil))
                    }
                    let decoder = XMPPStreamDecoder()
                    let handler = ClientStreamHandler(
                        configuration: configuration, decoder: decoder, directTLS: directTLS,
                        makeTLSHandler: { try NIOSSLClientHandler(context: tlsContext, serverHostname: nil) },
                        usesChannelBinding: false, delegate: BenchStreamEvents(established: established, mobile: mobile))
                    try operations.addHandlers([decoder, XMPPStreamEncoder(), handler])
                }
            }
        if target.sourceAddressCount > 0, let source = try? SocketAddress(ipAddress: "127.0.0.\(1 + number % target.sourceAddressCount)", port: 0) {
            bootstrap = bootstrap.bind(to: source)
        }
        return bootstrap.connect(host: target.host, port: target.port).flatMap { channel in
            established.futureResult.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }
    }
}

/// A WebSocket connection of the load generator that did not get past the HTTP upgrade.
struct BenchWebSocketFailure: Error, CustomStringConvertible {
    var cause: FailureCause
    var description: String { "WebSocket upgrade failed: \(cause)" }
}
