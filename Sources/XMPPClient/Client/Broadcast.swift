import Synchronization

/// Hands each value to every current subscriber, each through its own `AsyncStream`, in order. A subscriber
/// that stops iterating is forgotten. Values published before a subscription are not replayed.
final class Broadcast<Value: Sendable>: Sendable {
    private let subscribers = Mutex<(next: Int, continuations: [Int: AsyncStream<Value>.Continuation], finished: Bool)>((0, [:], false))

    /// A new subscription. The stream buffers without bound: event streams must not drop messages.
    func subscribe() -> AsyncStream<Value> {
        let (stream, continuation) = AsyncStream<Value>.makeStream()
        let key: Int? = subscribers.withLock { state in
            guard !state.finished else { return nil }
            state.next += 1
            state.continuations[state.next] = continuation
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

    /// Gives `value` to every subscriber.
    func publish(_ value: Value) {
        let continuations = subscribers.withLock { Array($0.continuations.values) }
        for continuation in continuations { continuation.yield(value) }
    }

    /// Ends every subscription, and refuses new ones.
    func finish() {
        let continuations = subscribers.withLock { state in
            state.finished = true
            defer { state.continuations = [:] }
            return Array(state.continuations.values)
        }
        for continuation in continuations { continuation.finish() }
    }
}
