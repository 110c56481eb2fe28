import Testing
import XMPPCore
@testable import XMPPServerKernel
import XMPPKernelTestSupport

/// XEP-0280 on the kernel: which resources get which copies, and which messages are never copied.
@Suite struct CarbonsTests {
    static func enable(_ client: TestClient, _ verb: String = "enable") async throws {
        try await client.send("<iq xmlns='jabber:client' type='set' id='c-\(verb)'><\(verb) xmlns='urn:xmpp:carbons:2'/></iq>")
        let reply = try #require(client.received("iq").first { $0.attribute("id") == "c-\(verb)" })
        #expect(reply.attribute("type") == "result")
    }

    /// The copy inside a carbon of the given direction, checked to come from the user's bare JID to the resource.
    static func carbon(_ element: Element, _ direction: String, for client: TestClient) -> Element? {
        guard element.attribute("from") == client.jid.bare.description, element.attribute("to") == client.jid.description,
              let wrapper = element.child(direction, namespace: CarbonsModule.namespace),
              let forwarded = wrapper.child("forwarded", namespace: Forwarded.namespace) else { return nil }
        return Forwarded(element: forwarded)?.stanza
    }

    /// alice on phone (carbons on), laptop (carbons on) and watch (off); bob online.
    static func scenario() async throws -> (KernelScenario, phone: TestClient, laptop: TestClient, watch: TestClient, bob: TestClient) {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob")
        let phone = try await scenario.login("alice", "phone")
        let laptop = try await scenario.login("alice", "laptop")
        let watch = try await scenario.login("alice", "watch")
        let bob = try await scenario.login("bob")
        try await enable(phone); try await enable(laptop)
        _ = (phone.received(), laptop.received(), watch.received(), bob.received())
        return (scenario, phone, laptop, watch, bob)
    }

    @Test func sentAndReceivedCopiesReachOnlyTheOtherEnabledResources() async throws {
        let (_, phone, laptop, watch, bob) = try await Self.scenario()
        try await phone.send("<message xmlns='jabber:client' to='bob@example.com' type='chat' id='s1'><body>hi bob</body></message>")
        #expect(bob.received("message").count == 1)
        let sent = try #require(laptop.received("message").first)
        let copied = try #require(Self.carbon(sent, "sent", for: laptop))
        #expect(copied.attribute("id") == "s1" && copied.attribute("from") == "alice@example.com/phone")
        #expect(copied.attribute("to") == "bob@example.com")
        #expect(phone.received().isEmpty, "no copy to the sender")
        #expect(watch.received().isEmpty, "no copy to a resource that did not enable carbons")

        // To one full JID: the other enabled resource gets a received copy, the addressee the original.
        try await bob.send("<message xmlns='jabber:client' to='alice@example.com/phone' type='chat' id='r1'><body>hi phone</body></message>")
        #expect(phone.received("message").first?.attribute("id") == "r1")
        let received = try #require(laptop.received("message").first)
        #expect(Self.carbon(received, "received", for: laptop)?.attribute("id") == "r1")
        #expect(watch.received().isEmpty)

        // To the bare JID every available resource gets the original, and nobody a copy.
        try await bob.send("<message xmlns='jabber:client' to='alice@example.com' type='chat' id='r2'><body>hi all</body></message>")
        for client in [phone, laptop, watch] {
            #expect(client.received("message").map { $0.attribute("id") } == ["r2"])
        }

        // Disabled: no more copies.
        try await Self.enable(laptop, "disable")
        try await phone.send("<message xmlns='jabber:client' to='bob@example.com' type='chat' id='s2'><body>again</body></message>")
        #expect(laptop.received().isEmpty)
    }

    @Test func privateNoCopyHeadlinesAndRoomsAreNotCopied() async throws {
        let (_, phone, laptop, _, bob) = try await Self.scenario()
        let excluded = [
            "<message xmlns='jabber:client' to='bob@example.com' type='chat' id='p'><body>x</body><private xmlns='urn:xmpp:carbons:2'/></message>",
            "<message xmlns='jabber:client' to='bob@example.com' type='chat' id='n'><body>x</body><no-copy xmlns='urn:xmpp:hints'/></message>",
            "<message xmlns='jabber:client' to='bob@example.com' type='headline' id='h'><body>x</body></message>",
            "<message xmlns='jabber:client' to='bob@example.com' id='e'><subject>no body</subject></message>",
            "<message xmlns='jabber:client' to='alice@example.com/watch' type='chat' id='own'><body>to myself</body></message>",
        ]
        for xml in excluded { try await phone.send(xml) }
        #expect(laptop.received().isEmpty, "none of those is copied")
        // A normal message with a body is.
        try await phone.send("<message xmlns='jabber:client' to='bob@example.com' id='normal'><body>x</body></message>")
        #expect(Self.carbon(try #require(laptop.received("message").first), "sent", for: laptop)?.attribute("id") == "normal")
        try await bob.send("<message xmlns='jabber:client' to='alice@example.com/phone' type='chat' id='bp'><body>x</body><private xmlns='urn:xmpp:carbons:2'/></message>")
        #expect(phone.received("message").count == 1)
        #expect(laptop.received().isEmpty, "a private message is not copied on the receiving side either")
    }

    @Test func onlyAnIQSetWithEnableOrDisableIsAccepted() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice")
        let phone = try await scenario.login("alice")
        try await phone.send("<iq xmlns='jabber:client' type='get' id='g'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
        #expect(phone.received("iq").first?.attribute("type") == "error")
        try await phone.send("<iq xmlns='jabber:client' type='set' id='x'><private xmlns='urn:xmpp:carbons:2'/></iq>")
        #expect(phone.received("iq").first?.attribute("type") == "error")
        try await Self.enable(phone)
        try await Self.enable(phone)  // twice is no error (§8.1)
        try await phone.send("<iq xmlns='jabber:client' type='get' id='d' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        let features = try #require(phone.received("iq").first?.child("query")).children("feature").compactMap { $0.attribute("var") }
        #expect(features.contains("urn:xmpp:carbons:2"))
    }
}
