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
}
