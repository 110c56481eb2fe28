import Testing
import XMPPServer
import XMPPTestSupport

/// XMPP over WebSocket (RFC 7395) and its discovery (XEP-0156) with a third-party WebSocket client (the `websockets`
/// library from PyPI) speaking the framed protocol, next to a slixmpp client on c2s (Interop/websocket_scenario.py).
@Suite struct WebSocketInteropTests {
    /// With `virtualHost`, `localhost` is the second domain of a server whose first is `first.test`: the WebSocket
    /// `<open to=.../>` and the c2s stream header pick it, and its certificate is the one the clients trust.
    @Test(arguments: [false, true])
    func webSocketScenario(virtualHost: Bool) async throws {
        let steps = try await SlixmppInteropTests.run("websocket_scenario", storage: "memory", configure: { configuration in
            configuration.webSocketOrigins = ["https://chat.example"]
            if virtualHost { try? ConfigFile.set("domains", to: "first.test, localhost", in: &configuration) }
        }, extraArguments: { server in
            [String(server.httpPort ?? 0)]
        }).steps
        #expect(steps.count == 18, "steps: \(steps)")
        #expect(!steps.contains { $0.hasPrefix("FAIL") }, "steps: \(steps)")
    }
}
