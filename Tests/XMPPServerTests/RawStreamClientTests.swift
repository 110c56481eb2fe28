import Foundation
import Testing
import XMPPCore
import XMPPServer
import XMPPServerKernel
import XMPPTestSupport

/// The byte-level client the stream-management tests lean on must itself be able to fail.
@Suite struct RawStreamClientTests {
    @Test func logsInReadsElementsInOrderAndReportsSilenceAndRefusal() async throws {
        let server = try await StreamManagementTests.server()
        defer { Task { await server.stop() } }
        let client = try await RawStreamClient.connect(port: server.port, user: "alice", resource: "desk")
        #expect(client.jid == (try JID("alice@localhost/desk")) && client.resumedHandled == nil)
        #expect(server.server.kernel.registry.entry(client.jid) != nil, "bound on the server")
        client.send("<iq xmlns='jabber:client' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq><iq xmlns='jabber:client' type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>")
        let answers = await client.collect { $0.attribute("id") == "p2" }
        #expect(answers.map { $0.attribute("id") } == ["p1", "p2"], "in order, up to the match")
        #expect(await client.next(timeout: .milliseconds(200)) == nil, "nothing more arrives")

        await #expect(throws: (any Error).self, "a wrong password is refused") {
            _ = try await RawStreamClient.connect(port: server.port, user: "alice", password: "wrong")
        }

        client.abort()
        #expect(try await SlowReaderTests.sessionEnds(client.jid, in: server.server.kernel), "abort() drops the connection")
    }
}
