import Logging
import NIOCore
import Atomics
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
    /// Stream management and client state, read by every delivery under one lock, so no stanza slips between
    /// enabling stream management and `<enabled/>`, or between going active and the flush.
    private let delivery: Locked<Delivery>
    private let metrics: ServerMetrics?

    private struct Delivery {
        /// Stream management, once the client enabled it: then every stanza goes through it (counted, kept until
        /// acknowledged).
        var management: StreamManagement?
        /// What is held back while the client is inactive (XEP-0352); `nil` while it is active.
        var held: HeldStanzas?
    }

    var eventLoop: any EventLoop { channel.eventLoop }

    init(jid: JID, channel: any Channel, batcher: DeliveryBatcher?, logger: Logger, metrics: ServerMetrics? = nil,
         streamManagement: StreamManagement? = nil) {
        self.metrics = metrics
        self.jid = jid
        self.channel = channel
        self.batcher = batcher
        self.logger = logger
        self.delivery = Locked(Delivery(management: streamManagement))
    }

    /// The session's stream management, if enabled.
    var streamManagement: StreamManagement? { delivery.withLock { $0.management } }

    func deliver(_ element: Element) {
        logger.trace("delivering", metadata: ["to": "\(jid)", "stanza": "\(element)"])
        metrics?.stanzaSent(element)
        delivery.withLock { delivery in
            if delivery.held != nil {
                if delivery.held!.hold(element) { return }
                // Something that matters: what was held goes first.
                for held in delivery.held!.drain() { Self.send(held, through: delivery.management, or: self) }
            }
            Self.send(element, through: delivery.management, or: self)
        }
    }

    private static func send(_ element: Element, through management: StreamManagement?, or session: C2SSession) {
        if let management { management.deliver(element) } else { session.write(element) }
    }

    /// Turns stream management on: `enabled` (the `<enabled/>` answer) is written after everything delivered before,
    /// and every stanza after it is counted.
    func enableStreamManagement(_ streamManagement: StreamManagement, announcing enabled: Element) {
        delivery.withLock { delivery in
            delivery.management = streamManagement
            write(enabled)
        }
    }

    /// The client went inactive (hold back what can wait, at most `limit` stanzas) or active (write what was held).
    func setInactive(_ inactive: Bool, limit: Int) {
        delivery.withLock { delivery in
            if inactive {
                if delivery.held == nil { delivery.held = HeldStanzas(limit: limit) }
            } else if var held = delivery.held {
                delivery.held = nil
                for element in held.drain() { Self.send(element, through: delivery.management, or: self) }
            }
        }
    }

    /// Writes to this session's connection, in delivery order, bypassing stream management.
    func write(_ element: Element) {
        if let batcher {
            batcher.deliver(element, to: channel)
        } else {
            channel.writeAndFlush(XMPPOutbound.element(element), promise: nil)
        }
    }

    /// Closes this session's connection from any thread; with `mayResume`, a stream-managed session may be resumed.
    /// Always later, as a task on the connection's loop: a caller may hold this session's delivery lock, which closing
    /// takes again.
    func closeConnection(_ error: StreamError?, mayResume: Bool) {
        let channel = self.channel
        channel.eventLoop.execute {
            channel.pipeline.fireUserInboundEventTriggered(C2SCloseRequest(error: error, mayResume: mayResume))
        }
    }

    func deliverConfirmed(_ elements: [Element]) async -> Bool {
        guard !elements.isEmpty else { return true }
        // Stream management keeps them until the client acknowledges them, and reroutes them if it never does.
        if let managed = streamManagement {
            for element in elements { managed.deliver(element) }
            return true
        }
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
        // A session waiting for resumption has no connection to close: it ends now (replaced, shut down, removed).
        if let managed = streamManagement, managed.isDetached(self) {
            return managed.end(reason: error.map { .closedByServer($0.condition) } ?? .disconnected)
        }
        channel.pipeline.fireUserInboundEventTriggered(C2SCloseRequest(error: error))
    }
}

/// Asks a c2s connection handler to close its stream, from any thread.
struct C2SCloseRequest: Sendable {
    var error: StreamError?
    /// Close the connection at once instead of waiting for the peer to close its side.
    var immediately = false
    /// Whether a stream-managed session may wait for resumption (the connection failed, rather than the server
    /// deciding the session is over).
    var mayResume = false
}

/// True for the first caller only.
private final class Once: Sendable {
    private let done = ManagedAtomic<Bool>(false)

    func claim() -> Bool { !done.exchange(true, ordering: .acquiringAndReleasing) }
}
