import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS
import NIOWebSocket
import XMPPCore

/// The pipeline of a client connection over XMPP over WebSocket (RFC 7395), for the client library and the load
/// generator alike: `[TLS for wss://] → HTTP client with the WebSocket upgrade → (after 101) frame aggregation →
/// framing → stream handler`. The stream handler is the one TCP connections use; it starts negotiating once the
/// upgrade is done (``ClientStreamHandler``'s `startsWhenAdded`).
public enum XMPPWebSocketClientPipeline {
    /// Largest frame (one stanza) accepted from the server.
    public static let maxFrameBytes = 1 << 20

    /// Sets up a connected-to-be `channel` to `host`:`port`, upgrading `target` (path and query); with
    /// `makeTLSHandler`, TLS first (`wss://`). `failed` is called once if the upgrade does not happen (an HTTP error,
    /// a closed connection, TLS), since no stream handler is there yet to report it; `domain` names the certificate's
    /// expected identity in TLS failures.
    public static func configure(_ channel: any Channel, host: String, port: Int, target: String, domain: String,
                                 makeTLSHandler: (@Sendable () throws -> NIOSSLClientHandler)?,
                                 makeStreamHandler: @escaping @Sendable (any StreamRestarting) -> ClientStreamHandler,
                                 failed: @escaping @Sendable (FailureCause) -> Void) throws {
        let operations = channel.pipeline.syncOperations
        if let makeTLSHandler { try operations.addHandler(try makeTLSHandler()) }
        let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: maxFrameBytes, automaticErrorHandling: true) { channel, response in
            channel.eventLoop.makeCompletedFuture {
                guard response.headers[canonicalForm: "sec-websocket-protocol"].contains(where: { $0 == XMPPFraming.subprotocol }) else {
                    throw WebSocketUpgradeError.noXMPPSubprotocol
                }
                let decoder = XMPPWebSocketDecoder(requiresMaskedFrames: false)
                try channel.pipeline.syncOperations.addHandlers([
                    NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64,
                                                maxAccumulatedFrameSize: maxFrameBytes),
                    decoder,
                    XMPPWebSocketEncoder(masksFrames: true),
                    makeStreamHandler(decoder),
                ])
            }
        }
        let request = WebSocketUpgradeRequester(host: host, port: port, secure: makeTLSHandler != nil,
                                                target: target, domain: domain, failed: failed)
        try operations.addHTTPClientHandlers(withClientUpgrade: (upgraders: [upgrader], completionHandler: { context in
            if let handler = try? context.pipeline.syncOperations.handler(type: WebSocketUpgradeRequester.self) {
                handler.upgraded = true
                _ = context.pipeline.syncOperations.removeHandler(handler)
            }
        }))
        try operations.addHandler(request)
    }
}

/// Why an upgrade failed on our side.
public enum WebSocketUpgradeError: Error, CustomStringConvertible {
    /// The server's 101 did not name the `xmpp` subprotocol.
    case noXMPPSubprotocol

    public var description: String { "the server did not accept the xmpp WebSocket subprotocol" }
}

/// Sends the upgrade request once the connection (and TLS) is up, and reports a failed upgrade.
final class WebSocketUpgradeRequester: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let host: String
    private let port: Int
    private let secure: Bool
    private let target: String
    private let domain: String
    private let failed: @Sendable (FailureCause) -> Void
    private var reported = false
    var upgraded = false

    init(host: String, port: Int, secure: Bool, target: String, domain: String, failed: @escaping @Sendable (FailureCause) -> Void) {
        self.domain = domain
        self.host = host
        self.port = port
        self.secure = secure
        self.target = target
        self.failed = failed
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive && !secure { sendRequest(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if !secure { sendRequest(context: context) }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent { sendRequest(context: context) }
        context.fireUserInboundEventTriggered(event)
    }

    /// A response that reaches this handler is one the upgrader refused (not 101).
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            report(FailureCause(.other, "the server answered the WebSocket upgrade with HTTP \(head.status.code) \(head.status.reasonPhrase)"))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            report(FailureCause.tls(error, domain: domain))
        } else {
            report(FailureCause(.other, "the WebSocket upgrade failed", underlying: "\(error)"))
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !upgraded { report(FailureCause(.other, "the connection closed before the WebSocket upgrade")) }
        context.fireChannelInactive()
    }

    private func report(_ cause: FailureCause) {
        guard !reported, !upgraded else { return }
        reported = true
        failed(cause)
    }

    private func sendRequest(context: ChannelHandlerContext) {
        let defaultPort = secure ? 443 : 80
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: port == defaultPort ? host : "\(host):\(port)")
        headers.add(name: "Sec-WebSocket-Protocol", value: XMPPFraming.subprotocol)
        headers.add(name: "Content-Length", value: "0")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
