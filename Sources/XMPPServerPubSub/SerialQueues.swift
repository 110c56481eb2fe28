import XMPPCore

/// Runs work one at a time per key (a PEP account, a service), in the order it was asked for, while different keys
/// run side by side. Each piece of work reads, changes and writes back what it owns, so two requests for the same
/// owner never lose each other's change. (An actor would not do: it lets the next request in while one awaits
/// storage.) Keys are forgotten when their queue empties.
final class SerialQueues: Sendable {
    private let tails = Locked<[String: Task<Void, Never>]>([:])

    func run<Result: Sendable>(_ key: String, _ work: @escaping @Sendable () async throws -> Result) async throws -> Result {
        let (task, tail) = tails.withLock { tails -> (Task<Result, any Error>, Task<Void, Never>) in
            let previous = tails[key]
            let task = Task {
                await previous?.value
                return try await work()
            }
            let tail = Task { _ = try? await task.value }
            tails[key] = tail
            return (task, tail)
        }
        defer {
            Task {
                await tail.value
                self.tails.withLock { if $0[key] == tail { $0[key] = nil } }
            }
        }
        return try await task.value
    }

    /// How many keys have work queued or running (for tests of the clean-up).
    var activeKeys: Int { tails.withLock { $0.count } }
}
