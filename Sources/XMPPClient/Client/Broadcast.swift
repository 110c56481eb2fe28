import XMPPCore

/// Hands each value to every current subscriber, each through its own `AsyncStream`, in order. A subscriber
/// that stops iterating is forgotten. Values published before a subscription are not replayed, except that a
/// broadcast made with `keepingWhileUnsubscribed` keeps (up to that many, the newest) values published while it had no
/// subscriber at all and hands them to the next one, so that what arrives during `connect()` is not lost to an app
/// that subscribes after it.
final class Broadcast<Value: Sendable>: Sendable {
    private struct State {
        var next = 0
        var continuations: [Int: AsyncStream<Value>.Continuation] = [:]
        var finished = false
        var kept: [Value] = []
    }

    private let subscribers = Locked(State())
    private let keepLimit: Int

    /// Creates a broadcast that keeps up to `keepingWhileUnsubscribed` values for a first subscriber (0: none).
    init(keepingWhileUnsubscribed keepLimit: Int = 0) {
        self.keepLimit = keepLimit
    }

    /// A new subscription. The stream buffers without bound: event streams must not drop messages.
    func subscribe() -> AsyncStream<Value> {
        let (stream, continuation) = AsyncStream<Value>.makeStream()
        let key: Int? = subscribers.withLock { state in
            guard !state.finished else { return nil }
            state.next += 1
            state.continuations[state.next] = continuation
            // Yielded under the lock, so nothing published meanwhile overtakes them.
            for value in state.kept { continuation.yield(value) }
            state.kept = []
            return state.next
        }
        guard let key else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.continuations.removeValue(forKey: key) }
        }
        return stream
    }

    /// Gives `value` to every subscriber (or keeps it, when there is none and the broadcast keeps values).
    func publish(_ value: Value) {
        let continuations = subscribers.withLock { state -> [AsyncStream<Value>.Continuation] in
            if state.continuations.isEmpty && keepLimit > 0 && !state.finished {
                state.kept.append(value)
                if state.kept.count > keepLimit { state.kept.removeFirst(state.kept.count - keepLimit) }
            }
            return Array(state.continuations.values)
        }
        for continuation in continuations { continuation.yield(value) }
    }

    /// Ends every subscription, and refuses new ones.
    func finish() {
        let continuations = subscribers.withLock { state in
            state.finished = true
            state.kept = []
            defer { state.continuations = [:] }
            return Array(state.continuations.values)
        }
        for continuation in continuations { continuation.finish() }
    }
}
