import Foundation
import Testing
import XMPPCore
import XMPPServer
import XMPPServerKernel
import XMPPTestSupport

/// XEP-0198 over real sockets: acknowledgements, resumption after a reset or a silent connection, and what
/// becomes of unacknowledged stanzas when a session cannot be resumed.
@Suite struct StreamManagementTests {
    static func server(resumeTimeout: Int = 300, idleTimeout: Int? = nil) async throws -> TestServer {
        let server = try await TestServer.start(storage: "memory") { configuration in
            configuration.requireTLS = false
            configuration.kernel.set(StreamManagementModule.resumeTimeout, to: resumeTimeout)
            if let idleTimeout { configuration.limits.idleTimeoutSeconds = idleTimeout }
        }
        for user in ["alice", "bob"] { _ = try await server.server.kernel.createAccount(user, password: "pw") }
        return server
    }

    static func chat(_ to: String, _ body: String) -> String {
        "<message xmlns='jabber:client' to='\(to)' type='chat' id='\(body)'><body>\(body)</body></message>"
    }

    /// Enables resumable stream management and returns the resumption id.
    static func enable(_ client: RawStreamClient) async throws -> String {
        client.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
        let enabled = try #require(await client.collect { $0.isStreamManagement("enabled") }.last)
        #expect(enabled.attribute("resume") == "true" && enabled.attribute("max") != nil)
        return try #require(enabled.attribute("id"))
    }

    /// Logs in, sends available presence and reads its echo.
    static func online(_ port: Int, _ user: String, resource: String = "phone") async throws -> RawStreamClient {
        let client = try await RawStreamClient.connect(port: port, user: user, resource: resource)
        client.send("<presence xmlns='jabber:client'/>")
        _ = await client.collect { $0.name == "presence" && $0.attribute("from") == client.jid.description }
        return client
    }

    static func bodies(_ elements: [Element]) -> [String] {
        elements.filter { $0.name == "message" }.compactMap { $0.child("body")?.text }
    }

    /// XEP-0198 §4: a server that ends a managed stream first says what it handled, so the client does not send it
    /// again on its next session.
    @Test func theServerAcknowledgesBeforeEndingAManagedStream() async throws {
        let server = try await Self.server()
        defer { Task { await server.stop() } }
        let alice = try await Self.online(server.port, "alice")
        _ = try await Self.enable(alice)
        for index in 1...2 { alice.send(Self.chat("bob@localhost", "n\(index)")) }
        alice.send("<iq xmlns='jabber:client' type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>")
        _ = await alice.collect { $0.attribute("id") == "sync" }
        server.dropSessions(of: "alice")
        let ending = await alice.collect(until: { $0.name == "error" }, timeout: .seconds(5))
        let acknowledgement = ending.last { $0.isStreamManagement("a") }
        #expect(acknowledgement.flatMap(StreamManagementVocabulary.handledCount(in:)) == 3, "two messages and the ping: \(ending)")
        #expect(ending.last?.child("system-shutdown") != nil, "then the stream error")
    }

    @Test func aResetConnectionResumesAndReplaysExactlyTheUnacknowledgedStanzas() async throws {
        let server = try await Self.server()
        defer { Task { await server.stop() } }
        let kernel = server.server.kernel
        let alice = try await Self.online(server.port, "alice")
        let id = try await Self.enable(alice)
        let bob = try await Self.online(server.port, "bob")
        alice.send(Self.chat("bob@localhost", "hello"))
        for index in 1...3 { bob.send(Self.chat("alice@localhost/phone", "m\(index)")) }
        let first = await alice.collect { $0.child("body")?.text == "m3" }
        #expect(Self.bodies(first) == ["m1", "m2", "m3"])
        alice.send("<a xmlns='urn:xmpp:sm:3' h='1'/>")
        try await Task.sleep(for: .milliseconds(100))
        alice.abort()
        // While detached the session stays online and queues.
        try await Task.sleep(for: .milliseconds(200))
        #expect(kernel.registry.entry(alice.jid)?.isAvailable == true, "the detached session keeps its presence")
        for index in 4...5 { bob.send(Self.chat("alice@localhost/phone", "m\(index)")) }
        try await Task.sleep(for: .milliseconds(200))

        // Alice handled two of the three she saw.
        let resumed = try await RawStreamClient.connect(port: server.port, user: "alice", resumption: StreamResumption(previousID: id, handled: 2, jid: alice.jid))
        #expect(resumed.resumedHandled == 1, "the server handled her one stanza since enabling")
        #expect(resumed.jid == alice.jid)
        let replay = await resumed.collect { $0.child("body")?.text == "m5" }
        #expect(Self.bodies(replay) == ["m3", "m4", "m5"], "exactly the unacknowledged, in order, once")
        resumed.send("<r xmlns='urn:xmpp:sm:3'/>")
        let answer = await resumed.collect { $0.isStreamManagement("a") }.last
        #expect(answer?.attribute("h") == "1")
        // The stream works as before: a new message arrives, nothing extra.
        bob.send(Self.chat("alice@localhost/phone", "m6"))
        #expect(Self.bodies(await resumed.collect { $0.child("body")?.text == "m6" }) == ["m6"])
        let bobSaw = await bob.collect(until: { _ in false }, timeout: .milliseconds(300))
        #expect(!bobSaw.contains { $0.name == "presence" && $0.attribute("type") == "unavailable" }, "bob never saw alice go")
        #expect(!bobSaw.contains { $0.attribute("type") == "error" })
        // The same id cannot be used twice.
        let again = try await RawStreamClient.connect(port: server.port, user: "alice", resource: "other",
                                                      resumption: StreamResumption(previousID: "nope", handled: 0, jid: alice.jid))
        #expect(again.resumedHandled == nil && again.jid.resourcepart == "other", "an unknown id fails, and binding follows")
    }

    @Test func aSessionThatIsNotResumedHandsItsStanzasToOfflineStorageAndAnswersIQs() async throws {
        // Long enough that what bob sends surely reaches the waiting session, even with the whole suite running beside.
        let server = try await Self.server(resumeTimeout: 3)
        defer { Task { await server.stop() } }
        let kernel = server.server.kernel
        let alice = try await Self.online(server.port, "alice")
        _ = try await Self.enable(alice)
        let bob = try await Self.online(server.port, "bob")
        alice.abort()
        try await Task.sleep(for: .milliseconds(200))
        bob.send(Self.chat("alice@localhost/phone", "lost1"))
        bob.send(Self.chat("alice@localhost", "lost2"))
        bob.send("<iq xmlns='jabber:client' to='alice@localhost/phone' type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>")
        // A ping to the server after them: once answered, bob's three stanzas were routed.
        bob.send("<iq xmlns='jabber:client' type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>")
        _ = await bob.collect { $0.attribute("id") == "sync" }
        try #require(kernel.registry.entry(alice.jid) != nil, "the stanzas reached the session while it waited")
        #expect(try await SlowReaderTests.sessionEnds(alice.jid, in: kernel), "the session ends after sm_resume_timeout")
        let error = await bob.collect { $0.attribute("id") == "ping1" }.last
        #expect(error?.attribute("type") == "error")
        #expect(error.flatMap { $0.child("error") }.flatMap(StanzaError.init(element:))?.condition == .recipientUnavailable)

        let fresh = try await RawStreamClient.connect(port: server.port, user: "alice")
        fresh.send("<presence xmlns='jabber:client'/>")
        let delivered = await fresh.collect { $0.child("body")?.text == "lost2" }
        #expect(Self.bodies(delivered) == ["lost1", "lost2"], "each once, from offline storage")
        #expect(delivered.filter { $0.name == "message" }.allSatisfy { Delay(in: $0) != nil }, "stamped with when they first came")
        #expect(Self.bodies(await fresh.collect(until: { _ in false }, timeout: .milliseconds(300))).isEmpty)
    }

    @Test func aSilentConnectionIsDetachedByTheIdleTimeoutAndResumes() async throws {
        // Long enough that a login on a loaded two-core machine never looks idle.
        let server = try await Self.server(idleTimeout: 6)
        defer { Task { await server.stop() } }
        let alice = try await Self.online(server.port, "alice")
        let id = try await Self.enable(alice)
        // Alice's phone stops answering; the server gives up on the connection, not the session.
        let closed = await alice.collect(until: { $0.name == "error" }, timeout: .seconds(12))
        #expect(closed.last?.child("connection-timeout") != nil, "the server closed the silent connection")
        #expect(server.server.kernel.registry.entry(alice.jid)?.isAvailable == true, "but kept the session")
        let bob = try await Self.online(server.port, "bob")
        bob.send(Self.chat("alice@localhost/phone", "while-silent"))
        let resumed = try await RawStreamClient.connect(port: server.port, user: "alice", resumption: StreamResumption(previousID: id, handled: 0, jid: alice.jid))
        #expect(resumed.resumedHandled != nil)
        let replay = await resumed.collect { $0.child("body")?.text == "while-silent" }
        #expect(Self.bodies(replay) == ["while-silent"], "\(replay)")
        _ = bob
    }

    @Test func aFreshLoginEndsTheWaitingSessionAndGetsItsStanzasOnce() async throws {
        let server = try await Self.server()
        defer { Task { await server.stop() } }
        let alice = try await Self.online(server.port, "alice")
        _ = try await Self.enable(alice)
        let bob = try await Self.online(server.port, "bob")
        bob.send(Self.chat("alice@localhost/phone", "before"))
        #expect(Self.bodies(await alice.collect { $0.child("body") != nil }) == ["before"])
        alice.abort()
        try await Task.sleep(for: .milliseconds(200))
        bob.send(Self.chat("alice@localhost/phone", "during"))
        try await Task.sleep(for: .milliseconds(200))
        // The client gave up on resuming and logs in again with the same resource.
        let fresh = try await RawStreamClient.connect(port: server.port, user: "alice")
        fresh.send("<presence xmlns='jabber:client'/>")
        let got = Self.bodies(await fresh.collect(until: { $0.child("body")?.text == "during" }, timeout: .seconds(3)))
        #expect(got == ["before", "during"], "the unacknowledged ones, each once (the client never acknowledged 'before')")
    }

    /// Hundreds of messages while the connection is killed again and again: after acknowledging, before
    /// acknowledging, and in the middle of a replay. Every message arrives exactly once, in order.
    @Test func killingTheConnectionAtEveryPointLosesAndDuplicatesNothing() async throws {
        let server = try await Self.server()
        defer { Task { await server.stop() } }
        let total = 500
        var alice = try await Self.online(server.port, "alice")
        let id = try await Self.enable(alice)
        let jid = alice.jid
        let bob = try await Self.online(server.port, "bob")
        let sender = Task {
            for index in 1...total {
                bob.send(Self.chat("alice@localhost/phone", "n\(index)"))
                if index.isMultiple(of: 10) { try? await Task.sleep(for: .milliseconds(5)) }
            }
        }
        var handled: UInt32 = 0
        var bodies: [String] = []
        var kills = 0, untilKill = 23
        let deadline = ContinuousClock.now + .seconds(60)
        while bodies.count < total, ContinuousClock.now < deadline {
            guard let element = await alice.next(timeout: .seconds(2)) else { break }
            if element.isStanza {
                handled &+= 1
                if let body = element.child("body")?.text { bodies.append(body) }
                untilKill -= 1
            } else if element.isStreamManagement("r") {
                alice.send("<a xmlns='urn:xmpp:sm:3' h='\(handled)'/>")
            }
            guard untilKill == 0 else { continue }
            kills += 1
            untilKill = 17 + (kills * 7) % 29
            switch kills % 3 {
            case 0: alice.send("<a xmlns='urn:xmpp:sm:3' h='\(handled)'/>")  // after acknowledging
            case 1: break  // before acknowledging
            default:
                // Resume, then drop again before reading the replay.
                alice.abort()
                alice = try await RawStreamClient.connect(port: server.port, user: "alice", resumption: StreamResumption(previousID: id, handled: handled, jid: jid))
                #expect(alice.resumedHandled != nil)
            }
            try await Task.sleep(for: .milliseconds(20))
            alice.abort()
            alice = try await RawStreamClient.connect(port: server.port, user: "alice", resumption: StreamResumption(previousID: id, handled: handled, jid: jid))
            #expect(alice.resumedHandled != nil, "resumption \(kills) failed")
        }
        await sender.value
        #expect(kills >= 12, "\(kills) kills")
        #expect(bodies.count == total, "received \(bodies.count) of \(total)")
        let expected = (1...total).map { "n\($0)" }
        let firstWrong = zip(bodies, expected).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(firstWrong == nil, "each exactly once, in order; first out of place: \(String(describing: firstWrong))")
    }

    @Test func protocolErrorsGetTheirAnswers() async throws {
        let server = try await Self.server()
        defer { Task { await server.stop() } }
        let alice = try await RawStreamClient.connect(port: server.port, user: "alice")
        alice.send("<enable xmlns='urn:xmpp:sm:3'/>")
        let enabled = await alice.collect { $0.isStreamManagement("enabled") }.last
        #expect(enabled != nil && enabled?.attribute("id") == nil, "without resume='true': no resumption id")
        alice.send("<enable xmlns='urn:xmpp:sm:3'/>")
        let twice = await alice.collect { $0.isStreamManagement("failed") }.last
        #expect(twice?.child("unexpected-request") != nil)
        alice.send("<a xmlns='urn:xmpp:sm:3' h='7'/>")
        let closing = await alice.collect { $0.name == "error" }
        #expect(closing.last?.child("undefined-condition") != nil)
        #expect(closing.last?.child("handled-count-too-high", namespace: StreamManagementVocabulary.namespace) != nil)

        let bob = try await RawStreamClient.connect(port: server.port, user: "bob")
        bob.send("<r xmlns='urn:xmpp:sm:3'/>")
        #expect(await bob.collect { $0.name == "error" }.last?.child("unsupported-stanza-type") != nil, "<r/> before enabling")
    }
}
