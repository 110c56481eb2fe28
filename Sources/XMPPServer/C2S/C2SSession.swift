import Logging
import NIOCore
import Synchronization
import XMPPCore
import XMPPServerKernel
import XMPPTransport

/// A bound client session: the kernel's handle on one c2s connection. Thread-safe; writes go through the
/// channel, which hops to its event loop.
final class C2SSession: ClientSession {
    let jid: JID
    let channel: any Channel
    let logger: Logger
    /// The batcher of the channel's event loop; `nil` only when the server's group could not list its loops,
    /// and then each stanza is written and flushed on its own.
    private let batcher: DeliveryBatcher?

    var eventLoop: any EventLoop { channel.eventLoop }

    init(jid: JID, channel: any Channel, batcher: DeliveryBatcher?, logger: Logger) {
        self.jid = jid
        self.channel = channel
        self.batcher = batcher
        self.logger = logger
    }

    func deliver(_ element: Element) {
        logger.trace("delivering", metadata: ["to": "\(jid)", "stanza": "\(element)"])
        if let batcher {
            batcher.deliver(element, to: channel)
        } else {
            channel.writeAndFlush(XMPPOutbound.element(element), promise: nil)
        }
    }

    func deliverConfirmed(_ elements: [Element]) async -> Bool {
        guard !elements.isEmpty else { return true }
        let channel = self.channel
        let written = channel.eventLoop.flatSubmit {
            let writes = elements.map { channel.write(XMPPOutbound.element($0)) }
            channel.flush()
            return EventLoopFuture.andAllSucceed(writes, on: channel.eventLoop)
        }
        // A client that stops reading never completes the writes: after 30 s they count as failed (the messages are
        // kept), and the connection is the outbound cap's and the idle timeout's business.
        return await withCheckedContinuation { continuation in
            let once = Once()
            let deadline = channel.eventLoop.scheduleTask(in: .seconds(30)) {
                if once.claim() { continuation.resume(returning: false) }
            }
            written.whenComplete { result in
                deadline.cancel()
                if once.claim() { continuation.resume(returning: (try? result.get()) != nil) }
            }
        }
    }

    func close(with error: StreamError?) {
        channel.pipeline.fireUserInboundEventTriggered(C2SCloseRequest(error: error))
    }
}

/// Asks a c2s connection handler to close its stream, from any thread.
struct C2SCloseRequest: Sendable {
    var error: StreamError?
    /// Close the connection at once instead of waiting for the peer to close its side.
    var immediately = false
}

/// True for the first caller only.
private final class Once: Sendable {
    private let done = Atomic<Bool>(false)

    func claim() -> Bool { !done.exchange(true, ordering: .acquiringAndReleasing) }
}
