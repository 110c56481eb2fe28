import Testing
import XMPPServer
import XMPPTestSupport

/// The SOCKS5 bytestreams proxy (XEP-0065) with slixmpp's xep_0065 plugin on both ends of a transfer, and raw SOCKS5
/// connections for the refusals (Interop/slixmpp_proxy_scenario.py).
@Suite struct ProxyInteropTests {
    @Test func proxyScenario() async throws {
        let steps = try await SlixmppInteropTests.run("slixmpp_proxy_scenario", storage: "memory").steps
        #expect(steps.count == 4, "steps: \(steps)")
        #expect(!steps.contains { $0.hasPrefix("FAIL") }, "steps: \(steps)")
    }
}
