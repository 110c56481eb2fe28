import Foundation
import Logging
import NIOCore
import NIOPosix
import RedisClient
import XMPPCore
import XMPPServerKernel

/// This server as one node of a cluster (``ClusterLink``), over Redis 7:
///
/// - **Liveness**: the node sets `alive:NODE` to its incarnation (a fresh UUID each start) with a TTL of
///   `cluster_node_ttl` seconds, four times per TTL, and reads every node's key as often. A node whose key expired or
///   whose incarnation changed is gone: its sessions leave every registry, one node (whoever wins `reaped:…`) tells
///   their contacts they went unavailable, and partitions it served are taken over by whichever node next needs them.
/// - **Session directory**: `sessions:NODE` holds each session's priority, shared values and presence; every change
///   is also published on the `events` channel, which every node applies to its mirror (``MirroredSession``) in its
///   own registry. The directory is read whole at start, after Redis comes back, and every `resyncInterval`.
/// - **Routing**: a stanza for a session of another node is published on that node's `inbox:NODE` channel; one for a
///   partition (a chat room) served elsewhere, too. When nobody receives it (the node died), it is handled here as for
///   a session that just ended: the account's resources on this node, or offline storage.
///
/// Every key lives under `xmppd:DOMAIN:`. Nothing here decides by consensus: Redis is the one place of truth, and a
/// partition's owner is claimed with one script run atomically by Redis.
public final class ClusterNode: ClusterLink, Sendable {
    /// The settings in force.
    public let settings: ClusterSettings
    /// This start's identity: a node that restarts under the same name is a new incarnation.
    let incarnation = UUID().uuidString
    let keys: ClusterKeys
    let logger: Logger
    let state = Locked(State())
    let eventLoops: any EventLoopGroup
    /// Messages sent to other nodes' sessions and not acknowledged yet.
    let unacknowledged: Locked<Acknowledgements>
    /// The highest numbered message received from each node's incarnation (`node/incarnation`), and whether its
    /// acknowledgement is scheduled.
    let received = Locked<[String: (sequence: UInt64, scheduled: Bool)]>([:])
    /// This node's session changes on their way to Redis, in order.
    let outbox: Outbox

    struct State {
        var kernel: ServerKernel?
        var commands: RedisSession?
        var listener: RedisSession?
        /// The heartbeat's and the membership reads' own connection: never behind stanzas queued on `commands`.
        var liveness: RedisSession?
        /// Live nodes (this one included) and their incarnations, as last read.
        var live: [String: String] = [:]
        /// The mirrored sessions of each other node.
        var mirrors: [String: [JID: MirroredSession]] = [:]
        /// Which node serves each partition, as last learned (`service|partition` → node).
        var owners: [String: String] = [:]
        /// Partitions this node has served since it started (adopted once each), and those being adopted now.
        var served: Set<String> = []
        var adopting: [String: Task<Void, Never>] = [:]
        /// Nodes declared gone and not alive again: their late events are ignored.
        var gone: Set<String> = []
        /// Counts the `back` events of each other node: a membership read begun before one is out of date for it.
        var backs: [String: Int] = [:]
        /// Account-data announcements Redis did not take, and until when each is published again (`nil`: not taken
        /// yet). See ``announceAgain()``.
        var unannounced: [AccountTopic: ContinuousClock.Instant?] = [:]
        /// Directory reads under way, and the sessions events touched meanwhile, by node.
        var resyncs = 0
        var touchedDuringResync: [String: Set<JID>] = [:]
        var tasks: [Task<Void, Never>] = []
        var stopped = false
        /// A rejoin after a lapsed heartbeat is under way (the heartbeat goes on meanwhile).
        var rejoining = false
    }

    /// Creates the link for `domain`'s kernel; it connects in ``start(kernel:)``.
    public init(settings: ClusterSettings, domain: String, logger: Logger = Logger(label: "xmppd.cluster"),
                eventLoops: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.settings = settings
        keys = ClusterKeys(domain: domain)
        self.logger = logger
        self.eventLoops = eventLoops
        unacknowledged = Locked(Acknowledgements(limit: settings.limits.unacknowledgedPerNode))
        outbox = Outbox(limit: settings.limits.outbox)
    }

    var kernel: ServerKernel? { state.withLock { $0.kernel } }
    var commands: RedisSession? { state.withLock { $0.commands } }
    var liveness: RedisSession? { state.withLock { $0.liveness } }
    var nodeName: String { settings.node }

    /// The live nodes, this one included, sorted (for `xmppctl stats` and the tests).
    public var liveNodes: [String] { state.withLock { $0.live.keys.sorted() } }

    // MARK: Joining and leaving

    public func start(kernel: ServerKernel) async throws {
        let timeout = TimeAmount.seconds(Int64(settings.redisTimeout))
        let commands = RedisSession(host: settings.host, port: settings.port, username: settings.username, password: settings.password,
                                    answerTimeout: timeout)
        let listener = RedisSession(host: settings.host, port: settings.port, username: settings.username, password: settings.password,
                                    maxBufferedMessages: settings.limits.inbox, answerTimeout: timeout)
        let liveness = RedisSession(host: settings.host, port: settings.port, username: settings.username, password: settings.password,
                                    answerTimeout: timeout)
        state.withLock { state in
            state.kernel = kernel
            state.commands = commands
            state.listener = listener
            state.liveness = liveness
        }
        await listener.subscribe([keys.events, keys.inbox(nodeName)])
        guard await Self.waitUntilConnected(commands, listener, liveness, for: .seconds(10)) else {
            await stop()
            throw ClusterStartError(description: "Redis at \(settings.maskedURL) cannot be reached (cluster_redis_url)")
        }
        let messages = Task { [self] in
            for await message in listener.messages { self.received(message.text) }
        }
        let sender = Task { [self] in await self.drainOutbox() }
        state.withLock { $0.tasks = [messages, sender] }
        do {
            // A previous incarnation's directory is stale: its sessions ended with it.
            _ = try await commands.pipeline([
                ["DEL", keys.sessions(nodeName)],
                ["SET", keys.alive(nodeName), incarnation, "PX", String(settings.nodeTTL * 1000)],
                ["SADD", keys.nodes, nodeName],
            ])
            try await refreshMembership()
            try await resynchronize()
        } catch {
            await stop()
            throw ClusterStartError(description: "the cluster's Redis at \(settings.maskedURL) failed at start: \(error)")
        }
        let heartbeat = Task { [self] in await self.beat() }
        let membership = Task { [self] in await self.watchMembership() }
        // Either connection coming back: Redis may have restarted empty, or messages were missed meanwhile.
        let reconnections = [commands, listener].map { session in
            Task { [self] in
                var first = true
                for await change in session.states where change == .connected {
                    if first { first = false; continue }
                    self.logger.notice("Redis is back; publishing this node's sessions again and reading the others'")
                    await self.recover()
                }
            }
        }
        state.withLock { $0.tasks += [heartbeat, membership] + reconnections }
        logger.notice("joined the cluster", metadata: ["node": "\(nodeName)", "redis": "\(settings.maskedURL)",
                                                       "nodes": "\(liveNodes.joined(separator: ", "))"])
    }

    public func stop() async {
        let (commands, listener, liveness, tasks) = state.withLock { state in
            state.stopped = true
            defer { state.tasks = [] }
            return (state.commands, state.listener, state.liveness, state.tasks)
        }
        // What is queued about this node's sessions goes out first (the sender ends once the outbox is empty).
        outbox.close()
        if let sender = tasks.count > 1 ? tasks[1] : nil {
            let flushed = Task { await sender.value }
            let deadline = Task { try? await Task.sleep(for: .seconds(2)); sender.cancel() }
            await flushed.value
            deadline.cancel()
        }
        for task in tasks { task.cancel() }
        // Leaving on purpose: the others forget this node at once instead of after the TTL.
        _ = try? await commands?.pipeline([
            ["DEL", keys.sessions(nodeName)], ["DEL", keys.alive(nodeName)], ["SREM", keys.nodes, nodeName],
        ])
        await commands?.close()
        await listener?.close()
        await liveness?.close()
    }

    /// After Redis came back, or after this node's heartbeat lapsed (the others forgot it): what this node knows of
    /// partitions may be stale, its sessions are written and announced again, and the directory is read again; the
    /// announcements Redis did not take go out again; and if another node took this one for gone and told its users'
    /// contacts so, their presence goes out again.
    func recover() async {
        state.withLock { state in
            state.owners = [:]
            state.served = []
        }
        do {
            try await republishOwnSessions()
            try await resynchronize()
        } catch {
            logger.warning("cluster recovery failed; the next heartbeat tries again", metadata: ["error": "\(error)"])
        }
        await announceAgain()
        if await wasReaped() { await announcePresenceAgain() }
    }

    /// Takes the reaper's word that it told this node's contacts it was gone (`reaped:NODE:INCARNATION` = told),
    /// deleting it: true once per reaping, whichever of the heartbeat, a reconnection or the reaper's frame asks first;
    /// a node reaped again later is claimed and told anew.
    func wasReaped() async -> Bool {
        let answer = try? await commands?.send(["EVAL", Self.takeReapedScript, "1", keys.reaped(nodeName, incarnation), Self.reapDone])
        return answer?.integer == 1
    }

    static let takeReapedScript = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
    return 0
    """

    private static func waitUntilConnected(_ sessions: RedisSession..., for timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if sessions.allSatisfy(\.isConnected) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    // MARK: Liveness

    /// How often the heartbeat and the membership read run: four times per TTL.
    var beatInterval: Duration { .milliseconds(max(100, settings.nodeTTL * 1000 / 4)) }

    /// Renews this node's key four times per TTL, on a connection of its own and in a task of its own: neither a flood
    /// of stanzas between nodes nor slow work on the other connection delays it until the others take this node for
    /// gone.
    private func beat() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: beatInterval)
            guard !Task.isCancelled, let liveness else { return }
            do {
                let answers = try await liveness.pipeline([
                    ["SET", keys.alive(nodeName), incarnation, "PX", String(settings.nodeTTL * 1000), "GET"],
                    ["SADD", keys.nodes, nodeName],
                ])
                guard answers.first?.string != incarnation else { continue }
                // The key had expired: the others took this node for gone and forgot its sessions and rooms.
                let starts = state.withLock { state -> Bool in
                    defer { state.rejoining = true }
                    return !state.rejoining
                }
                guard starts else { continue }
                logger.warning("this node's cluster heartbeat had lapsed; announcing its sessions again")
                Task { [self] in
                    await rejoin()
                    state.withLock { $0.rejoining = false }
                }
            } catch {
                logger.warning("cluster heartbeat failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Reads the other nodes' liveness as often as the heartbeat runs (reaping those that are gone), sends the
    /// announcements Redis did not take, and reads the whole directory every `cluster_resync_interval`.
    private func watchMembership() async {
        var lastResync = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: beatInterval)
            guard !Task.isCancelled else { return }
            do {
                if state.withLock({ !$0.unannounced.isEmpty }) { await announceAgain() }
                try await refreshMembership()
                if ContinuousClock.now - lastResync > .seconds(settings.resyncInterval) {
                    lastResync = ContinuousClock.now
                    try await resynchronize()
                }
            } catch {
                logger.warning("cluster membership read failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Reads which nodes are alive; a node that is gone (key expired, or a new incarnation) is reaped.
    func refreshMembership() async throws {
        guard let liveness else { return }
        let backsBefore = state.withLock { $0.backs }
        let names = try await liveness.send(["SMEMBERS", keys.nodes]).stringElements
        let answers = names.isEmpty ? [] : try await liveness.pipeline(names.map { ["GET", keys.alive($0)] })
        var live: [String: String] = [:]
        for (name, answer) in zip(names, answers) {
            if let incarnation = answer.string { live[name] = incarnation }
        }
        live[nodeName] = incarnation
        let (previous, returned) = state.withLock { state -> ([String: String], Bool) in
            // A node that announced itself back meanwhile: this read may predate its heartbeat; what is known of it
            // stands, and the next read decides.
            for (node, count) in state.backs where backsBefore[node] != count {
                live[node] = state.live[node]
            }
            defer {
                state.live = live
                state.gone.subtract(live.keys)
            }
            return (state.live, !state.gone.isDisjoint(with: live.keys))
        }
        for (name, incarnation) in previous where name != nodeName && live[name] != incarnation {
            await nodeGone(name, incarnation: incarnation, backs: backsBefore[name, default: 0])
        }
        // Names that stayed in the set without a heartbeat (a node that died before anyone saw it alive).
        for name in names where live[name] == nil && previous[name] == nil {
            await nodeGone(name, incarnation: nil, backs: backsBefore[name, default: 0])
        }
        if returned {
            // A node taken for gone is alive again (its heartbeat had only lapsed): its events were ignored meanwhile,
            // so its sessions are read from the directory.
            do {
                try await resynchronize()
            } catch {
                logger.warning("cluster directory read failed; the next heartbeat tries again", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Removes a gone node's directory and name, unless its heartbeat key exists again.
    static let reapScript = """
    if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
    redis.call('DEL', KEYS[2])
    redis.call('SREM', KEYS[3], ARGV[1])
    return 1
    """

    /// Forgets a node that is gone: its sessions leave the registry, the partitions it served are looked up again,
    /// and one node (the first to claim it) tells the sessions' contacts and cleans its keys. Nothing happens when
    /// the node said it is back since the read that found it gone (its count of `back` events is no longer `backs`).
    func nodeGone(_ node: String, incarnation: String?, backs: Int) async {
        guard let kernel, let commands else { return }
        let sessions = state.withLock { state -> [MirroredSession]? in
            guard state.backs[node, default: 0] == backs else { return nil }
            state.owners = state.owners.filter { $0.value != node }
            if state.live[node] == nil { state.gone.insert(node) }
            return Array(state.mirrors.removeValue(forKey: node)?.values ?? [:].values)
        }
        guard let sessions else { return }
        let claim = ["SET", keys.reaped(node, incarnation ?? "unknown"), nodeName, "NX", "EX", "600"]
        let reaper = (try? await commands.send(claim))?.string == "OK"
        logger.warning("cluster node gone", metadata: ["node": "\(node)", "sessions": "\(sessions.count)", "reaper": "\(reaper)"])
        let eventLoop = eventLoops.next()
        var broadcasts: [EventLoopFuture<Void>] = []
        for session in sessions {
            if reaper {
                // Unavailable presence to its contacts and the account's other resources, and the session-ended hooks.
                if let broadcast = kernel.sessionEnded(session) { broadcasts.append(broadcast) }
            } else {
                kernel.registry.remove(session)
            }
        }
        // Messages the dead node never acknowledged: to the account's other resources, or offline storage.
        let pending = unacknowledged.withLock { $0.takeAll(of: node) }
        if let incarnation { _ = received.withLock { $0.removeValue(forKey: node + "/" + incarnation) } }
        for message in pending { undeliverable(message.element, to: message.jid, unreachableNode: node) }
        if !pending.isEmpty { logger.notice("messages the gone node had not acknowledged were delivered again", metadata: ["count": "\(pending.count)"]) }
        let lost = Set(sessions.map(\.jid))
        if !lost.isEmpty {
            for service in kernel.hostedServices {
                (service as? any PartitionedService)?.sessionsLost(lost, kernel: kernel, eventLoop: eventLoop)
            }
        }
        if reaper {
            // Unless it came back meanwhile (a new incarnation, or a heartbeat that had only lapsed).
            _ = try? await commands.send(["EVAL", Self.reapScript, "3", keys.alive(node), keys.sessions(node), keys.nodes, node])
            guard let incarnation else { return }
            // Once the contacts were told (the presence is on its way to the other nodes through Redis, ahead of what
            // follows; a remote server's contacts get it over federation, which may cross the later presence): a node
            // that had only lapsed announces its users' presence again, after this.
            for broadcast in broadcasts { try? await broadcast.get() }
            _ = try? await commands.pipeline([
                ["SET", keys.reaped(node, incarnation), Self.reapDone, "XX", "KEEPTTL"],
                ["PUBLISH", keys.events, ClusterFrame.reaped(node: node, incarnation: incarnation, by: nodeName).text],
            ])
        }
    }

    /// The value of `reaped:NODE:INCARNATION` once the reaper has told the node's contacts.
    static let reapDone = "told"

    /// Back after this node's heartbeat lapsed (the others may have taken it for gone): alive again, announced as back
    /// (so the others take its events again, in order, before its sessions), then ``recover()``.
    func rejoin() async {
        guard let commands else { return }
        do {
            _ = try await commands.pipeline([
                ["SET", keys.alive(nodeName), incarnation, "PX", String(settings.nodeTTL * 1000)],
                ["SADD", keys.nodes, nodeName],
                ["PUBLISH", keys.events, ClusterFrame.back(node: nodeName, incarnation: incarnation).text],
            ])
        } catch {
            logger.warning("cluster heartbeat failed", metadata: ["error": "\(error)"])
            return
        }
        await recover()
    }
}

/// The cluster could not be joined at start.
public struct ClusterStartError: Error, CustomStringConvertible {
    /// What went wrong, for the operator.
    public var description: String
}

extension RESPValue {
    /// The strings of an array or set answer (SMEMBERS, HKEYS).
    var stringElements: [String] {
        switch self {
        case .array(let values?), .set(let values): values.compactMap(\.string)
        default: []
        }
    }

    /// The pairs of a map answer, or of a flat array of alternating keys and values (HGETALL in RESP2 and RESP3).
    var stringPairs: [(String, String)] {
        switch self {
        case .map(let pairs): return pairs.compactMap { pair in pair.key.string.flatMap { key in pair.value.string.map { (key, $0) } } }
        case .array(let values?):
            return stride(from: 0, to: values.count - 1, by: 2).compactMap { index in
                values[index].string.flatMap { key in values[index + 1].string.map { (key, $0) } }
            }
        default: return []
        }
    }
}
