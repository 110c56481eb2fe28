import NIOCore
import NIOPosix
import Testing
import XMPPCore
import XMPPKernelTestSupport
import XMPPServerKernel
import XMPPServerPubSub

/// PEP asks a remote resource for its caps (over the remote router) only when it is a contact the account shares its
/// presence with: a remote server sending presence from made-up resources gets no requests out of the server.
@Suite struct RemoteContactCapsTests {
    static func capsQueries(_ router: RecordingRouter, to jid: String) async -> Int {
        router.sent.withLock { $0 }.filter {
            $0.name == "iq" && $0.attribute("to") == jid && $0.child("query", namespace: DiscoNamespace.info) != nil
        }.count
    }

    @Test("presence with caps from a stranger at another server asks nothing; from a contact who receives the account's presence, it asks")
    func strangersAreNotAsked() async throws {
        let router = RecordingRouter()
        let scenario = try KernelScenario(extraModules: [PEPModule(), router.module])
        try await scenario.account("alice")
        let alice = try await scenario.login("alice")
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        func remote(_ xml: String) async throws {
            let element = try Element(xml: xml)
            try await scenario.kernel.processFromRemote(element, from: try JID(element.attribute("from")!), to: try JID(element.attribute("to")!),
                                                        eventLoop: loop)?.get()
        }
        let caps = "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:x' ver='abc='/>"
        try await remote("<presence xmlns='jabber:client' from='mallory@evil.test/x' to='alice@example.com/phone'>\(caps)</presence>")
        // Bob at another server asks to see Alice's presence, and she agrees: his resources may hear of her PEP.
        try await remote("<presence xmlns='jabber:client' type='subscribe' from='bob@there.test' to='alice@example.com'/>")
        try await alice.send("<presence xmlns='jabber:client' type='subscribed' to='bob@there.test'/>")
        try await Task.sleep(for: .milliseconds(200))
        try await remote("<presence xmlns='jabber:client' from='bob@there.test/phone' to='alice@example.com/phone'>\(caps)</presence>")
        var bobAsked = 0
        for _ in 0..<200 where bobAsked == 0 {
            bobAsked = await Self.capsQueries(router, to: "bob@there.test/phone")
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(bobAsked == 1)
        #expect(await Self.capsQueries(router, to: "mallory@evil.test/x") == 0)
    }
}
