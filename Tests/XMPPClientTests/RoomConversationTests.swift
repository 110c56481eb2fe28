import Foundation
import Testing
import XMPPClient
import XMPPClientSQLite
import XMPPCore
import XMPPTestSupport

/// Rooms in the conversation model, and the unread rule for history fetched from the server's archive, against
/// xmppd and Prosody.
@Suite("Rooms and server history in the conversation model")
struct RoomConversationTests {
    @Test("a joined room's messages are a room conversation, apart from one-to-one ones; own messages are not unread; a relaunch keeps them",
          arguments: ServerPeer.allCases)
    func roomsAreConversations(peer: ServerPeer) async throws { try await peer.run { fixture in
        let path = NSTemporaryDirectory() + "room-conversations-" + UUID().uuidString + ".sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
        let aliceMUC = alice.add(MultiUserChatModule())
        let archive = alice.add(MessageArchiveModule(storage: try SQLiteMessageArchive(path: path), synchronizesWithServer: false))
        let (bobMUC, bobChat) = (bob.add(MultiUserChatModule()), bob.add(ChatModule()))
        for client in [alice, bob] { try await client.connect(registering: true) }
        let roomJID = try JID("garden@conference.localhost"), aliceJID = try fixture.jid("alice"), bobJID = try fixture.jid("bob")
        let aliceRoom = aliceMUC.room(roomJID, nickname: "Alice")
        try await aliceRoom.join()
        if aliceRoom.wasCreated { try await aliceRoom.acceptDefaultConfiguration() }
        let bobRoom = bobMUC.room(roomJID, nickname: "Bob")
        try await bobRoom.join()

        let snapshots = archive.conversationUpdates
        let aliceEvents = aliceRoom.events
        try await bobRoom.send("r1")
        try await bobRoom.send("r2")
        // Two connections race to the room: alice answers once she has bob's second message.
        _ = try #require(await first(aliceEvents, timeout: .seconds(15)) { if case .message(let m) = $0 { m.body == "r2" } else { false } })
        try await aliceRoom.send("r3 from alice")
        _ = try await bobChat.send("one to one", to: aliceJID)
        let settled = await first(snapshots, timeout: .seconds(20)) { list in
            list.contains { $0.peer == roomJID && $0.lastMessage?.body == "r3 from alice" } && list.contains { $0.peer == bobJID }
        }
        let room = settled?.first { $0.peer == roomJID }, chat = settled?.first { $0.peer == bobJID }
        #expect(room?.kind == .room && room?.unreadCount == 2, "bob's two messages are unread, alice's own is not: \(String(describing: room))")
        #expect(chat?.kind == .chat && chat?.unreadCount == 1, "\(String(describing: chat))")
        await archive.flushStorage()
        let history = try archive.messages(with: roomJID)
        #expect(history.map { "\($0.nickname ?? "?"): \($0.body)" } == ["Bob: r1", "Bob: r2", "Alice: r3 from alice"], "\(history)")
        #expect(history.map(\.direction) == [.incoming, .incoming, .outgoing] && history.allSatisfy { $0.kind == .room })

        // Entering again brings the same messages as discussion history: they are stored once.
        try await aliceRoom.leave()
        let historyEvents = aliceRoom.events
        try await aliceRoom.join(history: .init(maxStanzas: 20))
        _ = try #require(await first(historyEvents, timeout: .seconds(15)) { if case .message(let m) = $0 { m.isHistory && m.body == "r3 from alice" } else { false } })
        await archive.flushStorage()
        #expect(try archive.messages(with: roomJID).map(\.body) == ["r1", "r2", "r3 from alice"])

        // Read in the app; then a relaunch with the same file keeps both conversations apart.
        archive.markRead(roomJID, upTo: history[0].timestamp)
        await archive.flushStorage()
        await alice.disconnect()
        let relaunched = MessageArchiveModule(storage: try SQLiteMessageArchive(path: path), synchronizesWithServer: false)
        let relaunchedClient = XMPPClient(configuration: try fixture.configuration("alice"))
        relaunchedClient.add(relaunched)
        let list = try withExtendedLifetime(relaunchedClient) { try relaunched.conversationList() }
        #expect(list.count == 2, "\(list)")
        let keptRoom = list.first { $0.peer == roomJID }, keptChat = list.first { $0.peer == bobJID }
        #expect(keptRoom?.kind == .room && keptRoom?.unreadCount == 1 && keptRoom?.lastMessage?.nickname == "Alice", "\(String(describing: keptRoom))")
        #expect(keptChat?.kind == .chat && keptChat?.unreadCount == 1 && keptChat?.lastMessage?.body == "one to one")
        await bob.disconnect()
    }}

    @Test("history from the server's archive on a fresh install: what the account answered or marked displayed is read",
          arguments: ServerPeer.allCases)
    func serverHistoryUnreadRule(peer: ServerPeer) async throws { try await peer.run { fixture in
        let (laptop, bob, carol) = (try fixture.client("alice"), try fixture.client("bob"), try fixture.client("carol"))
        let laptopChat = laptop.add(ChatModule())
        let (bobChat, carolChat) = (bob.add(ChatModule()), carol.add(ChatModule()))
        let laptopMessages = laptopChat.messages
        for client in [laptop, bob, carol] { try await client.connect(registering: true) }
        let (aliceJID, bobJID, carolJID) = (try fixture.jid("alice"), try fixture.jid("bob"), try fixture.jid("carol"))

        // With bob: two messages, an answer from the laptop, then one more.
        _ = try await bobChat.send("b1", to: aliceJID)
        _ = try await bobChat.send("b2", to: aliceJID)
        _ = try #require(await first(laptopMessages, timeout: .seconds(15)) { $0.body == "b2" })
        let bobIncoming = bobChat.messages
        _ = try await laptopChat.send("answer", to: bobJID)
        _ = try #require(await first(bobIncoming, timeout: .seconds(15)) { $0.body == "answer" })
        // With carol: two messages, the second marked displayed on the laptop, then one more.
        _ = try await carolChat.send("c1", to: aliceJID)
        _ = try await carolChat.send("c2", to: aliceJID)
        let c2 = try #require(await first(laptopMessages, timeout: .seconds(15)) { $0.body == "c2" })
        try await laptopChat.markDisplayed(c2)
        // Archive time stamps have a resolution of one second: the messages after the read marks come a second later.
        try await Task.sleep(for: .milliseconds(1100))
        _ = try await bobChat.send("b3", to: aliceJID)
        _ = try await carolChat.send("c3", to: aliceJID)
        _ = try #require(await first(laptopMessages, timeout: .seconds(15)) { $0.body == "c3" })

        // A new phone: no local history, everything comes from the server's archive.
        let phone = XMPPClient(configuration: try fixture.configuration("alice", resource: "phone"))
        let archive = phone.add(MessageArchiveModule(storage: InMemoryMessageArchive()))
        let synchronized = archive.synchronizations
        try await phone.connect()
        _ = try #require(await first(synchronized, timeout: .seconds(20)) { _ in true })
        await archive.flushStorage()
        let list = try archive.conversationList()
        let withBob = list.first { $0.peer == bobJID }, withCarol = list.first { $0.peer == carolJID }
        #expect(try archive.messages(with: bobJID).map(\.body) == ["b1", "b2", "answer", "b3"])
        #expect(withBob?.unreadCount == 1, "only b3 came after the answer: \(String(describing: withBob))")
        #expect(withCarol?.unreadCount == 1, "only c3 came after the displayed marker: \(String(describing: withCarol))")
        for client in [phone, laptop, bob, carol] { await client.disconnect() }
    }}
}
