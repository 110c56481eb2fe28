import Testing
import XMPPServer
import XMPPTestSupport

/// XMPP over BOSH (XEP-0124, XEP-0206) at `/http-bind`: a raw BOSH client in Python (http.client, no BOSH library)
/// logs in, chats with a slixmpp client on c2s, and meets the binding's rules and timeouts
/// (Interop/bosh_scenario.py).
@Suite struct BOSHInteropTests {
    @Test func boshScenario() async throws {
        let (maxWait, inactivity) = (2, 6)
        let steps = try await SlixmppInteropTests.run("bosh_scenario", storage: "memory", configure: { configuration in
            configuration.webSocketOrigins = ["https://chat.example"]
            configuration.boshMaxWait = maxWait
            configuration.boshInactivity = inactivity
        }, extraArguments: { server in
            [String(server.httpPort ?? 0), String(maxWait), String(inactivity)]
        }).steps
        #expect(steps.count == 12, "steps: \(steps)")
        #expect(!steps.contains { $0.hasPrefix("FAIL") }, "steps: \(steps)")
    }

    /// BOSH sessions count among the c2s connections of their address (behind a trusted proxy, the forwarded one).
    @Test func sessionsPerAddress() async throws {
        let steps = try await SlixmppInteropTests.run("bosh_scenario", storage: "memory", configure: { configuration in
            configuration.limits.connectionsPerIP = 3
            configuration.trustedProxies = ["127.0.0.1"]
        }, extraArguments: { server in
            [String(server.httpPort ?? 0), "50", "60", "limit"]
        }).steps
        #expect(steps.count == 1, "steps: \(steps)")
        #expect(!steps.contains { $0.hasPrefix("FAIL") }, "steps: \(steps)")
    }

    /// What waits for a BOSH client is bounded: one that stops fetching is cut off like a c2s client that does not read.
    @Test func clientThatDoesNotFetch() async throws {
        let steps = try await SlixmppInteropTests.run("bosh_scenario", storage: "memory", configure: { configuration in
            configuration.limits.maxOutboundBytes = 65_536
            configuration.limits.writeStallSeconds = 2
        }, extraArguments: { server in
            [String(server.httpPort ?? 0), "2", "60", "slow"]
        }).steps
        #expect(steps.count == 1, "steps: \(steps)")
        #expect(!steps.contains { $0.hasPrefix("FAIL") }, "steps: \(steps)")
    }
}
