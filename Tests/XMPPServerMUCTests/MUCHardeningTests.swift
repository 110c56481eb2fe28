import Testing
import XMPPCore
import XMPPKernelTestSupport
import XMPPServerKernel
@testable import XMPPServerMUC

/// What the hardening review found in multi-user chat: persistent state bounded, no relaying for strangers, no
/// leaking of private rooms, no lookalike nicknames.
@Suite struct MUCHardeningTests {
    static let room = MUCTests.room

    static func scenario(_ configure: (inout KernelConfiguration) -> Void = { _ in }) throws -> KernelScenario {
        try KernelScenario(extraModules: [MUCModule()], configure: configure)
    }

    @Test func historyIsBoundedInBytes() async throws {
        let scenario = try Self.scenario { $0.set(MUCModule.maxHistoryBytes, to: 1200) }
        let (alice, bob) = try await MUCTests.aliceAndBob(in: scenario)
        try await MUCTests.createInstantRoom(alice)
        for index in 0..<10 {
            try await alice.send("<message xmlns='jabber:client' type='groupchat' to='\(Self.room)'><body>message \(index) \(String(repeating: "x", count: 200))</body></message>")
        }
        _ = bob.received()
        try await MUCTests.join(bob, as: "Bob")
        let history = bob.received("message").filter { $0.child("delay", namespace: Delay.namespace) != nil }
        #expect(!history.isEmpty && history.count < 10, "only what fits in 1,200 bytes: \(history.count)")
        #expect(history.last.flatMap { Message(element: $0)?.body }?.hasPrefix("message 9") == true, "the newest kept")
    }

    @Test func ownedPersistentRoomsAndAffiliationListsAreBounded() async throws {
        let scenario = try Self.scenario {
            $0.set(MUCModule.maxOwnedRooms, to: 1)
            $0.set(MUCModule.maxAffiliations, to: 2)
        }
        let (alice, _) = try await MUCTests.aliceAndBob(in: scenario)
        try await MUCTests.createInstantRoom(alice)
        try await MUCTests.configure(alice, ["muc#roomconfig_persistentroom": "1"])
        _ = alice.received()
        try await MUCTests.join(alice, as: "Alice", room: "second@conference.example.com")
        #expect(MUCTests.errorCondition(alice.received("presence").first) == "resource-constraint", "a second room would be a second owned one")

        try await alice.send("<iq xmlns='jabber:client' type='set' id='m1' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='bob@example.com' affiliation='member'/></query></iq>")
        try await alice.send("<iq xmlns='jabber:client' type='set' id='m2' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='carol@example.com' affiliation='member'/></query></iq>")
        let replies = alice.received("iq")
        #expect(replies.first { $0.attribute("id") == "m1" }?.attribute("type") == "result")
        #expect(MUCTests.errorCondition(replies.first { $0.attribute("id") == "m2" }) == "resource-constraint", "owner and bob fill the two places")
    }

    @Test func persistenceAndOwnershipGrantsCountAgainstTheLimits() async throws {
        let scenario = try Self.scenario {
            $0.set(MUCModule.maxOwnedRooms, to: 1)
            $0.set(MUCModule.maxPersistentRooms, to: 2)
        }
        let (alice, bob, carol) = try await MUCTests.aliceBobAndCarol(in: scenario)
        let (first, second) = ("first@conference.example.com", "second@conference.example.com")
        let (bobs, carols) = ("bobs@conference.example.com", "carols@conference.example.com")
        func configureResult(_ client: TestClient) -> Element? { client.received("iq").first { $0.attribute("id") == "config" } }
        // Two temporary rooms pass the creation check; only one of them may become persistent.
        try await MUCTests.createInstantRoom(alice, room: first)
        try await MUCTests.createInstantRoom(alice, room: second)
        try await MUCTests.configure(alice, room: first, ["muc#roomconfig_persistentroom": "1"])
        #expect(configureResult(alice)?.attribute("type") == "result")
        try await MUCTests.configure(alice, room: second, ["muc#roomconfig_persistentroom": "true"])
        #expect(MUCTests.errorCondition(configureResult(alice)) == "resource-constraint", "a second persistent room for alice")
        // Other settings of a temporary room still change.
        try await MUCTests.configure(alice, room: second, ["muc#roomconfig_roomname": "Second"])
        #expect(configureResult(alice)?.attribute("type") == "result")

        // Handing on ownership of a persistent room counts for the new owner.
        try await MUCTests.createInstantRoom(bob, as: "Bob", room: bobs)
        try await MUCTests.configure(bob, room: bobs, ["muc#roomconfig_persistentroom": "1"])
        #expect(configureResult(bob)?.attribute("type") == "result")
        // The service as a whole keeps two; carol's room cannot be the third, though she owns none.
        try await MUCTests.createInstantRoom(carol, as: "Carol", room: carols)
        try await MUCTests.configure(carol, room: carols, ["muc#roomconfig_persistentroom": "1"])
        #expect(MUCTests.errorCondition(configureResult(carol)) == "resource-constraint", "the service's limit")
        try await bob.send("<iq xmlns='jabber:client' type='set' id='grant' to='\(bobs)'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='alice@example.com' affiliation='owner'/></query></iq>")
        #expect(MUCTests.errorCondition(bob.received("iq").first { $0.attribute("id") == "grant" }) == "resource-constraint")
        try await bob.send("<iq xmlns='jabber:client' type='set' id='grant' to='\(bobs)'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='carol@example.com' affiliation='owner'/></query></iq>")
        #expect(bob.received("iq").first { $0.attribute("id") == "grant" }?.attribute("type") == "result", "carol owns none yet")
    }

    @Test func ownershipLimitsHoldHoweverTheChangeIsAsked() async throws {
        let scenario = try Self.scenario { $0.set(MUCModule.maxOwnedRooms, to: 1) }
        let (alice, bob) = try await MUCTests.aliceAndBob(in: scenario)
        let (first, second, bobs) = ("first@conference.example.com", "second@conference.example.com", "bobs@conference.example.com")
        func result(_ client: TestClient, _ id: String) -> Element? { client.received("iq").first { $0.attribute("id") == id } }
        try await MUCTests.createInstantRoom(alice, room: first)
        try await MUCTests.createInstantRoom(alice, room: second)
        try await MUCTests.configure(alice, room: first, ["muc#roomconfig_persistentroom": "1"])
        #expect(result(alice, "config")?.attribute("type") == "result")
        // The payload's element name is not what counts; its namespace is.
        try await alice.send("<iq xmlns='jabber:client' type='set' id='renamed' to='\(second)'><configure xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_persistentroom'><value>1</value></field></x></configure></iq>")
        #expect(MUCTests.errorCondition(result(alice, "renamed")) == "resource-constraint")

        // Ownership given by nickname counts like ownership given by JID.
        try await MUCTests.createInstantRoom(bob, as: "Bob", room: bobs)
        try await MUCTests.configure(bob, room: bobs, ["muc#roomconfig_persistentroom": "1"])
        #expect(result(bob, "config")?.attribute("type") == "result")
        try await MUCTests.join(alice, as: "Alice", room: bobs)
        _ = (alice.received(), bob.received())
        try await bob.send("<iq xmlns='jabber:client' type='set' id='bynick' to='\(bobs)'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Alice' affiliation='owner'/></query></iq>")
        #expect(MUCTests.errorCondition(result(bob, "bynick")) == "resource-constraint")
        #expect(alice.received("presence").isEmpty, "occupants hear of no change that was refused")

        // An owner named while the room is temporary counts when it becomes persistent.
        try await bob.send("<iq xmlns='jabber:client' type='set' id='temporary' to='\(bobs)'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_persistentroom'><value>0</value></field></x></query></iq>")
        #expect(result(bob, "temporary")?.attribute("type") == "result")
        try await bob.send("<iq xmlns='jabber:client' type='set' id='grant' to='\(bobs)'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='alice@example.com' affiliation='owner'/></query></iq>")
        #expect(result(bob, "grant")?.attribute("type") == "result", "a temporary room's owners are not counted")
        try await MUCTests.configure(bob, room: bobs, ["muc#roomconfig_persistentroom": "1"])
        #expect(MUCTests.errorCondition(result(bob, "config")) == "resource-constraint", "alice would own two")
    }

    @Test func storedRoomsCountAfterARestart() async throws {
        let storage = ServerStorage.inMemory()
        let limit: (inout KernelConfiguration) -> Void = { $0.set(MUCModule.maxOwnedRooms, to: 1) }
        let first = try KernelScenario(storage: storage, extraModules: [MUCModule()], configure: limit)
        try await first.account("alice")
        let alice = try await first.login("alice")
        try await MUCTests.createInstantRoom(alice)
        try await MUCTests.configure(alice, ["muc#roomconfig_persistentroom": "1"])
        try await alice.disconnect()

        let second = try KernelScenario(storage: storage, extraModules: [MUCModule()], configure: limit)
        let again = try await second.login("alice")
        try await MUCTests.join(again, as: "Alice", room: "second@conference.example.com")
        #expect(MUCTests.errorCondition(again.received("presence").first) == "resource-constraint", "the stored room is still hers")
    }

    @Test func aRoomCreatedAgainUnderADestroyedRoomsNameIsStored() async throws {
        let storage = ServerStorage.inMemory()
        let scenario = try KernelScenario(storage: storage, extraModules: [MUCModule()])
        try await scenario.account("alice")
        let alice = try await scenario.login("alice")
        try await MUCTests.createInstantRoom(alice)
        try await MUCTests.configure(alice, ["muc#roomconfig_persistentroom": "1", "muc#roomconfig_roomname": "Old"])
        for subject in ["one", "two", "three"] {
            try await alice.send("<message xmlns='jabber:client' type='groupchat' to='\(Self.room)'><subject>\(subject)</subject></message>")
        }
        try await alice.send("<iq xmlns='jabber:client' type='set' id='d' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy/></query></iq>")
        let store = RoomStore(records: storage.serviceRecords, domain: "conference.example.com")
        #expect(try await store.rooms().isEmpty)
        _ = alice.received()
        try await MUCTests.createInstantRoom(alice)
        try await MUCTests.configure(alice, ["muc#roomconfig_persistentroom": "1", "muc#roomconfig_roomname": "New"])
        #expect(try await store.rooms().map(\.configuration.name) == ["New"], "the new room survives a restart")
    }

    @Test func nicknameChangesDoNotUseUpTheDirectedPresenceLimit() async throws {
        let scenario = try Self.scenario { $0.maxDirectedPresence = 2 }
        let (alice, bob) = try await MUCTests.aliceAndBob(in: scenario)
        try await MUCTests.createInstantRoom(alice)
        try await MUCTests.join(bob, as: "Bob")
        for nickname in ["Al", "Ali", "Alice2", "Alicia"] {
            try await alice.send("<presence xmlns='jabber:client' to='\(Self.room)/\(nickname)'/>")
        }
        #expect(!alice.received("presence").contains { $0.attribute("type") == "error" }, "four nickname changes are one room")
        #expect(bob.received("presence").last?.attribute("from") == "\(Self.room)/Alicia")
        try await MUCTests.createInstantRoom(alice, as: "Alicia", room: "second@conference.example.com")
        // The session's end still takes alice out of the first room under her last nickname.
        try await alice.disconnect()
        let gone = bob.received("presence").first { $0.attribute("from") == "\(Self.room)/Alicia" }
        #expect(gone?.attribute("type") == "unavailable")
    }

    @Test func declinesAreRelayedOnlyForInvitationsAndPasswordsOnlyFromAdmins() async throws {
        let scenario = try Self.scenario()
        let (alice, bob, carol) = try await MUCTests.aliceBobAndCarol(in: scenario)
        try await MUCTests.createInstantRoom(alice)
        try await MUCTests.configure(alice, ["muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "sesame"])
        try await MUCTests.join(bob, as: "Bob", extra: "<password>sesame</password>")
        _ = (alice.received(), bob.received(), carol.received())
        // A stranger cannot make the room send declines to anyone.
        try await carol.send("<message xmlns='jabber:client' to='\(Self.room)'><x xmlns='http://jabber.org/protocol/muc#user'><decline to='bob@example.com'><reason>spam</reason></decline></x></message>")
        #expect(bob.received("message").isEmpty)
        // A participant's invitation carries no password; the owner's does.
        try await bob.send("<message xmlns='jabber:client' to='\(Self.room)'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='carol@example.com'/></x></message>")
        let fromBob = try #require(carol.received("message").first)
        #expect(fromBob.child("x", namespace: MUCNamespace.user)?.child("password", namespace: MUCNamespace.user) == nil)
        try await alice.send("<message xmlns='jabber:client' to='\(Self.room)'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='carol@example.com'/></x></message>")
        let fromAlice = try #require(carol.received("message").first)
        #expect(fromAlice.child("x", namespace: MUCNamespace.user)?.child("password", namespace: MUCNamespace.user)?.text == "sesame")
        // The invitee's decline reaches the inviter.
        try await carol.send("<message xmlns='jabber:client' to='\(Self.room)'><x xmlns='http://jabber.org/protocol/muc#user'><decline to='bob@example.com'/></x></message>")
        #expect(bob.received("message").contains { $0.child("x", namespace: MUCNamespace.user)?.child("decline", namespace: MUCNamespace.user) != nil })
    }

    @Test func privateRoomsTellOutsidersNeitherWhoIsInsideNorTheSubject() async throws {
        let scenario = try Self.scenario()
        let (alice, bob) = try await MUCTests.aliceAndBob(in: scenario)
        try await MUCTests.createInstantRoom(alice)
        try await MUCTests.configure(alice, ["muc#roomconfig_membersonly": "1"])
        try await alice.send("<message xmlns='jabber:client' type='groupchat' to='\(Self.room)'><subject>secret plans</subject></message>")
        func roomInfo(_ client: TestClient) async throws -> [String] {
            _ = client.received()
            try await client.send("<iq xmlns='jabber:client' type='get' id='d' to='\(Self.room)'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
            let form = client.received("iq").first?.child("query", namespace: DiscoModule.infoNamespace)?.child("x", namespace: DataForm.namespace)
            return form.flatMap(DataForm.init(element:))?.fields.compactMap(\.variable) ?? []
        }
        #expect(!(try await roomInfo(bob)).contains("muc#roominfo_subject"), "bob is no member")
        #expect(!(try await roomInfo(bob)).contains("muc#roominfo_occupants"))
        #expect(try await roomInfo(alice).contains("muc#roominfo_subject"), "alice is inside")
    }

    @Test func withoutThePasswordNobodyLearnsWhichNicknamesAreInside() async throws {
        let scenario = try Self.scenario()
        let (alice, bob) = try await MUCTests.aliceAndBob(in: scenario)
        try await MUCTests.createInstantRoom(alice, as: "Alice")
        try await MUCTests.configure(alice, ["muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "sesame"])
        _ = bob.received()
        try await MUCTests.join(bob, as: "Alice")
        #expect(MUCTests.errorCondition(bob.received("presence").first) == "not-authorized", "not conflict: that would say Alice is in")
    }

    @Test func lookalikeNicknamesAreTheSameNickname() async throws {
        let scenario = try Self.scenario()
        let (alice, bob) = try await MUCTests.aliceAndBob(in: scenario)
        try await MUCTests.createInstantRoom(alice, as: "Alice")
        for lookalike in ["alice", "ALICE", "Ａｌｉｃｅ"] {
            _ = bob.received()
            try await MUCTests.join(bob, as: lookalike)
            #expect(MUCTests.errorCondition(bob.received("presence").first) == "conflict", "'\(lookalike)' is Alice's nickname")
        }
        #expect(Room.nicknameKey("Ａｌｉｃｅ  in\u{3000}Wonderland ") == "alice in wonderland")
    }
}
