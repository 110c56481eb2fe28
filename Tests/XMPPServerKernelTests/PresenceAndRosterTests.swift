import Testing
import XMPPCore
@testable import XMPPServerKernel
import XMPPKernelTestSupport

/// RFC 6121 §2-§4 on the kernel: rosters, the subscription state machine, broadcast, probes, directed presence.
@Suite struct PresenceAndRosterTests {
    /// alice and bob subscribe to each other through the full request/approve handshake.
    static func befriend(_ alice: TestClient, _ bob: TestClient) async throws {
        try await alice.send("<presence xmlns='jabber:client' to='bob@example.com' type='subscribe'/>")
        try await bob.send("<presence xmlns='jabber:client' to='alice@example.com' type='subscribed'/>")
        try await bob.send("<presence xmlns='jabber:client' to='alice@example.com' type='subscribe'/>")
        try await alice.send("<presence xmlns='jabber:client' to='bob@example.com' type='subscribed'/>")
    }

    static func item(_ kernel: ServerKernel, _ user: String, _ contact: String) async throws -> RosterEntry? {
        try await kernel.storage.rosters.item(try JID(contact), of: user)
    }

    @Test func subscriptionHandshakeReachesBothAndPushesTheRoster() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob")
        try await alice.send("<iq xmlns='jabber:client' type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
        _ = alice.received(); _ = bob.received()

        try await alice.send("<presence xmlns='jabber:client' to='bob@example.com' type='subscribe'><status>hi</status></presence>")
        let push = try #require(alice.received("iq").first?.child("query", namespace: RosterNamespace.roster)?.child("item"))
        #expect(push.attribute("ask") == "subscribe" && push.attribute("subscription") == "none")
        let request = try #require(bob.received("presence").first)
        #expect(request.attribute("from") == "alice@example.com" && request.attribute("type") == "subscribe")
        #expect(request.child("status", namespace: XMLNamespace.client)?.text == "hi")
        #expect(try await Self.item(scenario.kernel, "bob", "alice@example.com")?.pendingIn == true)

        try await bob.send("<presence xmlns='jabber:client' to='alice@example.com' type='subscribed'/>")
        #expect(try await Self.item(scenario.kernel, "alice", "bob@example.com")?.subscription == .to)
        #expect(try await Self.item(scenario.kernel, "bob", "alice@example.com")?.subscription == .from)
        let seen = alice.received("presence")
        #expect(seen.contains { $0.attribute("type") == "subscribed" })
        #expect(seen.contains { $0.attribute("type") == nil && $0.attribute("from") == "bob@example.com/phone" }, "bob's presence follows approval")

        try await bob.send("<presence xmlns='jabber:client' to='alice@example.com' type='subscribe'/>")
        try await alice.send("<presence xmlns='jabber:client' to='bob@example.com' type='subscribed'/>")
        #expect(try await Self.item(scenario.kernel, "alice", "bob@example.com")?.subscription == .both)
        #expect(try await Self.item(scenario.kernel, "bob", "alice@example.com")?.subscription == .both)
    }

    /// A request that finds no available resource waits for the next initial presence and arrives whole then, with
    /// its status and nickname (a client that connects but has not yet sent presence must not see a bare request).
    @Test func aRequestDeliveredAtTheNextLoginKeepsItsStatusAndNick() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob", available: false)
        try await alice.send("""
            <presence xmlns='jabber:client' to='bob@example.com' type='subscribe'><status>It's Alice</status>\
            <nick xmlns='http://jabber.org/protocol/nick'>Ali</nick></presence>
            """)
        #expect(bob.received("presence").isEmpty, "bob is not available yet")
        try await bob.send("<presence xmlns='jabber:client'/>")
        let request = try #require(bob.received("presence").first { $0.attribute("type") == "subscribe" })
        #expect(request.attribute("from") == "alice@example.com")
        #expect(request.child("status", namespace: XMLNamespace.client)?.text == "It's Alice")
        #expect(request.child("nick", namespace: SubscriptionRequestNote.nickNamespace)?.text == "Ali")

        // Approved: nothing of the request stays behind.
        try await bob.send("<presence xmlns='jabber:client' to='alice@example.com' type='subscribed'/>")
        let item = try #require(try await Self.item(scenario.kernel, "bob", "alice@example.com"))
        #expect(!item.pendingIn && item.pendingRequest == nil && item.subscription == .from)
    }

    @Test func requestToAnUnknownAccountIsDeclined() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice")
        let alice = try await scenario.login("alice")
        _ = alice.received()
        try await alice.send("<presence xmlns='jabber:client' to='ghost@example.com' type='subscribe'/>")
        #expect(alice.received("presence").first?.attribute("type") == "unsubscribed")
        #expect(try await Self.item(scenario.kernel, "alice", "ghost@example.com")?.pendingOut == false)
    }

    @Test func preApprovalAnswersTheLaterRequestAutomatically() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob")
        try await bob.send("<presence xmlns='jabber:client' to='alice@example.com' type='subscribed'/>")
        #expect(try await Self.item(scenario.kernel, "bob", "alice@example.com")?.preApproved == true)
        _ = bob.received(); _ = alice.received()
        try await alice.send("<presence xmlns='jabber:client' to='bob@example.com' type='subscribe'/>")
        #expect(bob.received("presence").isEmpty, "no request shown: it was pre-approved")
        #expect(alice.received("presence").contains { $0.attribute("type") == "subscribed" })
        #expect(try await Self.item(scenario.kernel, "alice", "bob@example.com")?.subscription == .to)
    }

    @Test func broadcastProbesAndUnavailableOnDisconnect() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob")
        try await Self.befriend(alice, bob)
        _ = alice.received(); _ = bob.received()

        try await bob.send("<presence xmlns='jabber:client'><show>dnd</show></presence>")
        #expect(alice.received("presence").first.flatMap { Presence(element: $0)?.show } == .dnd)

        // A second resource of alice gets bob's current presence straight away (the probe, answered locally).
        let laptop = try await scenario.login("alice", "laptop")
        let probed = laptop.received("presence")
        #expect(probed.contains { $0.attribute("from") == "bob@example.com/phone" })
        #expect(probed.contains { $0.attribute("from") == "alice@example.com/phone" }, "and her other resource's presence")
        _ = alice.received()

        try await bob.disconnect()
        let gone = alice.received("presence")
        #expect(gone.contains { $0.attribute("from") == "bob@example.com/phone" && $0.attribute("type") == "unavailable" })
    }

    @Test func directedPresenceIsRevokedWhenTheSessionEnds() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("carol")
        let alice = try await scenario.login("alice")
        let carol = try await scenario.login("carol")
        _ = carol.received()
        try await alice.send("<presence xmlns='jabber:client' to='carol@example.com'/>")
        #expect(carol.received("presence").count == 1)
        try await alice.disconnect()
        #expect(carol.received("presence").first?.attribute("type") == "unavailable")
    }

    @Test func rosterSetGetRemoveAndVersioning() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        try await alice.send("<iq xmlns='jabber:client' type='get' id='g0'><query xmlns='jabber:iq:roster' ver=''/></iq>")
        let empty = try #require(alice.received("iq").first?.child("query", namespace: RosterNamespace.roster))
        #expect(empty.attribute("ver") == "0")

        try await alice.send("""
            <iq xmlns='jabber:client' type='set' id='s1'><query xmlns='jabber:iq:roster'>\
            <item jid='bob@example.com' name='Bob' subscription='both'><group>Friends</group></item></query></iq>
            """)
        let replies = alice.received("iq")
        #expect(replies.contains { $0.attribute("type") == "set" }, "the push")
        #expect(replies.contains { $0.attribute("id") == "s1" && $0.attribute("type") == "result" })
        let stored = try #require(try await Self.item(scenario.kernel, "alice", "bob@example.com"))
        #expect(stored.name == "Bob" && stored.groups == ["Friends"] && stored.subscription == .none, "subscription attribute ignored")

        try await alice.send("<iq xmlns='jabber:client' type='get' id='g1'><query xmlns='jabber:iq:roster' ver='1'/></iq>")
        #expect(alice.received("iq").first?.children.isEmpty == true, "up to date: empty result")

        try await alice.send("<iq xmlns='jabber:client' type='set' id='s2'><query xmlns='jabber:iq:roster'><item jid='x@example.com'><group>A</group><group>A</group></item></query></iq>")
        #expect(alice.received("iq").first.flatMap { IQ(element: $0)?.error?.condition } == .badRequest)

        try await alice.send("<iq xmlns='jabber:client' type='set' id='s3'><query xmlns='jabber:iq:roster'><item jid='bob@example.com' subscription='remove'/></query></iq>")
        #expect(alice.received("iq").contains { $0.child("query", namespace: RosterNamespace.roster)?.child("item")?.attribute("subscription") == "remove" })
        #expect(try await Self.item(scenario.kernel, "alice", "bob@example.com") == nil)

        let bob = try await scenario.login("bob")
        try await bob.send("<iq xmlns='jabber:client' type='get' id='peek' to='alice@example.com'><query xmlns='jabber:iq:roster'/></iq>")
        #expect(bob.received("iq").first.flatMap { IQ(element: $0)?.error?.condition } == .forbidden)
    }
}

/// The subscription state machine as a pure table (RFC 6121 Appendix A).
@Suite struct SubscriptionRulesTests {
    @Test func inboundSubscribeFromASubscriberIsAnsweredAutomatically() throws {
        var item = RosterEntry(jid: try JID("bob@example.com"), subscription: .from)
        let outcome = SubscriptionRules.inboundSubscribe(&item)
        #expect(outcome.autoReplySubscribed && !outcome.forward && !outcome.changed)
    }

    @Test func unsubscribedWithoutAPendingRequestChangesNothing() throws {
        var item = RosterEntry(jid: try JID("bob@example.com"), subscription: .none)
        #expect(SubscriptionRules.inboundUnsubscribed(&item) == SubscriptionRules.Outcome())
        #expect(SubscriptionRules.inboundSubscribed(&item) == SubscriptionRules.Outcome(), "an unsolicited subscribed is ignored")
    }

    @Test func cancellingFromBothLeavesTheOtherDirection() throws {
        var item = RosterEntry(jid: try JID("bob@example.com"), subscription: .both)
        let outcome = SubscriptionRules.outboundUnsubscribed(&item)
        #expect(item.subscription == .to && outcome.sendUnavailable && outcome.forward)
        _ = SubscriptionRules.outboundUnsubscribe(&item)
        #expect(item.subscription == .none)
    }

    /// RFC 6121 §4.2.2, §4.4.2: broadcast presence reaches every available resource of the user, the sender
    /// included (clients wait for that echo).
    @Test func theSenderAndItsOtherResourcesSeeItsPresence() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice")
        let phone = try await scenario.login("alice", "phone")
        let laptop = try await scenario.login("alice", "laptop")
        _ = (phone.received(), laptop.received())
        try await phone.send("<presence xmlns='jabber:client'><show>away</show><status>out</status></presence>")
        for client in [phone, laptop] {
            let echo = client.received("presence").first { $0.attribute("from") == "alice@example.com/phone" }
            #expect(echo?.child("show", namespace: "jabber:client")?.text == "away", "\(client.jid) sees the update")
        }
        try await phone.send("<presence xmlns='jabber:client' type='unavailable'/>")
        #expect(phone.received("presence").contains { $0.attribute("type") == "unavailable" }, "the sender sees its unavailable too")
        #expect(laptop.received("presence").contains { $0.attribute("type") == "unavailable" })
    }

    /// Directed presence is remembered only for targets that exist, and at most max_directed_presence of them.
    @Test func directedPresenceIsBoundedAndOnlyForRealTargets() async throws {
        let scenario = try KernelScenario { $0.maxDirectedPresence = 2 }
        for user in ["alice", "bob", "carol", "dave"] { try await scenario.account(user) }
        let alice = try await scenario.login("alice")
        for index in 0..<50 {
            try await alice.send("<presence xmlns='jabber:client' to='nobody\(index)@example.com'/>")
        }
        #expect(scenario.kernel.registry.entry(alice.jid)?.directedPresence.isEmpty == true, "nobody is remembered")
        _ = alice.received()
        try await alice.send("<presence xmlns='jabber:client' to='bob@example.com'/>")
        try await alice.send("<presence xmlns='jabber:client' to='carol@example.com'/>")
        try await alice.send("<presence xmlns='jabber:client' to='bob@example.com'><show>away</show></presence>")
        #expect(alice.received().isEmpty, "within the limit, and again to a target already counted")
        try await alice.send("<presence xmlns='jabber:client' to='dave@example.com' id='p'/>")
        let refused = alice.received("presence").first
        #expect(refused?.attribute("type") == "error" && refused.flatMap { Presence(element: $0)?.error?.condition } == .resourceConstraint)
        try await alice.send("<presence xmlns='jabber:client' to='nobody@example.com' id='q'/>")
        let alsoRefused = alice.received("presence").first
        #expect(alsoRefused.flatMap { Presence(element: $0)?.error?.condition } == .resourceConstraint,
                "at the limit, a name without an account gets the same answer as one with")
        try await alice.send("<presence xmlns='jabber:client' to='carol@example.com' type='unavailable'/>")
        try await alice.send("<presence xmlns='jabber:client' to='dave@example.com'/>")
        #expect(alice.received().isEmpty, "revoking one makes room")
        #expect(scenario.kernel.registry.entry(alice.jid)?.directedPresence.map(\.description).sorted() == ["bob@example.com", "dave@example.com"])
    }

    /// max_roster_items holds for subscriptions too, both ways: nobody grows a roster past it from outside.
    @Test func subscriptionsRespectTheRosterLimit() async throws {
        let scenario = try KernelScenario {
            $0.maxRosterItems = 2
            $0.maxPendingSubscriptions = 2
        }
        for user in ["alice", "bob", "carol", "dave", "erin"] { try await scenario.account(user) }
        let alice = try await scenario.login("alice")
        _ = alice.received()
        try await alice.send("<presence xmlns='jabber:client' to='bob@example.com' type='subscribe'/>")
        try await alice.send("<presence xmlns='jabber:client' to='carol@example.com' type='subscribe'/>")
        try await alice.send("<presence xmlns='jabber:client' to='dave@example.com' type='subscribe' id='s3'/>")
        let refused = alice.received("presence").first { $0.attribute("type") == "error" }
        #expect(refused.flatMap { Presence(element: $0)?.error?.condition } == .resourceConstraint)
        #expect(try await scenario.kernel.storage.rosters.roster(of: "alice").items.count == 2)
        // Requests from strangers: erin records two, the third is dropped, not recorded.
        for user in ["alice", "bob", "carol"] {
            let client = try await scenario.login(user, "pc")
            try await client.send("<presence xmlns='jabber:client' to='erin@example.com' type='subscribe'/>")
        }
        #expect(try await scenario.kernel.storage.rosters.roster(of: "erin").items.count == 2)
        // And they never use up erin's own roster: she can still add contacts of her own.
        let erin = try await scenario.login("erin")
        _ = erin.received()
        try await erin.send("<iq xmlns='jabber:client' type='set' id='add'><query xmlns='jabber:iq:roster'><item jid='dave@example.com'/></query></iq>")
        #expect(erin.received("iq").first { $0.attribute("id") == "add" }?.attribute("type") == "result")
    }
}
