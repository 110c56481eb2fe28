import Testing
import XMPPCore
@testable import XMPPServerCluster
import XMPPServerKernel

/// The pieces of the cluster that need no Redis: the text frames nodes exchange, the acknowledgement ledger, the
/// rendezvous pick of a room's node, and the settings read from the configuration.
@Suite struct ClusterFrameTests {
    static let jid = JID(validating: "alice@example.com/phone with spaces")!

    @Test func everyFrameReadsBackAsWritten() throws {
        let stanza = "<message xmlns='jabber:client'><body>two\nlines</body></message>"
        let frames: [ClusterFrame] = [
            .bound(node: "node-1", jid: Self.jid),
            .presence(node: "node-1", jid: Self.jid, priority: -3, presence: "<presence xmlns='jabber:client'>\n<show>away</show></presence>"),
            .presence(node: "n", jid: Self.jid, priority: 0, presence: nil),
            .shared(node: "n", jid: Self.jid, key: "carbons.enabled", value: "true"),
            .shared(node: "n", jid: Self.jid, key: "carbons.enabled", value: nil),
            .ended(node: "n", jid: Self.jid),
            .accountData(node: "n", username: "alice", topic: "blocklist"),
            .back(node: "n", incarnation: "f00d"), .reaped(node: "n", incarnation: "f00d", by: "m"),
            .deliver(from: "n", incarnation: "B1F0", sequence: 42, jid: Self.jid, stanza: stanza),
            .acknowledged(from: "n", incarnation: "B1F0", sequence: 42),
            .close(jid: Self.jid, condition: "conflict", text: "replaced\nby another"),
            .close(jid: Self.jid, condition: nil, text: nil),
            .service(to: JID(validating: "room@conference.example.com/nick")!, stanza: stanza),
        ]
        for frame in frames {
            #expect(ClusterFrame(frame.text) == frame, "\(frame.text)")
        }
        #expect(ClusterFrame("Z\nwhatever") == nil)
        #expect(ClusterFrame("D\nn\ni\nnot-a-number\na@b/c\n<x/>") == nil)
    }

    /// Only the last field of a frame carries what a client wrote; the fields before it are JIDs and names, which
    /// cannot hold a line break, so no client can shift a frame's fields.
    @Test func addressesCannotHoldLineBreaks() {
        for raw in ["a\nb@example.com", "a@example.com/x\ny", "a@exa\rmple.com", "a@example.com/x\r\nD"] {
            #expect(JID(validating: raw) == nil, "\(raw.debugDescription)")
        }
    }

    @Test func acknowledgedMessagesAreForgottenAndTheRestComeBack() {
        var ledger = Acknowledgements(limit: 3)
        let message = Element("message", namespace: XMLNamespace.client)
        let numbers = (0..<5).map { _ in ledger.track(message, to: Self.jid, on: "node2") }
        #expect(numbers == [1, 2, 3, 4, 5])
        #expect(ledger.untracked == 2)   // the limit: the two oldest are no longer held
        #expect(ledger.count == 3)
        ledger.acknowledge(upTo: 4, by: "node2")
        #expect(ledger.count == 1)
        _ = ledger.track(message, to: Self.jid, on: "node3")
        #expect(ledger.remove(6, on: "node2") == nil)
        #expect(ledger.remove(1, on: "node3")?.sequence == 1)
        let left = ledger.takeAll(of: "node2")
        #expect(left.map(\.sequence) == [5])
        #expect(ledger.takeAll(of: "node2").isEmpty)
    }

    @Test func aMessageNeverSentGivesItsNumberBack() {
        var ledger = Acknowledgements(limit: 10)
        let message = Element("message", namespace: XMLNamespace.client)
        let first = ledger.track(message, to: Self.jid, on: "node2")
        let refused = ledger.track(message, to: Self.jid, on: "node2")
        ledger.withdrawLast(first, on: "node2", evicted: false)   // not the last: nothing happens
        #expect(ledger.count == 2)
        ledger.withdrawLast(refused, on: "node2", evicted: false)
        #expect(ledger.count == 1)
        #expect(ledger.track(message, to: Self.jid, on: "node2") == refused, "no gap the receiver would log as a loss")

        // At the limit, numbering a message pushes the oldest out; withdrawing it holds that one again.
        var full = Acknowledgements(limit: 2)
        let oldest = full.track(message, to: Self.jid, on: "node2")
        _ = full.track(message, to: Self.jid, on: "node2")
        let pushing = full.track(message, to: Self.jid, on: "node2")
        #expect(full.untracked == 1 && full.count == 2)
        full.withdrawLast(pushing, on: "node2", evicted: true)
        #expect(full.untracked == 0 && full.count == 2)
        #expect(full.takeAll(of: "node2").first?.sequence == oldest, "the oldest is held again")
    }

    @Test func everyNodePicksTheSameNodeAndALeavingNodeMovesOnlyItsOwn() {
        let nodes = ["node1", "node2", "node3"]
        var moved = 0
        var picks: [String: Int] = [:]
        for index in 0..<300 {
            let key = "conference.example.com|room\(index)"
            let pick = Rendezvous.pick(key, among: nodes)!
            #expect(Rendezvous.pick(key, among: nodes.reversed()) == pick)
            picks[pick, default: 0] += 1
            let without = nodes.filter { $0 != "node3" }
            let after = Rendezvous.pick(key, among: without)!
            if pick != "node3" { #expect(after == pick) } else { moved += 1 }
        }
        #expect(picks.count == 3 && picks.values.allSatisfy { $0 > 50 }, "\(picks)")
        #expect(moved == picks["node3"])
        #expect(Rendezvous.pick("x", among: []) == nil)
    }

    @Test func settingsComeFromTheConfiguration() throws {
        var configuration = KernelConfiguration(domain: "example.com")
        #expect(try ClusterModule.settings(in: configuration) == nil, "no cluster_redis_url: no cluster")
        configuration.set(ClusterModule.redisURL, to: "redis://xmppd:p%40ss@[::1]:6380")
        configuration.set(ClusterModule.nodeName, to: "node-1")
        configuration.set(ClusterModule.nodeTTL, to: 3)
        configuration.set(ClusterModule.redisTimeout, to: 2)
        configuration.set(ClusterModule.inboxLimit, to: 500)
        configuration.set(ClusterModule.redisBacklog, to: 1 << 20)
        let settings = try #require(try ClusterModule.settings(in: configuration))
        #expect(settings.host == "::1" && settings.port == 6380 && settings.username == "xmppd" && settings.password == "p@ss")
        #expect(settings.node == "node-1" && settings.nodeTTL == 3 && settings.redisTimeout == 2 && settings.limits.inbox == 500)
        #expect(settings.limits.redisBacklogBytes == 1 << 20)
        #expect(settings.resyncInterval == 60 && settings.limits.outbox == 100_000, "the defaults")
        #expect(settings.maskedURL == "redis://xmppd:***@[::1]:6380")
        for key in ["cluster_redis_timeout", "cluster_redis_backlog_bytes"] {
            #expect(ClusterModule().options.contains { $0.key == key }, "\(key) declared, so the file may set it")
        }

        #expect(settings.tls == nil, "redis:// is plain TCP")
        configuration.set(ClusterModule.redisURL, to: "rediss://redis.internal:6380")
        configuration.set(ClusterModule.redisCA, to: "/etc/xmppd/ca.pem")
        configuration.set(ClusterModule.redisCertificate, to: "/etc/xmppd/node.pem")
        configuration.set(ClusterModule.redisPrivateKey, to: "/etc/xmppd/node.key")
        let secure = try #require(try ClusterModule.settings(in: configuration))
        #expect(secure.host == "redis.internal" && secure.port == 6380 && secure.maskedURL == "rediss://redis.internal:6380")
        #expect(secure.tls?.certificateAuthorities == "/etc/xmppd/ca.pem" && secure.tls?.certificate == "/etc/xmppd/node.pem"
                && secure.tls?.privateKey == "/etc/xmppd/node.key")
        #expect(throws: (any Error).self, "files that are not there") { try secure.tls?.makeContext() }
        var halfIdentity = ClusterRedisTLS()
        halfIdentity.certificate = "/etc/xmppd/node.pem"
        #expect(throws: ClusterStartError.self, "a certificate without its key") { try halfIdentity.makeContext() }

        for url in ["http://redis:6379", "redis://", "redis://host/1", "redis://host?db=2", "rediss://"] {
            configuration.set(ClusterModule.redisURL, to: url)
            #expect(throws: ClusterStartError.self, "\(url)") { try ClusterModule.settings(in: configuration) }
        }
        configuration.set(ClusterModule.redisURL, to: "redis://127.0.0.1")
        configuration.set(ClusterModule.nodeName, to: "node 1")
        #expect(throws: ClusterStartError.self) { try ClusterModule.settings(in: configuration) }
    }
}
