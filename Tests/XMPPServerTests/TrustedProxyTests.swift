import NIOHTTP1
import Testing
@testable import XMPPServer

/// Behind a trusted reverse proxy, a WebSocket client counts under the address the proxy saw (the last one it added
/// to X-Forwarded-For); from anyone else the header is ignored.
@Suite struct TrustedProxyTests {
    @Test func forwardedAddressOnlyFromATrustedProxy() {
        let trusted = ["127.0.0.1"]
        let headers = HTTPHeaders([("X-Forwarded-For", "203.0.113.9, 198.51.100.7")])
        #expect(WebSocketEndpoint.clientAddress(peer: "127.0.0.1", headers: headers, trustedProxies: trusted) == "198.51.100.7")
        #expect(WebSocketEndpoint.clientAddress(peer: "192.0.2.1", headers: headers, trustedProxies: trusted) == "192.0.2.1",
                "an untrusted peer's header is its own say-so")
        #expect(WebSocketEndpoint.clientAddress(peer: "127.0.0.1", headers: HTTPHeaders(), trustedProxies: trusted) == "127.0.0.1")
        #expect(WebSocketEndpoint.clientAddress(peer: "127.0.0.1", headers: HTTPHeaders([("X-Forwarded-For", "not-an-ip")]),
                                                trustedProxies: trusted) == "127.0.0.1")
        #expect(WebSocketEndpoint.clientAddress(peer: "127.0.0.1", headers: HTTPHeaders([("X-Forwarded-For", "2001:db8::1")]),
                                                trustedProxies: trusted) == "2001:db8::1")
    }

    @Test func configListsAddresses() throws {
        var configuration = ServerConfiguration()
        try ConfigFile.set("trusted_proxies", to: "127.0.0.1, ::1", in: &configuration)
        #expect(configuration.trustedProxies == ["127.0.0.1", "::1"])
        #expect(throws: ConfigFile.ParseError.self) { try ConfigFile.set("trusted_proxies", to: "proxy.example.com", in: &configuration) }
    }
}
