import Dispatch

/// A local store refused a write (disk full, a damaged file, a locked database). Modules report it on their
/// `storageFailures` stream instead of dropping it: the app decides whether to tell the user.
public struct StorageFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was being stored ("roster", "archive", "outbox").
    public var store: String
    /// The store's error.
    public var reason: String

    /// Creates a failure.
    public init(store: String, reason: String) {
        self.store = store
        self.reason = reason
    }

    public var description: String { "cannot write the \(store): \(reason)" }
}

/// Runs a module's writes to its store one after another, in order, on a queue of their own: never on an event loop
/// (a slow disk must not stall the connection), never concurrently. A failed write is published on ``failures``.
final class StorageWriter: Sendable {
    private let store: String
    private let queue: DispatchQueue
    private let published = Broadcast<StorageFailure>(keepingWhileUnsubscribed: 20)

    /// A writer for the store named `store` (in failures and the queue's label).
    init(store: String) {
        self.store = store
        queue = DispatchQueue(label: "xmppclient.storage.\(store)")
    }

    /// Failed writes, as they happen (the last 20 wait for a first subscriber).
    var failures: AsyncStream<StorageFailure> { published.subscribe() }

    /// Queues `write` after the writes queued before it.
    func write(_ write: @escaping @Sendable () throws -> Void) {
        queue.async { [published, store] in
            do {
                try write()
            } catch {
                published.publish(StorageFailure(store: store, reason: "\(error)"))
            }
        }
    }

    /// Returns once every write queued before the call is done.
    func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async { continuation.resume() }
        }
    }
}
