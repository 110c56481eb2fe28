import Foundation
import Testing
import XMPPCore
import XMPPKernelTestSupport
import XMPPServerKernel
import XMPPServerPubSub

/// XEP-0163 on the kernel: publish, notifications by presence subscription and `+notify` caps, access models,
/// last items, and the errors of XEP-0060.
@Suite struct PEPTests {
    typealias S = PubSubScenario
    static let tune = "http://jabber.org/protocol/tune"

    /// alice and bob befriended; carol knows neither. bob and alice's laptop announce interest in tunes.
    static func friends() async throws -> (KernelScenario, alice: TestClient, laptop: TestClient, bob: TestClient, carol: TestClient) {
        let scenario = try S.make()
        for user in ["alice", "bob", "carol"] { try await scenario.account(user) }
        let alice = try await scenario.login("alice", "phone")
        let bob = try await S.loginWithCaps(scenario, "bob", "desk", notify: [tune])
        let carol = try await S.loginWithCaps(scenario, "carol", "desk", notify: [tune])
        try await befriend(alice, bob)
        let laptop = try await S.loginWithCaps(scenario, "alice", "laptop", notify: [tune])
        _ = (alice.received(), bob.received(), carol.received(), laptop.received())
        return (scenario, alice, laptop, bob, carol)
    }

    static func befriend(_ alice: TestClient, _ bob: TestClient) async throws {
        try await alice.send("<presence xmlns='jabber:client' to='\(bob.jid.bare)' type='subscribe'/>")
        try await bob.send("<presence xmlns='jabber:client' to='\(alice.jid.bare)' type='subscribed'/>")
        try await bob.send("<presence xmlns='jabber:client' to='\(alice.jid.bare)' type='subscribe'/>")
        try await alice.send("<presence xmlns='jabber:client' to='\(bob.jid.bare)' type='subscribed'/>")
    }

    static func publishTune(_ client: TestClient, _ id: String, title: String, options: String = "") async throws -> Element {
        try await S.ask(client, id, "set", S.pubsub("""
            <publish node='\(tune)'><item id='current'><tune xmlns='\(tune)'><title>\(title)</title></tune></item></publish>\(options)
            """))
    }

    @Test func aPublishReachesInterestedContactsAndOwnResourcesOnly() async throws {
        let (_, alice, laptop, bob, carol) = try await Self.friends()
        let reply = try await Self.publishTune(alice, "p1", title: "Yesterday")
        #expect(reply.attribute("type") == "result")
        #expect(reply.child("pubsub")?.child("publish")?.child("item")?.attribute("id") == "current")

        let toBob = try #require(await S.event(bob, node: Self.tune))
        #expect(toBob.attribute("from") == "alice@example.com" && toBob.attribute("type") == "headline")
        #expect(toBob.child("event")?.child("items")?.child("item")?.child("tune", namespace: Self.tune)?.child("title")?.text == "Yesterday")
        #expect(await S.event(laptop, node: Self.tune) != nil, "the account's own interested resource")
        #expect(await S.noEvent(carol, node: Self.tune), "not a contact")
        #expect(await S.noEvent(alice, node: Self.tune), "no +notify in its caps")
    }

    @Test func itemsFollowTheAccessModel() async throws {
        let (_, alice, _, bob, carol) = try await Self.friends()
        _ = try await Self.publishTune(alice, "p1", title: "Help!")
        let items = try await S.ask(bob, "i1", "get", to: "alice@example.com", S.pubsub("<items node='\(Self.tune)'/>"))
        #expect(items.child("pubsub")?.child("items")?.children("item").count == 1)
        let refused = try await S.ask(carol, "i2", "get", to: "alice@example.com", S.pubsub("<items node='\(Self.tune)'/>"))
        #expect(S.error(refused)?.0 == .notAuthorized && S.error(refused)?.1 == "presence-subscription-required")
        let missing = try await S.ask(bob, "i3", "get", to: "alice@example.com", S.pubsub("<items node='nothing-here'/>"))
        #expect(S.error(missing)?.0 == .itemNotFound)
    }

    @Test func publishOptionsCreateAWhitelistNodeAndAreCheckedAsPreconditions() async throws {
        let (_, alice, _, bob, _) = try await Self.friends()
        let options = """
            <publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>\
            <value>http://jabber.org/protocol/pubsub#publish-options</value></field>\
            <field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options>
            """
        let created = try await Self.publishTune(alice, "p1", title: "Private", options: options)
        #expect(created.attribute("type") == "result")
        #expect(await S.noEvent(bob, node: Self.tune), "a whitelist node tells no contact")
        let closed = try await S.ask(bob, "i1", "get", to: "alice@example.com", S.pubsub("<items node='\(Self.tune)'/>"))
        #expect(S.error(closed)?.1 == "closed-node")
        let openOptions = options.replacingOccurrences(of: "<value>whitelist</value>", with: "<value>presence</value>")
        let mismatch = try await Self.publishTune(alice, "p2", title: "Again", options: openOptions)
        #expect(S.error(mismatch)?.0 == .conflict && S.error(mismatch)?.1 == "precondition-not-met")
    }

    @Test func theLastItemComesAtLoginWhenTheCapsAskForIt() async throws {
        let (scenario, alice, _, bob, _) = try await Self.friends()
        _ = try await Self.publishTune(alice, "p1", title: "Let It Be")
        _ = await S.event(bob, node: Self.tune)
        // bob's second device, with a caps string the server has already learned: no question, the item at once.
        let tablet = try await S.loginWithCaps(scenario, "bob", "tablet", notify: [Self.tune])
        let last = try #require(await S.event(tablet, node: Self.tune))
        #expect(last.child("event")?.child("items")?.child("item")?.attribute("id") == "current")
        let plain = try await scenario.login("bob", "plain")
        #expect(await S.noEvent(plain, node: Self.tune), "no interest announced, no item")
    }

    @Test func interestAnnouncedLaterBringsTheLastItemAndTheNextNotifications() async throws {
        let (scenario, alice, _, _, _) = try await Self.friends()
        _ = try await Self.publishTune(alice, "p1", title: "Before")
        let late = try await S.loginWithCaps(scenario, "bob", "late", notify: [])
        #expect(await S.noEvent(late, node: Self.tune))
        // The same session announces new capabilities: the server learns them and sends what it now asks for.
        let (ver, features) = S.capsVer(notify: [Self.tune, "urn:other"])
        try await late.send("<presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:test' ver='\(ver)'/></presence>")
        var query: Element?
        for _ in 0..<250 where query == nil {
            query = late.session.takeFirst { $0.name == "iq" && $0.child("query", namespace: DiscoNamespace.info) != nil }
            try await Task.sleep(for: .milliseconds(20))
        }
        let asked = try #require(query, "the server asks about capabilities it has not seen")
        let answer = features.map { "<feature var='\($0)'/>" }.joined()
        let info = "<query xmlns='\(DiscoNamespace.info)'><identity category='client' type='pc'/>\(answer)</query>"
        try await late.send("<iq xmlns='jabber:client' type='result' id='\(asked.attribute("id") ?? "")' to='example.com'>\(info)</iq>")
        #expect(await S.event(late, node: Self.tune) != nil, "the last item")
        _ = try await Self.publishTune(alice, "p2", title: "After")
        #expect(await S.event(late, node: Self.tune) != nil, "and what comes next")
    }

    @Test func aNewPresenceSubscriptionBringsTheLastItems() async throws {
        let scenario = try S.make()
        for user in ["alice", "dave"] { try await scenario.account(user) }
        let alice = try await scenario.login("alice", "phone")
        _ = try await Self.publishTune(alice, "p1", title: "Something")
        let dave = try await S.loginWithCaps(scenario, "dave", "desk", notify: [Self.tune])
        #expect(await S.noEvent(dave, node: Self.tune))
        try await dave.send("<presence xmlns='jabber:client' to='alice@example.com' type='subscribe'/>")
        try await alice.send("<presence xmlns='jabber:client' to='dave@example.com' type='subscribed'/>")
        #expect(await S.event(dave, node: Self.tune) != nil)
    }

    @Test func theErrorsOfXEP0060() async throws {
        let (_, alice, _, bob, _) = try await Self.friends()
        let noNode = try await S.ask(alice, "e1", "set", S.pubsub("<publish><item><x xmlns='urn:x'/></item></publish>"))
        #expect(S.error(noNode)?.1 == "nodeid-required")
        let notOwner = try await S.ask(bob, "e2", "set", to: "alice@example.com",
                                       S.pubsub("<publish node='\(Self.tune)'><item><tune xmlns='\(Self.tune)'/></item></publish>"))
        #expect(S.error(notOwner) != nil, "only the account publishes to its PEP")
        _ = try await Self.publishTune(alice, "p1", title: "A")
        let twoPayloads = try await S.ask(alice, "e3", "set", S.pubsub("<publish node='n'><item><a xmlns='urn:a'/><b xmlns='urn:b'/></item></publish>"))
        #expect(S.error(twoPayloads)?.1 == "invalid-payload")
        let noPayload = try await S.ask(alice, "e4", "set", S.pubsub("<publish node='\(Self.tune)'><item id='x'/></publish>"))
        #expect(S.error(noPayload)?.1 == "payload-required")
        let retractMissing = try await S.ask(alice, "e5", "set", S.pubsub("<retract node='\(Self.tune)'><item id='nope'/></retract>"))
        #expect(S.error(retractMissing)?.0 == .itemNotFound)
        let big = String(repeating: "<c>" + String(repeating: "x", count: 100_000) + "</c>", count: 2)
        let tooBig = try await S.ask(alice, "e6", "set", S.pubsub("<publish node='big'><item><b xmlns='urn:b'>\(big)</b></item></publish>"))
        #expect(S.error(tooBig)?.0 == .notAcceptable && S.error(tooBig)?.1 == "payload-too-big")
        let notSubscribed = try await S.ask(bob, "e7", "set", to: "alice@example.com",
                                            S.pubsub("<unsubscribe node='\(Self.tune)' jid='bob@example.com'/>"))
        #expect(S.error(notSubscribed)?.1 == "not-subscribed")
        let otherJID = try await S.ask(bob, "e8", "set", to: "alice@example.com",
                                       S.pubsub("<subscribe node='\(Self.tune)' jid='carol@example.com'/>"))
        #expect(S.error(otherJID)?.1 == "invalid-jid")
        let unsupported = try await S.ask(bob, "e9", "get", to: "alice@example.com",
                                          S.pubsub("<options node='\(Self.tune)' jid='bob@example.com'/>"))
        #expect(S.error(unsupported)?.0 == .featureNotImplemented)
    }

    @Test func retractNotifiesAndTheOwnerConfiguresAndDeletes() async throws {
        let (_, alice, laptop, bob, _) = try await Self.friends()
        _ = try await Self.publishTune(alice, "p1", title: "A")
        _ = (await S.event(bob, node: Self.tune), await S.event(laptop, node: Self.tune))
        let retracted = try await S.ask(alice, "r1", "set", S.pubsub("<retract node='\(Self.tune)' notify='true'><item id='current'/></retract>"))
        #expect(retracted.attribute("type") == "result")
        #expect(await S.event(bob, node: Self.tune)?.child("event")?.child("items")?.child("retract")?.attribute("id") == "current")
        let form = try await S.ask(alice, "c1", "get", S.pubsub("<configure node='\(Self.tune)'/>", owner: true))
        let fields = try #require(form.child("pubsub")?.child("configure")?.child("x").flatMap(DataForm.init(element:)))
        #expect(fields.value(of: "pubsub#access_model") == "presence" && fields.formType == PubSubNamespace.nodeConfig)
        let byBob = try await S.ask(bob, "c2", "get", to: "alice@example.com", S.pubsub("<configure node='\(Self.tune)'/>", owner: true))
        #expect(S.error(byBob)?.0 == .forbidden)
        let deleted = try await S.ask(alice, "d1", "set", S.pubsub("<delete node='\(Self.tune)'/>", owner: true))
        #expect(deleted.attribute("type") == "result")
        #expect(await S.event(bob, node: Self.tune)?.child("event")?.child("delete") != nil)
    }

    @Test func nodesSurviveARestartOnTheSameStorage() async throws {
        let storage = ServerStorage.inMemory()
        let first = try S.make(storage: storage)
        try await first.account("alice")
        let alice = try await first.login("alice", "phone")
        _ = try await Self.publishTune(alice, "p1", title: "Kept")
        let second = try S.make(storage: storage)
        let again = try await second.login("alice", "phone2")
        let items = try await S.ask(again, "i1", "get", S.pubsub("<items node='\(Self.tune)'/>"))
        #expect(items.child("pubsub")?.child("items")?.child("item")?.child("tune")?.child("title")?.text == "Kept")
    }

    @Test func theAccountAdvertisesPEP() async throws {
        let (_, alice, _, _, _) = try await Self.friends()
        let info = try await S.ask(alice, "d1", "get", to: "alice@example.com", "<query xmlns='\(DiscoNamespace.info)'/>")
        let query = try #require(info.child("query"))
        #expect(query.children("identity").contains { $0.attribute("category") == "pubsub" && $0.attribute("type") == "pep" })
        let features = Set(query.children("feature").compactMap { $0.attribute("var") })
        #expect(features.isSuperset(of: [PubSubNamespace.feature("publish-options"), "urn:xmpp:pep-vcard-conversion:0",
                                         "urn:xmpp:bookmarks:1#compat"]))
    }

    @Test func discoListsTheNodesAndItemsARequesterMayRead() async throws {
        let (_, alice, _, bob, carol) = try await Self.friends()
        _ = try await Self.publishTune(alice, "p1", title: "Listed")
        let nodes = try await S.ask(bob, "d1", "get", to: "alice@example.com", "<query xmlns='\(DiscoNamespace.items)'/>")
        #expect(nodes.child("query")?.children("item").compactMap { $0.attribute("node") } == [Self.tune])
        let hidden = try await S.ask(carol, "d2", "get", to: "alice@example.com", "<query xmlns='\(DiscoNamespace.items)'/>")
        #expect(hidden.child("query")?.children("item").isEmpty == true, "carol may read none of alice's nodes")
        let items = try await S.ask(bob, "d3", "get", to: "alice@example.com", "<query xmlns='\(DiscoNamespace.items)' node='\(Self.tune)'/>")
        #expect(items.child("query")?.children("item").compactMap { $0.attribute("name") } == ["current"])
        let info = try await S.ask(bob, "d4", "get", to: "alice@example.com", "<query xmlns='\(DiscoNamespace.info)' node='\(Self.tune)'/>")
        #expect(info.child("query")?.child("identity")?.attribute("type") == "leaf")
        let unknown = try await S.ask(bob, "d5", "get", to: "alice@example.com", "<query xmlns='\(DiscoNamespace.info)' node='nope'/>")
        #expect(S.error(unknown)?.0 == .itemNotFound)
    }
}
