import Foundation
import Testing
import XMPPCore
import XMPPServer
import XMPPServerKernel
import XMPPTestSupport

/// XEP-0352 over real sockets: an inactive client gets only the latest presence per contact and chat state per
/// conversation, and only when something important arrives or it becomes active.
@Suite struct ClientStateTests {
    static func presence(_ show: String) -> String {
        "<presence xmlns='jabber:client' to='alice@localhost/phone'><show>\(show)</show><status>\(String(repeating: "s", count: 100))</status></presence>"
    }

    @Test func anInactiveClientGetsTheLatestOfEachOnlyWhenSomethingMatters() async throws {
        let server = try await StreamManagementTests.server()
        defer { Task { await server.stop() } }
        let alice = try await StreamManagementTests.online(server.port, "alice")
        let bob = try await StreamManagementTests.online(server.port, "bob")
        let carol = try await { () async throws -> RawStreamClient in
            _ = try await server.server.kernel.createAccount("carol", password: "pw")
            return try await StreamManagementTests.online(server.port, "carol")
        }()
        alice.send("<inactive xmlns='urn:xmpp:csi:0'/>")
        // A ping after it: once answered, the server has read <inactive/> (a client's input is handled in order).
        alice.send("<iq xmlns='jabber:client' type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>")
        _ = await alice.collect { $0.attribute("id") == "sync" }
        let shows = ["away", "xa", "dnd", "chat", "away", "xa", "dnd", "chat", "away", "dnd"]
        for show in shows { bob.send(Self.presence(show)) }
        carol.send(Self.presence("xa"))
        for state in ["composing", "paused", "composing"] {
            bob.send("<message xmlns='jabber:client' to='alice@localhost/phone' type='chat'><\(state) xmlns='http://jabber.org/protocol/chatstates'/></message>")
        }
        // Their pings answered: the server has routed what each sent before (held, or written, which would show).
        for (client, id) in [(bob, "bob-sync"), (carol, "carol-sync")] {
            client.send("<iq xmlns='jabber:client' type='get' id='\(id)'><ping xmlns='urn:xmpp:ping'/></iq>")
            _ = await client.collect { $0.attribute("id") == id }
        }
        let whileInactive = await alice.collect(until: { _ in true }, timeout: .milliseconds(500))
        #expect(whileInactive.isEmpty, "nothing is written while inactive: \(whileInactive)")

        // A message with a body matters: what was held comes first, only the latest of each.
        bob.send("<message xmlns='jabber:client' to='alice@localhost/phone' type='chat' id='real'><body>hi</body></message>")
        let flushed = await alice.collect { $0.attribute("id") == "real" }
        let presences = flushed.filter { $0.name == "presence" }
        #expect(presences.count == 2, "one per contact: \(presences.map { $0.attribute("from") ?? "" })")
        #expect(presences.first { $0.attribute("from") == "bob@localhost/phone" }?.child("show")?.text == "dnd", "bob's latest")
        let states = flushed.filter { $0.name == "message" && $0.child("body") == nil }
        #expect(states.count == 1 && states.first?.child("composing") != nil, "the latest chat state only")
        #expect(flushed.last?.attribute("id") == "real")
        let held = shows.count + 1 + 3
        let written = presences.count + states.count
        let heldBytes = shows.map { Self.presence($0).utf8.count }.reduce(0, +)
        print("csi: \(held) stanzas held, \(written) written; bob's presence alone \(heldBytes) bytes sent as \(presences.first { $0.attribute("from") == "bob@localhost/phone" }?.xmlString.utf8.count ?? 0)")

        // Going active writes what was held since.
        bob.send(Self.presence("away"))
        try await Task.sleep(for: .milliseconds(200))
        alice.send("<active xmlns='urn:xmpp:csi:0'/>")
        let afterActive = await alice.collect { $0.name == "presence" }
        #expect(afterActive.last?.child("show")?.text == "away")
        bob.send(Self.presence("chat"))
        #expect(await alice.collect { $0.name == "presence" }.last?.child("show")?.text == "chat", "active again: written at once")
    }
}
