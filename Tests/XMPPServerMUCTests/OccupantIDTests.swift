import Testing
import XMPPCore
import XMPPKernelTestSupport
import XMPPServerKernel
@testable import XMPPServerMUC

/// XEP-0421 occupant ids: the room stamps its own on messages and presence, replacing any a client forged.
@Suite struct OccupantIDTests {
    static func occupantID(_ stanza: Element?) -> String? {
        stanza?.child("occupant-id", namespace: "urn:xmpp:occupant-id:0")?.attribute("id")
    }

    @Test func occupantIDsAreTheRoomsOwnStableAndUnforgeable() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()])
        let (alice, bob) = try await MUCTests.aliceAndBob(in: scenario)
        try await MUCTests.createInstantRoom(alice)
        try await MUCTests.join(bob, as: "Bob")
        let bobsPresence = alice.received("presence").last { $0.attribute("from") == "\(MUCTests.room)/Bob" }
        let bobsID = try #require(Self.occupantID(bobsPresence), "presence carries an occupant id")
        _ = bob.received()

        // Alice claims Bob's id: the room replaces it with hers.
        try await alice.send("""
            <message xmlns='jabber:client' to='\(MUCTests.room)' type='groupchat'><body>it is me, Bob</body>\
            <occupant-id xmlns='urn:xmpp:occupant-id:0' id='\(bobsID)'/></message>
            """)
        let seen = try #require(bob.received("message").last)
        let ids = seen.elements.filter { $0.name == "occupant-id" }.compactMap { $0.attribute("id") }
        #expect(ids.count == 1 && ids[0] != bobsID, "one occupant id, and not the forged one: \(ids)")
        let alicesID = ids[0]

        // The same account keeps its id under another nickname; a message from Bob carries Bob's.
        try await bob.send("<presence xmlns='jabber:client' to='\(MUCTests.room)/Robert'/>")
        let renamed = alice.received("presence").last { $0.attribute("from") == "\(MUCTests.room)/Robert" }
        #expect(Self.occupantID(renamed) == bobsID)
        try await bob.send("<message xmlns='jabber:client' to='\(MUCTests.room)' type='groupchat'><body>hi</body></message>")
        #expect(Self.occupantID(alice.received("message").last) == bobsID)

        // Another room gives the same account another id; the room announces the feature.
        let other = "coffee@conference.example.com"
        try await MUCTests.createInstantRoom(alice, room: other)
        try await MUCTests.join(bob, as: "Bob", room: other)
        let elsewhere = alice.received("presence").last { $0.attribute("from") == "\(other)/Bob" }
        #expect(Self.occupantID(elsewhere) != nil && Self.occupantID(elsewhere) != bobsID)
        #expect(alicesID != bobsID)
        try await alice.send("<iq xmlns='jabber:client' type='get' id='info' to='\(MUCTests.room)'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        let info = try #require(alice.received("iq").last)
        #expect(info.child("query", namespace: "http://jabber.org/protocol/disco#info")?.elements
            .contains { $0.attribute("var") == "urn:xmpp:occupant-id:0" } == true)
    }
}
