import Foundation
import Testing
import XMPPServer
import XMPPTestSupport

/// A real gateway on xmppd's component port (XEP-0114): biboumi, Debian's XMPP ↔ IRC gateway, connects to ngircd on
/// loopback; a slixmpp user of xmppd chats with a plain IRC client (Interop/slixmpp_gateway_scenario.py).
@Suite struct GatewayInteropTests {
    @Test func biboumiToIRC() async throws {
        let secret = "gw-" + UUID().uuidString
        let result: (status: Int32, output: String, log: String)? = try await TestGate.servers.run {
            let server = try await TestServer.start(storage: "memory") { configuration in
                configuration.components = ["irc.localhost": secret]
                configuration.componentPort = 0
                configuration.componentInterfaces = ["127.0.0.1"]
            }
            let componentPort = try #require(server.componentPort)
            let result = try await IRCGateway.with(domain: "irc.localhost", secret: secret, componentPort: componentPort) { gateway in
                let script = try #require(Bundle.module.url(forResource: "slixmpp_gateway_scenario", withExtension: "py", subdirectory: "Interop"))
                let run = try await runProcess(["python3", "-u", script.path, "127.0.0.1", String(server.port), String(server.tlsPort),
                                                "localhost", server.certificatePath, "irc.localhost", String(IRCGateway.ircPort)],
                                               timeout: 180)
                return (run.status, run.output, gateway.log)
            }
            await server.stop()
            return result
        }
        let (status, output, log) = try #require(result)
        #expect(status == 0, "gateway scenario failed:\n\(output)\nbiboumi's log:\n\(log.suffix(3000))")
        #expect(output.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count == 5, "\(output)")
    }
}
