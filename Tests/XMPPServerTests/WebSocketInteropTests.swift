import Testing
import XMPPServer
import XMPPTestSupport

/// XMPP over WebSocket (RFC 7395) and its discovery (XEP-0156) with a third-party WebSocket client (the `websockets`
/// library from PyPI) speaking the framed protocol, next to a slixmpp client on c2s (Interop/websocket_scenario.py).
@Suite struct WebSocketInteropTests {
    @Test func webSocketScenario() async throws {
        let steps = try await SlixmppInteropTests.run("websocket_scenario", storage: "memory", configure: { configuration in
            configuration.webSocketOrigins = ["https://chat.example"]
        }, extraArguments: { server in
            [String(server.httpPort ?? 0)]
        }).steps
        #expect(steps.count == 18, "steps: \(steps)")
        #expect(!steps.contains { $0.hasPrefix("FAIL") }, "steps: \(steps)")
    }
}
