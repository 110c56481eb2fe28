import Testing
import XMPPServer
import XMPPTestSupport

/// In-band bytestreams (XEP-0047) through xmppd with slixmpp's xep_0047 plugin: 10 MB within the sender's read rate,
/// while two other users keep chatting (Interop/slixmpp_ibb_scenario.py).
@Suite struct IBBInteropTests {
    @Test func tenMegabytesInBandWithoutStarvingOthers() async throws {
        let steps = try await SlixmppInteropTests.run("slixmpp_ibb_scenario", storage: "memory") { configuration in
            configuration.limits.readBytesPerSecond = 2_097_152
        }.steps
        #expect(steps.count == 3, "steps: \(steps)")
        #expect(!steps.contains { $0.hasPrefix("FAIL") }, "steps: \(steps)")
    }
}
