import NIOCore
import XMPPCore
import XMPPServerKernel

/// Federation between the domains of one server (virtual hosts): what one domain's users and services send to
/// another's goes straight to that domain's kernel, as if a server-to-server stream had brought it (no connection,
/// no dialback: both ends are this process). Each sender's stanzas stay in order (a user's, a room's), as on a stream;
/// different senders do not wait for each other. A route (sending domain → receiving domain) holds at most `limit`
/// stanzas while the receiver's storage works.
final class NeighbourRoutes: Sendable {
    /// One sender's stanzas on one route, in order.
    private struct Lane {
        let eventLoop: any EventLoop
        /// Done when the lane's last stanza is.
        var last: EventLoopFuture<Void>
        var waiting: Int
    }

    private struct LaneKey: Hashable {
        let route: Route
        let sender: JID
    }

    private struct State {
        /// Only lanes with stanzas under way: a lane goes when its last stanza is done.
        var lanes: [LaneKey: Lane] = [:]
        /// Stanzas under way per route.
        var waiting: [Route: Int] = [:]
    }

    /// Every domain's kernel, the first domain's first.
    private let kernels: [ServerKernel]
    private let group: any EventLoopGroup
    private let limit: Int
    private let state = Locked(State())

    init(kernels: [ServerKernel], group: any EventLoopGroup, limit: Int) {
        self.kernels = kernels
        self.group = group
        self.limit = limit
    }

    /// The kernel of this server's other domain that serves `domain` (as its domain or a hosted service's).
    func neighbour(serving domain: String, besides sender: ServerKernel) -> ServerKernel? {
        kernels.first { $0 !== sender && ($0.configuration.domain == domain || $0.isHostedService(domain)) }
    }

    /// Hands `stanza` (from `from` at the route's local end) to `neighbour`, after what `from` (its bare JID) sent on
    /// this route before. False when `limit` stanzas wait on the route already: the caller bounces it.
    func deliver(_ stanza: Element, from: JID, to: JID, route: Route, neighbour: ServerKernel) -> Bool {
        let key = LaneKey(route: route, sender: from.bare)
        let group = group
        let admitted = state.withLock { state -> (previous: EventLoopFuture<Void>, done: EventLoopPromise<Void>)? in
            guard state.waiting[route, default: 0] < limit else { return nil }
            var lane = state.lanes[key] ?? {
                let eventLoop = group.next()
                return Lane(eventLoop: eventLoop, last: eventLoop.makeSucceededVoidFuture(), waiting: 0)
            }()
            let done = lane.eventLoop.makePromise(of: Void.self)
            let previous = lane.last
            lane.last = done.futureResult
            lane.waiting += 1
            state.lanes[key] = lane
            state.waiting[route, default: 0] += 1
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
                    self.finished(key)
                    done.succeed()
                }
            }
        }
        return true
    }

    private func finished(_ key: LaneKey) {
        state.withLock { state in
            let remaining = (state.waiting[key.route] ?? 1) - 1
            state.waiting[key.route] = remaining > 0 ? remaining : nil
            guard var lane = state.lanes[key] else { return }
            lane.waiting -= 1
            state.lanes[key] = lane.waiting > 0 ? lane : nil
        }
    }

    /// Lanes with stanzas under way (for tests: they do not pile up).
    var laneCount: Int { state.withLock { $0.lanes.count } }
}
