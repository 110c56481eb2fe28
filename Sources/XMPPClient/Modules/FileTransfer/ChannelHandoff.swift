import NIOCore
import XMPPCore

/// Hands one bytestream connection from the code that made it (a streamhost that accepted it, an offer answered) to the
/// transfer that waits for it. A NIOAsyncChannel must be run (`executeThenClose`) by whoever ends up with it: the one
/// that arrives when nobody waits any more, or a second one, is run empty here and so closed.
final class ChannelHandoff: Sendable {
    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    private enum State {
        case empty
        case waiting(CheckedContinuation<Connection, any Error>)
        case holding(Connection)
        case done
    }

    private let state = Locked(State.empty)

    /// Gives `connection` to the transfer; false (and it is closed) when one was given already or the handoff ended.
    @discardableResult
    func offer(_ connection: Connection) -> Bool {
        let waiter = state.withLock { state -> (CheckedContinuation<Connection, any Error>?, Bool) in
            switch state {
            case .empty:
                state = .holding(connection)
                return (nil, true)
            case .waiting(let continuation):
                state = .done
                return (continuation, true)
            case .holding, .done:
                return (nil, false)
            }
        }
        if let continuation = waiter.0 { continuation.resume(returning: connection) }
        if !waiter.1 { Self.discard(connection) }
        return waiter.1
    }

    /// Ends the handoff with `error` for a transfer still waiting.
    func fail(_ error: any Error) {
        let previous = state.withLock { state -> State in
            defer { state = .done }
            return state
        }
        switch previous {
        case .waiting(let continuation): continuation.resume(throwing: error)
        case .holding(let connection): Self.discard(connection)
        case .empty, .done: break
        }
    }

    /// The connection, once given; fails after `timeout` (and a later one is closed).
    func take(timeout: Duration) async throws -> Connection {
        let alarm = Task { [weak self] in
            try await Task.sleep(for: timeout)
            self?.fail(FileTransferError.transferFailed("no bytestream connection in time"))
        }
        defer { alarm.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let ready = state.withLock { state -> Result<Connection, any Error>? in
                    switch state {
                    case .empty:
                        state = .waiting(continuation)
                        return nil
                    case .holding(let connection):
                        state = .done
                        return .success(connection)
                    case .waiting, .done:
                        return .failure(FileTransferError.transferFailed("the bytestream ended"))
                    }
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            fail(CancellationError())
        }
    }

    /// Closes a connection nobody will use.
    static func discard(_ connection: Connection) {
        Task { try? await connection.executeThenClose { _, _ in } }
    }
}
