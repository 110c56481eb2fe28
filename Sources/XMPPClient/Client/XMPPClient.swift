import NIOCore
import NIOPosix
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
        /// Stream management, kept across connections for resumption.
        var streamManagement = ClientStreamManagement()
        /// Set when the connection being opened resumed the earlier session: the server's handled count.
        var resumedHandled: UInt32?
        /// Whether the app said it is in the background (XEP-0352), told to every session.
        var isInactive = false
    }

    let state: Locked<State>
    let group: any EventLoopGroup
    let keyCache = SCRAMKeyCache()
    let stateChanges = Broadcast<ConnectionState>()
    let incoming = Broadcast<Element>()
    let acknowledgements = Broadcast<Element>()

    /// Creates a client. Nothing happens on the network until ``connect()``.
    /// - Parameters:
    ///   - configuration: The account and how to reach its server.
    ///   - eventLoopGroup: Where connections run: by default the process-wide group of the platform's transport
    ///     (`NIOTSEventLoopGroup.singleton`, Network.framework, on Apple platforms; `MultiThreadedEventLoopGroup.singleton`
    ///     elsewhere). A NIOPosix group on an Apple platform makes the client use BSD sockets there too.
    public init(configuration: Configuration, eventLoopGroup: any EventLoopGroup = ConnectionBootstrap.defaultGroup) {
        self.state = Locked(State(configuration: configuration))
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

    /// The stanzas the server acknowledged having handled (XEP-0198), oldest first: a message listed here was
    /// delivered or stored by the server, whatever happens to the connection next.
    public var acknowledgedStanzas: AsyncStream<Element> { acknowledgements.subscribe() }

    /// Whether the current session was resumed (XEP-0198) after a dropped connection rather than started afresh.
    public var wasResumed: Bool { state.withLock { $0.resumedHandled != nil } }

    /// Whether stream management is on for the current session.
    public var isStreamManaged: Bool { state.withLock { $0.streamManagement.isEnabled } }

    /// How many stanzas the server has not acknowledged yet.
    public var unacknowledgedCount: Int { state.withLock { $0.streamManagement.unacknowledged.count } }

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
        // Online already (a second call, or the reconnect module was quicker): nothing to do.
        if state.withLock({ $0.connectionState.isOnline }) && !registering { return }
        let (attempt, configuration, resumption) = try state.withLock { state -> (ClientConnection, Configuration, StreamResumption?) in
            guard state.connectionState.isDisconnected else { throw XMPPClientError.unexpectedResponse("already \(state.connectionState)") }
            state.generation += 1
            state.resumedHandled = nil
            let attempt = ClientConnection(client: self, generation: state.generation)
            state.connection = attempt
            let resumption = state.configuration.streamManagement && !registering ? state.streamManagement.resumption : nil
            return (attempt, state.configuration, resumption)
        }
        setConnectionState(.connecting, generation: attempt.generation)
        do {
            try await attempt.open(configuration: configuration, registering: registering, resumption: resumption,
                                   keyCache: keyCache, group: group)
        } catch {
            let failure = error as? XMPPClientError ?? .connectionFailed(FailureCause(.other, "cannot connect", underlying: "\(error)"))
            attempt.close()
            sessionEnded(failure, generation: attempt.generation)
            throw failure
        }
        if state.withLock({ $0.resumedHandled }) != nil {
            // The server kept the session (what it did not handle went again already), and the modules carry on.
            await sendClientState(onlyIfInactive: true)
            for module in modules { await module.sessionResumed(client: self) }
        } else {
            let leftover = startStreamManagement()
            await sendClientState(onlyIfInactive: true)
            for module in modules { await module.sessionStarted(client: self) }
            if configuration.sendsInitialPresence { try? await sendPresence(Presence()) }
            // Messages of a session that could not be resumed, never acknowledged: sent again, once.
            for message in leftover { try? await send(message) }
        }
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
        // Everything handled is acknowledged before the stream closes (XEP-0198 §4): the server would otherwise treat
        // it as undelivered and store it for the next session.
        if let handled = state.withLock({ $0.streamManagement.countsInbound ? $0.streamManagement.handled : nil }) {
            try? await channel.writeAndFlush(XMPPOutbound.element(StreamManagementVocabulary.answer(handled)))
        }
        // A clean close ends the session on the server too: nothing to resume.
        state.withLock { $0.connection?.isClosing = true; $0.streamManagement.disable() }
        try? await channel.writeAndFlush(XMPPOutbound.close)
        let closed = channel.closeFuture
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        try? await closed.get()
        sessionEnded(nil, generation: generation)
    }

    // MARK: - Client state

    /// Tells the server whether the user is looking at the app (XEP-0352 client state indication). Call it with
    /// `false` when the app goes to the background and `true` when it comes back: while inactive, the server holds
    /// back presence updates and chat states (keeping only the latest) until something important arrives, so the
    /// radio wakes less. Remembered across reconnections; does nothing on a server without the feature.
    public func setActive(_ active: Bool) async {
        state.withLock { $0.isInactive = !active }
        await sendClientState()
    }

    /// Sends the remembered client state when the server supports it and the app is in the background (or just
    /// came back).
    func sendClientState(onlyIfInactive: Bool = false) async {
        let (inactive, supported) = state.withLock { ($0.isInactive, $0.features.feature("csi", "urn:xmpp:csi:0") != nil) }
        guard supported, !(onlyIfInactive && !inactive) else { return }
        try? await write(Element(inactive ? "inactive" : "active", namespace: "urn:xmpp:csi:0"))?.get()
    }

    // MARK: - Sending

    /// Sends an element on the established stream and returns once it has been written to the socket.
    /// - Throws: ``XMPPClientError/notConnected`` without a session.
    public func send(_ element: Element) async throws {
        guard let written = write(element) else { throw XMPPClientError.notConnected }
        do {
            try await written.get()
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
            let written = write(iq.element) ?? channel.eventLoop.makeFailedFuture(XMPPClientError.notConnected)
            written.whenFailure { [weak self] error in
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

    /// The IP address this client's connection to the server leaves from (for a streamhost of its own).
    var localIPAddress: String? { state.withLock { $0.channel?.localAddress?.ipAddress } }

    /// Closes a connection found dead (keep-alive unanswered) and reports `error` as the reason.
    func connectionDied(_ error: XMPPClientError) {
        let (connection, generation) = state.withLock { ($0.connection, $0.generation) }
        connection?.close()
        sessionEnded(error, generation: generation)
    }

    /// Says that the connection is about to end on purpose (account removal), so its end is no error.
    func markClosing(_ closing: Bool = true) {
        state.withLock { $0.connection?.isClosing = closing }
    }

    /// Writes without waiting, for modules answering on the event loop. Dropped when not connected.
    func enqueue(_ element: Element) {
        guard write(element) != nil else { return }
        for module in modules { module.didSend(element, client: self) }
    }

    /// Writes to the current connection, keeping the stanza for stream management; `nil` when not connected.
    /// Every write runs as a task on the connection's event loop, where it is kept and written in one step, so the
    /// order stanzas are kept in is the order the server counts them in (and no lock is held while NIO writes).
    /// With stream management, an acknowledgement is asked for once per burst of writes.
    func write(_ element: Element) -> EventLoopFuture<Void>? {
        guard let channel = state.withLock({ $0.channel }) else { return nil }
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.eventLoop.execute { [weak self] in
            let requestsAck = self?.state.withLock { state -> Bool in
                guard state.channel === channel, state.streamManagement.recordOutbound(element),
                      !state.streamManagement.ackRequestScheduled else { return false }
                state.streamManagement.ackRequestScheduled = true
                return true
            } ?? false
            channel.writeAndFlush(XMPPOutbound.element(element), promise: promise)
            guard requestsAck else { return }
            channel.eventLoop.execute { [weak self] in
                self?.state.withLock { $0.streamManagement.ackRequestScheduled = false }
                channel.writeAndFlush(XMPPOutbound.element(StreamManagementVocabulary.request), promise: nil)
            }
        }
        return promise.futureResult
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
