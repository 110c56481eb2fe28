import Foundation
import Testing
import XMPPClient
import XMPPCore
import XMPPTestSupport

@Suite("Connecting to xmppd")
struct ConnectionTests {
    @Test("registers, logs in with SCRAM-PLUS over STARTTLS, and disconnects politely")
    func registerAndLogin() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = XMPPClient(configuration: .init(
            jid: try JID("alice@localhost"), password: "wonderland",
            server: .host("127.0.0.1", port: server.port), trust: .caFile(server.certificatePath)))
        try await client.connect(registering: true)
        #expect(client.connectionState.isOnline)
        #expect(client.jid?.bare == (try JID("alice@localhost")))
        #expect(client.authenticationMechanism == .scramSHA512Plus)
        await client.disconnect()
        #expect(client.connectionState == .disconnected(nil))
        try await client.connect()
        #expect(client.connectionState.isOnline)
        let jid = client.jid
        try await client.connect()   // online already: nothing to do, the same session
        #expect(client.connectionState.isOnline && client.jid == jid)
        await client.disconnect()
    }
}
