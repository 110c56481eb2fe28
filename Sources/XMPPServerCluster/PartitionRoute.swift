import Logging
import NIOCore
import XMPPCore
import XMPPServerKernel

/// A partitioned service (chat rooms) as a cluster node routes to it: a stanza for a partition another node serves
/// goes to that node; one for a partition this node serves (or takes over now) is handled here.
final class PartitionRoute: RoutedService {
    let service: any PartitionedService
    private let cluster: ClusterNode

    init(_ service: any PartitionedService, cluster: ClusterNode) {
        self.service = service
        self.cluster = cluster
    }

    var routedService: any HostedService { service }
    var domain: String { service.domain }
    var displayName: String { service.displayName }
    var presenceIsOnePerBareJID: Bool { service.presenceIsOnePerBareJID }
    func shutDown(kernel: ServerKernel) { service.shutDown(kernel: kernel) }

    func receive(_ stanza: Element, to: JID, kernel: ServerKernel, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        guard let partition = service.partition(of: to) else {
            return service.receive(stanza, to: to, kernel: kernel, eventLoop: eventLoop)
        }
        // The usual case: the owner is known (and, if it is this node, the partition adopted); no Redis round trip, and
        // a forward to another node keeps the order of the calls.
        switch cluster.knownOwner(of: partition, in: domain) {
        case .this?:
            return serveHere(stanza, to: to, kernel: kernel, eventLoop: eventLoop)
        case .other(let node)?:
            let promise = eventLoop.makePromise(of: Void.self)
            cluster.forwardToPartition(stanza, to: to, on: node) { [self] received in
                guard !received else { return promise.succeed() }
                // Not received: the node is gone. Looked up again, and claimed if need be.
                cluster.forgetOwner(of: partition, in: domain)
                promise.completeWithTask {
                    try? await self.cluster.refreshMembership()
                    try await self.receive(stanza, to: to, kernel: kernel, eventLoop: eventLoop)?.get()
                }
            }
            return promise.futureResult
        case nil:
            break
        }
        return eventLoop.makeFutureWithTask { [self] in
            // Twice at most: a node that does not receive the stanza is gone, and the partition is claimed again.
            for _ in 0..<2 {
                let owner: String
                do {
                    owner = try await cluster.owner(of: partition, in: domain)
                } catch {
                    kernel.logger.error("the cluster cannot tell which node serves a room", metadata: ["to": "\(to)", "error": "\(error)"])
                    kernel.bounceToSender(stanza, StanzaError(.internalServerError, text: "the cluster is not reachable"))
                    return
                }
                if owner == cluster.nodeName {
                    try await serveHere(stanza, to: to, kernel: kernel, eventLoop: eventLoop)?.get()
                    return
                }
                if await cluster.forwardToPartition(stanza, to: to, on: owner) { return }
                cluster.forgetOwner(of: partition, in: domain)
                try? await cluster.refreshMembership()
            }
            kernel.bounceToSender(stanza, StanzaError(.remoteServerTimeout, text: "the node serving this room is not reachable"))
        }
    }

    /// Hands a stanza to the service on this node, which adopts the partition first if it did not serve it yet (every
    /// stanza that comes meanwhile waits for that). A partition the service does not hold afterwards (no such room, or
    /// it was destroyed) is released, so Redis keeps owners only of what exists.
    func serveHere(_ stanza: Element, to: JID, kernel: ServerKernel, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        guard let partition = service.partition(of: to) else {
            return service.receive(stanza, to: to, kernel: kernel, eventLoop: eventLoop)
        }
        let service = self.service
        guard let adoption = cluster.adoption(of: partition, in: domain, { await service.adopt(partition, kernel: kernel) }) else {
            // Adopted already: straight to the service, as on a server of its own.
            guard let done = service.receive(stanza, to: to, kernel: kernel, eventLoop: eventLoop) else {
                releaseIfGone(partition)
                return nil
            }
            return done.map { self.releaseIfGone(partition) }
        }
        return eventLoop.makeFutureWithTask { [self] in
            await adoption.value
            try await service.receive(stanza, to: to, kernel: kernel, eventLoop: eventLoop)?.get()
            releaseIfGone(partition)
        }
    }

    /// Gives the partition up when the service does not hold it (rare: a room that does not exist, or no longer).
    private func releaseIfGone(_ partition: String) {
        guard !service.holds(partition) else { return }
        Task { await cluster.release(partition, in: domain) }
    }
}

extension ClusterNode {
    public func routing(_ service: any HostedService) -> any HostedService {
        guard let partitioned = service as? any PartitionedService else { return service }
        return PartitionRoute(partitioned, cluster: self)
    }
}
