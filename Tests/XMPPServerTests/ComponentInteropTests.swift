import Testing
import XMPPServer
import XMPPTestSupport

/// External components (XEP-0114) with slixmpp's ComponentXMPP on xmppd's component port, and raw streams for the
/// refusals (Interop/slixmpp_component_scenario.py).
@Suite struct ComponentInteropTests {
    @Test func componentScenario() async throws {
        let steps = try await SlixmppInteropTests.run("slixmpp_component_scenario", storage: "memory", configure: { configuration in
            configuration.components = ["echo.localhost": "s3cret"]
            configuration.componentPort = 0
            configuration.componentInterfaces = ["127.0.0.1"]
        }, extraArguments: { server in [String(server.componentPort ?? 0)] }).steps
        #expect(steps.count == 6, "steps: \(steps)")
        #expect(!steps.contains { $0.hasPrefix("FAIL") }, "steps: \(steps)")
    }
}
