import Logging
import NIOCore
import RedisClient
import XMPPCore
import XMPPServerKernel

// Stanzas between nodes: to a session of another node over its inbox channel (messages held until acknowledged), and
// what arrives in this node's inbox and on the events channel.
extension ClusterNode {
    /// Sends a stanza to a session of `node`. When no node receives it (that node died), Redis is away or too far
    /// behind (``ClusterLimits/redisBacklogBytes``), it is handled here as for a session that just ended; a message
    /// that offline storage would keep is also held until `node` acknowledges it (``Acknowledgements``): nothing the
    /// server accepted is lost with a node.
    func forward(_ element: Element, to jid: JID, on node: String) {
        guard let commands else { return undeliverable(element, to: jid) }
        let tracked = Self.isKeptOffline(element)
        // Numbered and handed to the connection under one lock, so that the numbers reach the node in order.
        unacknowledged.withLock { unacknowledged in
            let untrackedBefore = unacknowledged.untracked
            let sequence = tracked ? unacknowledged.track(element, to: jid, on: node) : 0
            if unacknowledged.untracked > untrackedBefore, Self.isWorthLogging(unacknowledged.untracked) {
                logger.warning("a cluster node does not acknowledge messages; the oldest are no longer held",
                               metadata: ["node": "\(node)", "untracked": "\(unacknowledged.untracked)"])
            }
            let frame = ClusterFrame.deliver(from: nodeName, incarnation: incarnation, sequence: sequence, jid: jid, stanza: element.xmlString)
            let sent = commands.publish(keys.inbox(node), frame.text, sheddable: true) { [self] result in
                switch result {
                case .success(let receivers) where receivers > 0:
                    return
                case .success:
                    self.logger.warning("a cluster node did not receive a stanza; it may be gone", metadata: ["node": "\(node)"])
                case .failure(let error):
                    self.logger.warning("a stanza could not be sent to a cluster node", metadata: ["node": "\(node)", "error": "\(error)"])
                }
                // Off the caller's stack: without a connection this runs at once, inside the lock above.
                self.eventLoops.next().execute {
                    if tracked, self.unacknowledged.withLock({ $0.remove(sequence, on: node) }) == nil { return }
                    self.undeliverable(element, to: jid)
                }
            }
            guard !sent else { return }
            // Refused at once: its number is given out again (the node would take the gap for messages Redis lost).
            if tracked { unacknowledged.withdrawLast(sequence, on: node, evicted: unacknowledged.untracked > untrackedBefore) }
            shed(element, to: jid, on: node, redisConnected: commands.isConnected)
        }
    }

    /// A stanza Redis was not given (away, or too far behind): it goes where a stanza for an ended session goes, off the
    /// caller's stack; logged once per thousand.
    private func shed(_ element: Element, to jid: JID, on node: String, redisConnected: Bool) {
        let shed = shedStanzas.withLock { $0 += 1; return $0 }
        if Self.isWorthLogging(shed) {
            let why = redisConnected ? "Redis is too far behind (cluster_redis_backlog_bytes)" : "Redis is away"
            logger.warning("stanzas for other nodes are handled as undeliverable: \(why)", metadata: ["node": "\(node)", "count": "\(shed)"])
        }
        eventLoops.next().execute { self.undeliverable(element, to: jid) }
    }

    /// Whether the `count`th occurrence of something that may happen many times a second is logged: the first, then
    /// one in a thousand.
    static func isWorthLogging(_ count: Int) -> Bool {
        count == 1 || count.isMultiple(of: 1000)
    }

    /// Whether offline storage would keep the message (so it must not be lost between nodes).
    static func isKeptOffline(_ element: Element) -> Bool {
        guard element.name == "message" else { return false }
        switch element.attribute("type") {
        case nil, "chat", "normal": return true
        default: return false
        }
    }

    /// Acknowledges a numbered message from `node` (its incarnation `incarnation`) soon, with every other one that
    /// arrives meanwhile. Numbers come in order; one that skips some means Redis lost those on the way (it drops a
    /// subscriber that reads too slowly) or this node's inbox was full: that is logged, as they are not redelivered.
    private func acknowledge(_ sequence: UInt64, from node: String, incarnation senderIncarnation: String) {
        let key = node + "/" + senderIncarnation
        let (schedule, skipped) = received.withLock { received -> (Bool, UInt64) in
            var entry = received[key] ?? (sequence: 0, scheduled: false)
            let skipped = sequence > entry.sequence + 1 ? sequence - entry.sequence - 1 : 0
            entry.sequence = max(entry.sequence, sequence)
            defer { received[key] = entry }
            guard !entry.scheduled else { return (false, skipped) }
            entry.scheduled = true
            return (true, skipped)
        }
        if skipped > 0 {
            logger.error("messages from a cluster node were lost on the way", metadata: ["node": "\(node)", "count": "\(skipped)"])
        }
        guard schedule else { return }
        eventLoops.next().scheduleTask(in: .milliseconds(50)) { [self] in
            let upTo = received.withLock { received -> UInt64? in
                received[key]?.scheduled = false
                return received[key]?.sequence
            }
            if let upTo { send(.acknowledged(from: nodeName, incarnation: senderIncarnation, sequence: upTo), to: node) }
        }
    }

    /// Sends any inbox frame to `node`, without looking back (closing a session).
    func send(_ frame: ClusterFrame, to node: String) {
        commands?.publish(keys.inbox(node), frame.text) { _ in }
    }

    func undeliverable(_ element: Element, to jid: JID) {
        kernel?.deliverFromCluster(element, to: jid, eventLoop: eventLoops.next())
    }

    /// Handles a message from the events channel or this node's inbox.
    func received(_ text: String) {
        guard let frame = ClusterFrame(text), let kernel else {
            logger.debug("ignored a malformed cluster frame")
            return
        }
        switch frame {
        case .deliver(let node, let senderIncarnation, let sequence, let jid, let stanza):
            if let element = try? Element(xml: stanza) {
                kernel.deliverFromCluster(element, to: jid, eventLoop: eventLoops.next())
            }
            if sequence > 0 { acknowledge(sequence, from: node, incarnation: senderIncarnation) }
        case .acknowledged(let node, let acknowledgedIncarnation, let sequence):
            guard acknowledgedIncarnation == incarnation else { return }   // for this node's previous start
            unacknowledged.withLock { $0.acknowledge(upTo: sequence, by: node) }
        case .close(let jid, let condition, let text):
            guard let entry = kernel.registry.entry(jid), entry.session.clusterNode == nil else { return }
            entry.session.close(with: condition.flatMap(StreamError.Condition.init(rawValue:)).map { StreamError($0, text: text) })
        case .service(let to, let stanza):
            guard let element = try? Element(xml: stanza), let route = kernel.service(for: to) as? PartitionRoute else { return }
            let eventLoop = eventLoops.next()
            // Served here whatever this node's cache says: the sender looked the owner up in Redis.
            _ = route.serveHere(element, to: to, kernel: kernel, eventLoop: eventLoop)
        default:
            apply(frame)
        }
    }
}
