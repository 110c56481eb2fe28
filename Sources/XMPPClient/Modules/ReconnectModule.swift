import Synchronization
import XMPPCore

/// What the reconnect module is doing.
public enum ReconnectEvent: Sendable, Hashable {
    /// The connection was lost; attempt `attempt` starts after `delay`.
    case scheduled(attempt: Int, delay: Duration)
    /// An attempt failed with this error; another follows unless the error is permanent.
    case failed(attempt: Int, XMPPClientError)
    /// The client is online again.
    case reconnected(attempt: Int)
    /// Reconnection stopped: the error cannot be cured by retrying (wrong password, session replaced, ...).
    case gaveUp(XMPPClientError)
}

/// Automatic reconnection (XMPPFramework's reconnect module): after the connection is lost or ends with a
/// transient stream error, it reconnects with exponential backoff and jitter; never after
/// ``XMPPClient/disconnect()`` or an authentication failure.
public final class ReconnectModule: XMPPClientModule {
    private let client = ClientReference()
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let events = Broadcast<ReconnectEvent>()
    /// The delay before the first attempt.
    public let initialDelay: Duration
    /// The longest delay between attempts.
    public let maximumDelay: Duration
    /// How many attempts before giving up; `nil` never gives up.
    public let maximumAttempts: Int?

    /// Creates the module.
    public init(initialDelay: Duration = .seconds(1), maximumDelay: Duration = .seconds(60), maximumAttempts: Int? = nil) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.maximumAttempts = maximumAttempts
    }

    /// What the module does, as it happens.
    public var updates: AsyncStream<ReconnectEvent> { events.subscribe() }

    /// Whether an attempt is scheduled or under way.
    public var isReconnecting: Bool { task.withLock { $0 != nil } }

    /// Stops reconnecting until the next loss.
    public func stop() {
        task.withLock { $0?.cancel(); $0 = nil }
    }

    public func attached(to client: XMPPClient) {
        self.client.set(client)
    }

    public func sessionEnded(client: XMPPClient, error: XMPPClientError?) {
        guard let error else { return stop() }
        guard error.isTransient else {
            events.publish(.gaveUp(error))
            return
        }
        task.withLock { current in
            if current == nil { current = Task { [weak self] in await self?.run() } }
        }
    }

    /// The delay before attempt `attempt` (1-based): doubling from the initial delay up to the maximum,
    /// then a random half to whole of it, so many clients do not return at the same instant.
    func delay(before attempt: Int) -> Duration {
        let doubled = initialDelay * (1 << min(attempt - 1, 20))
        let capped = min(doubled, maximumDelay)
        return capped * Double.random(in: 0.5...1.0)
    }

    private func run() async {
        defer { task.withLock { $0 = nil } }
        var attempt = 0
        while !Task.isCancelled, let client = client.value {
            attempt += 1
            if let maximumAttempts, attempt > maximumAttempts {
                events.publish(.gaveUp(client.connectionState.failure ?? .timeout))
                return
            }
            let delay = delay(before: attempt)
            events.publish(.scheduled(attempt: attempt, delay: delay))
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled, client.connectionState.isDisconnected else { return }
            do {
                try await client.connect()
                events.publish(.reconnected(attempt: attempt))
                return
            } catch let error as XMPPClientError {
                events.publish(.failed(attempt: attempt, error))
                if !error.isTransient {
                    events.publish(.gaveUp(error))
                    return
                }
            } catch {
                return
            }
        }
    }
}
