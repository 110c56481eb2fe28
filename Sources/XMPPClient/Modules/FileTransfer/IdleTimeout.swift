import XMPPCore

/// Runs `body`, cancelling it with ``FileTransferError/transferFailed(_:)`` when it goes `idle` without calling the
/// `touch` it is given (no byte moved: a peer or proxy that stalls).
func withIdleTimeout<T: Sendable>(_ idle: Duration,
                                  _ body: @escaping @Sendable (_ touch: @escaping @Sendable () -> Void) async throws -> T) async throws -> T {
    let lastActivity = Locked(ContinuousClock.now)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body { lastActivity.withLock { $0 = .now } } }
        group.addTask {
            while true {
                try await Task.sleep(for: min(idle, .seconds(1)))
                if ContinuousClock.now - lastActivity.withLock({ $0 }) > idle {
                    throw FileTransferError.transferFailed("nothing moved for \(idle)")
                }
            }
        }
        defer { group.cancelAll() }
        guard let value = try await group.next() ?? nil else { throw CancellationError() }
        return value
    }
}
