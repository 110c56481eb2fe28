import XMPPCore

/// XMPP ping (XEP-0199): answers pings, pings on demand, and keeps the connection alive — when nothing has
/// arrived for `interval`, it pings the server, and if no answer comes within `timeout` it declares the
/// connection dead and closes it (so a ``ReconnectModule`` can take over). XMPPFramework's auto-ping.
public final class PingModule: XMPPClientModule {
    /// The `urn:xmpp:ping` namespace.
    public static let namespace = "urn:xmpp:ping"

    private let client = ClientReference()
    private let keepAlive = Locked<Task<Void, Never>?>(nil)
    /// How long the connection may be silent before a keep-alive ping; `nil` turns keep-alive off.
    public let interval: Duration?
    /// How long a keep-alive ping may go unanswered before the connection counts as dead.
    public let timeout: Duration

    /// Creates the module.
    public init(interval: Duration? = .seconds(60), timeout: Duration = .seconds(20)) {
        self.interval = interval
        self.timeout = timeout
    }

    public var discoFeatures: [String] { [Self.namespace] }

    public func attached(to client: XMPPClient) {
        self.client.set(client)
    }

    /// Pings `jid` (the server when `nil`) and returns the round-trip time.
    /// - Throws: ``XMPPClientError/timeout``, or a stanza error such as `service-unavailable` when the
    ///   entity does not support ping.
    @discardableResult
    public func ping(_ jid: JID? = nil, timeout: Duration? = nil) async throws -> Duration {
        let client = try self.client.require()
        let start = ContinuousClock.now
        try await client.query(Element("ping", namespace: Self.namespace), to: jid ?? client.jid?.domain, timeout: timeout)
        return ContinuousClock.now - start
    }

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        guard stanza.name == "iq", let iq = IQ(element: stanza), iq.type == .get,
              iq.payload?.name == "ping", iq.payload?.namespace == Self.namespace else { return false }
        client.enqueue(iq.result().element)
        return true
    }

    public func sessionStarted(client: XMPPClient) async {
        guard let interval else { return }
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval / 4)
                guard let self, !Task.isCancelled, let client = self.client.value else { return }
                let silence = ContinuousClock.now - client.state.withLock { $0.lastReceived }
                guard silence >= interval else { continue }
                do {
                    try await self.ping(timeout: self.timeout)
                } catch XMPPClientError.timeout {
                    client.connectionDied(.timeout)
                    return
                } catch {
                    // An error answer still proves the connection alive.
                }
            }
        }
        keepAlive.withLock { $0?.cancel(); $0 = task }
    }

    public func sessionEnded(client: XMPPClient, error: XMPPClientError?) {
        keepAlive.withLock { $0?.cancel(); $0 = nil }
    }
}
