import NIOCore
import XMPPCore
import XMPPServerKernel
import XMPPTransport

/// The stanzas for one ready outgoing stream, written in batches: queued from any event loop (the senders' c2s
/// loops), written on the stream's own loop with one flush per batch — one TLS record run and one `write` system call
/// for a burst, instead of one per stanza and a task per stanza on the stream's loop.
final class OutgoingBatch: Sendable {
    let channel: any Channel
    private let inbox = Locked<[Element]>([])
    /// Answers the local sender of a stanza that could not be written.
    private let bounce: @Sendable (Element, StanzaError) -> Void

    /// A batch for `channel` that starts with `waiting` (what was queued while the stream was set up); ``start()``
    /// writes it.
    init(channel: any Channel, waiting: [Element], bounce: @escaping @Sendable (Element, StanzaError) -> Void) {
        self.channel = channel
        self.bounce = bounce
        inbox.withLock { $0 = waiting }
    }

    /// Writes what waited, if anything.
    func start() {
        channel.eventLoop.execute { self.drain() }
    }

    /// Queues a kernel stanza (`jabber:client`); the first of a batch schedules the write. False when `limit` wait
    /// already (the stream's loop does not keep up).
    func enqueue(_ stanza: Element, limit: Int) -> Bool {
        let (accepted, isFirst) = inbox.withLock { queue -> (Bool, Bool) in
            guard queue.count < limit else { return (false, false) }
            queue.append(stanza)
            return (true, queue.count == 1)
        }
        if isFirst { channel.eventLoop.execute { self.drain() } }
        return accepted
    }

    private func drain() {
        let batch = inbox.withLock { queue -> [Element] in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        guard !batch.isEmpty else { return }
        let lost = StanzaError(.remoteServerTimeout, text: "the stream to the remote server closed")
        for stanza in batch {
            guard channel.isActive else {
                bounce(stanza, lost)
                continue
            }
            let written = channel.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenFailure { [bounce] _ in bounce(stanza, lost) }
            channel.write(XMPPOutbound.element(stanza.replacingNamespace(XMLNamespace.client, with: XMLNamespace.server)), promise: written)
        }
        channel.flush()
    }
}
