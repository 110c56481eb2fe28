import NIOCore
import NIOPosix
import Testing
import XMPPCore
import XMPPKernelTestSupport
import XMPPServerKernel

/// What the kernel does with stanzas from other servers (`processFromRemote`) and what it hands the remote router:
/// a remote sender has no account here, whatever its localpart.
@Suite struct RemoteStanzaTests {
    /// Records what the kernel sends to remote domains.
    final class RecordingRouter: RemoteRouter {
        let sent = Locked<[Element]>([])
        func send(_ stanza: Element, to: JID, kernel: ServerKernel) { sent.withLock { $0.append(stanza) } }
    }

    struct RouterModule: ServerModule {
        let name = "test-router"
        let specifications: [String] = []
        let router: RecordingRouter
        func activate(in host: ModuleHost) { host.setRemoteRouter(router) }
    }

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
        let scenario = try KernelScenario(extraModules: [RouterModule(router: router)])
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

    @Test("a probe from a remote non-subscriber gets unsubscribed, whether the account exists or not")
    func probesTellNothing() async throws {
        let router = RecordingRouter()
        let scenario = try KernelScenario(extraModules: [RouterModule(router: router)])
        try await scenario.account("alice")
        for user in ["alice", "nobody"] {
            try await remote(scenario, "<presence xmlns='jabber:client' type='probe' id='probe-\(user)' from='m@evil.test' to='\(user)@example.com'/>")
        }
        try await Task.sleep(for: .milliseconds(100))
        let answers = router.sent.withLock { $0 }
        #expect(answers.count == 2 && answers.allSatisfy { $0.attribute("type") == "unsubscribed" }, "\(answers)")
    }
}
