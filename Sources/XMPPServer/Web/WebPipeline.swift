import NIOCore
import NIOHTTP1
import NIOSSL

/// Builds the pipeline of one web connection:
/// `[TLS] → read-rate limiter → HTTP decoder/encoder → [WebSocket upgrade] → idle timeout → request handler`.
enum WebPipeline {
    /// Seconds an HTTP connection may sit without a request before it is closed.
    static let idleSeconds: Int64 = 60

    static func configure(_ channel: any Channel, tls: NIOSSLContext?, site: WebSite, webSocket: WebSocketEndpoint?,
                          limits: ConnectionLimits, metrics: ServerMetrics?) throws {
        let operations = channel.pipeline.syncOperations
        if let tls { try operations.addHandler(NIOSSLServerHandler(context: tls)) }
        let gate = ReadGate()
        try operations.addHandler(ReadRateLimiter(bytesPerSecond: limits.readBytesPerSecond, burst: limits.readBurstBytes, gate: gate,
                                                  metrics: metrics))
        let upgrade: NIOHTTPServerUpgradeConfiguration? = webSocket.map { endpoint in
            (upgraders: [endpoint.upgrader()], completionHandler: { context in
                // The HTTP exchange is over: the XMPP session keeps its own timers from here.
                let operations = context.pipeline.syncOperations
                if let handler = try? operations.handler(type: IdleStateHandler.self) { _ = operations.removeHandler(handler) }
                if let handler = try? operations.handler(type: IdleConnectionCloser.self) { _ = operations.removeHandler(handler) }
                if let handler = try? operations.handler(type: WebRequestHandler.self) { _ = operations.removeHandler(handler) }
            })
        }
        try operations.configureHTTPServerPipeline(withServerUpgrade: upgrade, withErrorHandling: true)
        try operations.addHandlers([IdleStateHandler(allTimeout: .seconds(idleSeconds)), IdleConnectionCloser(),
                                    WebRequestHandler(site: site, gate: gate)])
    }
}

/// Closes an HTTP connection that the ``IdleStateHandler`` before it reports idle.
final class IdleConnectionCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
