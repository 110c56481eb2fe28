import NIOCore
import NIOPosix
import Testing
import XMPPCore
import XMPPKernelTestSupport
import XMPPServerKernel

/// What the kernel does with stanzas from other servers (`processFromRemote`) and what it hands the remote router:
/// a remote sender has no account here, whatever its localpart.
@Suite struct RemoteStanzaTests {
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    func remote(_ scenario: KernelScenario, _ xml: String) async throws {
        let element = try Element(xml: xml)
        let from = try JID(element.attribute("from")!)
        let to = try JID(element.attribute("to")!)
        try await scenario.kernel.processFromRemote(element, from: from, to: to, eventLoop: loop)?.get()
    }

    /// Answers sent so far to `id`, after the asynchronous work settled.
    func answers(_ router: RecordingRouter, id: String) async -> [Element] {
        for _ in 0..<100 {
            let found = router.sent.withLock { $0 }.filter { $0.attribute("id") == id }
            if !found.isEmpty { return found }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return []
    }

    @Test("a remote user named like a local account can neither change its password nor delete it (jabber:iq:register)")
    func registrationIsLocalOnly() async throws {
        let router = RecordingRouter()
        let scenario = try KernelScenario(extraModules: [router.module])
        try await scenario.account("alice")
        try await scenario.account("bob")
        try await remote(scenario, "<iq xmlns='jabber:client' type='set' id='pw' from='alice@evil.test/x' to='example.com'>"
                                 + "<query xmlns='jabber:iq:register'><username>alice</username><password>pwned</password></query></iq>")
        try await remote(scenario, "<iq xmlns='jabber:client' type='set' id='rm' from='bob@evil.test/x' to='example.com'>"
                                 + "<query xmlns='jabber:iq:register'><remove/></query></iq>")
        #expect(await answers(router, id: "pw").first?.attribute("type") == "error")
        #expect(await answers(router, id: "rm").first?.attribute("type") == "error")
        #expect(try await scenario.kernel.storage.accounts.accountExists("bob"))
        let alice = try #require(try await scenario.kernel.storage.accounts.credentials(of: "alice", hash: .sha256))
        #expect(ServerNegotiationStateMachine.passwordMatches("secret", alice))
    }

    @Test("a server request to a remote entity goes out through the router; only its answer from that entity completes it")
    func requestToRemoteEntity() async throws {
        let router = RecordingRouter()
        let scenario = try KernelScenario(extraModules: [router.module])
        let kernel = scenario.kernel
        let asking = Task { try await kernel.request(Element("query", namespace: "http://jabber.org/protocol/disco#info"),
                                                     to: try JID("bob@remote.test/phone"), timeout: .seconds(5)) }
        var sent: Element?
        for _ in 0..<200 where sent == nil {
            sent = router.sent.withLock { $0.first { $0.name == "iq" } }
            try await Task.sleep(for: .milliseconds(10))
        }
        let request = try #require(sent)
        #expect(request.attribute("to") == "bob@remote.test/phone" && request.attribute("from") == "example.com")
        let id = try #require(request.attribute("id"))
        // An answer from someone else is not the answer.
        try await remote(scenario, "<iq xmlns='jabber:client' type='result' id='\(id)' from='mallory@remote.test/x' to='example.com'/>")
        try await remote(scenario, "<iq xmlns='jabber:client' type='result' id='\(id)' from='bob@remote.test/phone' to='example.com'>"
                                 + "<query xmlns='http://jabber.org/protocol/disco#info'><feature var='urn:x'/></query></iq>")
        let reply = try await asking.value
        #expect(reply.attribute("from") == "bob@remote.test/phone")
        #expect(reply.child("query", namespace: "http://jabber.org/protocol/disco#info")?.children("feature").count == 1)
    }

    @Test("a probe from a remote non-subscriber gets unsubscribed, whether the account exists or not")
    func probesTellNothing() async throws {
        let router = RecordingRouter()
        let scenario = try KernelScenario(extraModules: [router.module])
        try await scenario.account("alice")
        for user in ["alice", "nobody"] {
            try await remote(scenario, "<presence xmlns='jabber:client' type='probe' id='probe-\(user)' from='m@evil.test' to='\(user)@example.com'/>")
        }
        // Answered in the background: waited for (10 s at most on a loaded machine).
        for _ in 0..<500 where router.sent.withLock({ $0.count }) < 2 { try await Task.sleep(for: .milliseconds(20)) }
        let answers = router.sent.withLock { $0 }
        #expect(answers.count == 2 && answers.allSatisfy { $0.attribute("type") == "unsubscribed" }, "\(answers)")
    }
}
