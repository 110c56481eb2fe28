import Testing
import XMPPClient
import XMPPCore
import XMPPTestSupport

/// BlockingModule (XEP-0191) against xmppd and against Prosody's mod_blocklist.
@Suite("Blocking against xmppd and Prosody")
struct BlockingTests {
    @Test("block, the push to the other device, the refusal of a message to a blocked JID, unblock all",
          arguments: ServerPeer.allCases)
    func blockAndUnblock(peer: ServerPeer) async throws { try await peer.run { fixture in
        let phone = try fixture.client("alice")
        let phoneBlocking = phone.add(BlockingModule())
        try await phone.connect(registering: true)
        let laptop = XMPPClient(configuration: try fixture.configuration("alice", resource: "laptop"))
        let laptopBlocking = laptop.add(BlockingModule())
        try await laptop.connect()
        let bob = try fixture.client("bob")
        try await bob.connect(registering: true)
        let bobJID = try fixture.jid("bob")
        #expect(phoneBlocking.blocked.isEmpty && laptopBlocking.blocked.isEmpty, "fetched at login, empty")

        // The phone blocks bob; the laptop hears of it through the server's push.
        let laptopUpdates = laptopBlocking.updates
        try await phoneBlocking.block([bobJID, try JID("spam.example")])
        #expect(phoneBlocking.blocked == [bobJID, try JID("spam.example")])
        #expect(await first(laptopUpdates) { if case .blocked = $0 { true } else { false } } == .blocked([bobJID, try JID("spam.example")]))
        #expect(laptopBlocking.isBlocked(bobJID))

        // A message to bob comes back refused, marked as blocked by the user.
        let errors = phone.messages
        try await phone.send(Message(type: .chat, to: bobJID, id: "to-bob", body: "hello?"))
        let refused = await first(errors) { $0.type == .error && $0.element.attribute("id") == "to-bob" }
        #expect(refused?.error?.isBlockedByUser == true, "\(String(describing: refused?.element))")

        // Unblocking everyone empties the list everywhere.
        let cleared = laptopBlocking.updates
        try await phoneBlocking.unblockAll()
        #expect(await first(cleared) { $0 == .unblockedAll } != nil)
        #expect(try await phoneBlocking.fetch().isEmpty && laptopBlocking.blocked.isEmpty)
        let delivered = bob.messages
        try await phone.send(Message(type: .chat, to: bobJID, body: "hello again"))
        #expect(await first(delivered) { $0.body == "hello again" } != nil)
        for client in [phone, laptop, bob] { await client.disconnect() }
    } }
}
