import Foundation
import Testing
import XMPPCore
import XMPPKernelTestSupport
import XMPPServerKernel
@testable import XMPPServerMUC

/// Multi-user chat (XEP-0045) flows, each as the spec's examples show them, against the kernel's MUC service.
@Suite struct MUCTests {
    static let room = "tea@conference.example.com"

    /// Joins `room` as `nickname`; with `instant`, the creator accepts the default configuration (§10.1.2).
    static func join(_ client: TestClient, as nickname: String, room: String = room, extra: String = "") async throws {
        try await client.send("<presence xmlns='jabber:client' to='\(room)/\(nickname)'><x xmlns='http://jabber.org/protocol/muc'>\(extra)</x></presence>")
    }

    static func createInstantRoom(_ owner: TestClient, as nickname: String = "Alice", room: String = room) async throws {
        try await join(owner, as: nickname, room: room)
        try await owner.send("<iq xmlns='jabber:client' type='set' id='create' to='\(room)'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
        let result = owner.received().last
        try #require(result?.attribute("type") == "result", "instant room not accepted: \(String(describing: result))")
    }

    static func configure(_ owner: TestClient, room: String = room, _ fields: [String: String]) async throws {
        let form = fields.map { "<field var='\($0.key)'><value>\($0.value)</value></field>" }.joined()
        try await owner.send("<iq xmlns='jabber:client' type='set' id='config' to='\(room)'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\(form)</x></query></iq>")
    }

    /// Accounts alice and bob, one session each, logged in and available.
    static func aliceAndBob(in scenario: KernelScenario) async throws -> (TestClient, TestClient) {
        for user in ["alice", "bob"] { try await scenario.account(user) }
        return (try await scenario.login("alice"), try await scenario.login("bob"))
    }

    /// Accounts alice, bob and carol, one session each, logged in and available.
    static func aliceBobAndCarol(in scenario: KernelScenario) async throws -> (TestClient, TestClient, TestClient) {
        try await scenario.account("carol")
        let (alice, bob) = try await aliceAndBob(in: scenario)
        return (alice, bob, try await scenario.login("carol"))
    }

    /// Alice's moderated room with Bob and Carol in it (visitors), nothing read yet.
    static func moderatedRoom(in scenario: KernelScenario) async throws -> (TestClient, TestClient, TestClient) {
        let (alice, bob, carol) = try await aliceBobAndCarol(in: scenario)
        try await createInstantRoom(alice)
        try await configure(alice, ["muc#roomconfig_moderatedroom": "1"])
        try await join(bob, as: "Bob")
        try await join(carol, as: "Carol")
        return (alice, bob, carol)
    }

    static func statuses(_ presence: Element) -> [String] {
        presence.child("x", namespace: MUCNamespace.user)?.children("status", namespace: MUCNamespace.user).compactMap { $0.attribute("code") } ?? []
    }

    static func item(_ stanza: Element) -> Element? {
        stanza.child("x", namespace: MUCNamespace.user)?.child("item", namespace: MUCNamespace.user)
    }

    static func errorCondition(_ stanza: Element?) -> String? {
        stanza?.child("error", namespace: stanza?.namespace)?.elements.first { $0.namespace == "urn:ietf:params:xml:ns:xmpp-stanzas" }?.name
    }

    @Test func creatingAnInstantRoomLocksItUntilTheOwnerAcceptsTheDefaults() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()])
        try await scenario.account("alice")
        try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob")

        try await Self.join(alice, as: "Alice")
        let created = alice.received()
        let selfPresence = try #require(created.first { $0.name == "presence" })
        #expect(selfPresence.attribute("from") == "\(Self.room)/Alice")
        #expect(Set(Self.statuses(selfPresence)) == ["110", "201"])
        #expect(Self.item(selfPresence)?.attribute("affiliation") == "owner")
        #expect(Self.item(selfPresence)?.attribute("role") == "moderator")
        #expect(created.last?.child("subject", namespace: XMLNamespace.client)?.text == "", "the subject comes last, even empty")

        try await Self.join(bob, as: "Bob")
        #expect(Self.errorCondition(bob.received().last) == "item-not-found", "a locked room admits only its owner")

        try await alice.send("<iq xmlns='jabber:client' type='set' id='c1' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
        #expect(alice.received().last?.attribute("type") == "result")

        try await Self.join(bob, as: "Bob")
        let joined = bob.received()
        let presences = joined.filter { $0.name == "presence" }
        #expect(presences.map { $0.attribute("from") } == ["\(Self.room)/Alice", "\(Self.room)/Bob"], "others first, self last")
        #expect(Self.statuses(presences[1]) == ["110"])
        #expect(Self.item(presences[0])?.attribute("jid") == nil, "semi-anonymous: participants do not see real JIDs")
        let seenByAlice = try #require(alice.received("presence").first)
        #expect(seenByAlice.attribute("from") == "\(Self.room)/Bob")
        #expect(Self.item(seenByAlice)?.attribute("jid") == "bob@example.com/phone", "moderators see real JIDs")
        #expect(Self.item(seenByAlice)?.attribute("role") == "participant")
    }

    @Test func messagesAreReflectedWithStanzaIDsKeptAsHistoryAndPrivateMessagesStayPrivate() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()])
        let (alice, bob, carol) = try await Self.aliceBobAndCarol(in: scenario)
        try await Self.createInstantRoom(alice)
        try await Self.join(bob, as: "Bob")
        _ = alice.received(); _ = bob.received()

        for number in 1...3 {
            try await bob.send("<message xmlns='jabber:client' type='groupchat' id='m\(number)' to='\(Self.room)'><body>cup \(number)</body><stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='\(Self.room)'/></message>")
        }
        let reflected = alice.received("message")
        #expect(reflected.map { $0.child("body", namespace: XMLNamespace.client)?.text } == ["cup 1", "cup 2", "cup 3"])
        #expect(reflected.allSatisfy { $0.attribute("from") == "\(Self.room)/Bob" && $0.attribute("id")?.hasPrefix("m") == true })
        let ids = reflected.compactMap { $0.child("stanza-id", namespace: StanzaIdentifier.namespace) }
        #expect(ids.count == 3 && ids.allSatisfy { $0.attribute("id") != "forged" && $0.attribute("by") == Self.room })
        #expect(bob.received("message").count == 3, "the sender gets its own message back")

        // A newcomer asks for the last two messages (§7.2.14); they come stamped, then the subject.
        try await Self.join(carol, as: "Carol", extra: "<history maxstanzas='2'/>")
        let history = carol.received("message")
        #expect(history.compactMap { $0.child("body", namespace: XMLNamespace.client)?.text } == ["cup 2", "cup 3"])
        #expect(history.prefix(2).allSatisfy { $0.child("delay", namespace: "urn:xmpp:delay")?.attribute("from") == Self.room })
        #expect(history.last?.child("subject", namespace: XMLNamespace.client) != nil)
        _ = alice.received(); _ = bob.received()

        try await carol.send("<message xmlns='jabber:client' type='chat' to='\(Self.room)/Bob'><body>psst</body></message>")
        let whispered = try #require(bob.received("message").first)
        #expect(whispered.attribute("from") == "\(Self.room)/Carol")
        #expect(whispered.child("x", namespace: MUCNamespace.user) != nil)
        #expect(alice.received().isEmpty, "a private message reaches only its recipient")
        try await carol.send("<message xmlns='jabber:client' type='chat' to='\(Self.room)/Nobody'><body>?</body></message>")
        #expect(Self.errorCondition(carol.received().last) == "item-not-found")

        // Participants may not change the subject by default; the moderator may.
        try await bob.send("<message xmlns='jabber:client' type='groupchat' to='\(Self.room)'><subject>Coffee</subject></message>")
        #expect(Self.errorCondition(bob.received().last) == "forbidden")
        try await alice.send("<message xmlns='jabber:client' type='groupchat' to='\(Self.room)'><subject>Darjeeling</subject></message>")
        #expect(carol.received("message").last?.child("subject", namespace: XMLNamespace.client)?.text == "Darjeeling")

        // Outsiders cannot post.
        let dave = try await { try await scenario.account("dave"); return try await scenario.login("dave") }()
        try await dave.send("<message xmlns='jabber:client' type='groupchat' to='\(Self.room)'><body>hi</body></message>")
        #expect(Self.errorCondition(dave.received().last) == "not-acceptable")
    }

    @Test func nicknamesConflictChangeWith303AndOccupantsLeaveWhenTheirSessionEnds() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()])
        let (alice, bob) = try await Self.aliceAndBob(in: scenario)
        try await Self.createInstantRoom(alice)
        try await Self.join(bob, as: "Alice")
        #expect(Self.errorCondition(bob.received().last) == "conflict")
        try await Self.join(bob, as: "Bob")
        _ = alice.received(); _ = bob.received()

        try await bob.send("<presence xmlns='jabber:client' to='\(Self.room)/Robert'/>")
        let seen = alice.received("presence")
        #expect(seen.count == 2)
        #expect(seen[0].attribute("type") == "unavailable" && Self.statuses(seen[0]) == ["303"])
        #expect(Self.item(seen[0])?.attribute("nick") == "Robert")
        #expect(seen[1].attribute("from") == "\(Self.room)/Robert")
        #expect(Self.statuses(bob.received("presence")[0]) == ["110", "303"])

        try await bob.send("<presence xmlns='jabber:client'><show>away</show></presence>")
        _ = alice.received()
        try await bob.disconnect()
        let gone = try #require(alice.received("presence").last)
        #expect(gone.attribute("from") == "\(Self.room)/Robert" && gone.attribute("type") == "unavailable")

        try await alice.send("<presence xmlns='jabber:client' type='unavailable' to='\(Self.room)/Alice'/>")
        #expect(Self.statuses(try #require(alice.received("presence").last)) == ["110"])
        try await alice.send("<iq xmlns='jabber:client' type='get' id='i' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        #expect(Self.errorCondition(alice.received().last) == "item-not-found", "a temporary room ends with its last occupant")
    }

    @Test func enteringAgainFromASessionAlreadyInIsAFullSynchronization() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()])
        let (alice, bob) = try await Self.aliceAndBob(in: scenario)
        try await Self.createInstantRoom(alice)
        try await alice.send("<message xmlns='jabber:client' type='groupchat' to='\(Self.room)'><body>one</body></message>")
        try await alice.send("<message xmlns='jabber:client' type='groupchat' to='\(Self.room)'><body>two</body></message>")
        try await Self.join(bob, as: "Bob")
        _ = alice.received(); _ = bob.received()

        try await Self.join(bob, as: "Bob", extra: "<history maxstanzas='1'/>")
        let again = bob.received()
        #expect(again.map(\.name) == ["presence", "presence", "message", "message"])
        #expect(again[0].attribute("from") == "\(Self.room)/Alice" && Self.statuses(again[1]) == ["110"])
        #expect(again[2].child("body", namespace: "jabber:client")?.text == "two" && again[3].child("subject", namespace: "jabber:client") != nil)
        #expect(alice.received().isEmpty, "nothing changed for the others")

        try await bob.send("<presence xmlns='jabber:client' to='\(Self.room)/Bob'><x xmlns='http://jabber.org/protocol/muc'/><show>away</show></presence>")
        let update = alice.received("presence")
        #expect(update.count == 1 && update.first?.child("show", namespace: "jabber:client")?.text == "away")
    }

    @Test func oneAccountMayBeInOnlySoManyRoomsAtOnce() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()]) { $0.set(MUCModule.maxRoomsPerUser, to: 2) }
        for user in ["alice", "bob", "carol"] { try await scenario.account(user) }
        let alice = try await scenario.login("alice")
        let carol = try await scenario.login("carol")
        let phone = try await scenario.login("bob", "phone")
        let laptop = try await scenario.login("bob", "laptop")
        for name in ["one", "two"] { try await Self.createInstantRoom(alice, room: "\(name)@conference.example.com") }
        try await Self.createInstantRoom(carol, room: "three@conference.example.com")
        _ = alice.received()

        try await Self.join(phone, as: "Bob", room: "one@conference.example.com")
        try await Self.join(laptop, as: "Bob", room: "two@conference.example.com")
        try await Self.join(laptop, as: "Bob", room: "one@conference.example.com")
        #expect(Self.errorCondition(phone.received().last) == nil && Self.errorCondition(laptop.received().last) == nil,
                "a second session in the same room counts once")
        try await Self.join(phone, as: "Bob", room: "three@conference.example.com")
        #expect(Self.errorCondition(phone.received().last) == "resource-constraint")
        try await Self.join(phone, as: "Bob", room: "four@conference.example.com")
        #expect(Self.errorCondition(phone.received().last) == "resource-constraint", "creating a room is entering one")

        // Leaving (here: being kicked) frees a place.
        try await alice.send("<iq xmlns='jabber:client' type='set' id='k' to='two@conference.example.com'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Bob' role='none'/></query></iq>")
        _ = laptop.received()
        try await Self.join(phone, as: "Bob", room: "three@conference.example.com")
        let entered = phone.received("presence")
        #expect(entered.last.map(Self.statuses) == ["110"] && entered.last?.attribute("from") == "three@conference.example.com/Bob")

        // So does a bounce from the client, which the room takes as the client being gone: 333 (and 307) to it.
        _ = phone.received()
        try await phone.send("<message xmlns='jabber:client' type='error' to='three@conference.example.com'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
        let removal = phone.received("presence").first { $0.attribute("type") == "unavailable" }
        #expect(removal.map(Self.statuses) == ["110", "307", "333"], "\(String(describing: removal))")
        try await Self.join(phone, as: "Bob", room: "four@conference.example.com")
        let created = phone.received("presence").last
        #expect(created?.attribute("from") == "four@conference.example.com/Bob" && created.map(Self.statuses) == ["110", "201"])
    }

    @Test func aSessionThatNeverSentInitialPresenceStillLeavesTheRoomsItEntered() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()])
        for user in ["alice", "bob"] { try await scenario.account(user) }
        let alice = try await scenario.login("alice")
        try await Self.createInstantRoom(alice)
        for ending in ["disconnect", "unavailable"] {
            let script = try await scenario.login("bob", ending, available: false)
            try await Self.join(script, as: "Bob")
            #expect(alice.received("presence").last?.attribute("from") == "\(Self.room)/Bob")
            if ending == "disconnect" {
                try await script.disconnect()
            } else {
                try await script.send("<presence xmlns='jabber:client' type='unavailable'/>")
            }
            let gone = try #require(alice.received("presence").last, "\(ending)")
            #expect(gone.attribute("from") == "\(Self.room)/Bob" && gone.attribute("type") == "unavailable", "\(ending)")
        }
    }

    @Test func atShutdownEachOccupantLearnsOfItsOwnRemovalWith332AndPersistentRoomsStay() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()])
        for user in ["alice", "bob", "carol"] { try await scenario.account(user) }
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob")
        let kept = "kept@conference.example.com"
        try await Self.createInstantRoom(alice)
        try await Self.createInstantRoom(alice, room: kept)
        try await Self.configure(alice, room: kept, ["muc#roomconfig_persistentroom": "1"])
        try await Self.join(bob, as: "Bob")
        _ = alice.received(); _ = bob.received()

        scenario.kernel.closeAllSessions(with: StreamError(.systemShutdown))
        let aliceNotices = alice.received("presence")
        #expect(aliceNotices.compactMap { $0.attribute("from") }.sorted() == ["\(kept)/Alice", "\(Self.room)/Alice"])
        for notice in aliceNotices + bob.received("presence") {
            #expect(notice.attribute("type") == "unavailable" && Self.statuses(notice) == ["110", "332"])
            #expect(Self.item(notice)?.attribute("role") == "none")
        }
        #expect(alice.session.closedWith == .some(StreamError(.systemShutdown)), "the stream closes after the notices")

        let carol = try await scenario.login("carol")
        for (room, expected) in [(Self.room, "error"), (kept, "result")] {
            try await carol.send("<iq xmlns='jabber:client' type='get' id='i' to='\(room)'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
            #expect(carol.received().last?.attribute("type") == expected, "\(room)")
        }
    }

    @Test func iqsToAnOccupantArePassedOnUnderRoomJIDsAndVCardsComeFromItsAccount() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()])
        let (alice, bob, carol) = try await Self.aliceBobAndCarol(in: scenario)
        try await bob.send("<iq xmlns='jabber:client' type='set' id='v'><vCard xmlns='vcard-temp'><FN>Bob B</FN></vCard></iq>")
        try await Self.createInstantRoom(alice)
        try await Self.join(bob, as: "Bob")
        _ = alice.received(); _ = bob.received()

        // A vCard request is answered by the occupant's server, under the occupant's room JID.
        try await alice.send("<iq xmlns='jabber:client' type='get' id='card' to='\(Self.room)/Bob'><vCard xmlns='vcard-temp'/></iq>")
        let card = try #require(await alice.receivedEventually().first)
        #expect(card.attribute("type") == "result" && card.attribute("id") == "card" && card.attribute("from") == "\(Self.room)/Bob")
        #expect(card.child("vCard", namespace: "vcard-temp")?.child("FN", namespace: "vcard-temp")?.text == "Bob B")
        #expect(bob.received().isEmpty, "the server answered for bob")

        // Anything else reaches the occupant's session from the asker's room JID, with an id of the room's.
        try await alice.send("<iq xmlns='jabber:client' type='get' id='what' to='\(Self.room)/Bob'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        let request = try #require(bob.received().first)
        #expect(request.attribute("from") == "\(Self.room)/Alice" && request.attribute("to") == bob.jid.description)
        let token = try #require(request.attribute("id"))
        #expect(token != "what" && !request.xmlString.contains("alice@"), "nothing tells bob who alice is")
        try await carol.send("<iq xmlns='jabber:client' type='result' id='\(token)' to='\(Self.room)/Alice'/>")
        #expect(alice.received().isEmpty, "a reply from anyone but bob is dropped")
        try await bob.send("<iq xmlns='jabber:client' type='result' id='\(token)' to='\(Self.room)/Alice'><query xmlns='http://jabber.org/protocol/disco#info'><feature var='urn:xmpp:ping'/></query></iq>")
        let answer = try #require(alice.received().first)
        #expect(answer.attribute("id") == "what" && answer.attribute("from") == "\(Self.room)/Bob" && answer.attribute("type") == "result")
        #expect(!answer.xmlString.contains("bob@"), "nothing tells alice who bob is")
        try await bob.send("<iq xmlns='jabber:client' type='result' id='\(token)' to='\(Self.room)/Alice'/>")
        #expect(alice.received().isEmpty, "a reply is passed on once")

        // Pinging oneself is answered by the room; strangers and missing nicknames get errors.
        try await alice.send("<iq xmlns='jabber:client' type='get' id='self' to='\(Self.room)/Alice'><ping xmlns='urn:xmpp:ping'/></iq>")
        #expect(alice.received().first?.attribute("type") == "result")
        try await carol.send("<iq xmlns='jabber:client' type='get' id='c' to='\(Self.room)/Bob'><ping xmlns='urn:xmpp:ping'/></iq>")
        #expect(Self.errorCondition(carol.received().first) == "not-acceptable")
        try await alice.send("<iq xmlns='jabber:client' type='get' id='n' to='\(Self.room)/Nobody'><ping xmlns='urn:xmpp:ping'/></iq>")
        #expect(Self.errorCondition(alice.received().first) == "item-not-found")
        #expect(bob.received().isEmpty)
    }

    @Test func moderatorsKickAndGrantVoiceAdminsBanAndOnlyOwnersMakeAdmins() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()])
        let (alice, bob, carol) = try await Self.moderatedRoom(in: scenario)
        _ = alice.received(); _ = bob.received(); _ = carol.received()

        // A visitor in a moderated room has no voice until a moderator grants it (§8.3).
        try await bob.send("<message xmlns='jabber:client' type='groupchat' to='\(Self.room)'><body>hello?</body></message>")
        #expect(Self.errorCondition(bob.received().last) == "forbidden")
        try await alice.send("<iq xmlns='jabber:client' type='set' id='v' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Bob' role='participant'/></query></iq>")
        #expect(Self.item(try #require(carol.received("presence").last))?.attribute("role") == "participant")
        _ = bob.received()
        try await bob.send("<message xmlns='jabber:client' type='groupchat' to='\(Self.room)'><body>hello!</body></message>")
        #expect(carol.received("message").count == 1)

        // A participant cannot kick; the moderator can, with a reason everyone sees (§8.2).
        try await bob.send("<iq xmlns='jabber:client' type='set' id='k0' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Carol' role='none'/></query></iq>")
        #expect(Self.errorCondition(bob.received().last) == "forbidden")
        try await alice.send("<iq xmlns='jabber:client' type='set' id='k1' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Carol' role='none'><reason>spilled tea</reason></item></query></iq>")
        let kicked = try #require(carol.received("presence").last)
        #expect(kicked.attribute("type") == "unavailable" && Self.statuses(kicked) == ["110", "307"])
        #expect(Self.item(kicked)?.child("reason", namespace: MUCNamespace.user)?.text == "spilled tea")
        #expect(Self.item(kicked)?.child("actor", namespace: MUCNamespace.user)?.attribute("nick") == "Alice")
        #expect(Self.statuses(try #require(bob.received("presence").last)) == ["307"])

        // A ban removes the occupant with 301 and keeps them out (§9.1).
        try await alice.send("<iq xmlns='jabber:client' type='set' id='b' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='bob@example.com' affiliation='outcast'/></query></iq>")
        #expect(Self.statuses(try #require(bob.received("presence").last)) == ["110", "301"])
        try await Self.join(bob, as: "Bob")
        #expect(Self.errorCondition(bob.received().last) == "forbidden")
        try await alice.send("<iq xmlns='jabber:client' type='get' id='l' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast'/></query></iq>")
        let list = try #require(alice.received().last?.child("query", namespace: MUCNamespace.admin))
        #expect(list.children("item", namespace: MUCNamespace.admin).map { $0.attribute("jid") } == ["bob@example.com"])

        // Admins manage members and outcasts but cannot make owners; the last owner cannot step down (§10.3, §10.6).
        try await alice.send("<iq xmlns='jabber:client' type='set' id='a' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='carol@example.com' affiliation='admin'/></query></iq>")
        #expect(alice.received().last?.attribute("type") == "result")
        try await carol.send("<iq xmlns='jabber:client' type='set' id='o' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='carol@example.com' affiliation='owner'/></query></iq>")
        #expect(Self.errorCondition(carol.received().last) == "not-allowed")
        try await carol.send("<iq xmlns='jabber:client' type='set' id='u' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='bob@example.com' affiliation='none'/></query></iq>")
        #expect(carol.received().last?.attribute("type") == "result")
        try await alice.send("<iq xmlns='jabber:client' type='set' id='s' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='alice@example.com' affiliation='member'/></query></iq>")
        #expect(Self.errorCondition(alice.received().last) == "conflict")
    }

    @Test func visitorsAskForVoiceAndAModeratorApprovesThroughTheForm() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()])
        let (alice, bob, carol) = try await Self.moderatedRoom(in: scenario)
        #expect(Self.item(try #require(bob.received("presence").last))?.attribute("role") == "visitor")
        _ = alice.received(); _ = carol.received()

        let request = "<message xmlns='jabber:client' to='\(Self.room)'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field><field var='muc#role' type='list-single'><value>participant</value></field></x></message>"
        try await bob.send(request)
        let forwarded = try #require(alice.received("message").first)
        let form = try #require(forwarded.child("x", namespace: DataForm.namespace).flatMap(DataForm.init(element:)))
        #expect(forwarded.attribute("from") == Self.room && form.type == .form)
        #expect(form.value(of: "muc#roomnick") == "Bob" && form.value(of: "muc#jid") == bob.jid.description && form.value(of: "muc#request_allow") == "false")
        #expect(carol.received().isEmpty, "only moderators are asked")
        try await bob.send(request)
        #expect(alice.received().isEmpty, "one request at a time")

        var approval = form
        approval.type = .submit
        approval.setValues(["true"], for: "muc#request_allow")
        let submission = "<message xmlns='jabber:client' to='\(Self.room)'>\(approval.element.xmlString)</message>"
        try await carol.send(submission)
        #expect(Self.errorCondition(carol.received().first) == "forbidden", "a visitor cannot approve")
        try await alice.send(submission)
        let granted = try #require(bob.received("presence").last)
        #expect(Self.item(granted)?.attribute("role") == "participant" && Self.statuses(granted) == ["110"])
        try await bob.send("<message xmlns='jabber:client' type='groupchat' to='\(Self.room)'><body>thanks</body></message>")
        #expect(alice.received("message").last?.child("body", namespace: "jabber:client")?.text == "thanks")
    }

    @Test func membersOnlyRoomsAdmitMembersAndInviteesAndPasswordsAreChecked() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()])
        let (alice, bob, carol) = try await Self.aliceBobAndCarol(in: scenario)
        try await Self.createInstantRoom(alice)
        try await Self.configure(alice, ["muc#roomconfig_membersonly": "1", "muc#roomconfig_passwordprotectedroom": "1",
                                         "muc#roomconfig_roomsecret": "leaf"])
        _ = alice.received()
        try await Self.join(bob, as: "Bob", extra: "<password>leaf</password>")
        #expect(Self.errorCondition(bob.received().last) == "registration-required")

        // A mediated invitation (§7.8.2) makes the invitee a member and carries the password.
        try await alice.send("<message xmlns='jabber:client' to='\(Self.room)'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='bob@example.com'><reason>tea time</reason></invite></x></message>")
        let invitation = try #require(bob.received("message").last)
        let invite = invitation.child("x", namespace: MUCNamespace.user)?.child("invite", namespace: MUCNamespace.user)
        #expect(invitation.attribute("from") == Self.room)
        #expect(invite?.attribute("from") == "alice@example.com")
        #expect(invite?.child("reason", namespace: MUCNamespace.user)?.text == "tea time")
        #expect(invitation.child("x", namespace: MUCNamespace.user)?.child("password", namespace: MUCNamespace.user)?.text == "leaf")

        try await Self.join(bob, as: "Bob")
        #expect(Self.errorCondition(bob.received().last) == "not-authorized")
        try await Self.join(bob, as: "Bob", extra: "<password>leaf</password>")
        #expect(Self.statuses(try #require(bob.received("presence").last)) == ["110"])

        // Carol declines hers; Alice hears why (§7.8.2).
        try await alice.send("<message xmlns='jabber:client' to='\(Self.room)'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='carol@example.com'/></x></message>")
        _ = carol.received()
        try await carol.send("<message xmlns='jabber:client' to='\(Self.room)'><x xmlns='http://jabber.org/protocol/muc#user'><decline to='alice@example.com'><reason>busy</reason></decline></x></message>")
        let decline = try #require(alice.received("message").last?.child("x", namespace: MUCNamespace.user)?.child("decline", namespace: MUCNamespace.user))
        #expect(decline.attribute("from") == "carol@example.com" && decline.child("reason", namespace: MUCNamespace.user)?.text == "busy")

        // Direct invitations (XEP-0249) are plain messages between users and pass through.
        try await alice.send("<message xmlns='jabber:client' to='carol@example.com'><x xmlns='jabber:x:conference' jid='\(Self.room)' password='leaf'/></message>")
        #expect(carol.received("message").last?.child("x", namespace: MUCNamespace.directInvitation)?.attribute("jid") == Self.room)

        // Taking membership away removes the occupant with 321 (§9.4).
        try await alice.send("<iq xmlns='jabber:client' type='set' id='r' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='bob@example.com' affiliation='none'/></query></iq>")
        #expect(Self.statuses(try #require(bob.received("presence").last)) == ["110", "321"])
    }

    @Test func theConfigurationFormDiscoAndDestructionWork() async throws {
        let scenario = try KernelScenario(extraModules: [MUCModule()])
        let (alice, bob) = try await Self.aliceAndBob(in: scenario)

        try await alice.send("<iq xmlns='jabber:client' type='get' id='s' to='example.com'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
        let services = alice.received().last?.child("query", namespace: DiscoModule.itemsNamespace)?.children("item", namespace: DiscoModule.itemsNamespace)
        #expect(services?.map { $0.attribute("jid") } == ["conference.example.com"])
        try await alice.send("<iq xmlns='jabber:client' type='get' id='si' to='conference.example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        let serviceInfo = alice.received().last?.child("query", namespace: DiscoModule.infoNamespace)
        #expect(serviceInfo?.child("identity", namespace: DiscoModule.infoNamespace)?.attribute("category") == "conference")

        try await Self.join(alice, as: "Alice")
        _ = alice.received()
        try await alice.send("<iq xmlns='jabber:client' type='get' id='f' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>")
        let formElement = try #require(alice.received().last?.child("query", namespace: MUCNamespace.owner)?.child("x", namespace: DataForm.namespace))
        let form = try #require(DataForm(element: formElement))
        #expect(form.formType == MUCNamespace.roomConfig)
        #expect(form.field("muc#roomconfig_persistentroom")?.type == .boolean)
        try await bob.send("<iq xmlns='jabber:client' type='get' id='f' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>")
        #expect(Self.errorCondition(bob.received().last) == "forbidden")

        try await Self.configure(alice, ["muc#roomconfig_roomname": "Tea Room", "muc#roomconfig_whois": "anyone", "muc#maxhistoryfetch": "5"])
        #expect(alice.received().last?.attribute("type") == "result")
        try await Self.configure(alice, ["muc#maxhistoryfetch": "100000"])
        #expect(Self.errorCondition(alice.received().last) == "not-acceptable")

        try await bob.send("<iq xmlns='jabber:client' type='get' id='i' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        let info = try #require(bob.received().last?.child("query", namespace: DiscoModule.infoNamespace))
        let features = Set(info.children("feature", namespace: DiscoModule.infoNamespace).compactMap { $0.attribute("var") })
        #expect(features.isSuperset(of: ["http://jabber.org/protocol/muc", "muc_public", "muc_temporary", "muc_open", "muc_unmoderated", "muc_unsecured", "muc_nonanonymous"]))
        #expect(info.child("identity", namespace: DiscoModule.infoNamespace)?.attribute("name") == "Tea Room")
        #expect(!features.contains("http://jabber.org/protocol/muc#request"), "nobody asks for voice in an unmoderated room")
        try await Self.configure(alice, ["muc#roomconfig_moderatedroom": "1"])
        _ = alice.received()
        try await bob.send("<iq xmlns='jabber:client' type='get' id='i2' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        let moderated = Set(try #require(bob.received().last?.child("query", namespace: DiscoModule.infoNamespace))
            .children("feature", namespace: DiscoModule.infoNamespace).compactMap { $0.attribute("var") })
        #expect(moderated.isSuperset(of: ["muc_moderated", "http://jabber.org/protocol/muc#request"]), "voice requests are possible (§7.13)")
        try await Self.configure(alice, ["muc#roomconfig_moderatedroom": "0"])
        _ = alice.received()
        try await bob.send("<iq xmlns='jabber:client' type='get' id='r' to='conference.example.com'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
        let rooms = bob.received().last?.child("query", namespace: DiscoModule.itemsNamespace)?.children("item", namespace: DiscoModule.itemsNamespace)
        #expect(rooms?.map { $0.attribute("name") } == ["Tea Room"])

        try await Self.join(bob, as: "Bob")
        #expect(Set(Self.statuses(try #require(bob.received("presence").last))) == ["110", "100"], "non-anonymous rooms say so")
        try await alice.send("<iq xmlns='jabber:client' type='set' id='d' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy jid='coffee@conference.example.com'><reason>moving</reason></destroy></query></iq>")
        let destroyed = try #require(bob.received("presence").last)
        let notice = destroyed.child("x", namespace: MUCNamespace.user)?.child("destroy", namespace: MUCNamespace.user)
        #expect(destroyed.attribute("type") == "unavailable")
        #expect(notice?.attribute("jid") == "coffee@conference.example.com" && notice?.child("reason", namespace: MUCNamespace.user)?.text == "moving")
        try await bob.send("<iq xmlns='jabber:client' type='get' id='r2' to='conference.example.com'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
        #expect(bob.received().last?.child("query", namespace: DiscoModule.itemsNamespace)?.elements.first { _ in true } == nil)
    }

    @Test func persistentRoomsAndAffiliationsSurviveARestart() async throws {
        let storage = ServerStorage.inMemory()
        let first = try KernelScenario(storage: storage, extraModules: [MUCModule()])
        for user in ["alice", "bob"] { try await first.account(user) }
        let alice = try await first.login("alice")
        try await Self.createInstantRoom(alice)
        try await Self.configure(alice, ["muc#roomconfig_persistentroom": "1", "muc#roomconfig_membersonly": "1", "muc#roomconfig_roomname": "Tea"])
        try await alice.send("<iq xmlns='jabber:client' type='set' id='m' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='bob@example.com' affiliation='member'/></query></iq>")
        try await alice.send("<message xmlns='jabber:client' type='groupchat' to='\(Self.room)'><subject>Sencha</subject></message>")
        try await alice.disconnect()
        #expect(try await RoomStore(records: storage.serviceRecords, domain: "conference.example.com").rooms().map(\.configuration.name) == ["Tea"])

        let second = try KernelScenario(storage: storage, extraModules: [MUCModule()])
        let bob = try await second.login("bob")
        try await bob.send("<iq xmlns='jabber:client' type='get' id='r' to='conference.example.com'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
        #expect(bob.received().last?.child("query", namespace: DiscoModule.itemsNamespace)?.child("item", namespace: DiscoModule.itemsNamespace)?.attribute("jid") == Self.room)
        try await Self.join(bob, as: "Bob")
        let joined = bob.received()
        #expect(Self.item(try #require(joined.last { $0.name == "presence" }))?.attribute("affiliation") == "member")
        #expect(joined.last?.child("subject", namespace: XMLNamespace.client)?.text == "Sencha")
        #expect(joined.last?.attribute("from") == "\(Self.room)/Alice", "the subject says who set it")
    }

    @Test func aDeletedAccountLosesItsAffiliationsInEveryRoom() async throws {
        let storage = ServerStorage.inMemory()
        let scenario = try KernelScenario(storage: storage, extraModules: [MUCModule()])
        let (alice, _) = try await Self.aliceAndBob(in: scenario)
        try await Self.createInstantRoom(alice)
        try await Self.configure(alice, ["muc#roomconfig_persistentroom": "1"])
        try await alice.send("<iq xmlns='jabber:client' type='set' id='m' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='bob@example.com' affiliation='admin'/></query></iq>")
        let rooms = RoomStore(records: storage.serviceRecords, domain: "conference.example.com")
        #expect(try await rooms.rooms().first?.affiliations["bob@example.com"] == .admin)
        #expect(try await scenario.kernel.deleteAccount("bob"))
        #expect(try await rooms.rooms().first?.affiliations["bob@example.com"] == nil, "whoever registers bob again is no admin")
        #expect(try await rooms.rooms().first?.affiliations["alice@example.com"] == .owner)
    }
}
