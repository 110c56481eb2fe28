import Foundation
import XMPPCore

// The outbox and delivery statuses: a message goes out at once when online, waits in the outbox otherwise (sent in
// order when a session starts), and moves through queued, sent, acknowledged, delivered, read or failed.
extension ChatModule {
    /// What is known of the messages sent in this process, and of the ones received.
    struct Tracking {
        var sent: [String: (to: JID, status: DeliveryStatus)] = [:]
        var order: [String] = []
        var flushing: Task<Void, Never>?
        /// Origin ids (XEP-0359) of recent incoming messages, by sender: a copy sent again after a lost session is
        /// recognized and dropped.
        var seen: Set<String> = []
        var seenOrder: [String] = []
    }

    /// Writes `element` (a message with id `id`) when online, otherwise puts it in the outbox.
    func deliver(_ element: Element, id: String, to: JID) async throws {
        let client = try self.client.require()
        let account = client.configuration.jid.bare
        let (online, flushing) = (client.connectionState.isOnline, tracking.withLock { $0.flushing != nil })
        if online && !flushing {
            do {
                track(id, to: to)
                try await client.send(element)
                advance(id, to: .sent, stanza: element)
                return
            } catch XMPPClientError.notConnected where queuesWhileOffline {
                // The session ended in between: the outbox takes it.
            }
        }
        guard queuesWhileOffline else { throw XMPPClientError.notConnected }
        guard try outbox.queued(account: account).count < outboxLimit else {
            throw XMPPClientError.unexpectedResponse("the outbox is full (\(outboxLimit) messages wait for a connection)")
        }
        try outbox.enqueue(QueuedMessage(account: account, id: id, stanza: element))
        track(id, to: to)
        advance(id, to: .queued, stanza: element)
        // Online but emptying the outbox: this one goes after the older ones.
        if online { await flushOutbox() }
    }

    /// Sends what waits in the outbox, oldest first; one pass at a time, again until nothing is left that a session
    /// could take.
    public func flushOutbox() async {
        for _ in 0..<2 {
            let pass = tracking.withLock { tracking -> Task<Void, Never> in
                if let running = tracking.flushing { return running }
                let task = Task { [weak self] in
                    await self?.drainOutbox()
                    self?.tracking.withLock { $0.flushing = nil }
                }
                tracking.flushing = task
                return task
            }
            await pass.value
        }
    }

    func drainOutbox() async {
        guard let client = client.value else { return }
        let account = client.configuration.jid.bare
        // Runs from the session start, before the client reports itself online: sending is what tells.
        var sent: Set<String> = []
        while let next = (try? outbox.queued(account: account))?.first, !sent.contains(next.id) {
            sent.insert(next.id)   // an outbox that cannot remove must not make this send it again and again
            do {
                try await client.send(next.stanza)
            } catch {
                return   // the session ended: the message stays queued for the next one
            }
            try? outbox.remove(id: next.id, account: account)
            if let to = next.stanza.attribute("to").flatMap({ JID(validating: $0) }) { track(next.id, to: to) }
            advance(next.id, to: .sent, stanza: next.stanza)
        }
    }

    func track(_ id: String, to: JID) {
        tracking.withLock { tracking in
            guard tracking.sent[id] == nil else { return }
            tracking.sent[id] = (to, .queued)
            tracking.order.append(id)
            while tracking.order.count > Self.trackedLimit { tracking.sent[tracking.order.removeFirst()] = nil }
        }
    }

    /// Moves message `id` forward to `status` (never back; a failure ends it), and tells the app and the modules.
    func advance(_ id: String, to status: DeliveryStatus, stanza: Element? = nil) {
        let update = tracking.withLock { tracking -> DeliveryUpdate? in
            guard let known = tracking.sent[id], known.status < status || (status == .queued && known.status == .queued),
                  known.status.rank < DeliveryStatus.failed(condition: "").rank else { return nil }
            tracking.sent[id] = (known.to, status)
            return DeliveryUpdate(messageID: id, to: known.to, status: status)
        }
        guard let update, let client = client.value else { return }
        // The modules first (the archive queues its write), so an app that hears of it can find it stored.
        for module in client.modules { module.deliveryStatusChanged(update, stanza: stanza, client: client) }
        statusUpdates.publish(update)
    }
}
