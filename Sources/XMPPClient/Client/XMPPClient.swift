import NIOCore
import NIOPosix
import Synchronization
import XMPPCore
import XMPPTransport

/// An XMPP client: one account's connection to its server, the stanzas it sends and receives, and the
/// modules attached to it. Create one per account and keep it for the app's lifetime; it can connect and
/// disconnect many times.
///
/// ```swift
/// let jid = try JID("juliet@example.com")
/// let client = XMPPClient(configuration: .init(jid: jid, password: "secret"))
/// let chat = client.add(ChatModule())
/// try await client.connect()                   // TLS, SCRAM, bind, initial presence
/// try await chat.send("Art thou not Romeo?", to: try JID("romeo@example.net"))
/// await client.disconnect()                    // unavailable presence, then the closing tag
/// ```
public final class XMPPClient: Sendable {
    struct State {
        var configuration: Configuration
        var connectionState: ConnectionState = .disconnected(nil)
        /// Counts connection attempts, so events of an old connection are ignored.
        var generation = 0
        var connection: ClientConnection?
        var channel: (any Channel)?
        var jid: JID?
        var mechanism: SASLMechanism?
        var features = StreamFeatures()
        var pending = PendingRequests()
        var modules: [any XMPPClientModule] = []
        /// When the last stanza arrived, for keep-alive.
        var lastReceived = ContinuousClock.now
    }

    let state: Mutex<State>
    let group: any EventLoopGroup
    let keyCache = SCRAMKeyCache()
    let stateChanges = Broadcast<ConnectionState>()
    let incoming = Broadcast<Element>()

    /// Creates a client. Nothing happens on the network until ``connect()``.
    /// - Parameters:
    ///   - configuration: The account and how to reach its server.
    ///   - eventLoopGroup: Where connections run; the process-wide NIO group by default.
    public init(configuration: Configuration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.state = Mutex(State(configuration: configuration))
        self.group = eventLoopGroup
    }

    // MARK: - State

    /// The configuration used by the next connection attempt.
    public var configuration: Configuration {
        get { state.withLock { $0.configuration } }
        set { state.withLock { $0.configuration = newValue } }
    }

    /// Where the connection stands now.
    public var connectionState: ConnectionState { state.withLock { $0.connectionState } }

    /// The full JID the session is bound to, while online.
    public var jid: JID? { state.withLock { $0.jid } }

    /// The SASL mechanism the last login used (`SCRAM-SHA-256-PLUS` when channel binding was possible).
    public var authenticationMechanism: SASLMechanism? { state.withLock { $0.mechanism } }

    /// The features the server offered after authentication (roster versioning, pre-approval, ...).
    public var serverFeatures: StreamFeatures { state.withLock { $0.features } }

    /// The connection state now, then every change, as long as the caller iterates.
    public var states: AsyncStream<ConnectionState> {
        let stream = stateChanges.subscribe()
        let current = connectionState
        return AsyncStream { continuation in
            continuation.yield(current)
            let task = Task {
                for await state in stream { continuation.yield(state) }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Every incoming stanza, after the modules have seen it (IQ answers to ``request(_:timeout:)`` excepted).
    public var stanzas: AsyncStream<Element> { incoming.subscribe() }

    /// Every incoming message stanza.
    public var messages: AsyncCompactMapSequence<AsyncStream<Element>, Message> {
        incoming.subscribe().compactMap { Message(element: $0) }
    }

    /// Every incoming presence stanza.
    public var presences: AsyncCompactMapSequence<AsyncStream<Element>, Presence> {
        incoming.subscribe().compactMap { Presence(element: $0) }
    }

    // MARK: - Modules

    /// Attaches `module` and returns it. Add modules before ``connect()``.
    @discardableResult
    public func add<Module: XMPPClientModule>(_ module: Module) -> Module {
        state.withLock { $0.modules.append(module) }
        module.attached(to: self)
        return module
    }

    /// The attached module of this type, if any.
    public func module<Module: XMPPClientModule>(_ type: Module.Type) -> Module? {
        state.withLock { $0.modules.lazy.compactMap { $0 as? Module }.first }
    }

    /// Every attached module, in the order they were added.
    public var modules: [any XMPPClientModule] { state.withLock { $0.modules } }

    // MARK: - Connecting

    /// Connects, secures the stream, authenticates, binds a resource, lets the modules start (the roster is
    /// fetched) and sends initial presence unless the configuration says otherwise. Returns once online.
    /// - Throws: ``XMPPClientError``: `.timeout`, `.connectionFailed`, `.tlsFailed`, `.authenticationFailed`, ...
    public func connect() async throws {
        try await connect(registering: false)
    }

    /// Like ``connect()``, but first creates the account with in-band registration (XEP-0077) over the
    /// secured stream, then logs in with it.
    /// - Throws: ``XMPPClientError/registrationFailed(_:)`` with `conflict` when the username is taken, or
    ///   `not-allowed` when the server does not let clients register.
    public func connect(registering: Bool) async throws {
        let (attempt, configuration): (ClientConnection, Configuration) = try state.withLock { state in
            guard state.connectionState.isDisconnected else { throw XMPPClientError.unexpectedResponse("already \(state.connectionState)") }
            state.generation += 1
            let attempt = ClientConnection(client: self, generation: state.generation)
            state.connection = attempt
            return (attempt, state.configuration)
        }
        setConnectionState(.connecting, generation: attempt.generation)
        do {
            try await attempt.open(configuration: configuration, registering: registering, keyCache: keyCache, group: group)
        } catch {
            let failure = error as? XMPPClientError ?? .connectionFailed("\(error)")
            attempt.close()
            sessionEnded(failure, generation: attempt.generation)
            throw failure
        }
        for module in modules { await module.sessionStarted(client: self) }
        if configuration.sendsInitialPresence { try? await sendPresence(Presence()) }
        guard let jid = jid else { throw connectionState.failure ?? XMPPClientError.notConnected }
        setConnectionState(.online(jid), generation: attempt.generation)
    }

    /// Ends the session politely: unavailable presence, then the stream's closing tag; waits briefly for the
    /// server's own closing tag, then closes the connection. Automatic reconnection does not follow.
    public func disconnect() async {
        let (channel, generation) = state.withLock { ($0.channel, $0.generation) }
        guard let channel else {
            let attempt = state.withLock { $0.connection }
            attempt?.close()
            sessionEnded(nil, generation: generation)
            return
        }
        if connectionState.isOnline {
            try? await channel.writeAndFlush(XMPPOutbound.element(Presence(type: .unavailable).element))
        }
        state.withLock { $0.connection?.isClosing = true }
        try? await channel.writeAndFlush(XMPPOutbound.close)
        let closed = channel.closeFuture
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        try? await closed.get()
        sessionEnded(nil, generation: generation)
    }

    // MARK: - Sending

    /// Sends an element on the established stream and returns once it has been written to the socket.
    /// - Throws: ``XMPPClientError/notConnected`` without a session.
    public func send(_ element: Element) async throws {
        guard let channel = state.withLock({ $0.channel }) else { throw XMPPClientError.notConnected }
        do {
            try await channel.writeAndFlush(XMPPOutbound.element(element))
        } catch {
            throw XMPPClientError.connectionLost("\(error)")
        }
        for module in modules { module.didSend(element, client: self) }
    }

    /// Sends a stanza (message, presence or iq) and returns once it has been written.
    public func send(_ stanza: some Stanza) async throws {
        try await send(stanza.element)
    }

    /// Sends presence. A broadcast presence (no `to`, available) first passes through every module's
    /// ``XMPPClientModule/decorate(presence:)``, which adds show, status, capabilities and avatar hash.
    public func sendPresence(_ presence: Presence) async throws {
        var presence = presence
        if presence.to == nil && presence.type == .available {
            for module in modules { module.decorate(presence: &presence) }
        }
        try await send(presence)
    }

    /// Sends an IQ request and waits for its answer from the entity asked.
    /// - Parameters:
    ///   - iq: A `get` or `set` request.
    ///   - timeout: How long to wait; the configuration's ``Configuration/requestTimeout`` by default.
    /// - Returns: The `result`.
    /// - Throws: ``XMPPClientError/stanzaError(_:)`` for an `error` answer, `.timeout`, `.notConnected`.
    @discardableResult
    public func request(_ iq: IQ, timeout: Duration? = nil) async throws -> IQ {
        guard let (channel, limit) = state.withLock({ state in state.channel.map { ($0, state.configuration.requestTimeout) } }) else {
            throw XMPPClientError.notConnected
        }
        let id = iq.id ?? StanzaID.make()
        var iq = iq
        iq.id = id
        let duration = timeout ?? limit
        let answer: IQ = try await withCheckedThrowingContinuation { continuation in
            let expiry = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(duration.nanoseconds))) { [weak self] in
                if let request = self?.state.withLock({ $0.pending.take(id: id) }) {
                    request.continuation.resume(throwing: XMPPClientError.timeout)
                }
            }
            state.withLock { $0.pending.add(id: id, .init(to: iq.to, continuation: continuation, timeout: expiry)) }
            channel.writeAndFlush(XMPPOutbound.element(iq.element)).whenFailure { [weak self] error in
                if let request = self?.state.withLock({ $0.pending.take(id: id) }) {
                    request.timeout?.cancel()
                    request.continuation.resume(throwing: XMPPClientError.connectionLost("\(error)"))
                }
            }
        }
        if answer.type == .error { throw XMPPClientError.stanzaError(answer.error ?? StanzaError(.undefinedCondition)) }
        return answer
    }

    /// Sends an IQ request carrying `payload` and returns the answer's payload, if any.
    @discardableResult
    public func query(_ payload: Element, type: IQ.IQType = .get, to: JID? = nil, timeout: Duration? = nil) async throws -> Element? {
        try await request(IQ(type: type, to: to, payload: payload), timeout: timeout).payload
    }

    /// Closes a connection found dead (keep-alive unanswered) and reports `error` as the reason.
    func connectionDied(_ error: XMPPClientError) {
        let (connection, generation) = state.withLock { ($0.connection, $0.generation) }
        connection?.close()
        sessionEnded(error, generation: generation)
    }

    /// Says that the connection is about to end on purpose (account removal), so its end is no error.
    func markClosing() {
        state.withLock { $0.connection?.isClosing = true }
    }

    /// Writes without waiting, for modules answering on the event loop. Dropped when not connected.
    func enqueue(_ element: Element) {
        guard let channel = state.withLock({ $0.channel }) else { return }
        channel.writeAndFlush(XMPPOutbound.element(element), promise: nil)
        for module in modules { module.didSend(element, client: self) }
    }
}

extension ConnectionState {
    var failure: XMPPClientError? {
        if case .disconnected(let error) = self { return error }
        return nil
    }
}

extension Duration {
    /// The whole duration in nanoseconds.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
