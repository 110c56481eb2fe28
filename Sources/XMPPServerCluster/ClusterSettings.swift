import Logging
import Foundation

/// Where the cluster's Redis is and who this node is (`cluster_redis_url`, `cluster_node`, `cluster_node_ttl`,
/// `cluster_redis_timeout`, and for `rediss://` the TLS files).
public struct ClusterSettings: Sendable, Equatable {
    /// Redis's address.
    public var host: String
    /// Redis's port.
    public var port: Int
    /// The Redis user (`default` unless the URL names one).
    public var username: String
    /// The Redis password, if the URL has one.
    public var password: String?
    /// TLS to Redis (`rediss://`), `nil` for plain TCP (`redis://`).
    public var tls: ClusterRedisTLS?
    /// This node's name, unique in the cluster.
    public var node: String
    /// How long, in seconds, a node counts as alive after its last heartbeat; nodes beat four times as often.
    public var nodeTTL: Int
    /// How often, in seconds, the node reads the whole session directory again (besides at start and after Redis
    /// comes back), in case a change was missed.
    public var resyncInterval: Int
    /// How long, in seconds, a Redis command may wait for its answer before the connection is taken for dead and made
    /// again (a quiet connection is pinged, so a silently dead one is found too).
    public var redisTimeout = 5
    /// How much may wait in memory (``ClusterLimits``).
    public var limits = ClusterLimits()

    /// Reads `redis://[USER[:PASSWORD]@]HOST[:PORT][/]`, or `rediss://` for TLS (trusting the system's certificate
    /// authorities until ``tls`` says otherwise); `nil` when it is not such a URL.
    public init?(redisURL: String, node: String, nodeTTL: Int, resyncInterval: Int = 60) {
        guard let components = URLComponents(string: redisURL), components.scheme == "redis" || components.scheme == "rediss",
              let host = components.host, !host.isEmpty, components.query == nil,
              components.path.isEmpty || components.path == "/" else { return nil }
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        port = components.port ?? 6379
        let user = components.user.flatMap { $0.removingPercentEncoding } ?? ""
        username = user.isEmpty ? "default" : user
        password = components.password.flatMap { $0.removingPercentEncoding }
        tls = components.scheme == "rediss" ? ClusterRedisTLS() : nil
        guard !node.isEmpty, node.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else { return nil }
        self.node = node
        self.nodeTTL = max(1, nodeTTL)
        self.resyncInterval = max(1, resyncInterval)
    }

    /// The URL without its password, for logs and the admin console.
    public var maskedURL: String {
        let credentials = password == nil ? (username == "default" ? "" : "\(username)@") : "\(username == "default" ? "" : username):***@"
        return "\(tls == nil ? "redis" : "rediss")://\(credentials)\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }
}

/// The bounds of what a cluster node keeps in memory for the cluster (docs/SECURITY.md).
public struct ClusterLimits: Sendable, Equatable {
    /// Session changes waiting to be written to Redis (`cluster_outbox_limit`); past it changes wait for the next
    /// directory read.
    public var outbox = 100_000
    /// Messages read from Redis and not handled yet (`cluster_inbox_limit`); past it they are dropped and counted.
    public var inbox = 100_000
    /// Messages sent to one other node and not acknowledged yet (`cluster_unacknowledged_limit`); past it the oldest are
    /// no longer held for redelivery.
    public var unacknowledgedPerNode = 10_000
    /// Partition owners remembered (`cluster_partition_cache`); past it the cache starts again from Redis.
    public var cachedOwners = 100_000
    /// Bytes of stanzas for other nodes written to Redis and not answered yet (`cluster_redis_backlog_bytes`); past it
    /// a stanza is handled as for an unreachable node (a message goes to offline storage).
    public var redisBacklogBytes = 32 << 20

    /// The defaults.
    public init() {}
}

/// The names of what a cluster keeps in Redis, under a prefix per domain (virtual hosts are clusters of their own).
struct ClusterKeys: Sendable {
    let prefix: String

    init(domain: String) { prefix = "xmppd:\(domain):" }

    /// The set of node names that joined (dead ones are removed by whoever reaps them).
    var nodes: String { prefix + "nodes" }
    /// A node's heartbeat: its incarnation, expiring after the TTL.
    func alive(_ node: String) -> String { prefix + "alive:" + node }
    /// The prefix of the heartbeat keys (for the ownership script).
    var alivePrefix: String { prefix + "alive:" }
    /// A node's sessions: full JID → ``SessionRecord``.
    func sessions(_ node: String) -> String { prefix + "sessions:" + node }
    /// Which node serves each partition of a partitioned service: `service|partition` → node.
    var owners: String { prefix + "owners" }
    /// Who reaped a node's incarnation (so one node does it).
    func reaped(_ node: String, _ incarnation: String) -> String { prefix + "reaped:" + node + ":" + incarnation }
    /// The channel every node listens to: session and account-data events.
    var events: String { prefix + "events" }
    /// The channel a node reads stanzas for it from.
    func inbox(_ node: String) -> String { prefix + "inbox:" + node }
}
