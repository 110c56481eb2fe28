import XMPPCore

/// Runs read-change-write edits of stored per-user documents one at a time, so two resources editing at once never
/// lose an update (a blocklist, the private storage index). Such edits are rare; one queue per module is plenty.
/// (An actor would not do: it lets the next edit in while the current one awaits storage.)
final class SerialEditor: Sendable {
    private let tail = Locked<Task<Void, Never>?>(nil)

    func edit<Result: Sendable>(_ change: @escaping @Sendable () async throws -> Result) async throws -> Result {
        let task = tail.withLock { tail -> Task<Result, any Error> in
            let previous = tail
            let task = Task {
                await previous?.value
                return try await change()
            }
            tail = Task { _ = try? await task.value }
            return task
        }
        return try await task.value
    }
}
