import Foundation
import Testing
import XMPPCore
import XMPPServer
import XMPPServerKernel
import XMPPTestSupport

/// Real clients against a real server: slixmpp (PyPI) drives xmppd over loopback sockets through
/// registration, STARTTLS + SCRAM-SHA-256, subscriptions, presence, chat, offline storage, vCard, disco,
/// ping, blocking (XEP-0191), multi-user chat, password change, a bad password, malformed XML and direct TLS
/// (Interop/slixmpp_scenario.py); and through what mobile clients use (Interop/slixmpp_mobile_scenario.py).
@Suite struct SlixmppInteropTests {
    /// Runs `Interop/<name>.py` against a fresh server; its output and the `ok`/`FAIL` step lines, once it has passed.
    /// `extraArguments` follow the usual five (host, port, TLS port, domain, certificate); `domain` is the one the
    /// clients use, whose certificate they trust (a virtual host's, `DATA/DOMAIN.crt`, when it is not the first).
    static func run(_ name: String, storage: String, domain: String = "localhost", configure: (inout ServerConfiguration) -> Void = { _ in },
                    extraArguments: @Sendable (TestServer) -> [String] = { _ in [] }) async throws -> (output: String, steps: [Substring]) {
        let script = try #require(Bundle.module.url(forResource: name, withExtension: "py", subdirectory: "Interop"))
        // A place among the whole-server scenarios: a server, several clients and a Python process are heavy.
        let result: (status: Int32, output: String)? = try await TestGate.servers.run {
            let server = try await TestServer.start(storage: storage, configure: configure)
            let result = try? await runProcess(
                ["python3", "-u", script.path, "127.0.0.1", String(server.port), String(server.tlsPort), domain, "\(server.directory)/\(domain).crt"]
                    + extraArguments(server),
                timeout: 180)
            await server.stop()
            return result
        }
        let (status, output) = try #require(result)
        #expect(status == 0, "\(name) failed:\n\(output)")
        #expect(output.contains("scenario complete"), "\(output)")
        return (output, output.split(separator: "\n").filter { $0.hasPrefix("ok ") || $0.hasPrefix("FAIL ") })
    }

    @Test(arguments: ["sqlite", "memory", "postgresql"])
    func fullScenario(storage: String) async throws {
        let steps = try await Self.run("slixmpp_scenario", storage: storage).steps
        #expect(steps.count >= 18, "steps: \(steps)")
        #expect(steps.filter { $0.hasPrefix("ok blocking") }.count == 3, "steps: \(steps)")
    }

    /// slixmpp's XEP-0050 plugin runs xmppd's commands: the administration ones as an administrator, ping as anyone.
    @Test func adHocCommandsScenario() async throws {
        let steps = try await Self.run("slixmpp_adhoc_scenario", storage: "memory") { configuration in
            configuration.kernel.admins = [try! JID("adhoc-admin@localhost")]
        }.steps
        #expect(steps.count == 6, "steps: \(steps)")
    }

    /// slixmpp's XEP-0060, XEP-0163, XEP-0084, XEP-0153, XEP-0172, XEP-0049, XEP-0048 and XEP-0402 plugins.
    @Test(arguments: ["sqlite", "postgresql"])
    func pepScenario(storage: String) async throws {
        let steps = try await Self.run("slixmpp_pep_scenario", storage: storage).steps
        #expect(steps.count == 8, "steps: \(steps)")
    }

    /// slixmpp's XEP-0198, XEP-0280, XEP-0313 and XEP-0352 plugins.
    @Test(arguments: ["sqlite", "postgresql"])
    func mobileScenario(storage: String) async throws {
        let steps = try await Self.run("slixmpp_mobile_scenario", storage: storage).steps
        #expect(steps.count == 7, "steps: \(steps)")
    }
}
