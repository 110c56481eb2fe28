import Foundation
import NIOCore
import Testing
import XMPPCore
@testable import XMPPServerKernel
import XMPPKernelTestSupport

/// XEP-0313 on the kernel: what is archived, the stanza ids on delivered messages, queries and paging, preferences.
@Suite struct MessageArchiveTests {
    static let mam = "urn:xmpp:mam:2"

    /// Waits (up to 5 s) until the archive holds `count` entries; the writer stores them off the routing path.
    static func waitForArchive(_ kernel: ServerKernel, _ user: String, count: Int) async throws {
        for _ in 0..<500 {
            if try await kernel.storage.archives.query(ArchiveQuery(max: 0), in: user).count ?? 0 >= count { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the archive of \(user) never reached \(count) entries")
    }

    /// Sends a query and returns the result messages' forwarded stanzas with their archive ids, and the `<fin/>`.
    static func query(_ client: TestClient, form: String = "", set: String = "", id: String = "q") async throws
        -> (results: [(id: String, stanza: Element)], fin: Element?, error: StanzaError.Condition?) {
        try await client.send("""
            <iq xmlns='jabber:client' type='set' id='\(id)'><query xmlns='\(mam)' queryid='qid-\(id)'>\(form)\(set)</query></iq>
            """)
        var results: [(String, Element)] = []
        var fin: Element?
        var error: StanzaError.Condition?
        for element in client.received() {
            if element.name == "message", let result = element.child("result", namespace: mam) {
                #expect(result.attribute("queryid") == "qid-\(id)")
                let forwarded = try #require(result.child("forwarded", namespace: Forwarded.namespace).flatMap(Forwarded.init(element:)))
                #expect(forwarded.delay != nil, "each result says when it was archived")
                results.append((try #require(result.attribute("id")), forwarded.stanza))
            } else if element.name == "iq", element.attribute("id") == id {
                fin = element.child("fin", namespace: mam)
                error = element.child("error").flatMap { StanzaError(element: $0) }?.condition
            }
        }
        return (results, fin, error)
    }

    static func form(_ fields: [String: String]) -> String {
        let body = fields.map { "<field var='\($0.key)'><value>\($0.value)</value></field>" }.joined()
        return "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>\(mam)</value></field>\(body)</x>"
    }

    @Test func bothDirectionsAreArchivedAndDeliveredWithTheirStanzaID() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob"); try await scenario.account("carol")
        let alice = try await scenario.login("alice"), bob = try await scenario.login("bob"), carol = try await scenario.login("carol")
        for index in 0..<6 {
            try await bob.send("<message xmlns='jabber:client' to='alice@example.com' type='chat' id='b\(index)'><body>bob \(index)</body></message>")
            try await alice.send("<message xmlns='jabber:client' to='bob@example.com' type='chat' id='a\(index)'><body>alice \(index)</body></message>")
        }
        try await carol.send("<message xmlns='jabber:client' to='alice@example.com' type='chat' id='c0'><body>carol</body></message>")
        // Not archived: a chat state alone, a headline, an error, a no-store hint.
        try await bob.send("<message xmlns='jabber:client' to='alice@example.com' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
        try await bob.send("<message xmlns='jabber:client' to='alice@example.com' type='headline'><body>news</body></message>")
        try await bob.send("<message xmlns='jabber:client' to='alice@example.com' type='chat'><body>x</body><no-store xmlns='urn:xmpp:hints'/></message>")
        try await Self.waitForArchive(scenario.kernel, "alice", count: 13)

        let delivered = alice.received("message").filter { $0.attribute("id")?.hasPrefix("b") == true }
        #expect(delivered.count == 6)
        let stamped = delivered.compactMap { StanzaIdentifier.stanzaID(in: $0, by: try! JID("alice@example.com")) }
        #expect(stamped.count == 6, "every archived message arrives with the archive's id")

        let all = try await Self.query(alice, set: "<set xmlns='http://jabber.org/protocol/rsm'><max>100</max></set>")
        #expect(all.results.count == 13)
        #expect(all.fin?.attribute("complete") == "true")
        #expect(all.results.map { $0.stanza.attribute("id") ?? "" }.prefix(4) == ["b0", "a0", "b1", "a1"], "oldest first, both directions")
        #expect(all.results.first?.id == stamped.first?.id, "the result id is the stanza id the recipient saw")

        // The last page, then backwards from it.
        let last = try await Self.query(alice, set: "<set xmlns='http://jabber.org/protocol/rsm'><max>5</max><before/></set>", id: "q2")
        #expect(last.results.map { $0.stanza.attribute("id") ?? "" } == ["b4", "a4", "b5", "a5", "c0"])
        #expect(last.fin?.attribute("complete") == nil)
        let set = try #require(last.fin?.child("set", namespace: ResultSetPage.namespace).flatMap(ResultSetPage.init(element:)))
        #expect(set.count == 13 && set.first == last.results.first?.id && set.last == last.results.last?.id)
        let earlier = try await Self.query(alice, set: "<set xmlns='http://jabber.org/protocol/rsm'><max>100</max><before>\(set.first!)</before></set>", id: "q3")
        #expect(earlier.results.count == 8 && earlier.fin?.attribute("complete") == "true")

        // With one contact; after an id (the sync a client does on reconnect); by ids.
        let withCarol = try await Self.query(alice, form: Self.form(["with": "carol@example.com"]), id: "q4")
        #expect(withCarol.results.map { $0.stanza.attribute("id") } == ["c0"])
        let after = try await Self.query(alice, form: Self.form(["after-id": all.results[10].id]), id: "q5")
        #expect(after.results.map(\.id) == all.results.suffix(2).map(\.id))
        let byIDs = try await Self.query(alice, form: Self.form(["ids": all.results[3].id]), id: "q6")
        #expect(byIDs.results.map(\.id) == [all.results[3].id])
        let future = try await Self.query(alice, form: Self.form(["start": "2999-01-01T00:00:00Z"]), id: "q7")
        #expect(future.results.isEmpty && future.fin?.attribute("complete") == "true")

        // Bob's archive holds his side only; nobody reads another's archive.
        try await Self.waitForArchive(scenario.kernel, "bob", count: 12)
        let bobs = try await Self.query(bob, id: "q8")
        #expect(bobs.results.count == 12 && !bobs.results.contains { $0.stanza.attribute("id") == "c0" })
        try await bob.send("<iq xmlns='jabber:client' type='set' id='steal' to='alice@example.com'><query xmlns='\(Self.mam)'/></iq>")
        let refused = try #require(bob.received("iq").first { $0.attribute("id") == "steal" })
        #expect(refused.attribute("type") == "error")
        #expect(bob.received("message").isEmpty, "no result of alice's archive reached bob")
    }

    @Test func badQueriesGetStandardErrors() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice")
        let alice = try await scenario.login("alice")
        #expect(try await Self.query(alice, set: "<set xmlns='http://jabber.org/protocol/rsm'><after>nope</after></set>").error == .itemNotFound)
        #expect(try await Self.query(alice, form: Self.form(["with": "@@"]), id: "b").error == .badRequest)
        #expect(try await Self.query(alice, form: Self.form(["start": "yesterday"]), id: "c").error == .badRequest)
        #expect(try await Self.query(alice, form: Self.form(["color": "red"]), id: "d").error == .badRequest)
        #expect(try await Self.query(alice, set: "<set xmlns='http://jabber.org/protocol/rsm'><index>3</index></set>", id: "e").error == .featureNotImplemented)
        try await alice.send("<iq xmlns='jabber:client' type='get' id='form'><query xmlns='\(Self.mam)'/></iq>")
        let form = try #require(alice.received("iq").first?.child("query", namespace: Self.mam)?.child("x", namespace: DataForm.namespace))
        #expect(DataForm(element: form)?.field("with") != nil)
    }

    @Test func spoofedStanzaIDsAreRemovedAndOfflineMessagesAreArchivedOnce() async throws {
        let scenario = try KernelScenario()
        try await scenario.account("alice"); try await scenario.account("bob")
        let bob = try await scenario.login("bob")
        try await bob.send("""
            <message xmlns='jabber:client' to='alice@example.com' type='chat' id='o1'><body>while you were out</body>\
            <stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='alice@example.com'/><stanza-id xmlns='urn:xmpp:sid:0' id='other' by='bob@example.com'/></message>
            """)
        try await Self.waitForArchive(scenario.kernel, "alice", count: 1)
        let alice = try await scenario.login("alice")
        let delivered = try #require(await alice.receivedEventually().first { $0.attribute("id") == "o1" })
        let ids = delivered.children("stanza-id", namespace: StanzaIdentifier.namespace)
        #expect(ids.count == 2, "the forged one is gone, another entity's kept, the archive's added")
        let own = try #require(StanzaIdentifier.stanzaID(in: delivered, by: try JID("alice@example.com")))
        #expect(own.id != "forged")
        try await Task.sleep(for: .milliseconds(100))
        let archived = try await Self.query(alice)
        #expect(archived.results.map(\.id) == [own.id], "archived once, with the id it was delivered with")
    }

    @Test func preferencesDecideWhatIsKeptAndAccountDeletionRemovesTheArchive() async throws {
        let scenario = try KernelScenario()
        for user in ["alice", "bob", "carol"] { try await scenario.account(user) }
        let alice = try await scenario.login("alice"), bob = try await scenario.login("bob"), carol = try await scenario.login("carol")
        try await alice.send("""
            <iq xmlns='jabber:client' type='set' id='p'><prefs xmlns='\(Self.mam)' default='always'>\
            <always/><never><jid>carol@example.com</jid></never></prefs></iq>
            """)
        let stored = try #require(alice.received("iq").first?.child("prefs", namespace: Self.mam))
        #expect(stored.child("never", namespace: Self.mam)?.children("jid").map(\.text) == ["carol@example.com"])
        try await carol.send("<message xmlns='jabber:client' to='alice@example.com' type='chat' id='c'><body>off the record</body></message>")
        try await bob.send("<message xmlns='jabber:client' to='alice@example.com' type='chat' id='b'><body>on the record</body></message>")
        let got = alice.received("message")
        #expect(got.first { $0.attribute("id") == "c" }.map { $0.child("stanza-id", namespace: StanzaIdentifier.namespace) == nil } == true,
                "not archived, so no archive id")
        try await Self.waitForArchive(scenario.kernel, "alice", count: 1)
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await Self.query(alice).results.map { $0.stanza.attribute("id") } == ["b"])

        try await alice.send("<iq xmlns='jabber:client' type='set' id='p2'><prefs xmlns='\(Self.mam)' default='sometimes'/></iq>")
        #expect(alice.received("iq").first?.attribute("type") == "error")
        try await alice.send("<iq xmlns='jabber:client' type='get' id='p3'><prefs xmlns='\(Self.mam)'/></iq>")
        #expect(alice.received("iq").first?.child("prefs", namespace: Self.mam)?.attribute("default") == "always")

        try await scenario.kernel.deleteAccount("alice")
        #expect(try await scenario.kernel.storage.archives.query(ArchiveQuery(max: 10), in: "alice").count == 0)
        #expect(try await scenario.kernel.storage.userData.value("mam-prefs", of: "alice") == nil)
    }

    /// Storage that falls behind slows the senders down; nothing is refused and everything is archived.
    @Test func aSlowArchiveSlowsSendersInsteadOfRefusingMessages() async throws {
        let slow = GatedArchiveStore()
        var storage = ServerStorage.inMemory()
        storage.archives = slow
        let scenario = try KernelScenario(storage: storage) { $0.set(MessageArchiveModule.writeQueue, to: 100) }
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice"), bob = try await scenario.login("bob")
        // Each message makes two entries (both archives); with storage stuck, past half of the bound (50) the next
        // message waits instead of going through.
        var sent = 0
        var held: EventLoopFuture<Void>?
        while held == nil && sent < 100 {
            let message = try Element(xml: "<message xmlns='jabber:client' to='alice@example.com' type='chat'><body>m\(sent)</body></message>")
            held = scenario.kernel.process(message, from: bob.session)
            sent += 1
        }
        let waiting = try #require(held, "no message was held back")
        #expect((26...40).contains(sent), "held after \(sent) messages")
        try await Task.sleep(for: .milliseconds(100))
        #expect(alice.received("message").count == sent - 1, "the waiting message is not delivered yet")
        slow.open()
        try await waiting.get()
        #expect(alice.received("message").count == 1, "delivered once storage caught up")
        #expect(bob.received("message").allSatisfy { $0.attribute("type") != "error" }, "nothing was refused")
        try await Self.waitForArchive(scenario.kernel, "alice", count: sent)
    }
}

/// An archive store whose writes wait until ``open()``: storage that has fallen behind.
final class GatedArchiveStore: ArchiveStore {
    private let inner = InMemoryArchiveStore()
    private let gate = Locked<(isOpen: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiting = gate.withLock { gate in
            gate.isOpen = true
            defer { gate.waiting = [] }
            return gate.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    private func pass() async {
        await withCheckedContinuation { continuation in
            let isOpen = gate.withLock { gate in
                if !gate.isOpen { gate.waiting.append(continuation) }
                return gate.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }

    func append(_ entry: ArchivedStanza, to archive: String) async throws -> Bool {
        await pass()
        return try await inner.append(entry, to: archive)
    }

    func append(_ entries: [(archive: String, entry: ArchivedStanza)]) async throws {
        await pass()
        try await inner.append(entries)
    }

    func query(_ query: ArchiveQuery, in archive: String) async throws -> ArchivePage { try await inner.query(query, in: archive) }
    func removeEntries(olderThan date: Date, in archive: String) async throws -> Int { try await inner.removeEntries(olderThan: date, in: archive) }
    func removeArchive(_ archive: String) async throws { try await inner.removeArchive(archive) }
}
