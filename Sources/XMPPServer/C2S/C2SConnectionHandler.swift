import Logging
import NIOCore
import NIOSSL
import NIOTLS
import XMPPCore
import XMPPServerKernel
import XMPPTransport

/// Runs one client-to-server connection: feeds parser events to the sans-I/O ``ServerNegotiationStateMachine``,
/// carries out its actions (TLS, credential lookups, binding), and once established hands stanzas to the
/// kernel. Input that arrives while an asynchronous step is under way waits in order, so every client's
/// stanzas take effect in the order it sent them.
final class C2SConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = XMLStreamEvent
    typealias OutboundOut = XMPPOutbound

    /// What the handler shares with every other connection of its listener.
    struct Shared: Sendable {
        let kernel: ServerKernel
        let tls: ServerTLS?
        let limits: ConnectionLimits
        let throttle: AuthenticationThrottle
        let connections: ConnectionCounter
        let negotiation: ServerNegotiationStateMachine.Configuration
        let logger: Logger
        /// Whether the SCRAM -PLUS mechanisms are offered (tls-server-end-point).
        let channelBinding: Bool
        /// Where stanzas routed to a session are queued for its event loop.
        let batchers: DeliveryBatchers
        /// Stream management's settings, when the module is active (XEP-0198).
        let streamManagement: StreamManagement.Settings?
        /// The sessions that may be resumed, by id.
        let resumption: ResumptionTable
        /// How much an inactive client's session holds back, when client state indication is on (XEP-0352).
        let maxHeldWhileInactive: Int?
        /// What `/metrics` reports; nil for servers assembled without it.
        var metrics: ServerMetrics? = nil
        /// With virtual hosts (on the first domain's): every domain's, for the connection to take the one it asks for.
        var hosts: C2SHosts? = nil

        var channelBindingData: ChannelBinding? { channelBinding ? tls?.serverEndPoint : nil }
    }

    /// The domain's (with virtual hosts, the one the connection asked for, once it did).
    private(set) var shared: Shared
    /// Whether the stream started secured, and the channel binding it started with: a virtual host's negotiation
    /// starts over with them.
    private let isSecuredAtStart: Bool
    private var channelBindingAtStart: ChannelBinding?
    /// Whether the first stream header (or the SNI) picked the domain already.
    private var isHostChosen = false
    private let decoder: any StreamRestarting
    private let gate: ReadGate
    private let remoteAddress: String
    /// The address as per-address limits count it (an IPv6 /64 as one).
    private let addressKey: String
    var machine: ServerNegotiationStateMachine
    var session: C2SSession?
    /// Input that arrived while an asynchronous step was under way; small, since most connections never queue.
    private var pending = CircularBuffer<XMLStreamEvent>(initialCapacity: 2)
    private var isWaiting = false
    private var isClosing = false
    private var isStarted = false
    /// Stanzas received on this connection, for sampling their routing times.
    private var receivedStanzas = 0
    /// The listener the connection came through, for the metrics.
    private let listener: ServerMetrics.Listener
    private var authenticatingUser: String?
    /// The user this stream authenticated as (for stream resumption, which takes the place of binding).
    var authenticatedUser: String?
    private var preAuthenticationRequests = 0
    /// IQs a connection may send before authenticating (in-band registration needs two: the form and the submission).
    static let preAuthenticationRequestLimit = 10
    private var lastRead = NIODeadline.now()
    private var lastWrite = NIODeadline.now()
    var negotiationTimer: Scheduled<Void>?
    private var idleTimer: RepeatedTask?
    private var stallTimer: Scheduled<Void>?

    /// Creates the handler of one connection. `isSecured` says the stream is already encrypted (direct TLS, or
    /// a WebSocket whose HTTP listener is trusted), so STARTTLS is not offered; `channelBinding` is the TLS
    /// connection's binding data when SCRAM-PLUS may use it.
    init(shared: Shared, decoder: any StreamRestarting, remoteAddress: String, addressKey: String, isSecured: Bool,
         channelBinding: ChannelBinding?, gate: ReadGate, listener: ServerMetrics.Listener) {
        self.listener = listener
        self.addressKey = addressKey
        self.shared = shared
        self.decoder = decoder
        self.gate = gate
        self.remoteAddress = remoteAddress
        self.isSecuredAtStart = isSecured
        self.channelBindingAtStart = channelBinding
        self.machine = ServerNegotiationStateMachine(configuration: shared.negotiation, isSecured: isSecured, channelBinding: channelBinding)
    }

    /// The client's address, the listener and the seconds since the client last sent anything, for the administration's
    /// session list; on the channel's event loop.
    var administrationFigures: (address: String, listener: String, idleSeconds: Int) {
        (remoteAddress, listener.rawValue, Int((NIODeadline.now() - lastRead).nanoseconds / 1_000_000_000))
    }

    /// Direct TLS on a server with virtual hosts: the SNI named `host`, whose certificate is presented (so it is the
    /// channel binding). Called before any stream data.
    func presentCertificate(of host: Shared) {
        channelBindingAtStart = host.channelBindingData
        take(host)
    }

    /// A server with virtual hosts: the first stream header's `to` picks the domain, whichever certificate TLS showed.
    private func chooseHost(for header: Element) {
        guard !isHostChosen else { return }
        isHostChosen = true
        guard let hosts = shared.hosts, let to = header.attribute("to"), let chosen = hosts.shared(for: to),
              chosen.kernel !== shared.kernel else { return }
        take(chosen)
    }

    private func take(_ host: Shared) {
        let hosts = shared.hosts
        shared = host
        shared.hosts = hosts
        machine = ServerNegotiationStateMachine(configuration: host.negotiation, isSecured: isSecuredAtStart, channelBinding: channelBindingAtStart)
    }

    // MARK: - Channel events

    /// A WebSocket stream's handler is added to a connection that is active already (after the HTTP upgrade): it
    /// starts there, since no `channelActive` follows.
    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { started(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        started(context: context)
        context.fireChannelActive()
    }

    private func started(context: ChannelHandlerContext) {
        guard !isStarted else { return }
        isStarted = true
        shared.metrics?.connectionOpened(listener)
        startTimers(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if isStarted { shared.metrics?.connectionClosed(listener) }
        // Nothing waiting may resume now (a binding whose hooks are still running must not register a dead session).
        isClosing = true
        stallTimer?.cancel()
        negotiationTimer?.cancel()
        idleTimer?.cancel()
        shared.connections.close(addressKey)
        releaseSession(reason: .disconnected, mayResume: true)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let event = unwrapInboundIn(data)
        guard !isClosing else { return }
        if isWaiting {
            pending.append(event)
            if pending.count >= Self.backlogLimit { gate.pause(.backlog, context: context) }
            return
        }
        handle(event, context: context)
    }

    /// Any bytes count as activity, whitespace keepalives too (RFC 6120 §4.6.1), which the decoder turns into
    /// no event: the clock is read once per batch of reads, here.
    func channelReadComplete(context: ChannelHandlerContext) {
        lastRead = .now()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? XMLStreamError {
            log(.info, "stream error from parser", metadata: ["error": "\(parserError)"])
            perform(machine.parserFailed(parserError), context: context)
        } else {
            log(.debug, "connection error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            if !machine.isEncrypted {
                machine.tlsEstablished(channelBinding: shared.channelBindingData)
            }
        } else if let request = event as? C2SCloseRequest {
            closeStream(with: request.error, header: nil, context: context, mayResume: request.mayResume)
            // A client that does not read gets no grace period: its buffer is what is being freed.
            if request.immediately { context.close(promise: nil) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: - Negotiation

    private func handle(_ event: XMLStreamEvent, context: ChannelHandlerContext) {
        switch event {
        case .streamOpened(let header, let contentNamespace):
            if shared.hosts != nil { chooseHost(for: header) }
            perform(machine.receivedHeader(header, contentNamespace: contentNamespace), context: context)
        case .element(let element):
            perform(machine.received(element), context: context)
        case .streamClosed:
            perform(machine.receivedStreamClose(), context: context)
        }
    }

    private func perform(_ action: ServerNegotiationStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .send(let element) where session != nil && element.isStanza:
            // After binding: the machine's answer to the legacy session request. It goes the way every stanza to the
            // session goes (counted by stream management), and the request counts as handled.
            session?.streamManagement?.stanzaHandled()
            session?.deliver(element)
        case .send(let element):
            if Self.isCredentialFailure(element) {
                shared.metrics?.login(succeeded: false)
                shared.throttle.recordFailure(address: addressKey, username: authenticatingUser)
                log(.info, "authentication failed", metadata: ["user": "\(authenticatingUser ?? "?")"])
            }
            write(.element(element), context: context)
        case .openStream(let header, let features):
            context.write(wrapOutboundOut(.header(header)), promise: nil)
            write(.element(features.element), context: context)
        case .startTLS(let proceed):
            guard let tls = shared.tls else { return closeStream(with: StreamError(.internalServerError), header: nil, context: context) }
            write(.element(proceed), context: context)
            restartStream()
            do {
                try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context), position: .first)
            } catch {
                context.close(promise: nil)
            }
        case .lookUpCredentials(let username, let hash):
            authenticatingUser = username
            if shared.throttle.isBlocked(address: addressKey, username: username) {
                log(.notice, "authentication throttled", metadata: ["user": "\(username)"])
                return perform(machine.credentialsUnavailable(SASLError(.temporaryAuthFailure)), context: context)
            }
            // An account guessed at from many addresses answers slowly (its owner still gets in).
            let (kernel, delay) = (shared.kernel, shared.throttle.delay(for: username))
            wait(for: context.eventLoop.makeFutureWithTask {
                if delay > .zero { try? await Task.sleep(for: delay) }
                return await kernel.credentials(of: username, hash: hash)
            }, context: context) { handler, credentials, context in
                handler.perform(handler.machine.credentialsFound(credentials), context: context)
            }
        case .checkPassword(let password, let credentials):
            // PLAIN: the key derivation runs off the event loop, which would otherwise stall every connection on it.
            wait(for: context.eventLoop.makeFutureWithTask { ServerNegotiationStateMachine.passwordMatches(password, credentials) },
                 context: context) { handler, matches, context in
                handler.perform(handler.machine.plainPasswordChecked(matches: matches), context: context)
            }
        case .authenticated(let username, let success):
            // The right password for a disabled account still does not get in (RFC 6120 §6.5.1 account-disabled).
            // From memory once the disabled accounts were read (the first login reads them).
            let kernel = shared.kernel
            let known = kernel.isDisabledNow(username)
            let check = known.map { context.eventLoop.makeSucceededFuture($0) }
                ?? context.eventLoop.makeFutureWithTask { await kernel.isDisabled(username) }
            wait(for: check, context: context) { handler, disabled, context in
                guard !disabled else {
                    handler.log(.notice, "login to a disabled account", metadata: ["user": "\(username)"])
                    handler.write(.element(SASLError(.accountDisabled, text: "this account is disabled").element), context: context)
                    return handler.closeStream(with: nil, header: nil, context: context)
                }
                handler.shared.throttle.recordSuccess(address: handler.addressKey, username: username)
                handler.authenticatedUser = username
                handler.log(.info, "authenticated", metadata: ["user": "\(username)"])
                handler.shared.metrics?.login(succeeded: true)
                handler.write(.element(success), context: context)
                handler.restartStream()
            }
        case .bindResource(let username, let requested):
            bind(username: username, requested: requested, context: context)
        case .established(_, let reply):
            negotiationTimer?.cancel()
            write(.element(reply), context: context)
        case .preAuthenticationIQ(let element):
            // Registration before login is a handful of requests; more is someone probing or flooding.
            preAuthenticationRequests += 1
            guard preAuthenticationRequests <= Self.preAuthenticationRequestLimit else {
                return closeStream(with: StreamError(.policyViolation, text: "too many requests before login"), header: nil, context: context)
            }
            let (kernel, address) = (shared.kernel, addressKey)
            wait(for: context.eventLoop.makeFutureWithTask { await kernel.handlePreAuthenticationIQ(element, remoteAddress: address) }, context: context) { handler, reply, context in
                handler.write(.element(reply), context: context)
            }
        case .stanza(let element):
            guard let session else { return }
            log(.trace, "received", metadata: ["stanza": "\(element)"])
            // Stream management counts a stanza once the kernel is done with it: an acknowledged message was delivered
            // or stored.
            let managed = session.streamManagement
            shared.metrics?.stanzaReceived(element)
            receivedStanzas &+= 1
            // The routing time of one stanza in routingSampleInterval (NIODeadline reads and a histogram lock cost).
            let metrics = receivedStanzas % ServerMetrics.routingSampleInterval == 1 ? shared.metrics : nil
            let start = metrics == nil ? NIODeadline.uptimeNanoseconds(0) : NIODeadline.now()
            if let done = shared.kernel.process(element, from: session) {
                // Counted when done even if the connection closes meanwhile: the stanza takes effect all the same.
                done.whenComplete { _ in
                    managed?.stanzaHandled()
                    metrics?.routed(since: start)
                }
                wait(for: done, context: context) { _, _, _ in }
            } else {
                managed?.stanzaHandled()
                metrics?.routed(since: start)
            }
        case .nonza(let element) where element.namespace == StreamManagementVocabulary.namespace && shared.streamManagement != nil:
            handleStreamManagement(element, context: context)
        case .nonza(let element) where element.namespace == ClientStateModule.namespace && shared.maxHeldWhileInactive != nil:
            // <inactive/> and <active/> (XEP-0352) change what is written to this session; they are never answered.
            guard let session, let limit = shared.maxHeldWhileInactive, element.name == "active" || element.name == "inactive" else {
                return closeStream(with: StreamError(.unsupportedStanzaType, text: "\(element.name) is not supported here"), header: nil, context: context)
            }
            session.setInactive(element.name == "inactive", limit: limit)
        case .nonza(let element):
            // Stream management, CSI and the like belong to modules; without one, a client must not send them.
            guard let session, shared.kernel.handleNonza(element, from: session) else {
                return closeStream(with: StreamError(.unsupportedStanzaType, text: "\(element.name) is not supported"), header: nil, context: context)
            }
        case .sendAndClose(let element):
            write(.element(element), context: context)
            closeStream(with: nil, header: nil, context: context)
        case .close(let error, let header):
            // The last failed attempt of a stream closes it instead of answering <failure/>: a guess all the same.
            if error?.condition == .notAuthorized, authenticatingUser != nil, session == nil {
                shared.metrics?.login(succeeded: false)
                shared.throttle.recordFailure(address: addressKey, username: authenticatingUser)
            }
            closeStream(with: error, header: header, context: context)
        }
    }

    private func bind(username: String, requested: String?, context: ChannelHandlerContext) {
        let kernel = shared.kernel
        guard let jid = try? JID(localpart: username, domainpart: kernel.configuration.domain,
                                 resourcepart: requested ?? kernel.generatedResource()) else {
            return perform(machine.resourceBindingFailed(StanzaError(.badRequest)), context: context)
        }
        let session = C2SSession(jid: jid, channel: context.channel, batcher: shared.batchers.batcher(for: context.eventLoop), logger: shared.logger,
                                 metrics: shared.metrics)
        guard let preparing = kernel.prepareBinding(of: session) else {
            return register(session, context: context)
        }
        // Modules load what routing to the account needs (a blocklist) before anything is routed to it.
        wait(for: preparing, context: context) { handler, _, context in
            handler.register(session, context: context)
        }
    }

    private func register(_ session: C2SSession, context: ChannelHandlerContext) {
        do {
            try shared.kernel.bind(session)
        } catch {
            return perform(machine.resourceBindingFailed(error), context: context)
        }
        self.session = session
        perform(machine.resourceBound(session.jid), context: context)
    }

    /// Whether a SASL failure says the credentials were wrong (`not-authorized`): only those count as guesses. An
    /// abort, a malformed exchange or the throttle's own `temporary-auth-failure` guess nothing.
    static func isCredentialFailure(_ element: Element) -> Bool {
        element.name == "failure" && element.namespace == XMLNamespace.sasl
            && element.child("not-authorized", namespace: XMLNamespace.sasl) != nil
    }

    /// After `<proceed/>` or SASL success: the client starts a new stream, and anything it sent before that
    /// restart is discarded (a client must wait; one that pipelines is injecting, RFC 6120 §5.3.3).
    private func restartStream() {
        pending.removeAll()
        decoder.resetStream()
    }

    // MARK: - Waiting for asynchronous work

    private func wait<Value: Sendable>(for future: EventLoopFuture<Value>, context: ChannelHandlerContext,
                                       then resume: @escaping (C2SConnectionHandler, Value, ChannelHandlerContext) -> Void) {
        isWaiting = true
        future.assumeIsolated().whenComplete { result in
            self.isWaiting = false
            guard !self.isClosing else { return }
            switch result {
            case .success(let value): resume(self, value, context)
            case .failure(let error):
                self.log(.error, "asynchronous step failed", metadata: ["error": "\(error)"])
                self.closeStream(with: StreamError(.internalServerError), header: nil, context: context)
                return
            }
            self.drainPending(context: context)
        }
    }

    /// Stanzas that may wait for an earlier one's storage work before reading pauses. Small: each may be as large
    /// as the stanza limit, and a client that fills it only slows itself.
    static let backlogLimit = 32

    private func drainPending(context: ChannelHandlerContext) {
        while !isWaiting && !isClosing, let next = pending.popFirst() {
            handle(next, context: context)
        }
        if pending.count < Self.backlogLimit { gate.resume(.backlog, context: context) }
    }

    /// A client that does not read what is sent to it: stop reading from it (what it sends would only make more
    /// to send), and once its outbound buffer passes the limit, close it.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stallTimer?.cancel()
            stallTimer = nil
            gate.resume(.unwritable, context: context)
        } else {
            gate.pause(.unwritable, context: context)
            // Still not reading after write_stall_timeout: cut off, whatever it holds (never buffered without end).
            if stallTimer == nil {
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                stallTimer = context.eventLoop.scheduleTask(in: .seconds(Int64(shared.limits.writeStallSeconds))) {
                    let (handler, context) = loopBound.value
                    handler.stallTimer = nil
                    guard !context.channel.isWritable else { return }
                    handler.log(.notice, "closing a connection that does not read")
                    handler.closeStream(with: StreamError(.policyViolation, text: "you do not read what is sent to you"), header: nil,
                                        context: context, mayResume: true)
                    context.close(promise: nil)
                }
            }
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Logging

    /// Logs with the connection's peer address and, once bound, its JID. The metadata is built only when the
    /// level is enabled, and no per-connection logger copy is kept (it would cost every idle connection a
    /// metadata dictionary).
    private func log(_ level: Logger.Level, _ message: @autoclosure () -> Logger.Message,
                     metadata: @autoclosure () -> Logger.Metadata = [:]) {
        shared.logger.log(level: level, message(), metadata: connectionMetadata.merging(metadata()) { $1 })
    }

    private var connectionMetadata: Logger.Metadata {
        guard let jid = session?.jid else { return ["peer": "\(remoteAddress)"] }
        return ["peer": "\(remoteAddress)", "jid": "\(jid)"]
    }

    // MARK: - Output, closing, timers

    func write(_ outbound: XMPPOutbound, context: ChannelHandlerContext) {
        lastWrite = .now()
        context.writeAndFlush(wrapOutboundOut(outbound), promise: nil)
    }

    /// Closes the stream. `mayResume` says the connection failed rather than the session being over (idle, not
    /// reading): a stream-managed session then waits for resumption.
    func closeStream(with error: StreamError?, header: StreamHeader?, context: ChannelHandlerContext, mayResume: Bool = false) {
        guard !isClosing else { return }
        isClosing = true
        if let error { log(.info, "closing stream", metadata: ["condition": "\(error.condition.rawValue)"]) }
        if let header { context.write(wrapOutboundOut(.header(header)), promise: nil) }
        // A stream-managed client learns what was handled before the stream ends (XEP-0198 §4), so it does not send
        // it again on its next session.
        if let managed = session?.streamManagement { context.write(wrapOutboundOut(.element(StreamManagementVocabulary.answer(managed.handled))), promise: nil) }
        if let error { context.write(wrapOutboundOut(.element(error.element)), promise: nil) }
        let closed = context.writeAndFlush(wrapOutboundOut(.close))
        releaseSession(reason: error.map { .closedByServer($0.condition) } ?? .disconnected, mayResume: mayResume)
        let channel = context.channel
        // Give the peer a moment to close its side, then close ours regardless: counted from now, not from when the
        // closing tag is written, which a peer that stopped reading would postpone forever.
        _ = closed
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }

    private func startTimers(context: ChannelHandlerContext) {
        let limits = shared.limits
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        negotiationTimer = context.eventLoop.scheduleTask(in: .seconds(Int64(limits.negotiationTimeoutSeconds))) {
            let (handler, context) = loopBound.value
            if handler.session == nil {
                handler.closeStream(with: StreamError(.connectionTimeout, text: "negotiation took too long"), header: nil, context: context)
            }
        }
        let tick = TimeAmount.seconds(Int64(max(1, min(limits.keepaliveIntervalSeconds, limits.idleTimeoutSeconds) / 4)))
        idleTimer = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
            let (handler, context) = loopBound.value
            handler.checkIdle(context: context)
        }
    }

    private func checkIdle(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        if now - lastRead > .seconds(Int64(shared.limits.idleTimeoutSeconds)) {
            closeStream(with: StreamError(.connectionTimeout, text: "idle for too long"), header: nil, context: context, mayResume: true)
        } else if let session, now - lastWrite > .seconds(Int64(shared.limits.keepaliveIntervalSeconds)) {
            // Unacknowledged stanzas: ask for the acknowledgement, which also shows whether the client is still there.
            if session.streamManagement?.hasUnacknowledged == true {
                write(.element(StreamManagementVocabulary.request), context: context)
            } else {
                write(.keepalive, context: context)
            }
        }
    }
}
