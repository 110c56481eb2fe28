import Foundation
import Testing
import XMPPClient
import XMPPClientSQLite
import XMPPCore
import XMPPTestSupport

/// What mobile apps need, against xmppd and Prosody: stream management resuming after the network drops, carbons,
/// the server archive kept in sync with the local one, client state indication.
@Suite("mobile messaging", .serialized)
struct MobileMessagingTests {
    @Test("a dropped connection resumes: messages both ways arrive exactly once", arguments: ServerPeer.allCases)
    func resumption(peer: ServerPeer) async throws {
        try await peer.run { fixture in
            let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
            try await alice.connect(registering: true)
            await alice.disconnect()
            try await bob.connect(registering: true)
            let bobChat = bob.add(ChatModule())
            // Alice reaches the server through a proxy whose connections the test can cut.
            let proxy = try await TCPProxy.start(to: fixture.port)
            let phone = XMPPClient(configuration: try ClientFixture(host: fixture.host, port: proxy.port, domain: fixture.domain,
                                                                     trust: fixture.trust).configuration("alice", resource: "phone"))
            let reconnect = phone.add(ReconnectModule(initialDelay: .milliseconds(200), maximumDelay: .seconds(1)))
            let phoneChat = phone.add(ChatModule())
            try await phone.connect()
            #expect(await eventually { phone.isStreamManaged })
            let phoneJID = try #require(phone.jid)
            let acknowledged = phone.acknowledgedStanzas

            // The server acknowledges what the phone sends.
            let ackID = try await phoneChat.send("acknowledge me", to: try fixture.jid("bob"))
            #expect(await first(acknowledged) { $0.attribute("id") == ackID } != nil, "the server acknowledged the message")

            let received = Collected<String>()
            let phoneListener = Task { for await message in phoneChat.messages { received.append(message.body) } }
            let bobReceived = Collected<String>()
            let bobListener = Task { for await message in bobChat.messages { bobReceived.append(message.body) } }
            defer { phoneListener.cancel(); bobListener.cancel() }

            // The phone sends a burst and the network drops at once: some of it is unacknowledged.
            let events = reconnect.updates  // subscribed before the drop: the reconnection may be quick
            for index in 1...5 { try await phoneChat.send("from phone \(index)", to: try fixture.jid("bob")) }
            proxy.dropAll()
            try await bobChat.send("while you were away", to: phoneJID)
            #expect(await first(events, timeout: .seconds(10)) { if case .reconnected = $0 { true } else { false } } != nil)
            #expect(phone.wasResumed, "the session was resumed, not started again")
            #expect(await eventually { received.values.contains("while you were away") })
            #expect(await eventually(timeout: .seconds(5)) { bobReceived.values.filter { $0.hasPrefix("from phone") }.count >= 5 })
            try await Task.sleep(for: .milliseconds(300))
            #expect(received.values.filter { $0 == "while you were away" }.count == 1, "once: \(received.values)")
            #expect(bobReceived.values.filter { $0.hasPrefix("from phone") }.sorted() == (1...5).map { "from phone \($0)" },
                    "each once, none lost: \(bobReceived.values)")
            reconnect.stop()
            await phone.disconnect()
            await bob.disconnect()
            await proxy.stop()
        }
    }

    @Test("logging out acknowledges what arrived: nothing comes again on the next login", arguments: ServerPeer.allCases)
    func logoutAcknowledges(peer: ServerPeer) async throws {
        try await peer.run { fixture in
            let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
            let aliceChat = alice.add(ChatModule())
            let bobChat = bob.add(ChatModule())
            try await alice.connect(registering: true)
            try await bob.connect(registering: true)
            #expect(await eventually { alice.isStreamManaged })
            let received = Collected<String>()
            let listener = Task { for await message in aliceChat.messages { received.append(message.body) } }
            defer { listener.cancel() }
            // The server asks for an acknowledgement every few stanzas: with 7 messages, then 8, at least one logout
            // comes with some of them not acknowledged yet.
            var expected: [String] = []
            for (round, count) in [7, 8].enumerated() {
                for index in 1...count {
                    let body = "round \(round) message \(index)"
                    expected.append(body)
                    _ = try await bobChat.send(body, to: try #require(alice.jid))
                }
                let total = expected.count
                #expect(await eventually { received.values.count == total })
                await alice.disconnect()
                try await alice.connect()
            }
            try await Task.sleep(for: .milliseconds(500))
            #expect(received.values == expected, "nothing twice: \(received.values)")
            await alice.disconnect()
            await bob.disconnect()
        }
    }

    @Test("carbons: the other client sees both sides; a forged carbon is ignored", arguments: ServerPeer.allCases)
    func carbons(peer: ServerPeer) async throws {
        try await peer.run { fixture in
            let bob = try fixture.client("bob")
            let bobChat = bob.add(ChatModule())
            try await bob.connect(registering: true)
            let phone = XMPPClient(configuration: try fixture.configuration("alice", resource: "phone"))
            try await phone.connect(registering: true)
            let phoneChat = phone.add(ChatModule())
            let laptop = XMPPClient(configuration: try fixture.configuration("alice", resource: "laptop"))
            let laptopChat = laptop.add(ChatModule())
            try await laptop.connect()
            await phone.disconnect()
            try await phone.connect()  // now with the chat module, which enables carbons
            let seen = laptopChat.messages

            _ = try await phoneChat.send("sent from the phone", to: try fixture.jid("bob"))
            let sentCopy = await first(seen) { $0.body == "sent from the phone" }
            let bobJID = try fixture.jid("bob")
            #expect(sentCopy?.isOutgoing == true && sentCopy?.isCarbonCopy == true && sentCopy?.to.bare == bobJID)

            let seenAgain = laptopChat.messages
            _ = try await bobChat.send("to the phone only", to: try #require(phone.jid))
            let receivedCopy = await first(seenAgain) { $0.body == "to the phone only" }
            #expect(receivedCopy?.isOutgoing == false && receivedCopy?.isCarbonCopy == true && receivedCopy?.from.bare == bobJID)

            // Bob forges a carbon: a message "from carol" wrapped as if alice's server had copied it.
            let forgedSeen = laptopChat.messages
            try await bob.send(try Element(xml: """
                <message xmlns='jabber:client' to='alice@localhost/laptop' type='chat'><received xmlns='urn:xmpp:carbons:2'>\
                <forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='carol@localhost/x' to='alice@localhost' \
                type='chat'><body>forged</body></message></forwarded></received></message>
                """))
            _ = try await bobChat.send("after the forgery", to: try #require(laptop.jid))
            let next = await first(forgedSeen) { _ in true }
            #expect(next?.body == "after the forgery", "the forged carbon was not published: \(String(describing: next?.body))")
            for client in [phone, laptop, bob] { await client.disconnect() }
        }
    }

    @Test("the local archive syncs with the server's: offline messages once, replies with their archive ids", arguments: ServerPeer.allCases)
    func archiveSync(peer: ServerPeer) async throws {
        try await peer.run { fixture in
            let alice = try fixture.client("alice")
            try await alice.connect(registering: true)
            await alice.disconnect()
            let bob = try fixture.client("bob")
            let bobChat = bob.add(ChatModule())
            try await bob.connect(registering: true)
            for index in 1...3 { _ = try await bobChat.send("offline \(index)", to: try fixture.jid("alice")) }
            try await Task.sleep(for: .milliseconds(300))

            let storage = try SQLiteMessageArchive()
            let archive = alice.add(MessageArchiveModule(storage: storage))
            let aliceChat = alice.add(ChatModule())
            let synchronized = archive.synchronizations
            try await alice.connect()
            _ = await first(synchronized) { _ in true }
            let bobJID = try fixture.jid("bob")
            #expect(await eventually { (try? archive.messages(with: bobJID).count) == 3 })
            try await Task.sleep(for: .milliseconds(300))
            let stored = try archive.messages(with: bobJID)
            #expect(stored.map(\.body) == ["offline 1", "offline 2", "offline 3"], "each once: \(stored.map(\.body))")
            #expect(stored.allSatisfy { $0.archiveID != nil }, "each with the server's archive id")

            _ = try await aliceChat.send("got them", to: bobJID)
            try await Task.sleep(for: .milliseconds(300))
            await alice.disconnect()
            let again = archive.synchronizations
            try await alice.connect()
            _ = await first(again) { _ in true }
            let after = try archive.messages(with: bobJID)
            #expect(after.map(\.body) == ["offline 1", "offline 2", "offline 3", "got them"], "\(after.map(\.body))")
            #expect(after.last?.archiveID != nil, "the reply learned its archive id from the server")

            let page = try await archive.queryServer(with: bobJID, before: "", max: 2)
            #expect(page.messages.count == 2)
            await alice.disconnect()
            await bob.disconnect()
        }
    }

    @Test("client state: an inactive client gets presence only when it comes back")
    func clientState() async throws {
        try await ServerPeer.xmppd.run { fixture in
            let alice = try fixture.client("alice")
            try await alice.connect(registering: true)
            let bob = try fixture.client("bob")
            try await bob.connect(registering: true)
            let aliceJID = try #require(alice.jid)
            await alice.setActive(false)
            // A ping answered after it: the server has read <inactive/> (it handles a client's input in order).
            _ = try await alice.query(Element("ping", namespace: "urn:xmpp:ping"), to: try JID(fixture.domain))
            let presences = Collected<String>()
            let listener = Task { for await presence in alice.presences where presence.from?.bare == bob.jid?.bare { presences.append(presence.show?.rawValue ?? "available") } }
            defer { listener.cancel() }
            for show in [Presence.Show.away, .xa, .dnd] {
                var presence = Presence(to: aliceJID)
                presence.show = show
                try await bob.send(presence)
            }
            try await Task.sleep(for: .milliseconds(500))
            #expect(presences.values.isEmpty, "held while inactive: \(presences.values)")
            await alice.setActive(true)
            #expect(await eventually { presences.values == ["dnd"] }, "only the latest: \(presences.values)")
            await alice.disconnect()
            await bob.disconnect()
        }
    }
}

/// Values collected from a stream by a task, read by the test.
final class Collected<Value: Sendable>: Sendable {
    private let stored = Locked<[Value]>([])
    func append(_ value: Value) { stored.withLock { $0.append(value) } }
    var values: [Value] { stored.withLock { $0 } }
}
