import NIOCore
import XMPPCore
import XMPPServerKernel

// The pubsub service on a cluster (``PartitionedService``): its nodes are one partition, served by one node of the
// cluster at a time, so changes to them never race between nodes; another node takes over from storage.
extension PubSubService: PartitionedService {
    /// Every stanza to the service belongs to its one partition.
    public func partition(of to: JID) -> String? {
        "nodes"
    }

    /// Forgets the nodes kept in memory: the next request reads them as the previous node stored them.
    public func adopt(_ partition: String, kernel: ServerKernel) async {
        store(kernel).forget(domain)
    }

    /// The one partition always exists.
    public func holds(_ partition: String) -> Bool { true }

    /// Subscriptions do not depend on sessions: nothing to do.
    public func sessionsLost(_ sessions: Set<JID>, kernel: ServerKernel, eventLoop: any EventLoop) {}
}
