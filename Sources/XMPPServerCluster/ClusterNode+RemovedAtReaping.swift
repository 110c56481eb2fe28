import Logging
import RedisClient
import XMPPCore
import XMPPServerKernel

// Coming back after the other nodes took this one for gone: what their services did with this node's sessions.
extension ClusterNode {
    /// When the others reaped this node, the rooms they serve removed its sessions
    /// (``PartitionedService/sessionsLost(_:kernel:eventLoop:)``), and the clients, whose node had stopped, were not
    /// told: they would take themselves for occupants of rooms that no longer count them in. Each such session leaves
    /// the room for good (an unavailable presence routed to whichever node serves it now: one that still counts it in,
    /// because it had heard this node was back, drops it too) and its client is told
    /// (``PartitionedService/tellRemoved(_:from:kernel:)``), so it can join again. Rooms this node still serves kept
    /// their occupants and are left as they are.
    func forgetMembershipsRemovedAtReaping() async {
        guard let kernel, let commands else { return }
        let services = kernel.hostedServices.compactMap { $0 as? any PartitionedService }
        guard !services.isEmpty else { return }
        var memberships: [(session: any ClientSession, service: any PartitionedService, addressee: JID, key: String)] = []
        for session in kernel.registry.allSessions() where session.clusterNode == nil {
            guard let entry = kernel.registry.entry(session.jid), entry.session === session else { continue }
            // Occupant JIDs only (room@service/nick): a bare room JID is remembered for a join the room may have refused.
            for addressee in entry.directedPresence where addressee.resourcepart != nil {
                guard let service = services.first(where: { $0.domain == addressee.domainpart }),
                      let partition = service.partition(of: addressee) else { continue }
                memberships.append((session, service, addressee, service.domain + "|" + partition))
            }
        }
        guard !memberships.isEmpty else { return }
        let owners: [RESPValue]
        do {
            owners = try await commands.pipeline(memberships.map { ["HGET", keys.owners, $0.key] })
        } catch {
            logger.warning("after this node was taken for gone, its users' room memberships could not be checked; clients find out when they next speak there",
                           metadata: ["error": "\(error)"])
            return
        }
        var told = 0
        for (membership, owner) in zip(memberships, owners) where owner.string != nodeName {
            // Also forgets the addressee in the session's directed presence.
            let leaving = Element("presence", namespace: XMLNamespace.client,
                                  attributes: ["type": "unavailable", "to": membership.addressee.description])
            _ = kernel.process(leaving, from: membership.session)
            membership.service.tellRemoved(membership.session, from: membership.addressee, kernel: kernel)
            told += 1
        }
        if told > 0 { logger.notice("sessions told they left rooms served elsewhere while this node was taken for gone", metadata: ["count": "\(told)"]) }
    }
}
