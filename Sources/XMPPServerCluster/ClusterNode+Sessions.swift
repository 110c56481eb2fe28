import Logging
import NIOCore
import RedisClient
import XMPPCore
import XMPPServerKernel

// The session directory: this node publishes its sessions' changes (ClusterLink), and mirrors the other nodes'.
extension ClusterNode {
    // MARK: This node's sessions, as the kernel reports them

    public func sessionBound(_ session: any ClientSession) {
        let record = SessionRecord(priority: 0, shared: [:], presence: nil)
        publish(.bound(node: nodeName, jid: session.jid), directory: ["HSET", keys.sessions(nodeName), session.jid.description, record.text])
    }

    public func presenceChanged(of session: any ClientSession, presence: Element?, priority: Int) {
        let shared = session.sharedTexts(in: kernel)
        let xml = presence?.xmlString
        let record = SessionRecord(priority: priority, shared: shared, presence: xml)
        publish(.presence(node: nodeName, jid: session.jid, priority: priority, presence: xml),
                directory: ["HSET", keys.sessions(nodeName), session.jid.description, record.text])
    }

    public func sharedStateChanged(of session: any ClientSession, key: String, value: String?) {
        guard let entry = kernel?.registry.entry(session.jid), entry.session === session else { return }
        let record = SessionRecord(priority: entry.priority, shared: entry.state.sharedTexts, presence: entry.presence?.xmlString)
        publish(.shared(node: nodeName, jid: session.jid, key: key, value: value),
                directory: ["HSET", keys.sessions(nodeName), session.jid.description, record.text])
    }

    public func sessionEnded(_ session: any ClientSession) {
        publish(.ended(node: nodeName, jid: session.jid), directory: ["HDEL", keys.sessions(nodeName), session.jid.description])
    }

    public func accountDataChanged(_ username: String, topic: String) {
        publish(.accountData(node: nodeName, username: username, topic: topic), directory: nil)
    }

    /// Updates the directory and tells every node, in this order, through the ordered outbox (so every node sees a
    /// session's changes in the order they happened). While Redis is away the change is lost here, and
    /// ``republishOwnSessions()`` rewrites the directory when it is back.
    private func publish(_ frame: ClusterFrame, directory command: [String]?) {
        var batch = [["PUBLISH", keys.events, frame.text]]
        if let command { batch.insert(command, at: 0) }
        if !outbox.add(batch) {
            logger.warning("cluster outbox full; a session change waits for the next directory read")
            retainUnannounced(batch)
        }
    }

    /// Sends what was queued in the outbox, in order, a batch at a time, until the outbox closes.
    func drainOutbox() async {
        await outbox.drain { batch in
            do {
                _ = try await commands?.pipeline(batch)
            } catch {
                logger.warning("cluster directory update failed", metadata: ["error": "\(error)"])
                retainUnannounced(batch)
            }
        }
    }

    /// Writes every session of this node into the directory again and tells every node (after Redis came back,
    /// possibly empty, or after this node's heartbeat lapsed and the others forgot it).
    func republishOwnSessions() async throws {
        guard let kernel, let commands else { return }
        var batch: [[String]] = [["DEL", keys.sessions(nodeName)]]
        for session in kernel.registry.allSessions() where session.clusterNode == nil {
            guard let entry = kernel.registry.entry(session.jid), entry.session === session else { continue }
            let record = SessionRecord(priority: entry.priority, shared: entry.state.sharedTexts, presence: entry.presence?.xmlString)
            batch.append(["HSET", keys.sessions(nodeName), session.jid.description, record.text])
            let frame = ClusterFrame.presence(node: nodeName, jid: session.jid, priority: entry.priority, presence: record.presence)
            batch.append(["PUBLISH", keys.events, frame.text])
            for (key, value) in record.shared {
                batch.append(["PUBLISH", keys.events, ClusterFrame.shared(node: nodeName, jid: session.jid, key: key, value: value).text])
            }
        }
        _ = try await commands.pipeline(batch)
    }

    /// After another node took this one for gone and told the contacts of its users that they went unavailable: the
    /// presence of the accounts with an available session here again (of each of their available resources, those on
    /// other nodes too: a repeat does no harm), to the contacts who receive it, and this node's sessions' presence to
    /// the accounts' resources on other nodes (RFC 6121 §4.4.2 broadcast, as if sent anew; nothing is probed again).
    /// Directed presence (chat rooms) is not restored.
    func announcePresenceAgain() async {
        guard let kernel else { return }
        let users = Set(kernel.registry.allSessions().lazy.filter { $0.clusterNode == nil }.map(\.jid.bare))
        for user in users {
            let entries = kernel.registry.entries(of: user)
            let own = entries.filter { $0.session.clusterNode == nil && $0.isAvailable }
            guard !own.isEmpty else { continue }
            for item in await kernel.rosterItems(of: user) where item.contactReceivesPresence {
                kernel.sendPresenceOfResources(of: user, to: item.jid, unavailable: false)
            }
            for sibling in entries where sibling.session.clusterNode != nil && sibling.isAvailable {
                for entry in own {
                    guard var presence = entry.presence else { continue }
                    presence.setAttribute("to", to: sibling.session.jid.description)
                    sibling.session.deliver(presence)
                }
            }
        }
    }

    // MARK: The other nodes' sessions

    /// Reads every live node's sessions and makes the mirror match: adds what is missing, updates what changed,
    /// removes mirrored sessions the directory no longer has.
    ///
    /// Events keep arriving while the directory is read: a session an event touched meanwhile is left as the events
    /// made it (the snapshot may be older), and a session of this node is never replaced by a snapshot's entry.
    func resynchronize() async throws {
        guard let commands else { return }
        let nodes = state.withLock { state -> [String] in
            state.touchedDuringResync = [:]
            state.resyncs += 1
            return state.live.keys.filter { $0 != nodeName }.sorted()
        }
        defer { state.withLock { state in state.resyncs -= 1; if state.resyncs == 0 { state.touchedDuringResync = [:] } } }
        let answers = nodes.isEmpty ? [] : try await commands.pipeline(nodes.map { ["HGETALL", keys.sessions($0)] })
        for (node, answer) in zip(nodes, answers) {
            let touched = state.withLock { $0.touchedDuringResync[node] ?? [] }
            var present: Set<JID> = []
            for (raw, text) in answer.stringPairs {
                guard let jid = JID(validating: raw), jid.isFull, let record = SessionRecord(text) else { continue }
                present.insert(jid)
                guard !touched.contains(jid) else { continue }
                if let local = kernel?.registry.entry(jid), local.session.clusterNode == nil { continue }
                mirrorRecord(record, of: jid, on: node)
            }
            let stale = state.withLock { state in (state.mirrors[node] ?? [:]).keys.filter { !present.contains($0) && !touched.contains($0) } }
            for jid in stale { mirrorEnded(jid, on: node) }
        }
    }

    /// Applies an event from the events channel. Events of a node declared gone are ignored (they were in flight when
    /// it died) until it is alive again.
    func apply(_ frame: ClusterFrame) {
        if let (node, jid) = frame.sessionEvent {
            let ignored = state.withLock { state -> Bool in
                guard !state.gone.contains(node) else { return true }
                if state.resyncs > 0 { state.touchedDuringResync[node, default: []].insert(jid) }
                return false
            }
            if ignored { return }
        }
        switch frame {
        case .bound(let node, let jid) where node != nodeName:
            _ = mirror(jid, on: node)
        case .presence(let node, let jid, let priority, let presence) where node != nodeName:
            let session = mirror(jid, on: node)
            let element = presence.flatMap { try? Element(xml: $0) }
            kernel?.registry.update(session) { entry in
                entry.presence = element
                entry.priority = priority
            }
        case .shared(let node, let jid, let key, let value) where node != nodeName:
            let session = mirror(jid, on: node)
            kernel?.registry.update(session) { $0.state.setShared(key, to: value) }
        case .ended(let node, let jid) where node != nodeName:
            mirrorEnded(jid, on: node)
        case .accountData(let node, let username, let topic) where node != nodeName:
            kernel?.accountDataChangedElsewhere(username, topic: topic)
        case .back(let node, let nodeIncarnation) where node != nodeName:
            // Its sessions follow on this channel: they must not be ignored as a gone node's late events.
            state.withLock { state in
                state.backs[node, default: 0] += 1
                state.gone.remove(node)
                state.live[node] = nodeIncarnation
            }
        case .reaped(let node, let reapedIncarnation, let by) where node == nodeName && reapedIncarnation == incarnation:
            // Taken for gone while alive: the contacts were told this node's users went unavailable (the presence goes
            // out again once, whoever asks first: see wasReaped()).
            logger.warning("another cluster node took this one for gone; announcing its sessions and presence again",
                           metadata: ["by": "\(by)"])
            Task { await self.rejoin() }
        default:
            return
        }
    }

    private func mirrorRecord(_ record: SessionRecord, of jid: JID, on node: String) {
        let session = mirror(jid, on: node)
        let element = record.presence.flatMap { try? Element(xml: $0) }
        kernel?.registry.update(session) { entry in
            entry.presence = element
            entry.priority = record.priority
            for (key, value) in record.shared { entry.state.setShared(key, to: value) }
        }
    }

    /// The mirrored session of `jid` on `node`, registered now if it was not. A session of this node under the same
    /// full JID is closed with `conflict`: the newer session wins (RFC 6120 §7.7.2.2), wherever it is.
    private func mirror(_ jid: JID, on node: String) -> MirroredSession {
        guard let kernel else { return MirroredSession(jid: jid, node: node, eventLoop: eventLoops.next(), cluster: self) }
        let (session, isNew) = state.withLock { state -> (MirroredSession, Bool) in
            if let existing = state.mirrors[node]?[jid] { return (existing, false) }
            let made = MirroredSession(jid: jid, node: node, eventLoop: eventLoops.next(), cluster: self)
            state.mirrors[node, default: [:]][jid] = made
            return (made, true)
        }
        guard isNew else { return session }
        if let replaced = kernel.registry.add(session), replaced !== session {
            if let other = replaced as? MirroredSession {
                // The resource moved to another node.
                state.withLock { state in if state.mirrors[other.node]?[jid] === other { state.mirrors[other.node]?[jid] = nil } }
            } else {
                // Bound again on another node: this one is replaced. Its own end cannot withdraw it from the directory
                // (the registry holds the other node's now), so that is done here.
                sessionEnded(replaced)
                replaced.close(with: StreamError(.conflict, text: "replaced by a new session"))
            }
        } else if let kernel = self.kernel {
            // The inbound filters on this node (a blocklist) must know the account, which may have no session here.
            kernel.startBackgroundTask { await kernel.prepareInbound(to: jid.bare) }
        }
        return session
    }

    private func mirrorEnded(_ jid: JID, on node: String) {
        guard let session = state.withLock({ $0.mirrors[node]?.removeValue(forKey: jid) }) else { return }
        kernel?.registry.remove(session)
    }
}

extension ClientSession {
    /// The shared values of this session, as text.
    func sharedTexts(in kernel: ServerKernel?) -> [String: String] {
        guard let entry = kernel?.registry.entry(jid), entry.session === self else { return [:] }
        return entry.state.sharedTexts
    }
}
