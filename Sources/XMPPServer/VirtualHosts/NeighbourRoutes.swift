import NIOCore
import XMPPCore
import XMPPServerKernel

/// Federation between the domains of one server (virtual hosts): what one domain's users and services send to
/// another's goes straight to that domain's kernel, as if a server-to-server stream had brought it (no connection,
/// no dialback: both ends are this process). Each route (sending domain → receiving domain) keeps its stanzas in
/// order, as a stream would, and holds at most `limit` of them while the receiver's storage works.
final class NeighbourRoutes: Sendable {
    private struct Lane {
        let eventLoop: any EventLoop
        /// Done when the route's last stanza is.
        var last: EventLoopFuture<Void>
        var waiting: Int
    }

    /// Every domain's kernel, the first domain's first.
    private let kernels: [ServerKernel]
    private let group: any EventLoopGroup
    private let limit: Int
    private let lanes = Locked<[Route: Lane]>([:])

    init(kernels: [ServerKernel], group: any EventLoopGroup, limit: Int) {
        self.kernels = kernels
        self.group = group
        self.limit = limit
    }

    /// The kernel of this server's other domain that serves `domain` (as its domain or a hosted service's).
    func neighbour(serving domain: String, besides sender: ServerKernel) -> ServerKernel? {
        kernels.first { $0 !== sender && ($0.configuration.domain == domain || $0.isHostedService(domain)) }
    }

    /// Hands `stanza` (from `from` at the route's local end) to `neighbour`, after what went this route before it.
    /// False when `limit` stanzas wait on the route already: the caller bounces it.
    func deliver(_ stanza: Element, from: JID, to: JID, route: Route, neighbour: ServerKernel) -> Bool {
        let group = group
        let admitted = lanes.withLock { lanes -> (previous: EventLoopFuture<Void>, done: EventLoopPromise<Void>)? in
            var lane = lanes[route] ?? {
                let eventLoop = group.next()
                return Lane(eventLoop: eventLoop, last: eventLoop.makeSucceededVoidFuture(), waiting: 0)
            }()
            guard lane.waiting < limit else { return nil }
            let done = lane.eventLoop.makePromise(of: Void.self)
            let previous = lane.last
            lane.last = done.futureResult
            lane.waiting += 1
            lanes[route] = lane
            return (previous, done)
        }
        guard let (previous, done) = admitted else { return false }
        // Never on the spot: the sender may hold a lock of its own (a room sending to its occupants), and the receiver
        // may answer at once, through this very object, to that sender.
        let eventLoop = done.futureResult.eventLoop
        previous.whenComplete { _ in
            eventLoop.execute {
                let work = neighbour.processFromRemote(stanza, from: from, to: to, eventLoop: eventLoop) ?? eventLoop.makeSucceededVoidFuture()
                work.whenComplete { _ in
                    self.lanes.withLock { $0[route]?.waiting -= 1 }
                    done.succeed()
                }
            }
        }
        return true
    }
}
