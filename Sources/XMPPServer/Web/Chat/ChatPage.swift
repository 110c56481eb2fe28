import NIOHTTP1

/// `/chat`: a small web chat client served by xmppd — plain HTML, CSS and JavaScript of our own, no build step, no
/// third-party code — that logs in over XMPP over WebSocket (RFC 7395) at `/xmpp-websocket` on the same origin with
/// SCRAM-SHA-256 (WebCrypto) or PLAIN, shows the roster with presence, chats one to one and joins rooms.
enum ChatPage {
    /// The response for a path under `/chat`, or nil when the path is not the page's.
    static func response(for path: Substring) -> WebResponse? {
        var response: WebResponse
        switch path {
        case "/chat", "/chat/": response = .document(ChatPageFiles.html, contentType: "text/html; charset=utf-8")
        case "/chat/chat.js": response = .document(ChatPageFiles.script, contentType: "text/javascript; charset=utf-8")
        case "/chat/chat.css": response = .document(ChatPageFiles.stylesheet, contentType: "text/css; charset=utf-8")
        default: return nil
        }
        // Only our own script, and a WebSocket back to this origin.
        response.headers.replaceOrAdd(name: "Content-Security-Policy",
                                      value: "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'")
        response.headers.replaceOrAdd(name: "X-Frame-Options", value: "DENY")
        response.headers.replaceOrAdd(name: "Referrer-Policy", value: "no-referrer")
        return response
    }
}
