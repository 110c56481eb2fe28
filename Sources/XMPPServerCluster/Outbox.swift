/// The commands a node sends to Redis about its own sessions, in the order they were queued, sent by one task a
/// batch at a time. Bounded: when Redis is slower than the changes pile up, the newest are refused (the caller logs
/// it; the periodic directory read repairs what was missed).
final class Outbox: Sendable {
    private let stream: AsyncStream<[[String]]>
    private let continuation: AsyncStream<[[String]]>.Continuation

    /// An outbox holding at most `limit` batches not yet sent.
    init(limit: Int) {
        (stream, continuation) = AsyncStream.makeStream(of: [[String]].self, bufferingPolicy: .bufferingOldest(limit))
    }

    /// Queues commands to go together, in order; `false` when the outbox is full or closed.
    func add(_ commands: [[String]]) -> Bool {
        if case .enqueued = continuation.yield(commands) { return true }
        return false
    }

    /// Runs `send` for each batch in order until the outbox is closed (one reader).
    func drain(_ send: ([[String]]) async -> Void) async {
        for await batch in stream { await send(batch) }
    }

    /// Stops the outbox: what is queued is still handed to ``drain(_:)``, then it returns.
    func close() {
        continuation.finish()
    }
}
