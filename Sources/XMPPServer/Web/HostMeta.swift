import NIOHTTP1

/// XEP-0156 discovery documents: `/.well-known/host-meta` (XRD) and `/.well-known/host-meta.json` (JRD), which tell a
/// web client where the WebSocket endpoint (and the BOSH one, when served) of the domain is.
enum HostMeta {
    /// The link relation of an XMPP over WebSocket endpoint.
    static let webSocketRelation = "urn:xmpp:alt-connections:websocket"
    /// The link relation of an XMPP over BOSH endpoint.
    static let boshRelation = "urn:xmpp:alt-connections:xbosh"

    /// The XRD document linking `endpoint` and, when given, the BOSH endpoint `bosh`.
    static func xrd(endpoint: String, bosh: String? = nil) -> String {
        let boshLink = bosh.map { "\n  <Link rel=\"\(boshRelation)\" href=\"\($0)\"/>" } ?? ""
        return """
        <?xml version='1.0' encoding='utf-8'?>
        <XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>
          <Link rel="\(webSocketRelation)" href="\(endpoint)"/>\(boshLink)
        </XRD>

        """
    }

    /// The JSON document linking `endpoint` and, when given, the BOSH endpoint `bosh`.
    static func json(endpoint: String, bosh: String? = nil) -> String {
        let boshLink = bosh.map { #",{"rel":"\#(boshRelation)","href":"\#($0)"}"# } ?? ""
        return #"{"links":[{"rel":"\#(webSocketRelation)","href":"\#(endpoint)"}\#(boshLink)]}"#
    }

    /// The BOSH endpoint's URL for the WebSocket one: the same host, `http://` for `ws://` and `https://` for `wss://`,
    /// path `/http-bind` (with `websocket_url` set, its host: the proxy in front of both).
    static func boshEndpoint(forWebSocket endpoint: String) -> String? {
        let scheme: String
        if endpoint.hasPrefix("wss://") { scheme = "https" } else if endpoint.hasPrefix("ws://") { scheme = "http" } else { return nil }
        let rest = endpoint.drop { $0 != "/" }.dropFirst(2)
        let host = rest.prefix { $0 != "/" && $0 != "?" }
        guard !host.isEmpty else { return nil }
        return "\(scheme)://\(host)\(BOSHEndpoint.path)"
    }

    /// The endpoint's URL as a client of this request reaches it: `wss://` on the TLS listener, `ws://` on the
    /// plain one, at the host the request named, or at `publicURL` when the operator set one (behind a proxy).
    static func endpoint(for head: HTTPRequestHead, secure: Bool, publicURL: String?) -> String? {
        if let publicURL { return publicURL }
        guard let host = head.headers.first(name: "host"), isPlainHost(host) else { return nil }
        return "\(secure ? "wss" : "ws")://\(host)\(WebSocketEndpoint.path)"
    }

    /// Whether a `Host` header is a host name or address with an optional port, and nothing that could break out of
    /// the documents it is written into.
    static func isPlainHost(_ host: String) -> Bool {
        !host.isEmpty && host.utf8.count <= 255 && host.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || ".-:[]".utf8.contains(byte)
        }
    }
}
