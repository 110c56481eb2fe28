import NIOCore
import NIOHTTP1

/// One HTTP request to `/http-bind` on the web listener, which takes the request's parts from
/// ``WebRequestHandler``: a POST carrying a `<body/>` (at most ``BOSHEndpoint/maxBodyBytes``, else 413 and the
/// connection closes), an OPTIONS preflight (CORS, for the origins `websocket_origins` allows), or a GET that
/// says what is here. Confined to the connection's event loop.
final class BOSHExchange {
    let endpoint: BOSHEndpoint
    let head: HTTPRequestHead
    /// Set on a plain-HTTP connection from another host while TLS is required: BOSH is refused there, as WebSocket is.
    let needsTLS: Bool
    private var body = ByteBuffer()
    private var finished = false

    init?(head: HTTPRequestHead, site: WebSite) {
        guard let endpoint = site.bosh, BOSHEndpoint.handles(head.uri) else { return nil }
        self.endpoint = endpoint
        self.head = head
        self.needsTLS = site.webSocketNeedsTLS
    }

    private var origin: String? { head.headers.first(name: "origin") }

    func begin(context: ChannelHandlerContext) {
        switch head.method {
        case .POST, .OPTIONS, .GET, .HEAD: break
        default:
            respond(status: .methodNotAllowed, text: "BOSH takes POST (and OPTIONS for CORS)", extra: [("Allow", "POST, OPTIONS, GET, HEAD")],
                    context: context)
        }
    }

    func body(_ chunk: ByteBuffer, context: ChannelHandlerContext) {
        guard !finished else { return }
        guard body.readableBytes + chunk.readableBytes <= endpoint.maxBodyBytes else {
            return respond(status: .payloadTooLarge, text: "BOSH request bodies are limited to \(endpoint.maxBodyBytes) bytes",
                           context: context, close: true)
        }
        var chunk = chunk
        body.writeBuffer(&chunk)
    }

    func end(context: ChannelHandlerContext) {
        guard !finished else { return }
        guard endpoint.allows(origin: origin) else {
            return respond(status: .forbidden, text: "origin \(origin ?? "") is not allowed", context: context)
        }
        switch head.method {
        case .OPTIONS:
            // The CORS preflight of a page's POST with Content-Type text/xml.
            respond(status: .ok, text: "", extra: [
                ("Access-Control-Allow-Methods", "POST, OPTIONS"), ("Access-Control-Allow-Headers", "Content-Type"),
                ("Access-Control-Max-Age", "86400"),
            ], context: context)
        case .GET, .HEAD:
            respond(status: .ok, text: "XMPP over BOSH (XEP-0124, XEP-0206): POST a <body/> here", context: context)
        default:
            guard !needsTLS else {
                return respond(status: .forbidden, text: "XMPP over BOSH needs TLS: use https:// on the HTTPS port", context: context)
            }
            let peer = context.channel.remoteAddress?.ipAddress ?? "unknown"
            let response = endpoint.respond(to: body, head: head, peer: peer, eventLoop: context.eventLoop)
            body = ByteBuffer()
            response.assumeIsolated().whenSuccess { [self] answer in
                write(status: .ok, body: answer, contentType: "text/xml; charset=utf-8", extra: [], context: context, close: false)
            }
        }
    }

    private func respond(status: HTTPResponseStatus, text: String, extra: [(String, String)] = [], context: ChannelHandlerContext,
                         close: Bool = false) {
        write(status: status, body: ByteBuffer(string: text.isEmpty ? "" : text + "\n"), contentType: "text/plain; charset=utf-8",
              extra: extra, context: context, close: close)
    }

    private func write(status: HTTPResponseStatus, body: ByteBuffer, contentType: String, extra: [(String, String)],
                       context: ChannelHandlerContext, close: Bool) {
        guard !finished else { return }
        finished = true
        var headers = HTTPHeaders([("Content-Type", contentType), ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")])
        if endpoint.allows(origin: origin) { headers.add(contentsOf: BOSHEndpoint.corsHeaders(origin: origin)) }
        headers.add(contentsOf: extra)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        let close = close || !head.isKeepAlive
        if close { headers.add(name: "Connection", value: "close") }
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD { context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil) }
        let channel = context.channel
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
            if close { channel.close(promise: nil) }
        }
    }
}
