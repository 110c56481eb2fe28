import NIOCore
import XMPPCore

/// How the kernel of one node of a cluster keeps the other nodes informed (the cluster module, XMPPServerCluster,
/// implements it over Redis). Every node shares storage; what is in memory is shared through this link:
///
/// - the node's own sessions (bound, presence and priority, the module state marked shared, ended), which the other
///   nodes mirror in their ``SessionRegistry`` as sessions whose ``ClientSession/clusterNode`` names this node, so
///   that routing, presence and carbons treat every resource of an account alike wherever it is connected;
/// - changes to per-account data that modules cache (``ServerKernel/announceAccountDataChange(_:topic:)``);
/// - stanzas to hosted services split into partitions (chat rooms), which one node at a time serves: the link wraps
///   each such service with ``routing(_:)`` so that stanzas reach the node serving the partition.
///
/// The kernel calls the session methods for sessions of this node only, on the thread the change happened on; they
/// must not block.
public protocol ClusterLink: Sendable {
    /// A session of this node was registered under its full JID.
    func sessionBound(_ session: any ClientSession)
    /// A session of this node sent broadcast presence: `presence` is its available presence (no `to`), `nil` once
    /// unavailable; `priority` as RFC 6121 §4.7.2.3 reads it.
    func presenceChanged(of session: any ClientSession, presence: Element?, priority: Int)
    /// A module changed a value under a shared ``SessionKey`` (`value` in its text form, `nil` when removed).
    func sharedStateChanged(of session: any ClientSession, key: String, value: String?)
    /// A session of this node left the registry.
    func sessionEnded(_ session: any ClientSession)
    /// Cached per-account data changed here: the other nodes run their ``ModuleHost/onAccountDataChanged(_:)`` hooks.
    func accountDataChanged(_ username: String, topic: String)
    /// The service as the kernel routes to it: for a ``PartitionedService``, one that hands each stanza to the node
    /// serving its partition; other services are returned as they are.
    func routing(_ service: any HostedService) -> any HostedService
    /// Joins the cluster (connects, publishes this node, loads the other nodes' sessions) before anything listens.
    func start(kernel: ServerKernel) async throws
    /// Leaves the cluster: this node's sessions are withdrawn; called after they were closed.
    func stop() async
}

/// A hosted service whose entities are split into partitions (a chat service's rooms), each served by one node of a
/// cluster at a time: stanzas to an entity go to the node serving its partition, which holds the entity's state in
/// memory; what persists is in the shared storage, so another node can take a partition over.
public protocol PartitionedService: HostedService {
    /// The partition of an addressee on the service's domain (a room's name), or `nil` when any node may answer it
    /// (the service's domain itself: disco, the room list).
    func partition(of to: JID) -> String?
    /// This node serves `partition` from now on: anything kept of it in memory that nobody is using is dropped, so the
    /// next stanza reads it from storage as the previous node left it.
    func adopt(_ partition: String, kernel: ServerKernel) async
    /// Sessions of a node that stopped without saying so: they are removed from whatever they were in (occupants
    /// leave their rooms), as if they had sent unavailable presence.
    func sessionsLost(_ sessions: Set<JID>, kernel: ServerKernel, eventLoop: any EventLoop)
    /// Whether the service holds `partition` now (a room that exists): one it does not hold is given up, so that the
    /// cluster records owners only of what exists.
    func holds(_ partition: String) -> Bool
    /// `session` is of this node, which the others took for gone while it had stopped answering: the node serving
    /// `addressee` (an entity the session had sent presence to) removed the session then
    /// (``sessionsLost(_:kernel:eventLoop:)``) and could not tell the client. Tell it now (a chat service: the room's
    /// unavailable self-presence, status 332). Nothing by default.
    func tellRemoved(_ session: any ClientSession, from addressee: JID, kernel: ServerKernel)
}

extension PartitionedService {
    public func tellRemoved(_ session: any ClientSession, from addressee: JID, kernel: ServerKernel) {}
}

/// A service as routed by a cluster link, with the service it routes to.
public protocol RoutedService: HostedService {
    /// The service itself.
    var routedService: any HostedService { get }
}

/// Runs on the other nodes of a cluster when an account's cached data of `topic` changed on one (`username` is the
/// localpart): the module that caches it forgets its copy.
public typealias AccountDataChangedHook = @Sendable (_ username: String, _ topic: String, ServerKernel) -> Void

extension ModuleHost {
    /// Connects this server to the other nodes of a cluster through `link` (one per kernel).
    public func setClusterLink(_ link: any ClusterLink) {
        precondition(clusterLink == nil, "two modules link the server to a cluster")
        clusterLink = link
    }

    /// Runs `hook` when an account's cached data changed on another node of the cluster.
    public func onAccountDataChanged(_ hook: @escaping AccountDataChangedHook) {
        hooks.accountDataChanged.add(hook, priority: .normal)
    }
}

extension ServerKernel {
    /// Whether this server is one node of a cluster.
    public var isClustered: Bool { clusterLink != nil }

    /// Tells the other nodes of the cluster, if any, that `username`'s cached data of `topic` changed: a module that
    /// caches per-account data read from the shared storage calls it after writing (and updates its own copy); the
    /// other nodes' ``ModuleHost/onAccountDataChanged(_:)`` hooks forget theirs.
    public func announceAccountDataChange(_ username: String, topic: String) {
        clusterLink?.accountDataChanged(username, topic: topic)
    }

    /// Runs this node's account-data hooks for a change another node made (the cluster link calls it).
    public func accountDataChangedElsewhere(_ username: String, topic: String) {
        for hook in hooks.accountDataChanged.hooks { hook(username, topic, self) }
    }

    /// Delivers a stanza routed to `jid` through the cluster: another node's for a session of this one, or this node's
    /// own when the session's node could not take it. When the session is not here (it ended,
    /// moved, or its node is gone), a message goes to the account's other available resources on this node, or to
    /// offline storage, whose announcement makes the node of any other available resource deliver it; an IQ request
    /// gets `service-unavailable`; the rest is dropped, as for a session that just ended.
    ///
    /// Never to another node's resources: when one node could not be reached (Redis away or behind), neither can the
    /// next, and a message handed from one to the other would go round without end instead of being stored.
    public func deliverFromCluster(_ element: Element, to jid: JID, eventLoop: any EventLoop) {
        if let entry = registry.entry(jid), entry.session.clusterNode == nil {
            entry.session.deliver(element)
            return
        }
        switch element.name {
        case "message":
            let type = element.attribute("type")
            guard type == nil || type == "chat" || type == "normal" else { return }
            // As for a full JID that is offline (RFC 6121 §8.5.3.2.1): the account's other available resources, else
            // offline storage. Already archived and copied where it was first routed: a redelivery.
            let others = registry.entries(of: jid.bare).filter { entry in
                entry.isAvailable && entry.priority >= 0 && entry.session.clusterNode == nil
            }
            guard !others.isEmpty else {
                _ = run(on: eventLoop) { await self.messageUndeliverable(element, to: jid.bare, redelivery: true) }
                return
            }
            for entry in others {
                if let filtered = filterInbound(element, to: entry.session.jid, redelivery: true) { entry.session.deliver(filtered) }
            }
        case "iq":
            if let type = element.attribute("type"), type == "get" || type == "set" {
                bounceToSender(element, StanzaError(.serviceUnavailable))
            }
        default:
            return
        }
    }
}
