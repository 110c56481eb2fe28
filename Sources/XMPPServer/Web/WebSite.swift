import NIOHTTP1

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
    /// Whether the server is up and serving: false while it stops.
    let isHealthy: @Sendable () -> Bool

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
            var response = path.hasSuffix(".json")
                ? WebResponse.document(HostMeta.json(endpoint: endpoint), contentType: "application/json")
                : WebResponse.document(HostMeta.xrd(endpoint: endpoint), contentType: "application/xrd+xml")
            // XEP-0156 §3: web clients on other origins read these documents.
            response.headers.add(name: "Access-Control-Allow-Origin", value: "*")
            return response
        case "/health":
            return isHealthy() ? .text(.ok, "ok") : .text(.serviceUnavailable, "stopping")
        default:
            return .text(.notFound, "nothing is served at \(path)")
        }
    }
}
