import Testing
import XMPPCore
@testable import XMPPServerKernel
import XMPPKernelTestSupport

/// RFC 6121 §8.5 delivery rules and offline storage, on the kernel with in-memory stores.
@Suite struct MessageRoutingTests {
    @Test func fromIsAlwaysStampedWithTheFullJID() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob")
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com' from='mallory@example.com' type='chat'><body>hi</body></message>")
        let messages = bob.received("message")
        #expect(messages.count == 1)
        #expect(messages.first?.attribute("from") == "alice@example.com/phone")
    }

    @Test func bareJIDGoesToEveryNonNegativeResourceAndNeverToNegativeOnes() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let phone = try await scenario.login("bob", "phone", priority: 5)
        let laptop = try await scenario.login("bob", "laptop", priority: 0)
        let bot = try await scenario.login("bob", "bot", priority: -1)
        _ = [phone, laptop, bot].map { $0.received() }
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com' type='chat'><body>hi</body></message>")
        #expect(phone.received("message").count == 1)
        #expect(laptop.received("message").count == 1)
        #expect(bot.received("message").isEmpty)
        // A full JID reaches exactly that resource, negative priority or not.
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com/bot'><body>only you</body></message>")
        #expect(bot.received("message").count == 1)
        #expect(phone.received("message").isEmpty)
    }

    @Test func offlineFullJIDIsTreatedAsBareForChatButGroupchatBounces() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob", "phone")
        _ = bob.received()
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com/gone' type='chat'><body>x</body></message>")
        #expect(bob.received("message").count == 1)
        _ = alice.received()
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com/gone' type='groupchat' id='g1'><body>x</body></message>")
        let bounce = alice.received("message").first
        #expect(bounce?.attribute("type") == "error")
        #expect(bounce.flatMap { Message(element: $0)?.error?.condition } == .serviceUnavailable)
    }

    @Test func offlineMessagesAreStoredWithDelayAndDeliveredOnAvailablePresence() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com' type='chat'><body>one</body></message>")
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com'><body>two</body></message>")
        // A chat state alone is not worth storing (XEP-0160 §3), and headlines are never stored.
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>")
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com' type='headline'><body>news</body></message>")
        #expect(try await scenario.kernel.storage.offline.count(for: "bob") == 2)
        #expect(alice.received("message").isEmpty, "nothing bounced")

        let bob = try await scenario.login("bob", available: false)
        #expect(bob.received("message").isEmpty, "no delivery before initial presence")
        try await bob.send("<presence xmlns='jabber:client'/>")
        let delivered = bob.received("message")
        #expect(delivered.map { Message(element: $0)?.body } == ["one", "two"])
        #expect(delivered.allSatisfy { $0.child("delay", namespace: "urn:xmpp:delay")?.attribute("stamp") != nil })
        #expect(try await scenario.kernel.storage.offline.count(for: "bob") == 0)
    }

    @Test func fullOfflineStorageAndUnknownUsersBounce() async throws {
        let scenario = try KernelScenario { $0.set(OfflineModule.limit, to: 1) }
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        _ = alice.received()
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com' id='m1'><body>fits</body></message>")
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com' id='m2'><body>too many</body></message>")
        try await alice.send("<message xmlns='jabber:client' to='nobody@example.com' id='m3'><body>?</body></message>")
        try await alice.send("<message xmlns='jabber:client' to='bob@elsewhere.org' id='m4'><body>?</body></message>")
        let errors = alice.received("message").map { ($0.attribute("id"), Message(element: $0)?.error?.condition) }
        #expect(errors.map(\.0) == ["m2", "m3", "m4"])
        #expect(errors.map(\.1) == [.serviceUnavailable, .serviceUnavailable, .remoteServerNotFound])
    }

    @Test func invalidAddressesAndIQsGetStanzaErrors() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice")
        let alice = try await scenario.login("alice")
        _ = alice.received()
        try await alice.send("<message xmlns='jabber:client' to='a@b@c' id='bad'><body>x</body></message>")
        try await alice.send("<iq xmlns='jabber:client' type='get' id='two'><a xmlns='x'/><b xmlns='y'/></iq>")
        try await alice.send("<iq xmlns='jabber:client' type='get' id='unknown' to='example.com'><query xmlns='urn:example:nothing'/></iq>")
        try await alice.send("<iq xmlns='jabber:client' type='get' id='offline' to='alice@example.com/laptop'><ping xmlns='urn:xmpp:ping'/></iq>")
        let conditions = alice.received().map { StanzaError(element: $0.child("error", namespace: XMLNamespace.client)!)?.condition }
        #expect(conditions == [.jidMalformed, .badRequest, .serviceUnavailable, .serviceUnavailable])
    }

    @Test func iqToAFullJIDIsRoutedAndTheResultComesBack() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob")
        _ = bob.received()
        try await alice.send("<iq xmlns='jabber:client' type='get' id='v1' to='bob@example.com/phone'><query xmlns='jabber:iq:version'/></iq>")
        let request = try #require(bob.received("iq").first)
        #expect(request.attribute("from") == "alice@example.com/phone")
        _ = alice.received()
        try await bob.send("<iq xmlns='jabber:client' type='result' id='v1' to='alice@example.com/phone'/>")
        #expect(alice.received("iq").first?.attribute("id") == "v1")
    }

    @Test func aNewSessionWithTheSameResourceReplacesTheOldOneAndLimitsHold() async throws {
        let scenario = try KernelScenario { $0.maxSessionsPerAccount = 2 }
        try await scenario.account("alice")
        let first = try await scenario.login("alice", "phone")
        _ = try await scenario.login("alice", "phone")
        #expect(first.session.closedWith == .some(StreamError(.conflict, text: "replaced by a new session")))
        _ = try await scenario.login("alice", "laptop")
        #expect(throws: StanzaError.self) { try scenario.kernel.bind(RecordingSession(jid: try JID("alice@example.com/third"))) }
    }
}

/// Offline delivery writes stored messages in chunks, each removed once written.
@Suite struct OfflineChunkTests {
    @Test func chunksKeepOrderAndStayWithinTheirSizeButNeverSplitAMessage() throws {
        let messages = try (0..<10).map { index in
            OfflineMessage(id: Int64(index), element: Message(type: .chat, to: try JID("bob@example.com"), body: String(repeating: "x", count: index == 4 ? 5000 : 100)).element)
        }
        let sizes = messages.map { $0.element.xmlString.utf8.count }
        let result = chunks(of: messages, bytes: 1000)
        #expect(result.flatMap { $0 }.map(\.id) == messages.map(\.id), "every message once, in order")
        #expect(result.contains { $0.map(\.id) == [4] }, "a message larger than a chunk goes alone")
        for chunk in result where chunk.count > 1 {
            #expect(chunk.reduce(0) { $0 + sizes[Int($1.id)] } <= 1000)
        }
        #expect(chunks(of: [], bytes: 1000).isEmpty)
    }
}
