import NIOCore
import NIOHTTP1
import XMPPCore

/// What the web listener serves over plain HTTP requests, by path: the routing table in one place.
struct WebSite: Sendable {
    /// Whether this listener is the TLS one (its documents link `wss://`).
    let secure: Bool
    /// The WebSocket URL to advertise instead of one built from the request's host (`websocket_url`).
    let publicWebSocketURL: String?
    let webSocket: WebSocketEndpoint
    /// Set on a plain-HTTP connection from another host while TLS is required: the WebSocket is refused there.
    var webSocketNeedsTLS = false
    /// The HTTP upload service's files (XEP-0363), served under `/upload/`, when the module runs.
    let upload: UploadStore?
    /// XMPP over BOSH at `/http-bind` (XEP-0206), unless `bosh = false`.
    var bosh: BOSHEndpoint? = nil
    /// The Prometheus text of `/metrics`, when the server keeps metrics.
    let metrics: (@Sendable () -> ByteBuffer)?
    /// The bearer token `/metrics` asks for (`metrics_token`); without one, only loopback clients may scrape.
    let metricsToken: String?
    /// Whether this connection comes from this machine.
    var clientIsLoopback = false
    /// Whether the server is up and serving: false while it stops.
    let isHealthy: @Sendable () -> Bool
    /// The admin console at `/admin`, when it is on (`admin_console`).
    var admin: AdminConsole?
    /// The client's address (a trusted proxy's forwarded one is not taken here: the console's throttle counts peers).
    var clientAddress = "unknown"

    func response(to head: HTTPRequestHead) -> WebResponse {
        let path = WebSocketEndpoint.requestedPath(head.uri)
        guard head.method == .GET || head.method == .HEAD else {
            var response = WebResponse.text(.methodNotAllowed, "only GET and HEAD are served here")
            response.headers.add(name: "Allow", value: "GET, HEAD")
            return response
        }
        switch path {
        case WebSocketEndpoint.path where webSocketNeedsTLS:
            return .text(.forbidden, "XMPP over WebSocket needs TLS: use wss:// on the HTTPS port")
        case WebSocketEndpoint.path:
            let (status, reason) = webSocket.refusal(for: head) ?? (.badRequest, "the WebSocket upgrade was refused")
            return .text(status, reason)
        case "/.well-known/host-meta", "/.well-known/host-meta.json":
            guard let endpoint = HostMeta.endpoint(for: head, secure: secure, publicURL: publicWebSocketURL) else {
                return .text(.badRequest, "the request names no usable Host")
            }
            let bosh = self.bosh == nil ? nil : HostMeta.boshEndpoint(forWebSocket: endpoint)
            var response = path.hasSuffix(".json")
                ? WebResponse.document(HostMeta.json(endpoint: endpoint, bosh: bosh), contentType: "application/json")
                : WebResponse.document(HostMeta.xrd(endpoint: endpoint, bosh: bosh), contentType: "application/xrd+xml")
            // XEP-0156 §3: web clients on other origins read these documents.
            response.headers.add(name: "Access-Control-Allow-Origin", value: "*")
            return response
        case "/metrics":
            return metricsResponse(head)
        case _ where path == "/chat" || path.hasPrefix("/chat/"):
            return ChatPage.response(for: path) ?? .text(.notFound, "nothing is served at \(path)")
        case "/health":
            return isHealthy() ? .text(.ok, "ok") : .text(.serviceUnavailable, "stopping")
        default:
            return .text(.notFound, "nothing is served at \(path)")
        }
    }

    /// `/metrics` for a scraper that may see it: with `metrics_token`, one that sends it as a bearer token; without, one
    /// on this machine.
    private func metricsResponse(_ head: HTTPRequestHead) -> WebResponse {
        guard let metrics else { return .text(.notFound, "metrics are off") }
        // A request a proxy forwarded is not from this machine, whatever address the proxy connects from.
        let forwarded = ["forwarded", "x-forwarded-for", "x-real-ip"].contains { head.headers.contains(name: $0) }
        if let refusal = Self.metricsRefusal(authorization: head.headers.first(name: "authorization"), token: metricsToken,
                                             fromLoopback: clientIsLoopback && !forwarded) {
            return refusal
        }
        var response = WebResponse.text(.ok, "")
        response.headers.replaceOrAdd(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
        response.body = metrics()
        return response
    }

    /// Why a scrape is refused, or nil when it may have the metrics.
    static func metricsRefusal(authorization: String?, token: String?, fromLoopback: Bool) -> WebResponse? {
        if let token {
            guard let authorization, constantTimeEqual(Array(authorization.utf8), Array("Bearer \(token)".utf8)) else {
                var refusal = WebResponse.text(.unauthorized, "metrics need the bearer token (metrics_token)")
                refusal.headers.add(name: "WWW-Authenticate", value: "Bearer")
                return refusal
            }
            return nil
        }
        return fromLoopback ? nil : .text(.forbidden, "metrics are served to this machine only; set metrics_token to scrape from elsewhere")
    }
}
