import XMPPCore

/// What the reconnect module is doing.
public enum ReconnectEvent: Sendable, Hashable {
    /// The connection was lost; attempt `attempt` starts after `delay`.
    case scheduled(attempt: Int, delay: Duration)
    /// An attempt failed with this error; another follows unless the error is permanent.
    case failed(attempt: Int, XMPPClientError)
    /// The client is online again.
    case reconnected(attempt: Int)
    /// The network is gone: no attempt until it returns (then one starts at once).
    case waitingForNetwork
    /// Reconnection stopped: the error cannot be cured by retrying (wrong password, session replaced, ...).
    case gaveUp(XMPPClientError)
}

/// Automatic reconnection (XMPPFramework's reconnect module): after the connection is lost or ends with a
/// transient error, it reconnects with exponential backoff and jitter; never after ``XMPPClient/disconnect()`` or a
/// permanent failure (``XMPPClientError/isTransient``: wrong password, untrusted certificate, session replaced).
/// With a ``NetworkMonitor`` it waits while there is no network (``ReconnectEvent/waitingForNetwork``) and tries at
/// once when the network returns.
public final class ReconnectModule: XMPPClientModule {
    private let client = ClientReference()
    private let task = Locked<Task<Void, Never>?>(nil)
    private let events = Broadcast<ReconnectEvent>()
    /// The delay before the first attempt.
    public let initialDelay: Duration
    /// The longest delay between attempts.
    public let maximumDelay: Duration
    /// How many attempts before giving up; `nil` never gives up.
    public let maximumAttempts: Int?
    /// Where the network's comings and goings are learned, if anywhere.
    public let network: (any NetworkMonitor)?
    private let wake = Locked<CheckedContinuation<Void, Never>?>(nil)

    /// Creates the module.
    /// - Parameter network: A source of network availability (``PathNetworkMonitor`` on Apple platforms).
    public init(initialDelay: Duration = .seconds(1), maximumDelay: Duration = .seconds(60), maximumAttempts: Int? = nil,
                network: (any NetworkMonitor)? = nil) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.maximumAttempts = maximumAttempts
        self.network = network
    }

    /// What the module does, as it happens.
    public var updates: AsyncStream<ReconnectEvent> { events.subscribe() }

    /// Whether an attempt is scheduled or under way.
    public var isReconnecting: Bool { task.withLock { $0 != nil } }

    /// Stops reconnecting until the next loss.
    public func stop() {
        task.withLock { $0?.cancel(); $0 = nil }
        wakeUp()
    }

    public func attached(to client: XMPPClient) {
        self.client.set(client)
        guard let changes = network?.changes else { return }
        // The network's return cuts a backoff short.
        Task { [weak self] in
            for await availability in changes where availability == .available {
                self?.wakeUp()
            }
        }
    }

    /// Whether the module is waiting for the network to come back.
    public var isWaitingForNetwork: Bool {
        network?.availability == .unavailable && isReconnecting
    }

    private func wakeUp() {
        wake.withLock { waiting in
            waiting?.resume()
            waiting = nil
        }
    }

    /// Sleeps `delay`, or less if the network returns meanwhile; while there is no network, until it returns.
    private func pause(_ delay: Duration) async {
        let offline = network?.availability == .unavailable
        if offline { events.publish(.waitingForNetwork) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                if offline {
                    // Until the network returns (or a long while, should the monitor fall silent).
                    try? await Task.sleep(for: .seconds(3600))
                } else {
                    try? await Task.sleep(for: delay)
                }
            }
            group.addTask { [weak self] in
                await withCheckedContinuation { continuation in
                    guard let self else { return continuation.resume() }
                    self.wake.withLock { waiting in
                        waiting?.resume()
                        waiting = continuation
                    }
                    // The network may have returned before this waiter was in place.
                    if offline && self.network?.availability == .available { self.wakeUp() }
                }
            }
            await group.next()
            group.cancelAll()
            wakeUp()
        }
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
            await pause(delay)
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
