import Foundation
import Testing
import XMPPClient
import XMPPCore
import XMPPServer
import XMPPTestSupport

/// The client over XMPP over WebSocket (RFC 7395, `.webSocket(URL)`), against xmppd's web listener and Prosody's
/// mod_websocket: the same negotiation, modules and errors as over TCP.
@Suite("XMPP over WebSocket")
struct WebSocketTransportTests {
    @Test("a client on a WebSocket registers, logs in, chats with a TCP client and keeps its roster", arguments: ServerPeer.allCases)
    func chatOverWebSocket(peer: ServerPeer) async throws {
        try await peer.run { fixture in
            let url = try #require(fixture.webSocketURL)
            var configuration = try fixture.configuration("wsalice")
            configuration.server = .webSocket(url)
            // A plain ws:// endpoint on loopback: both servers count it as secure (a TLS-terminating proxy's place).
            configuration.tls = .disabled
            let alice = XMPPClient(configuration: configuration)
            let bob = try fixture.client("wsbob")
            let aliceChat = alice.add(ChatModule()), bobChat = bob.add(ChatModule())
            let aliceRoster = alice.add(RosterModule())
            try await alice.connect(registering: true)
            try await bob.connect(registering: true)
            #expect(alice.jid?.bare == (try fixture.jid("wsalice")))

            let toAlice = aliceChat.messages
            try await bobChat.send("over TCP", to: try fixture.jid("wsalice"))
            #expect(await first(toAlice, timeout: .seconds(10)) { $0.body == "over TCP" } != nil)
            let toBob = bobChat.messages
            try await aliceChat.send("over WebSocket", to: try fixture.jid("wsbob"))
            #expect(await first(toBob, timeout: .seconds(10)) { $0.body == "over WebSocket" } != nil)

            try await aliceRoster.add(try fixture.jid("wsbob"), name: "Bob")
            #expect(await eventually(timeout: .seconds(10)) { aliceRoster.item(for: try! fixture.jid("wsbob"))?.name == "Bob" })

            await alice.disconnect()
            guard case .disconnected(nil) = alice.connectionState else {
                Issue.record("a clean close over WebSocket: \(alice.connectionState)")
                return
            }
            // Logging in again over the WebSocket finds the roster.
            let again = XMPPClient(configuration: configuration)
            let roster = again.add(RosterModule())
            try await again.connect()
            #expect(roster.item(for: try fixture.jid("wsbob"))?.name == "Bob")
            await again.disconnect()
            await bob.disconnect()
        }
    }

    @Test("a wrong password and a wrong path fail clearly over WebSocket", arguments: ServerPeer.allCases)
    func failures(peer: ServerPeer) async throws {
        try await peer.run { fixture in
            let url = try #require(fixture.webSocketURL)
            let owner = try fixture.client("wscarol")
            try await owner.connect(registering: true)
            await owner.disconnect()

            var configuration = try fixture.configuration("wscarol", password: "not-the-password")
            configuration.server = .webSocket(url)
            configuration.tls = .disabled
            await #expect {
                try await XMPPClient(configuration: configuration).connect()
            } throws: { error in
                guard case XMPPClientError.authenticationFailed = error else { return false }
                return true
            }

            configuration = try fixture.configuration("wscarol")
            configuration.server = .webSocket(url.deletingLastPathComponent().appendingPathComponent("no-such-endpoint"))
            configuration.tls = .disabled
            await #expect {
                try await XMPPClient(configuration: configuration).connect()
            } throws: { error in
                guard case XMPPClientError.connectionFailed(let cause) = error else { return false }
                return cause.summary.contains("HTTP 404")
            }
        }
    }

    @Test("wss:// with the server's certificate: TLS before the upgrade, the certificate checked, then the stream")
    func secureWebSocket() async throws {
        try await TestGate.servers.run {
            let server = try await TestServer.start { $0.httpsPort = 0 }
            defer { Task { await server.stop() } }
            let fixture = ClientFixture(server: server)
            let port = try #require(server.httpsPort)
            var configuration = try fixture.configuration("wssdave")
            configuration.server = .webSocket(try #require(URL(string: "wss://127.0.0.1:\(port)/xmpp-websocket")))
            let dave = XMPPClient(configuration: configuration)
            try await dave.connect(registering: true)
            #expect(dave.jid?.bare == (try fixture.jid("wssdave")))
            await dave.disconnect()

            // A certificate the client does not trust stops it before any HTTP is sent.
            configuration.trust = .pinned(sha256: String(repeating: "00", count: 32))
            await #expect {
                try await XMPPClient(configuration: configuration).connect()
            } throws: { error in
                guard case XMPPClientError.connectionFailed(let cause) = error else { return false }
                return cause.kind == .untrustedCertificate
            }
        }
    }

    @Test("xmpp --websocket: a script sends over a WebSocket; a URL that is none is a usage error")
    func commandLine() async throws {
        try await TestGate.servers.run {
            let server = try await TestServer.start()
            defer { Task { await server.stop() } }
            let fixture = ClientFixture(server: server)
            let url = try #require(fixture.webSocketURL)
            let bob = try fixture.client("clibob")
            let chat = bob.add(ChatModule())
            try await bob.connect(registering: true)
            let incoming = chat.messages
            let common = ["--jid", "clierin@localhost", "--password", "pw", "--websocket", url.absoluteString]
            let registered = try await runProcess([builtExecutable("xmpp"), "register"] + common, timeout: 30)
            #expect(registered.status == 0, "\(registered.output)")
            let sent = try await runProcess([builtExecutable("xmpp"), "send", "clibob@localhost", "over a WebSocket"] + common, timeout: 30)
            #expect(sent.status == 0, "\(sent.output)")
            #expect(await first(incoming, timeout: .seconds(10)) { $0.body == "over a WebSocket" } != nil)
            let wrong = try await runProcess([builtExecutable("xmpp"), "status", "--jid", "clierin@localhost", "--password", "pw",
                                              "--websocket", "http://127.0.0.1/"], timeout: 30)
            #expect(wrong.status == 1 && wrong.output.contains("ws:// or wss://"), "\(wrong.output)")
            await bob.disconnect()
        }
    }
}
