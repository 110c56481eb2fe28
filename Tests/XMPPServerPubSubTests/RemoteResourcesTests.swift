import Testing
import XMPPCore
@testable import XMPPServerPubSub

/// What PEP remembers of remote contacts' resources: available presence with caps, bounded in all and per account.
@Suite struct RemoteResourcesTests {
    static func presence(ver: String?, type: String? = nil) throws -> Element {
        let caps = ver.map { "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='\($0)'/>" } ?? ""
        return try Element(xml: "<presence xmlns='jabber:client'\(type.map { " type='\($0)'" } ?? "")>\(caps)</presence>")
    }

    @Test("a resource is new once, again when its caps change, gone when unavailable or when the account forgets")
    func lifecycle() throws {
        let resources = RemoteResources(capacity: 10)
        let (alice, bob) = (try JID("alice@here.test"), try JID("bob@there.test/phone"))
        #expect(resources.observe(try Self.presence(ver: "v1"), from: bob, to: alice))
        #expect(!resources.observe(try Self.presence(ver: "v1"), from: bob, to: alice))
        #expect(resources.observe(try Self.presence(ver: "v2"), from: bob, to: alice))
        #expect(resources.resources(of: bob.bare, for: alice).map(\.jid) == [bob])
        #expect(!resources.observe(try Self.presence(ver: nil, type: "unavailable"), from: bob, to: alice))
        #expect(resources.resources(of: bob.bare, for: alice).isEmpty)
        #expect(resources.observe(try Self.presence(ver: "v1"), from: bob, to: alice))
        resources.forget(alice)
        #expect(resources.resources(of: bob.bare, for: alice).isEmpty)
    }

    @Test("past the total or the per-account limit a new resource is not recorded; forgetting frees room")
    func limits() throws {
        let total = RemoteResources(capacity: 2)
        let alice = try JID("alice@here.test")
        #expect(total.observe(try Self.presence(ver: "v"), from: try JID("a@there.test/1"), to: alice))
        #expect(total.observe(try Self.presence(ver: "v"), from: try JID("a@there.test/2"), to: try JID("carol@here.test")))
        #expect(!total.observe(try Self.presence(ver: "v"), from: try JID("a@there.test/3"), to: alice))
        total.forget(try JID("a@there.test/1"), of: alice)
        #expect(total.observe(try Self.presence(ver: "v"), from: try JID("a@there.test/3"), to: alice))

        let perAccount = RemoteResources(capacity: 10_000)
        for index in 0..<RemoteResources.maxPerAccount {
            #expect(perAccount.observe(try Self.presence(ver: "v"), from: try JID("m@there.test/\(index)"), to: alice))
        }
        #expect(!perAccount.observe(try Self.presence(ver: "v"), from: try JID("m@there.test/extra"), to: alice))
        #expect(perAccount.observe(try Self.presence(ver: "v"), from: try JID("m@there.test/extra"), to: try JID("carol@here.test")))
    }
}
