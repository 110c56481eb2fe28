import Testing
import XMPPCore
import XMPPKernelTestSupport
import XMPPServerKernel
import XMPPServerPubSub

/// The pubsub service at `pubsub.example.com` (XEP-0060): nodes, owners, subscribers, and what only owners may do.
@Suite struct PubSubServiceTests {
    typealias S = PubSubScenario
    static let service = "pubsub.example.com"

    static func people() async throws -> (KernelScenario, alice: TestClient, bob: TestClient, carol: TestClient) {
        let scenario = try S.make()
        for user in ["alice", "bob", "carol"] { try await scenario.account(user) }
        return (scenario, try await scenario.login("alice"), try await scenario.login("bob"), try await scenario.login("carol"))
    }

    @Test func createSubscribePublishPurgeAndDelete() async throws {
        let (_, alice, bob, _) = try await Self.people()
        let instant = try await S.ask(alice, "c1", "set", to: Self.service, S.pubsub("<create/>"))
        let generated = try #require(instant.child("pubsub")?.child("create")?.attribute("node"), "an instant node gets a name")
        #expect(!generated.isEmpty)
        let named = try await S.ask(alice, "c2", "set", to: Self.service, S.pubsub("<create node='news'/>"))
        #expect(named.attribute("type") == "result")
        let again = try await S.ask(bob, "c3", "set", to: Self.service, S.pubsub("<create node='news'/>"))
        #expect(S.error(again)?.0 == .conflict)

        let subscribed = try await S.ask(bob, "s1", "set", to: Self.service, S.pubsub("<subscribe node='news' jid='bob@example.com/phone'/>"))
        let subscription = try #require(subscribed.child("pubsub")?.child("subscription"))
        #expect(subscription.attribute("subscription") == "subscribed" && subscription.attribute("subid") != nil)

        let published = try await S.ask(alice, "p1", "set", to: Self.service,
                                         S.pubsub("<publish node='news'><item id='1'><entry xmlns='http://www.w3.org/2005/Atom'><title>Hi</title></entry></item></publish>"))
        #expect(published.attribute("type") == "result")
        let event = try #require(await S.event(bob, node: "news"))
        #expect(event.attribute("from") == Self.service && event.child("event")?.child("items")?.child("item")?.attribute("id") == "1")

        let byBob = try await S.ask(bob, "p2", "set", to: Self.service, S.pubsub("<publish node='news'><item><x xmlns='urn:x'/></item></publish>"))
        #expect(S.error(byBob)?.0 == .forbidden, "publishers only")
        let purgeByBob = try await S.ask(bob, "x1", "set", to: Self.service, S.pubsub("<purge node='news'/>", owner: true))
        #expect(S.error(purgeByBob)?.0 == .forbidden)
        let purged = try await S.ask(alice, "x2", "set", to: Self.service, S.pubsub("<purge node='news'/>", owner: true))
        #expect(purged.attribute("type") == "result")
        #expect(await S.event(bob, node: "news")?.child("event")?.child("purge") != nil)
        let empty = try await S.ask(bob, "i1", "get", to: Self.service, S.pubsub("<items node='news'/>"))
        #expect(empty.child("pubsub")?.child("items")?.children("item").isEmpty == true)

        let unsubscribed = try await S.ask(bob, "u1", "set", to: Self.service, S.pubsub("<unsubscribe node='news' jid='bob@example.com/phone'/>"))
        #expect(unsubscribed.attribute("type") == "result")
        let deleted = try await S.ask(alice, "d1", "set", to: Self.service, S.pubsub("<delete node='news'/>", owner: true))
        #expect(deleted.attribute("type") == "result")
        let gone = try await S.ask(bob, "i2", "get", to: Self.service, S.pubsub("<items node='news'/>"))
        #expect(S.error(gone)?.0 == .itemNotFound)
    }

    @Test func maxItemsKeepsTheNewestAndItemsCanBeAskedByIdOrCount() async throws {
        let (_, alice, bob, _) = try await Self.people()
        let configure = """
            <create node='log'/><configure><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>\
            <value>http://jabber.org/protocol/pubsub#node_config</value></field><field var='pubsub#max_items'><value>3</value></field></x></configure>
            """
        #expect(try await S.ask(alice, "c1", "set", to: Self.service, S.pubsub(configure)).attribute("type") == "result")
        for index in 1...5 {
            _ = try await S.ask(alice, "p\(index)", "set", to: Self.service, S.pubsub("<publish node='log'><item id='\(index)'><n xmlns='urn:n'>\(index)</n></item></publish>"))
        }
        let all = try await S.ask(bob, "i1", "get", to: Self.service, S.pubsub("<items node='log'/>"))
        #expect(all.child("pubsub")?.child("items")?.children("item").compactMap { $0.attribute("id") } == ["3", "4", "5"])
        let latest = try await S.ask(bob, "i2", "get", to: Self.service, S.pubsub("<items node='log' max_items='1'/>"))
        #expect(latest.child("pubsub")?.child("items")?.children("item").compactMap { $0.attribute("id") } == ["5"])
        let byID = try await S.ask(bob, "i3", "get", to: Self.service, S.pubsub("<items node='log'><item id='4'/></items>"))
        #expect(byID.child("pubsub")?.child("items")?.children("item").first?.child("n")?.text == "4")
    }

    @Test func aWhitelistNodeOpensToAffiliatedMembersOnly() async throws {
        let (_, alice, bob, carol) = try await Self.people()
        let create = """
            <create node='team'/><configure><x xmlns='jabber:x:data' type='submit'>\
            <field var='pubsub#access_model'><value>whitelist</value></field></x></configure>
            """
        _ = try await S.ask(alice, "c1", "set", to: Self.service, S.pubsub(create))
        let closed = try await S.ask(bob, "s1", "set", to: Self.service, S.pubsub("<subscribe node='team' jid='bob@example.com'/>"))
        #expect(S.error(closed)?.1 == "closed-node")
        let byBob = try await S.ask(bob, "a0", "set", to: Self.service,
                                    S.pubsub("<affiliations node='team'><affiliation jid='bob@example.com' affiliation='owner'/></affiliations>", owner: true))
        #expect(S.error(byBob)?.0 == .forbidden)
        let granted = try await S.ask(alice, "a1", "set", to: Self.service,
                                      S.pubsub("<affiliations node='team'><affiliation jid='bob@example.com' affiliation='member'/></affiliations>", owner: true))
        #expect(granted.attribute("type") == "result")
        let open = try await S.ask(bob, "s2", "set", to: Self.service, S.pubsub("<subscribe node='team' jid='bob@example.com'/>"))
        #expect(open.attribute("type") == "result")
        let stillClosed = try await S.ask(carol, "s3", "get", to: Self.service, S.pubsub("<items node='team'/>"))
        #expect(S.error(stillClosed)?.1 == "closed-node")
        let listedToBob = try await S.ask(bob, "d1", "get", to: Self.service, "<query xmlns='\(DiscoNamespace.items)'/>")
        #expect(listedToBob.child("query")?.children("item").compactMap { $0.attribute("node") } == ["team"], "a member sees it")
        let listedToCarol = try await S.ask(carol, "d2", "get", to: Self.service, "<query xmlns='\(DiscoNamespace.items)'/>")
        #expect(listedToCarol.child("query")?.children("item").isEmpty == true, "an outsider does not")
        let wrongType = try await S.ask(bob, "w1", "set", to: Self.service, S.pubsub("<items node='team'/>"))
        #expect(S.error(wrongType)?.0 == .badRequest)
        let list = try await S.ask(alice, "a2", "get", to: Self.service, S.pubsub("<affiliations node='team'/>", owner: true))
        let affiliations = list.child("pubsub")?.child("affiliations")?.children("affiliation").map { ($0.attribute("jid") ?? "", $0.attribute("affiliation") ?? "") }
        #expect(affiliations?.map(\.0) == ["alice@example.com", "bob@example.com"])
        let subscriptions = try await S.ask(alice, "a3", "get", to: Self.service, S.pubsub("<subscriptions node='team'/>", owner: true))
        #expect(subscriptions.child("pubsub")?.child("subscriptions")?.children("subscription").first?.attribute("jid") == "bob@example.com")
        let mine = try await S.ask(bob, "a4", "get", to: Self.service, S.pubsub("<affiliations/>"))
        #expect(mine.child("pubsub")?.child("affiliations")?.child("affiliation")?.attribute("affiliation") == "member")
    }

    @Test func aPresenceAccessNodeFollowsItsCreatorsRoster() async throws {
        let (_, alice, bob, carol) = try await Self.people()
        try await PEPTests.befriend(alice, bob)
        let create = """
            <create node='friends'/><configure><x xmlns='jabber:x:data' type='submit'>\
            <field var='pubsub#access_model'><value>presence</value></field></x></configure>
            """
        _ = try await S.ask(alice, "c1", "set", to: Self.service, S.pubsub(create))
        #expect(try await S.ask(bob, "s1", "set", to: Self.service, S.pubsub("<subscribe node='friends' jid='bob@example.com/phone'/>"))
            .attribute("type") == "result")
        let stranger = try await S.ask(carol, "s2", "set", to: Self.service, S.pubsub("<subscribe node='friends' jid='carol@example.com'/>"))
        #expect(S.error(stranger)?.1 == "presence-subscription-required")
        _ = bob.received()
        _ = try await S.ask(alice, "p1", "set", to: Self.service, S.pubsub("<publish node='friends'><item id='1'><x xmlns='urn:x'/></item></publish>"))
        #expect(await S.event(bob, node: "friends") != nil)
    }

    @Test func discoListsTheServiceItsNodesAndTheirItems() async throws {
        let (_, alice, bob, _) = try await Self.people()
        let server = try await S.ask(bob, "d0", "get", to: "example.com", "<query xmlns='\(DiscoNamespace.items)'/>")
        #expect(server.child("query")?.children("item").contains { $0.attribute("jid") == Self.service } == true)
        _ = try await S.ask(alice, "c1", "set", to: Self.service, S.pubsub("<create node='news'/>"))
        _ = try await S.ask(alice, "p1", "set", to: Self.service, S.pubsub("<publish node='news'><item id='a'><x xmlns='urn:x'/></item></publish>"))
        let info = try await S.ask(bob, "d1", "get", to: Self.service, "<query xmlns='\(DiscoNamespace.info)'/>")
        #expect(info.child("query")?.child("identity")?.attribute("type") == "service")
        let nodes = try await S.ask(bob, "d2", "get", to: Self.service, "<query xmlns='\(DiscoNamespace.items)'/>")
        #expect(nodes.child("query")?.children("item").compactMap { $0.attribute("node") } == ["news"])
        let items = try await S.ask(bob, "d3", "get", to: Self.service, "<query xmlns='\(DiscoNamespace.items)' node='news'/>")
        #expect(items.child("query")?.children("item").compactMap { $0.attribute("name") } == ["a"])
        let nodeInfo = try await S.ask(bob, "d4", "get", to: Self.service, "<query xmlns='\(DiscoNamespace.info)' node='news'/>")
        #expect(nodeInfo.child("query")?.child("identity")?.attribute("type") == "leaf")
    }

    @Test func onlyAdministratorsCreateWhenSoConfigured() async throws {
        let scenario = try S.make { configuration in
            configuration.admins = [try! JID("alice@example.com")]
            configuration.moduleSettings["pubsub_creators"] = "admins"
        }
        for user in ["alice", "bob"] { try await scenario.account(user) }
        let (alice, bob) = (try await scenario.login("alice"), try await scenario.login("bob"))
        #expect(S.error(try await S.ask(bob, "c1", "set", to: Self.service, S.pubsub("<create node='x'/>")))?.0 == .forbidden)
        #expect(try await S.ask(alice, "c2", "set", to: Self.service, S.pubsub("<create node='x'/>")).attribute("type") == "result")
    }
}
