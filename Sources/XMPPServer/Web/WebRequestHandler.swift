import NIOCore
import NIOHTTP1

/// Answers the plain HTTP requests of the web listener (everything that is not a WebSocket upgrade): the XEP-0156
/// discovery documents, `/health` for load balancers, the admin console, and clear errors for the rest. Only the
/// admin console reads request bodies (its forms and JSON); a request that sends more than ``maxBodyBytes`` is
/// answered 413 and the connection closed.
final class WebRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The largest request body read (and ignored) before the request is refused.
    static let maxBodyBytes = 16_384

    let site: WebSite
    private let gate: ReadGate
    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    private var refused = false
    /// The body of a request the admin console answers.
    private var body: ByteBuffer?
    /// The request under `/upload/` in progress, which takes the request's parts itself.
    private var upload: UploadExchange?
    /// The request to `/http-bind` in progress (BOSH), which takes the request's parts itself.
    private var bosh: BOSHExchange?

    init(site: WebSite, gate: ReadGate) {
        self.site = site
        self.gate = gate
    }

    func channelInactive(context: ChannelHandlerContext) {
        upload?.connectionClosed()
        upload = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .head(let request) = part, let store = site.upload, request.uri.hasPrefix("/upload/"),
           let exchange = UploadExchange(head: request, store: store, gate: gate) {
            upload = exchange
            return exchange.begin(context: context)
        }
        if case .head(let request) = part, let exchange = BOSHExchange(head: request, site: site) {
            bosh = exchange
            return exchange.begin(context: context)
        }
        if let bosh {
            switch part {
            case .head: self.bosh = nil
            case .body(let chunk): return bosh.body(chunk, context: context)
            case .end: return bosh.end(context: context)
            }
        }
        if let upload {
            switch part {
            case .head: self.upload = nil  // a new request; the finished exchange is let go
            case .body(let chunk): return upload.body(chunk, context: context)
            case .end: return upload.end(context: context)
            }
        }
        switch part {
        case .head(let request):
            head = request
            bodyBytes = 0
            refused = false
            body = site.admin != nil && AdminConsole.answers(request.uri) ? context.channel.allocator.buffer(capacity: 0) : nil
        case .body(var chunk):
            guard !refused, let head else { return }
            bodyBytes += chunk.readableBytes
            if bodyBytes <= Self.maxBodyBytes { body?.writeBuffer(&chunk) }
            if bodyBytes > Self.maxBodyBytes {
                refused = true
                respond(WebResponse.text(.payloadTooLarge, "request bodies are limited to \(Self.maxBodyBytes) bytes"),
                        to: head, close: true, context: context)
            }
        case .end:
            guard !refused, let head else { return }
            self.head = nil
            if let body, let admin = site.admin {
                self.body = nil
                return respondToAdmin(admin, head: head, body: body, context: context)
            }
            respond(site.response(to: head), to: head, close: !head.isKeepAlive, context: context)
        }
    }

    /// The console's answer comes later (it reads storage); the HTTP pipelining handler holds further requests of this
    /// connection until it is written.
    private func respondToAdmin(_ admin: AdminConsole, head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        guard !site.webSocketNeedsTLS else {
            return respond(.text(.forbidden, "the admin console needs TLS: use https:// on the HTTPS port"), to: head, close: !head.isKeepAlive,
                           context: context)
        }
        // Behind a trusted proxy: the client's address as the proxy saw it (for the throttle), and TLS if the proxy had it.
        let fromProxy = site.webSocket.trustedProxies.contains(site.clientAddress)
        let address = WebSocketEndpoint.clientAddress(peer: site.clientAddress, headers: head.headers, trustedProxies: site.webSocket.trustedProxies)
        let proxiedTLS = fromProxy && head.headers.first(name: "x-forwarded-proto")?.lowercased() == "https"
        let request = AdminRequest(head: head, body: body, clientAddress: address, isSecure: site.secure || proxiedTLS)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.makeFutureWithTask { await admin.respond(to: request) }.whenSuccess { response in
            let (handler, context) = bound.value
            handler.respond(response, to: head, close: !head.isKeepAlive, context: context)
        }
    }

    private func respond(_ response: WebResponse, to request: HTTPRequestHead, close: Bool, context: ChannelHandlerContext) {
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        if close { headers.replaceOrAdd(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: request.version, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if request.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil) }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// One HTTP response: status, headers and a body held in memory (the pages served are small).
struct WebResponse {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer

    /// A response of `contentType`.
    static func document(_ text: String, status: HTTPResponseStatus = .ok, contentType: String) -> WebResponse {
        var headers = HTTPHeaders([("Content-Type", contentType)])
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        return WebResponse(status: status, headers: headers, body: ByteBuffer(string: text))
    }

    /// A plain-text response, for errors and `/health`.
    static func text(_ status: HTTPResponseStatus, _ text: String) -> WebResponse {
        document(text + "\n", status: status, contentType: "text/plain; charset=utf-8")
    }
}
