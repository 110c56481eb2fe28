import Foundation
import Testing
import XMPPServer
import XMPPTestSupport

/// Two domains in one xmppd (`domains = alpha.test, beta.test`): slixmpp clients of each, on the same port, run the
/// whole federation scenario (Interop/slixmpp_federation_scenario.py with SAME_SERVER=1) between them; each domain's
/// certificate is the one a client of that domain verifies, its accounts are its own, and xmppctl finds them.
@Suite struct VirtualHostInteropTests {
    @Test func twoDomainsInOneServer() async throws {
        let result: (status: Int32, output: String, checks: [String])? = try await TestGate.servers.run {
            let (closedPort, stallPort) = (try LoopbackPort.free(), try LoopbackPort.free())
            let server = try await TestServer.start(storage: "sqlite") { configuration in
                try? ConfigFile.set("domains", to: "alpha.test, beta.test", in: &configuration)
                try? ConfigFile.set("s2s_setup_seconds", to: "3", in: &configuration)
                try? ConfigFile.set("s2s_hosts", to: "nowhere.test=127.0.0.1:\(closedPort), stall.test=127.0.0.1:\(stallPort)",
                                    in: &configuration)
            }
            let s2sPort = try #require(server.server.federation.boundPorts.first)
            let betaCertificate = "\(server.directory)/beta.test.crt"
            let script = try #require(Bundle.module.url(forResource: "slixmpp_federation_scenario", withExtension: "py", subdirectory: "Interop"))
            // Beta's clients trust only beta's certificate: STARTTLS on the shared port must present it for beta.test.
            let scenario = try await runProcess(["env", "SAME_SERVER=1", "python3", "-u", script.path, "127.0.0.1",
                                                 String(server.port), String(server.tlsPort), "alpha.test", server.certificatePath,
                                                 String(server.port), "beta.test", betaCertificate, String(s2sPort), "nowhere.test",
                                                 String(stallPort)],
                                                timeout: 240)
            var checks: [String] = []
            // The domains reach each other inside the process: no server-to-server stream between them.
            let remote = try await runProcess([builtExecutable("xmppctl"), "remote-domains", "--data-dir", server.directory], timeout: 30)
            if remote.output.contains("alpha.test") || remote.output.contains("beta.test") { checks.append("remote-domains: \(remote.output)") }
            // Each domain's accounts are in its own database, where xmppctl finds them by --domain.
            let config = "\(server.directory)/xmppd.conf"
            try "domains = alpha.test, beta.test\ndata_dir = \(server.directory)\n".write(toFile: config, atomically: true, encoding: .utf8)
            let alphaUsers = try await runProcess([builtExecutable("xmppctl"), "users", "--config", config], timeout: 30).output
            let betaUsers = try await runProcess([builtExecutable("xmppctl"), "users", "--config", config, "--domain", "beta.test"], timeout: 30).output
            if !alphaUsers.contains("alice-") || alphaUsers.contains("bob-") { checks.append("alpha's users: \(alphaUsers)") }
            if !betaUsers.contains("bob-") || betaUsers.contains("alice-") { checks.append("beta's users: \(betaUsers)") }
            await server.stop()
            return (scenario.status, scenario.output, checks)
        }
        let (status, output, checks) = try #require(result)
        #expect(status == 0, "virtual host scenario failed:\n\(output)")
        #expect(output.contains("scenario complete"), "\(output)")
        let steps = output.split(separator: "\n").filter { $0.hasPrefix("ok ") }
        #expect(steps.count == 8, "steps: \(steps)")
        #expect(checks.isEmpty, "\(checks)")
    }
}
