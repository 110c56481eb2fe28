import Foundation
import Testing
import XMPPServer
import XMPPServerKernel
import XMPPTestSupport

/// `idle_timeout` closes a client that sends nothing, but whitespace keepalives (RFC 6120 §4.6.1) keep a stream
/// open, though they make no stanza.
@Suite struct IdleTimeoutTests {
    @Test func whitespaceKeepsAStreamAliveAndSilenceDoesNot() async throws {
        let server = try await TestServer.start(storage: "memory") { configuration in
            configuration.requireTLS = false
            // Long enough that a login on a loaded two-core machine never looks idle.
            configuration.limits.idleTimeoutSeconds = 6
        }
        defer { Task { await server.stop() } }
        let kernel = server.server.kernel
        for user in ["talkative", "silent"] { #expect(try await kernel.createAccount(user, password: "pw")) }
        let (talkative, _, talkativeJID) = try await SlowReaderTests.login(port: server.port, user: "talkative", password: "pw", receiveBuffer: 65_536)
        let (silent, _, silentJID) = try await SlowReaderTests.login(port: server.port, user: "silent", password: "pw", receiveBuffer: 65_536)
        for _ in 0..<20 {
            _ = try await blocking { talkative.send(" ") }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(kernel.registry.entry(talkativeJID) != nil, "ten seconds of whitespace keepalives, and closed")
        #expect(kernel.registry.entry(silentJID) == nil, "ten seconds of silence, and still open")
        _ = silent
    }
}
