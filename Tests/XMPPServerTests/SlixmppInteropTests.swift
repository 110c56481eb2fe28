import Foundation
import Testing
import XMPPServer
import XMPPTestSupport

/// Real clients against a real server: slixmpp (PyPI) drives xmppd over loopback sockets through
/// registration, STARTTLS + SCRAM-SHA-256, subscriptions, presence, chat, offline storage, vCard, disco,
/// ping, blocking (XEP-0191), multi-user chat, password change, a bad password, malformed XML and direct TLS
/// (Interop/slixmpp_scenario.py).
@Suite struct SlixmppInteropTests {
    @Test(arguments: ["sqlite", "memory"])
    func fullScenario(storage: String) async throws {
        let script = try #require(Bundle.module.url(forResource: "slixmpp_scenario", withExtension: "py", subdirectory: "Interop"))
        let server = try await TestServer.start(storage: storage)
        let result = try? await runProcess(
            ["python3", "-u", script.path, "127.0.0.1", String(server.port), String(server.tlsPort), "localhost", server.certificatePath],
            timeout: 120)
        await server.stop()
        let (status, output) = try #require(result)
        let steps = output.split(separator: "\n").filter { $0.hasPrefix("ok ") || $0.hasPrefix("FAIL ") }
        #expect(status == 0, "slixmpp scenario failed:\n\(output)")
        #expect(output.contains("scenario complete"), "\(output)")
        #expect(steps.count >= 18, "steps: \(steps)")
        #expect(steps.filter { $0.hasPrefix("ok blocking") }.count == 3, "steps: \(steps)")
    }

    /// slixmpp's XEP-0198, XEP-0280, XEP-0313 and XEP-0352 plugins (Interop/slixmpp_mobile_scenario.py).
    @Test func mobileScenario() async throws {
        let script = try #require(Bundle.module.url(forResource: "slixmpp_mobile_scenario", withExtension: "py", subdirectory: "Interop"))
        let server = try await TestServer.start(storage: "sqlite")
        let result = try? await runProcess(
            ["python3", "-u", script.path, "127.0.0.1", String(server.port), String(server.tlsPort), "localhost", server.certificatePath],
            timeout: 120)
        await server.stop()
        let (status, output) = try #require(result)
        let steps = output.split(separator: "\n").filter { $0.hasPrefix("ok ") || $0.hasPrefix("FAIL ") }
        #expect(status == 0, "slixmpp mobile scenario failed:\n\(output)")
        #expect(output.contains("scenario complete"), "\(output)")
        #expect(steps.count == 7, "steps: \(steps)")
    }
}
