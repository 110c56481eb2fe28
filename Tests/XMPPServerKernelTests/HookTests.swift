import Testing
import XMPPCore
@testable import XMPPServerKernel
import XMPPKernelTestSupport

/// The kernel's extension points, each exercised by a small test module: what a module registers is called,
/// in priority order, with what the hook promises, and its verdict takes effect.
@Suite struct HookTests {
    /// Records what its hooks saw; its filters drop or reject stanzas whose body says so.
    final class Probe: Sendable {
        let seen = Locked<[String]>([])
        func note(_ line: String) { seen.withLock { $0.append(line) } }
        var lines: [String] { seen.withLock { $0 } }
    }

    struct ProbeModule: ServerModule {
        let name = "probe"
        let specifications: [String] = []
        static let greeting = ConfigOption.string("probe_greeting", default: "hello", "what the probe says")
        var options: [ConfigOption] { [Self.greeting] }
        static let counter = SessionKey<Int>("probe.counter")
        let probe: Probe

        func activate(in host: ModuleHost) {
            let probe = self.probe
            let greeting: String = host.option(Self.greeting)
            host.filterOutbound { stanza in
                switch Message(element: stanza.element)?.body {
                case "drop-out"?: return .drop
                case "reject-out"?: return .reject(StanzaError(.policyViolation))
                case "rewrite"?:
                    stanza.element.append(Element("x", namespace: "urn:probe", text: greeting))
                    return .pass
                default: return .pass
                }
            }
            host.filterInbound(prepare: { account, _ in probe.note("prepare \(account)") }) { stanza in
                Message(element: stanza.element)?.body == "reject-in" ? .reject(StanzaError(.notAllowed)) : .pass
            }
            // Two offline hooks: the earlier (higher priority) one handles "mine", the later one notes the rest.
            host.onMessageToOfflineAccount(priority: .early) { event in
                guard Message(element: event.element)?.body == "mine" else { return .pass }
                probe.note("early took it")
                return .handled
            }
            host.onMessageToOfflineAccount(priority: .normal) { event in
                probe.note("normal saw \(Message(element: event.element)?.body ?? "")")
                return .pass
            }
            host.onMessageToUnknownAccount { event in
                probe.note("unknown \(event.to)")
                return .pass
            }
            host.onMessageDelivered { event in probe.note("delivered \(event.kind) to \(event.recipients.count)") }
            host.onPresenceBroadcast { event in probe.note("presence \(event.kind)") }
            host.onSessionBound { session, _ in probe.note("bound \(session.jid)") }
            host.onSessionEnded { session, reason, remaining, _ in probe.note("ended \(session.jid) \(reason) \(remaining)") }
            host.onAccountCreated { user, _ in probe.note("created \(user)") }
            host.onPasswordChanged { user, _ in probe.note("password \(user)") }
            host.onAccountDeleted { user, _ in probe.note("deleted \(user)") }
            host.handleNonza("urn:probe") { element, session, kernel in
                let count = (kernel.state(Self.counter, of: session) ?? 0) + 1
                kernel.setState(count, for: Self.counter, of: session)
                session.deliver(Element("count", namespace: "urn:probe", text: String(count)))
            }
            host.handleIQ("urn:probe", for: [.ownAccount]) { _ in IQReply(Element("own", namespace: "urn:probe")) }
            host.handleIQ("urn:probe", for: [.otherAccount]) { _ in IQReply(Element("other", namespace: "urn:probe")) }
        }
    }

    func scenario(_ probe: Probe, configure: (inout KernelConfiguration) -> Void = { _ in }) throws -> KernelScenario {
        try KernelScenario(extraModules: [ProbeModule(probe: probe)], configure: configure)
    }

    @Test func outboundFiltersDropRejectAndRewrite() async throws {
        let probe = Probe()
        let scenario = try scenario(probe) { $0.set(ProbeModule.greeting, to: "hi there") }
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob")
        _ = (alice.received(), bob.received())
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com/phone' id='1'><body>drop-out</body></message>")
        #expect(bob.received().isEmpty && alice.received().isEmpty, "dropped silently")
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com/phone' id='2'><body>reject-out</body></message>")
        #expect(bob.received().isEmpty)
        #expect(alice.received("message").first.flatMap { Message(element: $0)?.error?.condition } == .policyViolation)
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com/phone' id='3'><body>rewrite</body></message>")
        #expect(bob.received("message").first?.child("x", namespace: "urn:probe")?.text == "hi there", "rewritten, with the configured option")
    }

    @Test func inboundFiltersRunBeforeDeliveryAndBeforeOfflineStorage() async throws {
        let probe = Probe()
        let scenario = try scenario(probe)
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob")
        _ = (alice.received(), bob.received())
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com' id='1' type='chat'><body>reject-in</body></message>")
        #expect(bob.received().isEmpty)
        #expect(alice.received("message").first.flatMap { Message(element: $0)?.error?.condition } == .notAllowed)
        try await bob.disconnect()
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com' id='2' type='chat'><body>reject-in</body></message>")
        #expect(alice.received("message").first.flatMap { Message(element: $0)?.error?.condition } == .notAllowed)
        #expect(try await scenario.kernel.storage.offline.count(for: "bob") == 0, "never stored")
        #expect(probe.lines.contains("prepare bob@example.com"), "offline: the filter's data was prepared first")
    }

    @Test func undeliverableMessageHooksRunInPriorityOrderAndTheDefaultStillStores() async throws {
        let probe = Probe()
        let scenario = try scenario(probe)
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        _ = alice.received()
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com' type='chat'><body>mine</body></message>")
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com' type='chat'><body>yours</body></message>")
        try await alice.send("<message xmlns='jabber:client' to='nobody@example.com' type='chat' id='u'><body>?</body></message>")
        #expect(probe.lines.filter { !$0.hasPrefix("bound") && !$0.hasPrefix("presence") && !$0.hasPrefix("prepare") }
                == ["early took it", "normal saw yours", "unknown nobody@example.com"])
        #expect(try await scenario.kernel.storage.offline.count(for: "bob") == 1, "only what nobody handled reached offline storage")
        #expect(alice.received("message").first.flatMap { Message(element: $0)?.error?.condition } == .serviceUnavailable,
                "unknown account: bounced by default after the hook passed")
    }

    @Test func deliveryPresenceAndSessionHooksSeeTheirEvents() async throws {
        let probe = Probe()
        let scenario = try scenario(probe)
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob")
        try await bob.send("<presence xmlns='jabber:client'><show>away</show></presence>")
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com' type='chat'><body>hi</body></message>")
        try await alice.send("<message xmlns='jabber:client' to='bob@example.com/phone' type='chat'><body>hi</body></message>")
        try await bob.disconnect()
        let lines = probe.lines
        #expect(lines.contains("bound alice@example.com/phone") && lines.contains("bound bob@example.com/phone"))
        #expect(lines.contains("presence initial") && lines.contains("presence update") && lines.contains("presence unavailable"))
        #expect(lines.contains("delivered toBareJID to 1") && lines.contains("delivered toFullJID to 1"))
        #expect(lines.contains("ended bob@example.com/phone disconnected 0"))
    }

    @Test func accountHooksRunForCreationPasswordAndDeletion() async throws {
        let probe = Probe()
        let kernel = try scenario(probe).kernel
        #expect(try await kernel.createAccount("zoe", password: "pw"))
        #expect(try await !kernel.createAccount("zoe", password: "pw"), "taken: no second hook call")
        #expect(try await kernel.changePassword(of: "zoe", to: "pw2"))
        #expect(try await kernel.deleteAccount("zoe"))
        #expect(try await !kernel.deleteAccount("zoe"))
        #expect(probe.lines == ["created zoe", "password zoe", "deleted zoe"])
        #expect(try await !kernel.storage.accounts.accountExists("zoe"))
    }

    @Test func nonzasReachTheirModuleAndSessionStateIsPerSession() async throws {
        let probe = Probe()
        let scenario = try scenario(probe)
        try await scenario.account("alice")
        let phone = try await scenario.login("alice", "phone")
        let laptop = try await scenario.login("alice", "laptop")
        let kernel = scenario.kernel
        #expect(kernel.handleNonza(try Element(xml: "<ping xmlns='urn:probe'/>"), from: phone.session))
        #expect(kernel.handleNonza(try Element(xml: "<ping xmlns='urn:probe'/>"), from: phone.session))
        #expect(kernel.handleNonza(try Element(xml: "<ping xmlns='urn:probe'/>"), from: laptop.session))
        #expect(!kernel.handleNonza(try Element(xml: "<r xmlns='urn:xmpp:sm:3'/>"), from: phone.session), "nobody handles it")
        #expect(phone.received("count").map(\.text) == ["1", "2"])
        #expect(laptop.received("count").map(\.text) == ["1"])
    }

    @Test func iqTargetsSeparateTheOwnAccountFromOthers() async throws {
        let probe = Probe()
        let scenario = try scenario(probe)
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        _ = alice.received()
        try await alice.send("<iq xmlns='jabber:client' type='get' id='1'><q xmlns='urn:probe'/></iq>")
        try await alice.send("<iq xmlns='jabber:client' type='get' id='2' to='alice@example.com'><q xmlns='urn:probe'/></iq>")
        try await alice.send("<iq xmlns='jabber:client' type='get' id='3' to='bob@example.com'><q xmlns='urn:probe'/></iq>")
        try await alice.send("<iq xmlns='jabber:client' type='get' id='4' to='nobody@example.com'><q xmlns='urn:probe'/></iq>")
        let replies = Dictionary(uniqueKeysWithValues: alice.received("iq").map { ($0.attribute("id") ?? "", $0) })
        #expect(replies["1"]?.child("own", namespace: "urn:probe") != nil)
        #expect(replies["2"]?.child("own", namespace: "urn:probe") != nil)
        #expect(replies["3"]?.child("other", namespace: "urn:probe") != nil)
        #expect(replies["4"].flatMap { IQ(element: $0)?.error?.condition } == .serviceUnavailable, "a missing account is answered before any handler")
    }

    @Test func hookListsRunByPriorityThenRegistrationOrder() {
        var list = HookList<String>()
        list.add("normal-1", priority: .normal)
        list.add("late", priority: .late)
        list.add("policy", priority: .policy)
        list.add("normal-2", priority: .normal)
        list.add("between", priority: HookPriority(50))
        #expect(list.hooks == ["policy", "between", "normal-1", "normal-2", "late"])
    }
}
