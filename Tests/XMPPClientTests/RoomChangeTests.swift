import Foundation
import Testing
import XMPPClient
import XMPPClientSQLite
import XMPPCore
import XMPPTestSupport

/// Corrections (XEP-0308), retractions (XEP-0424) and reactions (XEP-0444) inside rooms: sent with ``ChatRoom``,
/// reported as room events and applied to the stored room messages, only by the occupant who sent the message.
@Suite("Changes to earlier messages in rooms")
struct RoomChangeTests {
    @Test("corrections, retractions and reactions in a room change the stored messages (SQLite and in memory); another occupant's are ignored",
          arguments: ServerPeer.allCases)
    func changesApplyToStoredRoomMessages(peer: ServerPeer) async throws { try await peer.run { fixture in
        let path = NSTemporaryDirectory() + "room-changes-" + UUID().uuidString + ".sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (alice, bob, carol) = (try fixture.client("alice"), try fixture.client("bob"), try fixture.client("carol"))
        // The archives come first: they queue each stanza's write before the room module reports it.
        let aliceArchive = alice.add(MessageArchiveModule(storage: try SQLiteMessageArchive(path: path), synchronizesWithServer: false))
        let bobArchive = bob.add(MessageArchiveModule(storage: InMemoryMessageArchive(), synchronizesWithServer: false))
        let (aliceMUC, bobMUC, carolMUC) = (alice.add(MultiUserChatModule()), bob.add(MultiUserChatModule()), carol.add(MultiUserChatModule()))
        for client in [alice, bob, carol] { try await client.connect(registering: true) }
        let roomJID = try JID("edits@conference.localhost")
        let aliceRoom = aliceMUC.room(roomJID, nickname: "Alice")
        try await aliceRoom.join()
        if aliceRoom.wasCreated { try await aliceRoom.acceptDefaultConfiguration() }
        let (bobRoom, carolRoom) = (bobMUC.room(roomJID, nickname: "Bob"), carolMUC.room(roomJID, nickname: "Carol"))
        try await bobRoom.join()
        try await carolRoom.join()
        let events = aliceRoom.events

        // Three messages, each seen by alice before the next is sent; the room's stanza ids name them in retractions
        // and reactions, the senders' ids in corrections.
        let helo = try await bobRoom.send("helo")
        let heloStanzaID = try #require(await reflection(of: helo, in: events)?.stanzaID)
        let oops = try await bobRoom.send("oops")
        let oopsStanzaID = try #require(await reflection(of: oops, in: events)?.stanzaID)
        let mine = try await aliceRoom.send("mine, wrnog")
        let mineStanzaID = try #require(await reflection(of: mine, in: events)?.stanzaID)

        try await bobRoom.correct(helo, with: "hello")
        let correction = try #require(await change(by: "Bob", to: helo, in: events))
        #expect(correction.change == .correction(body: "hello") && !correction.isOutgoing)
        try await bobRoom.retract(oopsStanzaID)
        _ = try #require(await change(by: "Bob", to: oopsStanzaID, in: events))
        // Carol may not correct or retract bob's messages: alice sees the attempts, the archives ignore them.
        try await carolRoom.correct(helo, with: "carol's forgery")
        _ = try #require(await change(by: "Carol", to: helo, in: events))
        try await carolRoom.retract(heloStanzaID)
        _ = try #require(await change(by: "Carol", to: heloStanzaID, in: events))
        try await aliceRoom.correct(mine, with: "mine, fixed")
        #expect(try #require(await change(by: "Alice", to: mine, in: events)).isOutgoing)
        try await bobRoom.react(to: mineStanzaID, with: ["👍"])
        _ = try #require(await change(by: "Bob", to: mineStanzaID, in: events))
        try await carolRoom.react(to: mineStanzaID, with: ["🎉", "👍"])
        _ = try #require(await change(by: "Carol", to: mineStanzaID, in: events))
        try await bobRoom.react(to: mineStanzaID, with: ["❤️"])
        let reaction = try #require(await change(by: "Bob", to: mineStanzaID, in: events))
        #expect(reaction.change == .reactions(reactor: try roomJID.withResource("Bob"), ["❤️"]))

        // Bob's client has seen everything alice has once it sees its own last reaction.
        _ = try #require(await first(bobArchive.conversationUpdates, timeout: .seconds(15)) { $0.first?.lastMessage?.reactions["Bob"] == ["❤️"] },
                         "bob's archive applies his last reaction")
        for archive in [aliceArchive, bobArchive] { await archive.flushStorage() }
        let expected = ["Bob: hello (edited)", "Bob:  (retracted)", "Alice: mine, fixed (edited) Bob ❤️, Carol 🎉👍"]
        #expect(try aliceArchive.messages(with: roomJID).map(Self.summary) == expected)
        #expect(try bobArchive.messages(with: roomJID).map(Self.summary) == expected)
        #expect(try aliceArchive.messages(with: roomJID).map(\.direction) == [.incoming, .incoming, .outgoing])
        for client in [alice, bob, carol] { await client.disconnect() }
    }}

    @Test("with occupant ids (both servers give them), whoever takes a departed occupant's nickname cannot retract or correct their messages; the occupant can, back in the room",
          arguments: ServerPeer.allCases)
    func occupantIDsDecideAuthorship(peer: ServerPeer) async throws { try await peer.run { fixture in
        let (alice, bob, mallory) = (try fixture.client("alice"), try fixture.client("bob"), try fixture.client("mallory"))
        // The archive comes first: it queues each stanza's write before the room module reports it.
        let archive = alice.add(MessageArchiveModule(synchronizesWithServer: false))
        let (aliceMUC, bobMUC, malloryMUC) = (alice.add(MultiUserChatModule()), bob.add(MultiUserChatModule()), mallory.add(MultiUserChatModule()))
        for client in [alice, bob, mallory] { try await client.connect(registering: true) }
        let roomJID = try JID("ids@conference.localhost")
        let aliceRoom = aliceMUC.room(roomJID, nickname: "Alice")
        try await aliceRoom.join()
        if aliceRoom.wasCreated { try await aliceRoom.acceptDefaultConfiguration() }
        let bobRoom = bobMUC.room(roomJID, nickname: "Bob")
        try await bobRoom.join()
        let events = aliceRoom.events

        let said = try await bobRoom.send("I said this")
        let saidStanzaID = try #require(await reflection(of: said, in: events)?.stanzaID)
        try await bobRoom.leave()
        let impostor = malloryMUC.room(roomJID, nickname: "Bob")
        try await impostor.join()
        try await impostor.correct(said, with: "I never said this")
        _ = try #require(await change(by: "Bob", to: said, in: events))
        try await impostor.retract(saidStanzaID)
        _ = try #require(await change(by: "Bob", to: saidStanzaID, in: events))
        await archive.flushStorage()
        let kept = try archive.messages(with: roomJID)
        #expect(kept.map(Self.summary) == ["Bob: I said this"], "the impostor changed nothing: \(kept)")

        try await impostor.leave()
        try await bobRoom.join(history: .none)
        try await bobRoom.retract(saidStanzaID)
        _ = try #require(await change(by: "Bob", to: saidStanzaID, in: events))
        await archive.flushStorage()
        #expect(try archive.messages(with: roomJID).map(Self.summary) == ["Bob:  (retracted)"])
        for client in [alice, bob, mallory] { await client.disconnect() }
    }}

    /// The room's reflection of the message with `id`.
    private func reflection(of id: String, in events: AsyncStream<RoomEvent>) async -> RoomMessage? {
        guard case .message(let message)? = await first(events, timeout: .seconds(15), where: { event in
            if case .message(let message) = event { message.id == id } else { false }
        }) else { return nil }
        return message
    }

    /// The change `nickname` sent for the message `targetID` names.
    private func change(by nickname: String, to targetID: String, in events: AsyncStream<RoomEvent>) async -> MessageChangeEvent? {
        guard case .messageChanged(let change)? = await first(events, timeout: .seconds(15), where: { event in
            if case .messageChanged(let change) = event { change.from.resourcepart == nickname && change.targetID == targetID } else { false }
        }) else { return nil }
        return change
    }

    /// `nick: body`, with the flags and reactions (by reactor, in order).
    private static func summary(_ message: ArchivedMessage) -> String {
        var text = "\(message.nickname ?? "?"): \(message.body)"
        if message.isEdited { text += " (edited)" }
        if message.isRetracted { text += " (retracted)" }
        if !message.reactions.isEmpty {
            text += " " + message.reactions.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.joined())" }.joined(separator: ", ")
        }
        return text
    }
}
