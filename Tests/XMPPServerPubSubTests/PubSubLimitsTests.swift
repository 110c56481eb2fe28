import Testing
import XMPPCore
import XMPPKernelTestSupport
import XMPPServerKernel
import XMPPServerPubSub

/// The bounds of docs/SECURITY.md: bytes per PEP account, nodes per account on the service, and the memory the cached
/// nodes may take.
@Suite struct PubSubLimitsTests {
    typealias S = PubSubScenario

    static func publish(_ client: TestClient, _ id: String, node: String, bytes: Int, to: String? = nil) async throws -> Element {
        let text = String(repeating: "z", count: bytes)
        return try await S.ask(client, id, "set", to: to, S.pubsub("<publish node='\(node)'><item id='\(id)'><blob xmlns='urn:blob'>\(text)</blob></item></publish>"))
    }

    @Test func anAccountsPEPItemsAreBoundedInBytes() async throws {
        let scenario = try S.make { $0.moduleSettings["pep_max_bytes"] = "10000" }
        try await scenario.account("alice")
        let alice = try await scenario.login("alice")
        #expect(try await Self.publish(alice, "a", node: "one", bytes: 6000).attribute("type") == "result")
        let over = try await Self.publish(alice, "b", node: "two", bytes: 6000)
        #expect(S.error(over)?.0 == .resourceConstraint, "two nodes together past 10000 bytes")
        #expect(try await Self.publish(alice, "c", node: "one", bytes: 3000).attribute("type") == "result",
                "replacing the only item of a one-item node frees its bytes")
    }

    @Test func oneAccountCreatesABoundedNumberOfServiceNodes() async throws {
        let scenario = try S.make { $0.moduleSettings["pubsub_max_nodes_per_owner"] = "2" }
        for user in ["alice", "bob"] { try await scenario.account(user) }
        let (alice, bob) = (try await scenario.login("alice"), try await scenario.login("bob"))
        for name in ["a", "b"] {
            #expect(try await S.ask(alice, name, "set", to: "pubsub.example.com", S.pubsub("<create node='\(name)'/>")).attribute("type") == "result")
        }
        let third = try await S.ask(alice, "c", "set", to: "pubsub.example.com", S.pubsub("<create node='c'/>"))
        #expect(S.error(third)?.0 == .resourceConstraint)
        #expect(try await S.ask(bob, "d", "set", to: "pubsub.example.com", S.pubsub("<create node='d'/>")).attribute("type") == "result",
                "another account has its own allowance")
    }

    @Test func theCacheKeepsWithinItsBytesAndReloadsWhatItDropped() async throws {
        let records = InMemoryServiceRecordStore()
        let limits = PubSubLimits(maxNodes: 8, maxItems: 8, maxItemBytes: 100_000, maxSubscriptions: 8, maxOwnerBytes: 1_000_000)
        let store = NodeStore(records: records, recordPrefix: "pep:", defaults: .personalDefault, limits: limits, isPersonal: true,
                              cache: NodeStore.CacheBounds(owners: 100, bytes: 25_000))
        let payload = Element("pubsub", namespace: PubSubNamespace.pubsub).appending(
            Element("publish", namespace: PubSubNamespace.pubsub, attributes: ["node": "n"]).appending(
                Element("item", namespace: PubSubNamespace.pubsub, attributes: ["id": "i"]).appending(
                    Element("blob", namespace: "urn:blob", text: String(repeating: "q", count: 10_000)))))
        for user in ["u1", "u2", "u3", "u4", "u5"] {
            let requester = Requester(jid: try JID("\(user)@example.com/r"), isOwnerAccount: true, mayCreateNodes: true)
            _ = try await store.change(user) { nodes throws(StanzaError) in try nodes.handle(payload, isSet: true, from: requester) }
            #expect(store.cachedFootprint.bytes <= 25_000 || store.cachedFootprint.owners == 1)
        }
        #expect(store.cachedFootprint.owners == 2, "two owners of 10 KB fit in 25 KB")
        let reloaded = try await store.nodes(of: "u1")
        #expect(reloaded.nodes["n"]?.items.first?.id == "i", "a dropped owner is read from storage again")
    }

    @Test func quotasFollowTheCreatorWhateverTheAffiliationsBecome() async throws {
        let scenario = try S.make { $0.moduleSettings["pubsub_max_nodes_per_owner"] = "1" }
        try await scenario.account("alice")
        let alice = try await scenario.login("alice")
        _ = try await S.ask(alice, "c1", "set", to: "pubsub.example.com", S.pubsub("<create node='a'/>"))
        // An owner that sorts first must not make the node someone else's for the count.
        _ = try await S.ask(alice, "a1", "set", to: "pubsub.example.com",
                            S.pubsub("<affiliations node='a'><affiliation jid='0@example.com' affiliation='owner'/></affiliations>", owner: true))
        let second = try await S.ask(alice, "c2", "set", to: "pubsub.example.com", S.pubsub("<create node='b'/>"))
        #expect(S.error(second)?.0 == .resourceConstraint)
    }

    @Test func subscriptionsPerAccountAndLongIdsAreBounded() async throws {
        let scenario = try S.make()
        for user in ["alice", "bob"] { try await scenario.account(user) }
        let (alice, bob) = (try await scenario.login("alice"), try await scenario.login("bob"))
        _ = try await S.ask(alice, "c1", "set", to: "pubsub.example.com", S.pubsub("<create node='open'/>"))
        for index in 0..<8 {
            let ok = try await S.ask(bob, "s\(index)", "set", to: "pubsub.example.com", S.pubsub("<subscribe node='open' jid='bob@example.com/r\(index)'/>"))
            #expect(ok.attribute("type") == "result")
        }
        let ninth = try await S.ask(bob, "s8", "set", to: "pubsub.example.com", S.pubsub("<subscribe node='open' jid='bob@example.com/r8'/>"))
        #expect(S.error(ninth)?.0 == .resourceConstraint, "one account cannot fill a node's subscriptions")
        let longID = String(repeating: "i", count: 2000)
        let published = try await S.ask(alice, "p1", "set", to: "pubsub.example.com",
                                        S.pubsub("<publish node='open'><item id='\(longID)'><x xmlns='urn:x'/></item></publish>"))
        #expect(S.error(published)?.0 == .notAcceptable)
    }

    @Test func anOversizedCapsAnswerIsNotUsed() async throws {
        let scenario = try S.make()
        for user in ["alice", "bob"] { try await scenario.account(user) }
        let alice = try await scenario.login("alice")
        let many = (0..<600).map { "urn:made-up:\($0)" } + [PEPTests.tune]
        let bob = try await S.loginWithCaps(scenario, "bob", "desk", notify: many)
        let modest = try await S.loginWithCaps(scenario, "bob", "phone", notify: [PEPTests.tune])
        try await PEPTests.befriend(alice, bob)
        _ = (bob.received(), modest.received())
        _ = try await PEPTests.publishTune(alice, "p1", title: "T")
        #expect(await S.event(modest, node: PEPTests.tune) != nil)
        #expect(await S.noEvent(bob, node: PEPTests.tune), "601 features: neither cached nor used")
    }

    @Test func aSessionHasOneServerRequestWaitingAtATime() async throws {
        let scenario = try S.make()
        try await scenario.account("alice")
        let alice = try await scenario.login("alice")
        let kernel = scenario.kernel
        let query = Element("query", namespace: DiscoNamespace.info)
        let first = Task { try await kernel.request(query, to: alice.jid, timeout: .seconds(5)) }
        var asked: Element?
        for _ in 0..<100 where asked == nil {
            asked = alice.session.takeFirst { $0.name == "iq" }
            try await Task.sleep(for: .milliseconds(10))
        }
        await #expect(throws: StanzaError.self) { try await kernel.request(query, to: alice.jid, timeout: .seconds(5)) }
        let id = try #require(asked?.attribute("id"))
        try await alice.send("<iq xmlns='jabber:client' type='result' id='\(id)' to='example.com'><query xmlns='\(DiscoNamespace.info)'/></iq>")
        #expect(try await first.value.attribute("type") == "result")
    }
}
