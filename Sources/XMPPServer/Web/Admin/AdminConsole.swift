import Foundation
import NIOCore
import NIOHTTP1
import XMPPCore

/// `/admin`: the web admin console (server-rendered pages, forms that work without JavaScript) and its JSON API under
/// `/admin/api` (docs/ADMIN-API.md). Both call the ``ServerAdministration`` API, as `xmppctl` does.
///
/// Only the server's administrators (`admins`) log in, with their XMPP password; failures count against the c2s
/// login throttle. A login is an HttpOnly, SameSite=Strict cookie (Secure on the HTTPS listener); every form carries
/// the session's CSRF token, and the login form a token of its own (double submit). The API takes the console's
/// cookie (writes with the `X-CSRF-Token` header) or HTTP Basic credentials, and writes only JSON bodies.
struct AdminConsole: Sendable {
    let administration: ServerAdministration
    let sessions: AdminSessions
    let pages: AdminPages

    static let sessionCookie = "xmppd_admin"
    static let loginCookie = "xmppd_login"

    init(administration: ServerAdministration, maxSessions: Int, sessionTimeout: TimeInterval) {
        self.administration = administration
        sessions = AdminSessions(capacity: maxSessions, timeout: sessionTimeout)
        pages = AdminPages()
    }

    /// Whether a request target is the console's (`/admin` and below).
    static func answers(_ uri: String) -> Bool {
        let path = WebSocketEndpoint.requestedPath(uri)
        return path == "/admin" || path.hasPrefix("/admin/")
    }

    /// Answers one request under `/admin`.
    func respond(to request: AdminRequest) async -> WebResponse {
        var response: WebResponse
        if request.segments.count >= 2, request.segments[1] == "api" {
            response = await api(request)
        } else if request.segments.count >= 2, request.segments[1] == "static" {
            response = pages.staticFile(request.segments.dropFirst(2).joined(separator: "/"))
        } else {
            response = await console(request)
        }
        Self.harden(&response)
        return response
    }

    /// Headers every console response carries: no framing, no inline scripts, no referrer, no caching.
    static func harden(_ response: inout WebResponse) {
        response.headers.replaceOrAdd(name: "Content-Security-Policy",
                                      value: "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
        response.headers.replaceOrAdd(name: "X-Frame-Options", value: "DENY")
        response.headers.replaceOrAdd(name: "Referrer-Policy", value: "no-referrer")
        response.headers.replaceOrAdd(name: "Cache-Control", value: "no-store")
        response.headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path `/admin`, Secure on TLS; `maxAge` 0 deletes it.
    static func cookie(_ name: String, _ value: String, secure: Bool, maxAge: Int? = nil) -> String {
        var text = "\(name)=\(value); Path=/admin; HttpOnly; SameSite=Strict"
        if secure { text += "; Secure" }
        if let maxAge { text += "; Max-Age=\(maxAge)" }
        return text
    }

    /// A 303 to `location` (after a form's POST).
    static func redirect(_ location: String) -> WebResponse {
        var response = WebResponse.text(.seeOther, "see \(location)")
        response.headers.add(name: "Location", value: location)
        return response
    }

    /// Whether two tokens are equal, in constant time.
    static func tokensMatch(_ given: String?, _ expected: String) -> Bool {
        guard let given else { return false }
        return constantTimeEqual(Array(given.utf8), Array(expected.utf8))
    }
}
