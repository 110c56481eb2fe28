import Foundation
import Testing
import XMPPClient
import XMPPClientSQLite
import XMPPCore
import XMPPTestSupport

/// The flows of the classic guides, as scenarios between clients of one in-process xmppd.
@Suite("Client scenarios against xmppd")
struct ChatAndRosterTests {
    @Test("alice and bob subscribe to each other, see each other's presence and the roster says both")
    func subscriptions() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
        let aliceRoster = alice.add(RosterModule()), bobRoster = bob.add(RosterModule())
        let alicePresence = alice.add(PresenceModule())
        try await alice.connect(registering: true)
        try await bob.connect(registering: true)

        let requestsToBob = bobRoster.subscriptionRequests
        try await aliceRoster.add(try fixture.jid("bob"), name: "Bob", groups: ["Friends"])
        try await aliceRoster.subscribe(to: try fixture.jid("bob"), status: "It's Alice")
        let request = await first(requestsToBob) { _ in true }
        #expect(request?.from == (try fixture.jid("alice")))
        #expect(request?.status == "It's Alice")

        // Bob accepts and asks back; Alice accepts.
        let requestsToAlice = aliceRoster.subscriptionRequests
        let aliceUpdates = alicePresence.updates
        try await bobRoster.approve(try fixture.jid("alice"))
        try await bobRoster.subscribe(to: try fixture.jid("alice"))
        #expect(await first(requestsToAlice) { _ in true }?.from == (try fixture.jid("bob")))
        let bobUpdates = bobRoster.updates
        try await aliceRoster.approve(try fixture.jid("bob"))

        let bobSeen = await first(bobUpdates) { event in
            if case .updated(let item) = event { return item.subscription == .both }
            return false
        }
        #expect(bobSeen != nil)
        #expect(await first(aliceUpdates) { $0.jid.bare == (try? fixture.jid("bob")) && $0.presence.type == .available } != nil)
        let bobJID = try fixture.jid("bob")
        #expect(await eventually { aliceRoster.item(for: bobJID)?.subscription == .both })
        let item = try #require(aliceRoster.item(for: bobJID))
        #expect(item.name == "Bob" && item.groups == ["Friends"])
        #expect(alicePresence.isAvailable(try fixture.jid("bob")))

        // A fresh login loads the same roster.
        await alice.disconnect()
        let again = try fixture.client("alice")
        let roster = again.add(RosterModule())
        try await again.connect()
        #expect(roster.item(for: try fixture.jid("bob"))?.subscription == .both)

        let removals = roster.updates
        try await roster.remove(try fixture.jid("bob"))
        #expect(await first(removals) { $0 == .removed(bobJID) } != nil)
        #expect(roster.item(for: bobJID) == nil)
        await again.disconnect()
        await bob.disconnect()
    }

    @Test("a chat message with a receipt request is delivered, confirmed and archived on both sides")
    func chatWithReceiptsAndArchive() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
        let aliceChat = alice.add(ChatModule()), bobChat = bob.add(ChatModule())
        let aliceArchive = alice.add(MessageArchiveModule(storage: try SQLiteMessageArchive()))
        let bobArchive = bob.add(MessageArchiveModule())
        try await alice.connect(registering: true)
        try await bob.connect(registering: true)

        let incoming = aliceChat.messages
        let states = aliceChat.chatStates
        let receipts = bobChat.receipts
        try await bobChat.send(.composing, to: try fixture.jid("alice"))
        #expect(await first(states) { $0.state == .composing }?.from.bare == (try fixture.jid("bob")))
        let id = try await bobChat.send("Hello Alice", to: try fixture.jid("alice"), thread: "t1")
        let message = try #require(await first(incoming) { _ in true })
        #expect(message.body == "Hello Alice")
        #expect(message.thread == "t1")
        #expect(message.id == id && message.requestsReceipt)
        #expect(await first(receipts) { $0.messageID == id } != nil)

        try await aliceChat.send("Hi Bob", to: try fixture.jid("bob"))
        let (aliceJID, bobJID) = (try fixture.jid("alice"), try fixture.jid("bob"))
        #expect(try await eventually { try bobArchive.messages(with: aliceJID).count == 2 })
        // Alice's own message reaches her local archive from its send event, not before `send` returns.
        #expect(try await eventually { try aliceArchive.messages(with: bobJID).count == 2 })
        let aliceHistory = try aliceArchive.messages(with: try fixture.jid("bob"))
        #expect(aliceHistory.map(\.body) == ["Hello Alice", "Hi Bob"])
        #expect(aliceHistory.map(\.direction) == [.incoming, .outgoing])
        #expect(try bobArchive.messages(with: aliceJID).map(\.body) == ["Hello Alice", "Hi Bob"])
        #expect(try aliceArchive.conversations() == [bobJID])
        await alice.disconnect()
        await bob.disconnect()
    }

    @Test("a copy sent again with the same origin id (a session that could not resume) is confirmed again and shown once")
    func repeatedCopiesAreShownOnce() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
        let aliceChat = alice.add(ChatModule())
        for client in [alice, bob] { try await client.connect(registering: true) }
        let incoming = aliceChat.messages
        let copy = "<message xmlns='jabber:client' to='alice@localhost' type='chat' id='m1'><body>once</body>"
            + "<origin-id xmlns='urn:xmpp:sid:0' id='m1'/></message>"
        for _ in 0..<2 { try await bob.send(try Element(xml: copy)) }
        try await bob.send(Message(type: .chat, to: try fixture.jid("alice"), body: "next"))
        let received = Locked<[String]>([])
        _ = await first(incoming) { message in received.withLock { $0.append(message.body) }; return message.body == "next" }
        #expect(received.withLock { $0 } == ["once", "next"])
        await alice.disconnect()
        await bob.disconnect()
    }

    @Test("a message to an offline user is stored and delivered at the next login")
    func offlineDelivery() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let alice = try fixture.client("alice")
        try await alice.connect(registering: true)
        await alice.disconnect()
        let bob = try fixture.client("bob")
        let chat = bob.add(ChatModule())
        try await bob.connect(registering: true)
        try await chat.send("while you were away", to: try fixture.jid("alice"))
        let again = try fixture.client("alice")
        let aliceChat = again.add(ChatModule())
        let archive = again.add(MessageArchiveModule())
        let sentAt = Date()
        try await Task.sleep(for: .milliseconds(1500))   // so the time it was sent and the time it arrived differ
        // The app subscribes only after connect() returned: what arrived meanwhile waited for it.
        try await again.connect()
        try #require(await eventually { try archive.messages(with: try fixture.jid("bob")).count == 1 }, "the offline message arrived")
        let incoming = aliceChat.messages
        let offline = await first(incoming) { _ in true }
        #expect(offline?.body == "while you were away")
        let stamp = offline?.timestamp ?? Date()
        #expect(offline?.isDelayed == true && stamp > sentAt.addingTimeInterval(-2) && stamp < Date().addingTimeInterval(-1),
                "the time it was sent, not when it arrived: \(stamp) vs \(sentAt)")
        let bobJID = try fixture.jid("bob")
        #expect(try await eventually { try archive.messages(with: bobJID).count == 1 })
        await again.disconnect()
        await bob.disconnect()
    }
}

/// The roster an app keeps between launches (SQLite), and what happens when its storage fails.
@Suite("Persistent roster")
struct PersistentRosterTests {
    @Test("the roster and its version survive a relaunch: contacts show before connecting, the login asks only for changes")
    func rosterSurvivesRelaunch() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let path = server.directory + "/client-roster.sqlite"
        let bob = try fixture.jid("bob")
        do {
            let alice = try fixture.client("alice")
            let roster = alice.add(RosterModule(storage: try SQLiteRosterStorage(path: path)))
            try await alice.connect(registering: true)
            let updates = roster.updates
            try await roster.add(bob, name: "Bob", groups: ["Friends"])
            #expect(await first(updates) { if case .updated(let item) = $0 { item.jid == bob } else { false } } != nil)
            await roster.flushStorage()
            await alice.disconnect()
        }
        // A relaunch: new objects over the same file.
        let alice = try fixture.client("alice")
        let roster = alice.add(RosterModule(storage: try SQLiteRosterStorage(path: path)))
        #expect(roster.item(for: bob)?.name == "Bob" && roster.version != nil, "shown before connecting")
        let version = roster.version
        let loads = roster.updates
        try await alice.connect()
        #expect(await first(loads) { if case .loaded = $0 { true } else { false } } == .loaded(roster.items))
        #expect(roster.item(for: bob)?.groups == ["Friends"] && roster.version == version, "unchanged: nothing new was sent")
        await alice.disconnect()
    }

    @Test("a storage that cannot save is reported on storageFailures, and the roster in memory stays right")
    func failingStorageIsReported() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let alice = try fixture.client("alice")
        let roster = alice.add(RosterModule(storage: RefusingRosterStorage()))
        let failures = roster.storageFailures
        try await alice.connect(registering: true)
        let failure = await first(failures) { _ in true }
        #expect(failure?.store == "roster" && failure?.reason.contains("disk full") == true, "\(String(describing: failure))")
        let bob = try fixture.jid("bob")
        try await roster.add(bob, name: "Bob")
        #expect(await eventually { roster.item(for: bob)?.name == "Bob" })
        await alice.disconnect()
    }
}

/// A roster storage whose disk is full.
final class RefusingRosterStorage: RosterStorage {
    struct DiskFull: Error, CustomStringConvertible { var description: String { "disk full" } }
    func load(account: JID) throws -> (version: String, items: [RosterItem])? { nil }
    func save(account: JID, version: String?, items: [RosterItem]) throws { throw DiskFull() }
}

/// Messages written while offline, and the ticks beside a sent message (XEP-0198 acks, XEP-0184 receipts,
/// XEP-0333 markers), against xmppd.
@Suite("Outbox and delivery status")
struct OutboxTests {
    /// The statuses of message `id` as they arrive, until `last` (or a timeout).
    static func statuses(of id: String, in updates: AsyncStream<DeliveryUpdate>, until last: DeliveryStatus) async -> [DeliveryStatus] {
        let collected = Locked<[DeliveryStatus]>([])
        _ = await first(updates, timeout: .seconds(10)) { update in
            guard update.messageID == id else { return false }
            collected.withLock { $0.append(update.status) }
            return update.status == last
        }
        return collected.withLock { $0 }
    }

    @Test("sent while offline: queued in order, out at the next login; then acknowledged, delivered and read")
    func offlineMessagesGoOutInOrderWithTheirTicks() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let bob = try fixture.client("bob")
        let bobChat = bob.add(ChatModule())
        try await bob.connect(registering: true)
        let alice = try fixture.client("alice")
        try await alice.connect(registering: true)
        await alice.disconnect()

        let store = try SQLiteMessageArchive()
        let chat = alice.add(ChatModule(outbox: store))
        let archive = alice.add(MessageArchiveModule(storage: store, synchronizesWithServer: false))
        let updates = chat.deliveryUpdates
        let bobJID = try fixture.jid("bob")
        let first = try await chat.send("one", to: bobJID)
        let second = try await chat.send("two", to: bobJID)
        #expect(chat.status(of: first) == .queued && chat.status(of: second) == .queued)
        await archive.flushStorage()
        #expect(try archive.messages(with: bobJID).map(\.deliveryStatus) == [.queued, .queued], "the conversation shows them waiting")

        let incoming = bobChat.messages
        try await alice.connect()
        let received = Locked<[String]>([])
        _ = await XMPPClientTests.first(incoming) { message in received.withLock { $0.append(message.body) }; return message.body == "two" }
        #expect(received.withLock { $0 } == ["one", "two"], "in the order written")
        #expect(await eventually { (try? store.queued(account: alice.configuration.jid).isEmpty) == true })
        // Only forward; on loopback the receipt may even overtake the write's completion, skipping `sent`.
        let ticks = await Self.statuses(of: second, in: updates, until: .delivered)
        #expect(ticks.first == .queued && ticks.last == .delivered && ticks == ticks.sorted(), "\(ticks)")

        // Bob reads it: the marker turns alice's tick to read.
        let bobIncoming = bobChat.messages
        let live = try await chat.send("three", to: bobJID)
        let three = try #require(await XMPPClientTests.first(bobIncoming) { $0.body == "three" })
        try await bobChat.markDisplayed(three)
        let liveTicks = await Self.statuses(of: live, in: updates, until: .read)
        #expect(liveTicks.last == .read && liveTicks == liveTicks.sorted(), "\(liveTicks)")
        await archive.flushStorage()
        #expect(try archive.messages(with: bobJID).last?.deliveryStatus == .read)
        await alice.disconnect()
        await bob.disconnect()
    }

    @Test("the outbox survives a relaunch; a message to nobody fails with the server's condition")
    func outboxSurvivesRelaunch() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let bob = try fixture.client("bob")
        let bobChat = bob.add(ChatModule())
        try await bob.connect(registering: true)
        let setup = try fixture.client("alice")
        try await setup.connect(registering: true)
        await setup.disconnect()
        let path = server.directory + "/alice-archive.sqlite"
        do {
            let alice = try fixture.client("alice")
            let chat = alice.add(ChatModule(outbox: try SQLiteMessageArchive(path: path)))
            _ = try await chat.send("written on the train", to: try fixture.jid("bob"))
        }
        let alice = try fixture.client("alice")
        let chat = alice.add(ChatModule(outbox: try SQLiteMessageArchive(path: path)))
        let incoming = bobChat.messages
        try await alice.connect()
        #expect(await first(incoming) { _ in true }?.body == "written on the train")

        let updates = chat.deliveryUpdates
        let lost = try await chat.send("hello?", to: try JID("nobody@localhost"))
        let ticks = await Self.statuses(of: lost, in: updates, until: .failed(condition: "service-unavailable"))
        #expect(ticks.last == .failed(condition: "service-unavailable"), "\(ticks)")
        await alice.disconnect()
        await bob.disconnect()
    }
}

/// The conversation model over the local archive, with two clients of one account (carbons) against xmppd.
@Suite("Conversations")
struct ConversationTests {
    @Test("unread counts and read marks across two devices; corrections, retractions, reactions and replies applied; a relaunch keeps it all")
    func conversationModel() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let bob = try fixture.client("bob")
        let bobChat = bob.add(ChatModule())
        try await bob.connect(registering: true)
        let setup = try fixture.client("alice")
        try await setup.connect(registering: true)
        await setup.disconnect()

        let path = server.directory + "/alice-phone.sqlite"
        let phone = XMPPClient(configuration: try fixture.configuration("alice", resource: "phone"))
        let phoneStore = try SQLiteMessageArchive(path: path)
        let phoneChat = phone.add(ChatModule(outbox: phoneStore))
        let phoneArchive = phone.add(MessageArchiveModule(storage: phoneStore, synchronizesWithServer: false))
        let laptop = XMPPClient(configuration: try fixture.configuration("alice", resource: "laptop"))
        let laptopChat = laptop.add(ChatModule())
        let laptopMessages = laptopChat.messages
        let snapshots = phoneArchive.conversationUpdates
        for client in [phone, laptop] { try await client.connect() }
        let bobJID = try fixture.jid("bob"), alice = try fixture.jid("alice")

        let ids = [try await bobChat.send("m1", to: alice), try await bobChat.send("m2", to: alice), try await bobChat.send("m3", to: alice)]
        let three = await first(snapshots, timeout: .seconds(10)) { $0.first?.unreadCount == 3 }
        #expect(three?.first?.peer == bobJID && three?.first?.lastMessage?.body == "m3", "\(String(describing: three))")

        try await bobChat.correct(ids[2], to: alice, with: "m3, corrected")
        try await bobChat.retract(ids[1], to: alice)
        let m1 = try #require(await first(laptopMessages) { $0.body == "m1" })
        try await phoneChat.react(to: ids[0], with: bobJID, reactions: ["👍"])
        let bobIncoming = bobChat.messages
        try await phoneChat.reply("about m1", to: m1)
        let reply = await first(bobIncoming) { $0.body == "about m1" }
        #expect(reply?.replyTo == ids[0], "the reply names m1")
        let m3 = try #require(await first(laptopMessages) { $0.body == "m3" })
        try await laptopChat.markDisplayed(m3)   // read on the laptop: the phone hears of it through a carbon copy

        let settled = await first(snapshots, timeout: .seconds(10)) { $0.first?.unreadCount == 0 && $0.first?.lastMessage?.body == "about m1" }
        #expect(settled != nil, "read on the other device, and the reply is the newest message")
        await phoneArchive.flushStorage()
        let history = try phoneArchive.messages(with: bobJID)
        #expect(history.map(\.body) == ["m1", "", "m3, corrected", "about m1"], "\(history.map(\.body))")
        #expect(history[0].reactions == [alice.description: ["👍"]])
        #expect(history[1].isRetracted && history[2].isEdited && history[3].replyTo == ids[0])

        // A relaunch of the phone's app: the same file, the same conversations.
        await phone.disconnect()
        let relaunched = MessageArchiveModule(storage: try SQLiteMessageArchive(path: path), synchronizesWithServer: false)
        let relaunchedClient = XMPPClient(configuration: try fixture.configuration("alice", resource: "phone"))
        relaunchedClient.add(relaunched)
        let list = try relaunched.conversationList()
        #expect(list.count == 1 && list[0].unreadCount == 0 && list[0].lastMessage?.body == "about m1", "\(list)")
        #expect(try relaunched.messages(with: bobJID).map(\.isEdited) == [false, false, true, false])
        await laptop.disconnect()
        await bob.disconnect()
    }
}
