import Foundation
import NIOCore
import NIOPosix
import Testing
import XMPPClient
import XMPPCore
import XMPPTestSupport

@Suite("Accounts, services and connection handling against xmppd")
struct AccountAndServiceTests {
    @Test("registration conflict, password change and account removal report typed errors")
    func accountLifecycle() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let alice = try fixture.client("alice")
        let registration = alice.add(RegistrationModule())
        try await registration.register()
        await alice.disconnect()

        let impostor = XMPPClient(configuration: try fixture.configuration("alice", password: "other"))
        do {
            try await impostor.connect(registering: true)
            Issue.record("registered a taken username")
        } catch XMPPClientError.registrationFailed(let error) {
            #expect(error.condition == .conflict)
        }
        #expect(impostor.connectionState.isDisconnected)

        try await alice.connect()
        try await registration.changePassword(to: "n3w-secret")
        await alice.disconnect()
        try await alice.connect()               // the client kept the new password
        await alice.disconnect()
        let stale = XMPPClient(configuration: try fixture.configuration("alice"))
        do {
            try await stale.connect()
            Issue.record("the old password still works")
        } catch XMPPClientError.authenticationFailed(let error) {
            #expect(error.condition == .notAuthorized)
        }

        try await alice.connect()
        try await registration.cancelAccount()
        #expect(alice.connectionState == .disconnected(nil))
        await #expect(throws: XMPPClientError.self) { try await alice.connect() }
    }

    @Test("a refused account removal leaves the account and automatic reconnection as they were")
    func refusedAccountRemoval() async throws {
        // A server without in-band account management (XEP-0077 not offered, as where registration is off) refuses
        // the removal with service-unavailable.
        let server = try await TestServer.start(modules: TestServer.modules(except: ["register"]))
        defer { Task { await server.stop() } }
        try await server.createAccount("alice", password: "alice-secret")
        let alice = try ClientFixture(server: server).client("alice")
        let registration = alice.add(RegistrationModule())
        alice.add(ReconnectModule(initialDelay: .milliseconds(100)))
        try await alice.connect()
        do {
            try await registration.cancelAccount()
            Issue.record("the server removed the account")
        } catch XMPPClientError.stanzaError(let error) {
            #expect(error.condition == .serviceUnavailable)
        }
        #expect(alice.connectionState.isOnline, "the refusal ends nothing")

        // A later drop is a loss again: the client reconnects.
        let states = alice.states
        server.dropSessions(of: "alice")
        #expect(await first(states, timeout: .seconds(15)) { $0.isDisconnected } != nil)
        #expect(await eventually(timeout: .seconds(20)) { alice.connectionState.isOnline }, "\(alice.connectionState)")
        await alice.disconnect()
    }

    @Test("vCard publish and fetch; an avatar's hash travels in presence and the image is fetched by a contact")
    func vcardAndAvatar() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
        let aliceVCards = alice.add(VCardModule()), aliceAvatars = alice.add(AvatarModule())
        bob.add(VCardModule())
        let bobAvatars = bob.add(AvatarModule())
        let (aliceRoster, bobRoster) = (alice.add(RosterModule()), bob.add(RosterModule()))
        try await alice.connect(registering: true)
        try await bob.connect(registering: true)
        let requests = aliceRoster.subscriptionRequests
        try await bobRoster.subscribe(to: try fixture.jid("alice"))
        _ = try #require(await first(requests) { _ in true })
        try await aliceRoster.approve(try fixture.jid("bob"))

        var card = try await aliceVCards.fetch()
        card.fullName = "Alice Liddell"
        card.email = "alice@example.org"
        try await aliceVCards.publish(card)
        let fetched = try await bob.module(VCardModule.self)!.fetch(try fixture.jid("alice"))
        #expect(fetched.fullName == "Alice Liddell" && fetched.email == "alice@example.org")

        let avatar = Avatar(type: "image/png", data: Array(0..<200).map { UInt8($0) })
        let updates = bobAvatars.updates
        try await aliceAvatars.publish(avatar)
        let update = await first(updates) { $0.hash != nil }
        #expect(update?.hash == avatar.hash)
        #expect(try await bobAvatars.avatar(of: try fixture.jid("alice")) == avatar)
        #expect(try await aliceVCards.fetch().fullName == "Alice Liddell")     // the avatar kept the other fields
        await alice.disconnect()
        await bob.disconnect()
    }

    @Test("disco of the server, caps of a contact verified, ping, and an unknown request answered with an error")
    func discoCapsAndPing() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
        let aliceDisco = alice.add(DiscoModule())
        let alicePing = alice.add(PingModule(interval: nil))
        alice.add(ChatModule())
        bob.add(DiscoModule())
        bob.add(PingModule(interval: nil))
        let (aliceRoster, bobRoster) = (alice.add(RosterModule()), bob.add(RosterModule()))
        try await alice.connect(registering: true)
        try await bob.connect(registering: true)

        let serverInfo = try await aliceDisco.info(of: try JID("localhost"))
        #expect(serverInfo.features.contains(PingModule.namespace))
        #expect(try await alicePing.ping() < .seconds(5))

        // Bob's presence carries his capabilities; Alice asks once and verifies the hash.
        let requests = bobRoster.subscriptionRequests
        try await aliceRoster.subscribe(to: try fixture.jid("bob"))
        _ = try #require(await first(requests) { _ in true })
        let presences = alice.presences
        try await bobRoster.approve(try fixture.jid("alice"))
        let bobPresence = try #require(await first(presences) { $0.from?.bare == (try? fixture.jid("bob")) && $0.type == .available })
        let bobFull = try #require(bobPresence.from)
        let caps = try #require(try await aliceDisco.capabilities(of: bobFull))
        #expect(caps.features.contains(PingModule.namespace))
        #expect(caps.identities.first?.category == "client")
        #expect(try await alicePing.ping(try #require(bob.jid)) < .seconds(5))

        // Nobody handles this namespace at Bob's: his client answers service-unavailable (RFC 6120 §8.4).
        let unknown = IQ(type: .get, to: bob.jid, payload: Element("query", namespace: "urn:example:unknown"))
        await #expect(throws: XMPPClientError.stanzaError(StanzaError(.serviceUnavailable, type: .cancel))) {
            try await alice.request(unknown)
        }
        await alice.disconnect()
        await bob.disconnect()
    }

    @Test("reconnects after the server drops the session, not after disconnect() or a wrong password")
    func reconnect() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let alice = try fixture.client("alice")
        let reconnect = alice.add(ReconnectModule(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(200)))
        try await alice.connect(registering: true)

        let events = reconnect.updates
        let states = alice.states
        server.dropSessions(of: "alice")
        #expect(await first(states) { if case .disconnected(.streamError) = $0 { return true } else { return false } } != nil)
        #expect(await first(events) { if case .reconnected = $0 { return true } else { return false } } != nil)
        #expect(alice.connectionState.isOnline)

        await alice.disconnect()
        try await Task.sleep(for: .milliseconds(300))
        #expect(alice.connectionState == .disconnected(nil))
        #expect(!reconnect.isReconnecting)

        let wrong = XMPPClient(configuration: try fixture.configuration("alice", password: "wrong"))
        let wrongReconnect = wrong.add(ReconnectModule(initialDelay: .milliseconds(50)))
        await #expect(throws: XMPPClientError.self) { try await wrong.connect() }
        #expect(!wrongReconnect.isReconnecting)
    }

    @Test("direct TLS, a pinned certificate, an untrusted certificate and a silent server")
    func transportOptions() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let setup = try fixture.client("alice")
        try await setup.connect(registering: true)
        await setup.disconnect()

        var direct = try fixture.configuration("alice")
        direct.server = .host("127.0.0.1", port: server.tlsPort, directTLS: true)
        let overTLS = XMPPClient(configuration: direct)
        try await overTLS.connect()
        #expect(overTLS.authenticationMechanism?.usesChannelBinding == true)
        await overTLS.disconnect()

        var pinned = try fixture.configuration("alice")
        pinned.trust = .pinned(sha256: server.certificateFingerprint)
        let pinnedClient = XMPPClient(configuration: pinned)
        try await pinnedClient.connect()
        await pinnedClient.disconnect()

        var wrongPin = pinned
        wrongPin.trust = .pinned(sha256: String(repeating: "00", count: 32))
        await #expect(throws: XMPPClientError.self) { try await XMPPClient(configuration: wrongPin).connect() }

        var untrusted = try fixture.configuration("alice")
        untrusted.trust = .system
        do {
            try await XMPPClient(configuration: untrusted).connect()
            Issue.record("a self-signed certificate was accepted by the system trust store")
        } catch let error as XMPPClientError {
            guard case .tlsFailed(let cause) = error else { Issue.record("expected tlsFailed, got \(error)"); return }
            #expect(cause.kind == .untrustedCertificate && cause.underlying?.contains("CERTIFICATE_VERIFY_FAILED") == true, "\(cause)")
        }
        // The app's evaluator sees the chain and the usual checks' verdict (untrusted: self-signed), and decides.
        let seen = Locked<ServerCertificateChain?>(nil)
        var evaluated = try fixture.configuration("alice")
        evaluated.trust = .evaluate(TrustEvaluator { chain in
            seen.withLock { $0 = chain }
            return chain.fingerprint == server.certificateFingerprint   // trust on first use
        })
        let trusting = XMPPClient(configuration: evaluated)
        try await trusting.connect()
        await trusting.disconnect()
        let chain = try #require(seen.withLock { $0 })
        #expect(!chain.isTrustedBySystem && chain.domain == "localhost" && chain.certificates.count == 1)
        evaluated.trust = .evaluate(TrustEvaluator { _ in false })
        do {
            try await XMPPClient(configuration: evaluated).connect()
            Issue.record("connected though the evaluator said no")
        } catch XMPPClientError.tlsFailed(let cause) {
            #expect(cause.kind == .untrustedCertificate, "\(cause)")
        }

        var missingCA = try fixture.configuration("alice")
        missingCA.trust = .caFile("/nonexistent/ca.pem")
        do {
            try await XMPPClient(configuration: missingCA).connect()
            Issue.record("connected without its CA file")
        } catch XMPPClientError.tlsFailed(let cause) {
            #expect(cause.kind == .localConfiguration && cause.summary == "cannot read the CA file /nonexistent/ca.pem", "\(cause)")
        }

        // Nothing listens: a refused connection, told apart from the other failures by its kind.
        let closed = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let closedPort = closed.localAddress?.port ?? 0
        try await closed.close()
        var refused = try fixture.configuration("alice")
        refused.server = .host("127.0.0.1", port: closedPort)
        do {
            try await XMPPClient(configuration: refused).connect()
            Issue.record("connected to a closed port")
        } catch XMPPClientError.connectionFailed(let cause) {
            #expect(cause.kind == .refused && cause.summary == "nothing accepts connections at 127.0.0.1:\(closedPort)", "\(cause)")
        }

        // A server that accepts TCP and says nothing: connect() gives up at its timeout.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        defer { silent.close(promise: nil) }
        var hanging = try fixture.configuration("alice")
        hanging.server = .host("127.0.0.1", port: silent.localAddress?.port ?? 0)
        hanging.connectTimeout = .milliseconds(500)
        let start = ContinuousClock.now
        await #expect(throws: XMPPClientError.timeout) { try await XMPPClient(configuration: hanging).connect() }
        #expect(ContinuousClock.now - start < .seconds(5))
    }
}

/// Commands an app offers (XEP-0050), here to the account's other clients.
@Suite("Offered commands")
struct OfferedCommandsTests {
    @Test("a client offers a two-step command to the account's other clients; a stranger is refused")
    func offeredCommand() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let setup = try fixture.client("alice")
        try await setup.connect(registering: true)
        await setup.disconnect()
        let phone = XMPPClient(configuration: try fixture.configuration("alice", resource: "phone"))
        let phoneCommands = phone.add(AdHocCommandsModule())
        phone.add(DiscoModule())
        phoneCommands.offer("device-status", name: "Device status") { request in
            guard request.stage > 0 else {
                return .form(DataForm(type: .form, fields: [.init(variable: "detail", type: .listSingle, values: ["short"])]), isLast: true)
            }
            return .completed(note: "battery 80% (\(request.values["detail"]?.first ?? ""))", results: nil)
        }
        let laptop = XMPPClient(configuration: try fixture.configuration("alice", resource: "laptop"))
        let laptopCommands = laptop.add(AdHocCommandsModule())
        for client in [phone, laptop] { try await client.connect() }
        let phoneJID = try #require(phone.jid)

        let listed = try await laptopCommands.list(at: phoneJID)
        #expect(listed.map(\.node) == ["device-status"] && listed.first?.jid == phoneJID)
        let stage = try await laptopCommands.run("device-status", at: phoneJID, values: ["detail": ["full"]])
        #expect(stage.status == .completed && stage.notes.first?.text == "battery 80% (full)", "\(stage)")
        // The disco module leaves the command's node to the commands module.
        let info = try await laptop.query(Element("query", namespace: DiscoNamespace.info, attributes: ["node": "device-status"]), to: phoneJID)
        #expect(info?.child("identity")?.attribute("type") == "command-node")

        let bob = try fixture.client("bob")
        let bobCommands = bob.add(AdHocCommandsModule())
        try await bob.connect(registering: true)
        #expect(try await bobCommands.list(at: phoneJID).isEmpty, "a stranger sees nothing")
        await #expect(throws: XMPPClientError.self) { _ = try await bobCommands.execute("device-status", at: phoneJID) }
        for client in [phone, laptop, bob] { await client.disconnect() }
    }
}
