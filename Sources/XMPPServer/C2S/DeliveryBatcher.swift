import NIOCore
import XMPPCore
import XMPPTransport

/// Collects the stanzas routed to the sessions of one event loop and writes them in batches: one task on
/// that loop per batch instead of one per stanza, and one flush (one TLS record run, one `write` system call)
/// per connection per batch instead of one per stanza.
///
/// Stanzas may be enqueued from any thread. The first stanza of a batch schedules the drain, which runs on
/// the loop after the I/O events of its current iteration, so a burst of reads becomes a burst of writes.
/// Order is kept per destination: one queue, drained in order.
final class DeliveryBatcher: Sendable {
    private struct Delivery {
        let channel: any Channel
        let element: Element
    }

    let eventLoop: any EventLoop
    /// Bytes a connection may have waiting to be sent before it is closed (``ConnectionLimits/maxOutboundBytes``).
    let maxOutboundBytes: Int
    private let inbox = Locked<[Delivery]>([])
    // Touched only on `eventLoop`, inside `drain`: the spare array and the set of channels to flush, both
    // kept with their capacity so a steady state allocates nothing.
    private let scratch: NIOLoopBoundBox<Scratch>

    private struct Scratch {
        var batch: [Delivery] = []
        var toFlush: [ObjectIdentifier: any Channel] = [:]
    }

    init(eventLoop: any EventLoop, maxOutboundBytes: Int) {
        self.eventLoop = eventLoop
        self.maxOutboundBytes = maxOutboundBytes
        self.scratch = NIOLoopBoundBox.makeBoxSendingValue(Scratch(), eventLoop: eventLoop)
    }

    /// Queues `element` for `channel` (which must belong to ``eventLoop``).
    func deliver(_ element: Element, to channel: any Channel) {
        let isFirst = inbox.withLock { queue in
            queue.append(Delivery(channel: channel, element: element))
            return queue.count == 1
        }
        if isFirst { eventLoop.execute { self.drain() } }
    }

    private func drain() {
        var scratch = self.scratch.value
        self.scratch.value = Scratch()
        inbox.withLock { queue in swap(&queue, &scratch.batch) }
        for delivery in scratch.batch {
            delivery.channel.write(XMPPOutbound.element(delivery.element), promise: nil)
            scratch.toFlush[ObjectIdentifier(delivery.channel)] = delivery.channel
        }
        for channel in scratch.toFlush.values {
            channel.flush()
            // Past the high-water mark the client is not keeping up: past the limit, it is cut off rather than
            // buffered without end (its reading already paused when it became unwritable).
            if !channel.isWritable, let queued = try? channel.syncOptions?.getOption(.bufferedWritableBytes), queued > maxOutboundBytes {
                let error = StreamError(.policyViolation, text: "too much data waiting for you to read")
                channel.pipeline.fireUserInboundEventTriggered(C2SCloseRequest(error: error, immediately: true, mayResume: true))
            }
        }
        scratch.batch.removeAll(keepingCapacity: true)
        scratch.toFlush.removeAll(keepingCapacity: true)
        self.scratch.value = scratch
    }
}

/// The batchers of every event loop of a group, found by loop.
struct DeliveryBatchers: Sendable {
    private let byLoop: [ObjectIdentifier: DeliveryBatcher]

    init(group: any EventLoopGroup, maxOutboundBytes: Int) {
        var byLoop: [ObjectIdentifier: DeliveryBatcher] = [:]
        for loop in group.makeIterator() {
            byLoop[ObjectIdentifier(loop)] = DeliveryBatcher(eventLoop: loop, maxOutboundBytes: maxOutboundBytes)
        }
        self.byLoop = byLoop
    }

    /// The batcher of `eventLoop`, if it belongs to the group.
    func batcher(for eventLoop: any EventLoop) -> DeliveryBatcher? {
        byLoop[ObjectIdentifier(eventLoop)]
    }
}
