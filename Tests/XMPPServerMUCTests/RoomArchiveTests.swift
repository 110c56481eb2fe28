import Foundation
import Testing
import XMPPCore
import XMPPKernelTestSupport
import XMPPServerKernel
@testable import XMPPServerMUC

/// XEP-0313 for rooms: the room archives its messages with the stanza ids occupants saw, and serves them to those
/// who may enter, from the room's JID.
@Suite struct RoomArchiveTests {
    static let mam = "urn:xmpp:mam:2"

    @Test func occupantsAndMembersQueryTheRoomArchiveOthersMayNot() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()])
        let (alice, bob, carol) = try await MUCTests.aliceBobAndCarol(in: scenario)
        try await MUCTests.createInstantRoom(alice)
        try await MUCTests.join(bob, as: "Bob")
        for index in 1...5 {
            try await (index.isMultiple(of: 2) ? bob : alice).send(
                "<message xmlns='jabber:client' to='\(MUCTests.room)' type='groupchat'><body>tea \(index)</body></message>")
        }
        let seenIDs = bob.received("message").compactMap { StanzaIdentifier.stanzaID(in: $0, by: try! JID(MUCTests.room))?.id }
        #expect(seenIDs.count == 5)
        for _ in 0..<500 where try await scenario.kernel.storage.archives.query(ArchiveQuery(max: 0), in: MUCTests.room).count ?? 0 < 5 {
            try await Task.sleep(for: .milliseconds(10))
        }

        try await bob.send("<iq xmlns='jabber:client' type='set' id='q' to='\(MUCTests.room)'><query xmlns='\(Self.mam)' queryid='r1'><set xmlns='http://jabber.org/protocol/rsm'><max>3</max><before/></set></query></iq>")
        let got = await bob.receivedEventually()
        let results = got.filter { $0.name == "message" && $0.child("result", namespace: Self.mam) != nil }
        #expect(results.allSatisfy { $0.attribute("from") == MUCTests.room }, "results come from the room")
        let ids = results.compactMap { $0.child("result", namespace: Self.mam)?.attribute("id") }
        #expect(ids == Array(seenIDs.suffix(3)), "the archive ids are the stanza ids the occupants saw")
        let bodies = results.compactMap { $0.child("result", namespace: Self.mam)?.child("forwarded", namespace: Forwarded.namespace)?
            .child("message")?.child("body")?.text }
        #expect(bodies == ["tea 3", "tea 4", "tea 5"])
        let fin = try #require(got.first { $0.name == "iq" && $0.attribute("id") == "q" })
        #expect(fin.attribute("type") == "result" && fin.child("fin", namespace: Self.mam) != nil)

        // Carol, not in the room, may read a room anyone may enter; not once it is members-only.
        try await carol.send("<iq xmlns='jabber:client' type='set' id='c1' to='\(MUCTests.room)'><query xmlns='\(Self.mam)'/></iq>")
        #expect(await carol.receivedEventually().contains { $0.attribute("id") == "c1" && $0.attribute("type") == "result" })
        try await MUCTests.configure(alice, ["muc#roomconfig_membersonly": "1"])
        _ = (alice.received(), bob.received())
        try await carol.send("<iq xmlns='jabber:client' type='set' id='c2' to='\(MUCTests.room)'><query xmlns='\(Self.mam)'/></iq>")
        let refused = await carol.receivedEventually()
        #expect(refused.contains { $0.attribute("id") == "c2" && MUCTests.errorCondition($0) == "forbidden" })
        #expect(!refused.contains { $0.child("result", namespace: Self.mam) != nil }, "nothing of the archive reached carol")

        // The room advertises its archive.
        try await bob.send("<iq xmlns='jabber:client' type='get' id='d' to='\(MUCTests.room)'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        let features = await bob.receivedEventually().first { $0.attribute("id") == "d" }?.child("query")?.children("feature").compactMap { $0.attribute("var") }
        #expect(features?.contains(Self.mam) == true)
    }

    /// A temporary room thrown away takes its archive along: whoever creates the name next reads nothing of it.
    @Test func aThrownAwayRoomsArchiveIsNotInheritedByTheNextCreator() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()])
        let (alice, bob, carol) = try await MUCTests.aliceBobAndCarol(in: scenario)
        try await MUCTests.createInstantRoom(alice)
        try await MUCTests.configure(alice, ["muc#roomconfig_membersonly": "1"])
        try await alice.send("<message xmlns='jabber:client' to='\(MUCTests.room)' type='groupchat'><body>secret plans</body></message>")
        for _ in 0..<500 where try await scenario.kernel.storage.archives.query(ArchiveQuery(max: 0), in: MUCTests.room).count ?? 0 < 1 {
            try await Task.sleep(for: .milliseconds(10))
        }
        try await alice.send("<presence xmlns='jabber:client' type='unavailable' to='\(MUCTests.room)/Alice'/>")
        _ = bob
        try await MUCTests.createInstantRoom(carol, as: "Carol")
        _ = carol.received()
        try await carol.send("<iq xmlns='jabber:client' type='set' id='q' to='\(MUCTests.room)'><query xmlns='\(Self.mam)'/></iq>")
        let got = await carol.receivedEventually()
        #expect(got.contains { $0.attribute("id") == "q" && $0.attribute("type") == "result" })
        #expect(!got.contains { $0.child("result", namespace: Self.mam) != nil }, "nothing of the old room's archive")
    }
}
