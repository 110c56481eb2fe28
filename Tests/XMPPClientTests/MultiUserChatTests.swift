import Foundation
import Testing
import XMPPClient
import XMPPCore
import XMPPTestSupport

/// XMPPRoom's flows with ``MultiUserChatModule`` against the conference service of an in-process xmppd and,
/// for the flows that do not need to reach into the server, of Prosody from Debian.
@Suite("Multi-user chat against xmppd and Prosody")
struct MultiUserChatTests {
    @Test("create an instant room, chat, whisper, change subject and nickname, moderate, invite, destroy",
          arguments: ServerPeer.allCases)
    func roomLifecycle(peer: ServerPeer) async throws { try await peer.run { fixture in
        let (alice, bob, carol) = (try fixture.client("alice"), try fixture.client("bob"), try fixture.client("carol"))
        let (aliceMUC, bobMUC, carolMUC) = (alice.add(MultiUserChatModule()), bob.add(MultiUserChatModule()), carol.add(MultiUserChatModule()))
        let aliceVCards = alice.add(VCardModule())
        bob.add(VCardModule())   // AvatarModule publishes through it
        let (aliceAvatars, bobAvatars) = (alice.add(AvatarModule()), bob.add(AvatarModule()))
        for client in [alice, bob, carol] { try await client.connect(registering: true) }
        let bobsPicture = Avatar(type: "image/png", data: Array("bob's face".utf8))
        try await bobAvatars.publish(bobsPicture)

        let service = try #require(try await aliceMUC.findService())
        #expect(service.description == "conference.localhost")
        let roomJID = try JID("tea@conference.localhost")

        // Alice creates the room and accepts the defaults (an instant room).
        let aliceRoom = aliceMUC.room(roomJID, nickname: "Alice")
        try await aliceRoom.join()
        #expect(aliceRoom.wasCreated)
        #expect(aliceRoom.me?.affiliation == .owner && aliceRoom.me?.role == .moderator)
        try await aliceRoom.acceptDefaultConfiguration()
        try await aliceRoom.configure(["muc#roomconfig_roomname": "Tea Room", "muc#roomconfig_publicroom": "1"])
        try await aliceRoom.send("first pot")
        #expect(try await aliceMUC.rooms(on: service).map(\.name) == ["Tea Room"])

        // Bob enters: Alice is there, the history and the subject arrive.
        let bobRoom = bobMUC.room(roomJID, nickname: "Bob")
        let bobEvents = bobRoom.events
        let aliceEvents = aliceRoom.events
        let avatarUpdates = aliceAvatars.updates
        try await bobRoom.join(history: .init(maxStanzas: 10))
        #expect(!bobRoom.wasCreated)
        #expect(bobRoom.occupants.map(\.nickname) == ["Alice", "Bob"])
        let history = await first(bobEvents) { if case .message(let message) = $0 { message.isHistory } else { false } }
        if case .message(let message)? = history { #expect(message.body == "first pot" && message.nickname == "Alice" && message.date != nil) }
        let bobArrival = await first(aliceEvents) { if case .occupantJoined(let occupant) = $0 { occupant.nickname == "Bob" } else { false } }
        guard case .occupantJoined(let arrived)? = bobArrival else { Issue.record("alice did not see bob arrive"); return }
        let bobJID = try fixture.jid("bob")
        #expect(arrived.role == .participant && arrived.realJID?.bare == bobJID, "the moderator sees real JIDs")

        // Occupants' avatars (XEP-0153 in rooms): the hash rides on room presence, the vCard comes through the room.
        let bobInRoom = try roomJID.withResource("Bob")
        #expect(await first(avatarUpdates) { $0.jid == bobInRoom }?.hash == bobsPicture.hash)
        #expect(try await aliceAvatars.avatar(of: bobInRoom) == bobsPicture)
        #expect(try await aliceVCards.fetch(occupant: bobInRoom).photo?.data == bobsPicture.data)

        // Groupchat is reflected with the room's stanza id; private messages reach one occupant.
        let id = try await bobRoom.send("hello room")
        let reflected = await first(aliceEvents) { if case .message(let message) = $0 { message.id == id } else { false } }
        guard case .message(let live)? = reflected else { Issue.record("alice did not get bob's message"); return }
        #expect(live.nickname == "Bob" && !live.isHistory && live.stanzaID != nil)
        try await aliceRoom.sendPrivate("psst", to: "Bob")
        let whisper = await first(bobEvents) { if case .privateMessage(let message) = $0 { message.body == "psst" } else { false } }
        #expect(whisper != nil)

        // Subject and nickname.
        try await aliceRoom.changeSubject(to: "Oolong")
        #expect(await first(bobEvents) { $0 == .subject("Oolong", nickname: "Alice") } != nil)
        #expect(await eventually { bobRoom.subject == "Oolong" })
        try await bobRoom.changeNickname(to: "Robert")
        #expect(bobRoom.nickname == "Robert")
        #expect(await eventually { aliceRoom.occupants.map(\.nickname) == ["Alice", "Robert"] })
        await #expect(throws: XMPPClientError.self) { try await bobRoom.changeNickname(to: "Alice") }

        // Moderation: only the owner's requests pass; a kick and a ban reach the occupant as exits.
        do {
            try await bobRoom.kick("Alice")
            Issue.record("a participant kicked the owner")
        } catch XMPPClientError.stanzaError(let error) {
            // xmppd refuses the actor (not a moderator: forbidden); Prosody refuses for the target first (an owner:
            // not-allowed). XEP-0045 §8.2 names both.
            #expect(error.condition == .forbidden || (peer == .prosody && error.condition == .notAllowed))
        }
        try await aliceRoom.kick("Robert", reason: "too loud")
        #expect(await first(bobEvents) { $0 == .exited(.kicked(by: "Alice", reason: "too loud")) } != nil)
        #expect(!bobRoom.isJoined)
        try await aliceRoom.ban(try fixture.jid("bob"), reason: "still loud")
        #expect(try await aliceRoom.users(with: .outcast).map(\.jid) == [try fixture.jid("bob")])
        do {
            try await bobRoom.join()
            Issue.record("a banned user entered")
        } catch XMPPClientError.stanzaError(let error) {
            #expect(error.condition == .forbidden)
        }
        try await aliceRoom.setAffiliation(.none, of: try fixture.jid("bob"))

        // Invitations: Carol gets one through the room and declines; Bob gets a direct one.
        let carolInvitations = carolMUC.invitations
        try await aliceRoom.invite(try fixture.jid("carol"), reason: "tea?")
        let invitation = try #require(await first(carolInvitations) { _ in true })
        let aliceJID = try fixture.jid("alice")
        #expect(invitation.room == roomJID && invitation.reason == "tea?" && !invitation.isDirect)
        // XEP-0045 §7.8.2 lets the room name the inviter by real JID (xmppd) or occupant JID (Prosody).
        let aliceInRoom = try roomJID.withResource("Alice")
        #expect(invitation.inviter?.bare == aliceJID || invitation.inviter == aliceInRoom)
        let declines = alice.messages
        try await carolMUC.decline(invitation, reason: "busy")
        let decline = await first(declines) { $0.element.child("x", namespace: "http://jabber.org/protocol/muc#user")?.child("decline", namespace: "http://jabber.org/protocol/muc#user") != nil }
        #expect(decline != nil)
        let bobInvitations = bobMUC.invitations
        try await aliceRoom.inviteDirectly(try fixture.jid("bob"), reason: "come back")
        #expect(await first(bobInvitations) { $0.isDirect && $0.room == roomJID && $0.reason == "come back" } != nil)

        // Bob comes back; the owner destroys the room and points to another.
        let bobAgain = bobRoom.events
        try await bobRoom.join(history: .none)
        try await aliceRoom.destroy(reason: "closing", alternate: try JID("coffee@conference.localhost"))
        let exit = await first(bobAgain) { if case .exited = $0 { true } else { false } }
        #expect(exit == .exited(.roomDestroyed(reason: "closing", alternate: try JID("coffee@conference.localhost"))))
        #expect(try await aliceMUC.rooms(on: service).isEmpty)
    } }

    @Test("members-only, password-protected, moderated rooms and their lists; wrong passwords and nicknames fail clearly",
          arguments: ServerPeer.allCases)
    func restrictedRooms(peer: ServerPeer) async throws { try await peer.run { fixture in
        let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
        let (aliceMUC, bobMUC) = (alice.add(MultiUserChatModule()), bob.add(MultiUserChatModule()))
        for client in [alice, bob] { try await client.connect(registering: true) }
        let roomJID = try JID("council@conference.localhost")
        let aliceRoom = aliceMUC.room(roomJID, nickname: "Alice")
        try await aliceRoom.join()

        var form = try await aliceRoom.configurationForm()
        #expect(form.field("muc#roomconfig_membersonly") != nil)
        form.setValues(["1"], for: "muc#roomconfig_membersonly")
        form.setValues(["1"], for: "muc#roomconfig_moderatedroom")
        form.setValues(["1"], for: "muc#roomconfig_passwordprotectedroom")
        form.setValues(["sesame"], for: "muc#roomconfig_roomsecret")
        try await aliceRoom.configure(form)

        let bobRoom = bobMUC.room(roomJID, nickname: "Bob")
        do { try await bobRoom.join(password: "sesame"); Issue.record("a non-member entered") } catch XMPPClientError.stanzaError(let error) {
            #expect(error.condition == .registrationRequired)
        }
        try await aliceRoom.setAffiliation(.member, of: try fixture.jid("bob"))
        do { try await bobRoom.join(password: "wrong"); Issue.record("entered") } catch XMPPClientError.stanzaError(let error) {
            #expect(error.condition == .notAuthorized)
        }
        try await bobRoom.join(password: "sesame")
        #expect(bobRoom.me?.affiliation == .member && bobRoom.me?.role == .participant)
        #expect(try await aliceRoom.users(with: .member).map(\.jid) == [try fixture.jid("bob")])
        #expect(try await aliceRoom.occupants(with: .moderator).map(\.nickname) == ["Alice"])

        // Voice: a participant loses it, cannot speak, and gets it back.
        let bobEvents = bobRoom.events
        try await aliceRoom.revokeVoice(from: "Bob")
        #expect(await eventually { bobRoom.me?.role == .visitor })
        try await bobRoom.send("may I?")
        let refusal = await first(bobEvents) { if case .messageRefused = $0 { true } else { false } }
        guard case .messageRefused(let error)? = refusal else { Issue.record("a visitor spoke"); return }
        #expect(error.condition == .forbidden)
        let aliceEvents = aliceRoom.events
        try await bobRoom.requestVoice()
        let request = await first(aliceEvents) { if case .voiceRequested = $0 { true } else { false } }
        #expect(request == .voiceRequested(nickname: "Bob", jid: bob.jid))
        try await aliceRoom.grantVoice(to: "Bob")
        #expect(await eventually { bobRoom.me?.role == .participant })

        // The nickname of another user is refused with conflict.
        let (carol, carolMUC) = try { let c = try fixture.client("carol"); return (c, c.add(MultiUserChatModule())) }()
        try await carol.connect(registering: true)
        try await aliceRoom.setAffiliation(.member, of: try fixture.jid("carol"))
        do { try await carolMUC.room(roomJID, nickname: "Bob").join(password: "sesame"); Issue.record("entered") } catch XMPPClientError.stanzaError(let error) {
            #expect(error.condition == .conflict)
        }
        try await bobRoom.leave()
        #expect(!bobRoom.isJoined)
    } }

    @Test("after a dropped connection the client enters its rooms again and gets what it missed")
    func rejoinAfterReconnection() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
        let (aliceMUC, bobMUC) = (alice.add(MultiUserChatModule()), bob.add(MultiUserChatModule()))
        bob.add(ReconnectModule(initialDelay: .milliseconds(100)))
        for client in [alice, bob] { try await client.connect(registering: true) }
        let roomJID = try JID("lounge@conference.localhost")
        let aliceRoom = aliceMUC.room(roomJID, nickname: "Alice")
        try await aliceRoom.join()
        try await aliceRoom.acceptDefaultConfiguration()
        let bobRoom = bobMUC.room(roomJID, nickname: "Bob")
        try await bobRoom.join()
        let bobEvents = bobRoom.events

        server.dropSessions(of: "bob")
        #expect(await first(bobEvents) { $0 == .exited(.disconnected) } != nil)
        #expect(await eventually { !aliceRoom.occupants.contains { $0.nickname == "Bob" } })
        try await aliceRoom.send("while you were away")
        #expect(await eventually(timeout: .seconds(10)) { bobRoom.isJoined })
        let missed = await first(bobEvents) { if case .message(let message) = $0 { message.body == "while you were away" } else { false } }
        #expect(missed != nil)
    }

    @Test("when the server restarts, occupants are told (332) and enter the persistent room again once reconnected")
    func rejoinAfterServerRestart() async throws {
        let server = try await TestServer.start()
        let fixture = ClientFixture(server: server)
        let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
        let (aliceMUC, bobMUC) = (alice.add(MultiUserChatModule()), bob.add(MultiUserChatModule()))
        for client in [alice, bob] {
            client.add(ReconnectModule(initialDelay: .milliseconds(100)))
            try await client.connect(registering: true)
        }
        let roomJID = try JID("hall@conference.localhost")
        let aliceRoom = aliceMUC.room(roomJID, nickname: "Alice")
        try await aliceRoom.join()
        try await aliceRoom.configure(["muc#roomconfig_persistentroom": "1"])
        let bobRoom = bobMUC.room(roomJID, nickname: "Bob")
        try await bobRoom.join()
        let bobEvents = bobRoom.events

        let restarted = try await server.restarted()
        #expect(await first(bobEvents) { if case .exited = $0 { true } else { false } } == .exited(.serviceShutdown))
        #expect(await eventually(timeout: .seconds(15)) { bobRoom.isJoined && aliceRoom.isJoined })
        #expect(bobRoom.occupants.map(\.nickname) == ["Alice", "Bob"] || bobRoom.occupants.map(\.nickname) == ["Bob"])
        #expect(aliceRoom.me?.affiliation == .owner, "the room and its owner came back from storage")
        await alice.disconnect()
        await bob.disconnect()
        await restarted.stop()
    }

    @Test("a temporary room is gone after a server restart: the first occupant back re-creates and opens it, all are in again")
    func temporaryRoomAfterServerRestart() async throws {
        let server = try await TestServer.start()
        let fixture = ClientFixture(server: server)
        let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
        let (aliceMUC, bobMUC) = (alice.add(MultiUserChatModule()), bob.add(MultiUserChatModule()))
        for client in [alice, bob] {
            client.add(ReconnectModule(initialDelay: .milliseconds(100), maximumDelay: .milliseconds(400)))
            try await client.connect(registering: true)
        }
        let roomJID = try JID("pop-up@conference.localhost")
        let aliceRoom = aliceMUC.room(roomJID, nickname: "Alice")
        try await aliceRoom.join()
        try await aliceRoom.acceptDefaultConfiguration()
        let bobRoom = bobMUC.room(roomJID, nickname: "Bob")
        try await bobRoom.join()
        let (aliceEvents, bobEvents) = (aliceRoom.events, bobRoom.events)

        let restarted = try await server.restarted()
        #expect(await first(aliceEvents, timeout: .seconds(20)) { $0 == .rejoined } != nil, "alice is back in the room")
        #expect(await first(bobEvents, timeout: .seconds(20)) { $0 == .rejoined } != nil, "bob is back in the room")
        #expect(aliceRoom.isJoined && bobRoom.isJoined)
        #expect(await eventually { Set(aliceRoom.occupants.map(\.nickname)) == ["Alice", "Bob"] })
        try await bobRoom.send("still here")
        #expect(await first(aliceEvents) { if case .message(let message) = $0 { message.body == "still here" } else { false } } != nil)
        await alice.disconnect()
        await bob.disconnect()
        await restarted.stop()
    }

    @Test("join is idempotent: while entering, a second call waits for the same entry; once in, it returns at once")
    func joinIsIdempotent() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let alice = try fixture.client("alice")
        let muc = alice.add(MultiUserChatModule())
        try await alice.connect(registering: true)
        let room = muc.room(try JID("twice@conference.localhost"), nickname: "Alice")
        async let first: Void = room.join()
        async let second: Void = room.join()
        _ = try await (first, second)
        #expect(room.isJoined && !room.isJoining)
        try await room.join()
        #expect(room.occupants.map(\.nickname) == ["Alice"])
        await alice.disconnect()
    }

    @Test("rooms and contacts are kept apart: invitations and occupants are not chats or contacts, a bounce is a delivery failure")
    func roomTrafficStaysInRooms() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
        let aliceMUC = alice.add(MultiUserChatModule())
        let (bobMUC, bobChat, bobPresence) = (bob.add(MultiUserChatModule()), bob.add(ChatModule()), bob.add(PresenceModule()))
        let aliceChat = alice.add(ChatModule())
        for client in [alice, bob] { try await client.connect(registering: true) }
        let (bobMessages, bobInvitations) = (bobChat.messages, bobMUC.invitations)
        let room = aliceMUC.room(try JID("apart@conference.localhost"), nickname: "Alice")
        try await room.join()
        try await room.acceptDefaultConfiguration()
        try await room.invite(try fixture.jid("bob"), reason: "come in")
        #expect(await first(bobInvitations) { _ in true }?.reason == "come in")
        let bobRoom = bobMUC.room(room.jid, nickname: "Bob")
        try await bobRoom.join()
        try await room.sendPrivate("psst", to: "Bob")
        try await alice.send(Message(type: .chat, to: try fixture.jid("bob"), body: "a real chat"))
        let chats = await first(bobMessages) { _ in true }
        #expect(chats?.body == "a real chat", "the invitation and the private message were not chats: \(String(describing: chats))")
        #expect(!bobPresence.isAvailable(room.jid) && bobPresence.presences(of: room.jid).isEmpty, "occupants are not contacts")

        let failures = aliceChat.failures
        let nobody = try JID("nobody@localhost")
        let id = try await aliceChat.send("anyone?", to: nobody)
        let failure = await first(failures) { _ in true }
        #expect(failure?.messageID == id && failure?.to.bare == nobody, "\(String(describing: failure))")
        await alice.disconnect()
        await bob.disconnect()
    }

    @Test("removed for a technical reason (333, with 307): its own exit, and the module enters the room again at once")
    func technicalRemovalRejoins() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
        let (aliceMUC, bobMUC) = (alice.add(MultiUserChatModule()), bob.add(MultiUserChatModule()))
        for client in [alice, bob] { try await client.connect(registering: true) }
        let room = aliceMUC.room(try JID("bounces@conference.localhost"), nickname: "Alice")
        try await room.join()
        try await room.acceptDefaultConfiguration()
        let bobRoom = bobMUC.room(room.jid, nickname: "Bob")
        try await bobRoom.join()
        let (bobEvents, bobRejoins) = (bobRoom.events, bobRoom.events)

        // Bob's client bounces a message of the room (as a client does with a stanza it cannot take): the room
        // takes Bob for gone and removes him with 333 and 307 (XEP-0045 §7.14, XEP-0410).
        let bounce = Element("message", namespace: XMLNamespace.client, attributes: ["type": "error", "to": room.jid.description],
                             children: [.element(StanzaError(.serviceUnavailable).element())])
        try await bob.send(bounce)
        let exit = await first(bobEvents, timeout: .seconds(15)) { if case .exited = $0 { true } else { false } }
        #expect(exit == .exited(.technicalRemoval(reason: "your client returned an error")), "\(String(describing: exit))")
        #expect(await first(bobRejoins, timeout: .seconds(15)) { $0 == .rejoined } != nil, "entered again at once")
        #expect(bobRoom.isJoined)
        #expect(await eventually(timeout: .seconds(10)) { room.occupants.contains { $0.nickname == "Bob" } })
        await alice.disconnect()
        await bob.disconnect()
    }
}
