import Logging
import Foundation
import XMPPCore
import XMPPServerKernel

/// Runs xmppd as one node of a cluster when `cluster_redis_url` is set: nodes share the PostgreSQL storage and, in
/// Redis, the session directory, their heartbeats and a channel per node for stanzas (``ClusterNode``). Without the
/// key the module does nothing.
public struct ClusterModule: ServerModule {
    public let name = "cluster"
    public let specifications: [String] = []

    /// `cluster_redis_url`: the Redis 7 server the nodes share; empty for a server on its own.
    public static let redisURL = ConfigOption.string(
        "cluster_redis_url", default: "",
        "makes this server one node of a cluster: `redis://[USER:PASSWORD@]HOST[:PORT]` of the Redis 7 server every node shares (session directory, heartbeats, routing between nodes), `rediss://` for TLS to its `tls-port`; needs `storage = postgresql` with the same database on every node. Empty: no cluster")
    /// `cluster_node`: this node's name.
    public static let nodeName = ConfigOption.string(
        "cluster_node", default: "",
        "this node's name in the cluster, unique among the nodes (letters, digits, `-`, `_`, `.`); empty: the host name")
    /// `cluster_node_ttl`: seconds before a silent node counts as gone.
    public static let nodeTTL = ConfigOption.integer(
        "cluster_node_ttl", default: 5, range: 1...300,
        "seconds after its last heartbeat (sent four times as often) before a node counts as gone: its sessions leave the directory, its contacts see them go unavailable, and other nodes take over its chat rooms")
    /// `cluster_resync_interval`: seconds between full reads of the session directory.
    public static let resyncInterval = ConfigOption.integer(
        "cluster_resync_interval", default: 60, range: 5...3600,
        "seconds between two full reads of the cluster's session directory, besides the changes every node publishes (a safety net against a missed one)")
    /// `cluster_redis_timeout`: seconds a Redis command may wait for its answer.
    public static let redisTimeout = ConfigOption.integer(
        "cluster_redis_timeout", default: 5, range: 1...300,
        "seconds Redis may leave a command unanswered (with nothing else coming from it) before the connection counts as dead and is made again (a connection with nothing to say is pinged, so a silently dead one is found too); what waited on it fails as if Redis were down")

    /// `cluster_redis_ca`: the authorities that vouch for Redis's certificate.
    public static let redisCA = ConfigOption.string(
        "cluster_redis_ca", default: "",
        "with `rediss://`: a PEM file of the certificate authorities that vouch for Redis's certificate (which must name the URL's host); empty: the system's (logged as a warning: any public certificate for that name or address would do)")
    /// `cluster_redis_certificate`: this node's certificate for Redis.
    public static let redisCertificate = ConfigOption.string(
        "cluster_redis_certificate", default: "",
        "with `rediss://`: a PEM file of the certificate chain this node presents to Redis (needed while Redis has `tls-auth-clients yes`, its default); with `cluster_redis_private_key`")
    /// `cluster_redis_private_key`: the key of ``redisCertificate``.
    public static let redisPrivateKey = ConfigOption.string(
        "cluster_redis_private_key", default: "",
        "with `rediss://`: the PEM private key of `cluster_redis_certificate`")

    /// `cluster_outbox_limit`: session changes waiting for Redis.
    public static let outboxLimit = ConfigOption.integer(
        "cluster_outbox_limit", default: 100_000, range: 100...10_000_000,
        "session changes of this node waiting to be written to Redis; past it a change is logged and left to the next full directory read. Also the most announcements kept while Redis is away (a message stored offline for a user of another node), to publish again once it answers")
    /// `cluster_inbox_limit`: messages from Redis not handled yet.
    public static let inboxLimit = ConfigOption.integer(
        "cluster_inbox_limit", default: 100_000, range: 100...10_000_000,
        "stanzas and session changes from other nodes read from Redis and not handled yet; past it they are dropped (and counted)")
    /// `cluster_unacknowledged_limit`: messages held per node until it acknowledges them.
    public static let unacknowledgedLimit = ConfigOption.integer(
        "cluster_unacknowledged_limit", default: 10_000, range: 100...1_000_000,
        "messages sent to another node's sessions and held until that node acknowledges them (to deliver again if it dies); past it the oldest are no longer held")
    /// `cluster_partition_cache`: partition owners remembered.
    public static let partitionCache = ConfigOption.integer(
        "cluster_partition_cache", default: 100_000, range: 100...10_000_000,
        "chat rooms whose serving node is remembered without asking Redis; past it the memory starts empty again")

    /// `cluster_redis_backlog_bytes`: stanzas for other nodes waiting on Redis.
    public static let redisBacklog = ConfigOption.integer(
        "cluster_redis_backlog_bytes", default: 32 << 20, range: (1 << 20)...(4 << 30),
        "bytes of stanzas for other nodes' sessions written to Redis and not yet answered; past it (Redis slower than the traffic) a stanza is handled as for an unreachable node: a message goes to offline storage, and is delivered when the recipient's node hears of it")

    public var options: [ConfigOption] {
        [Self.redisURL, Self.nodeName, Self.nodeTTL, Self.resyncInterval, Self.redisTimeout, Self.outboxLimit, Self.inboxLimit,
         Self.unacknowledgedLimit, Self.partitionCache, Self.redisBacklog, Self.redisCA, Self.redisCertificate, Self.redisPrivateKey]
    }

    /// Creates the module.
    public init() {}

    /// The cluster settings in `configuration`, `nil` when it sets no `cluster_redis_url`; throws when the URL or the
    /// node name cannot be used.
    public static func settings(in configuration: KernelConfiguration) throws -> ClusterSettings? {
        let url: String = configuration.value(of: redisURL)
        guard !url.isEmpty else { return nil }
        var node: String = configuration.value(of: nodeName)
        if node.isEmpty { node = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "node" }
        guard var settings = ClusterSettings(redisURL: url, node: node, nodeTTL: configuration.value(of: nodeTTL),
                                             resyncInterval: configuration.value(of: resyncInterval)) else {
            throw ClusterStartError(description: "cluster_redis_url must be redis://[USER:PASSWORD@]HOST[:PORT] (or rediss://) and cluster_node letters, digits, '-', '_' or '.' (cluster module)")
        }
        settings.tls?.certificateAuthorities = configuration.value(of: redisCA)
        settings.tls?.certificate = configuration.value(of: redisCertificate)
        settings.tls?.privateKey = configuration.value(of: redisPrivateKey)
        settings.redisTimeout = configuration.value(of: redisTimeout)
        settings.limits.outbox = configuration.value(of: outboxLimit)
        settings.limits.inbox = configuration.value(of: inboxLimit)
        settings.limits.unacknowledgedPerNode = configuration.value(of: unacknowledgedLimit)
        settings.limits.cachedOwners = configuration.value(of: partitionCache)
        settings.limits.redisBacklogBytes = configuration.value(of: redisBacklog)
        return settings
    }

    public func activate(in host: ModuleHost) {
        guard let settings = try? Self.settings(in: host.configuration) else { return }
        let node = ClusterNode(settings: settings, domain: host.configuration.domain)
        host.setClusterLink(node)
        host.addStatistic("cluster_nodes") { _ in node.liveNodes.count }
        host.addStatistic("cluster_remote_sessions") { _ in node.mirroredSessionCount }
    }
}

extension ClusterNode {
    /// How many sessions of other nodes this node mirrors.
    public var mirroredSessionCount: Int {
        state.withLock { $0.mirrors.values.reduce(0) { $0 + $1.count } }
    }
}
