import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
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
    /// Stanzas for other nodes refused at once, Redis being away or too far behind (for the log).
    let shedStanzas = Locked(0)
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

    /// A connection to the cluster's Redis as the settings say; `logged`: its outages and their causes (a refused
    /// certificate, say) go to the log (one connection's are enough).
    private func redisSession(tls: NIOSSLContext?, maxBufferedMessages: Int = 100_000, publishBacklogLimit: Int? = nil,
                              logged: Bool = false) -> RedisSession {
        let logger = self.logger
        var log: (@Sendable (String) -> Void)?
        if logged {
            log = { line in logger.notice(Logger.Message(stringLiteral: line)) }
        }
        return RedisSession(host: settings.host, port: settings.port, username: settings.username, password: settings.password,
                            maxBufferedMessages: maxBufferedMessages, answerTimeout: .seconds(Int64(settings.redisTimeout)),
                            publishBacklogLimit: publishBacklogLimit, tls: tls, log: log)
    }

    /// The live nodes, this one included, sorted (for `xmppctl stats` and the tests).
    public var liveNodes: [String] { state.withLock { $0.live.keys.sorted() } }

    // MARK: Joining and leaving

    public func start(kernel: ServerKernel) async throws {
        let tls: NIOSSLContext?
        do {
            tls = try settings.tls?.makeContext()
        } catch {
            throw ClusterStartError(description: "TLS to Redis (cluster_redis_ca, cluster_redis_certificate, cluster_redis_private_key): \(error)")
        }
        if let redisTLS = settings.tls, redisTLS.certificateAuthorities.isEmpty {
            logger.warning("TLS to Redis trusts the system's certificate authorities: any public certificate for its name would do; set cluster_redis_ca to the cluster's own")
        }
        let commands = redisSession(tls: tls, publishBacklogLimit: settings.limits.redisBacklogBytes, logged: true)
        let listener = redisSession(tls: tls, maxBufferedMessages: settings.limits.inbox)
        let liveness = redisSession(tls: tls)
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

    private static func waitUntilConnected(_ sessions: RedisSession..., for timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if sessions.allSatisfy(\.isConnected) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
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
