import Logging
import NIOCore
import NIOPosix
import NIOSSL
import XMPPCore
import XMPPServerKernel
import XMPPTransport

/// The outgoing side of federation: one stream per pair of our sending domain (the server's, or a hosted service's
/// such as `conference.example.com`) and remote domain, set up on the first stanza for it (connect, STARTTLS,
/// dialback for that sending domain), with what is sent meanwhile queued (up to `s2s_queue_limit`) and bounced if the
/// setup fails. The kernel's ``RemoteRouter``.
///
/// Bounded: at most `s2s_max_connecting` streams are being set up at once, and as many dialback verifications for
/// incoming streams (a budget of their own, so remote servers asking for verifications cannot stop our own streams);
/// each is given up after `s2s_setup_seconds` whatever DNS and the addresses tried; a route whose setup failed is not
/// tried again for `s2s_retry_seconds` (what is sent to it meanwhile bounces at once). So neither a local user writing
/// to many dead domains nor a remote server asking for many verifications makes the server open connections without end.
final class ServerLinks: RemoteRouter, Sendable {
    private enum Link {
        /// The stream is being set up (by attempt number `attempt`); these wait for it.
        case connecting([Element], attempt: Int)
        /// Authenticated: stanzas go straight out, in batches.
        case ready(OutgoingBatch)
    }

    /// What the links need from the running server, given when the federation listener starts.
    struct Environment: Sendable {
        let group: any EventLoopGroup
        let kernel: ServerKernel
        let clientTLS: NIOSSLContext
        /// How remote servers' certificates are judged.
        let trust: ServerCertificateTrust
        /// Whether to offer our certificate for SASL EXTERNAL at all (not when it is self-signed).
        let tryExternal: Bool
        let logger: Logger
        let maxStanzaBytes: Int
        /// This server's other domains (virtual hosts), reached without a stream.
        var neighbours: NeighbourRoutes? = nil
    }

    private struct State {
        /// By ``Route``.
        var links: [Route: Link] = [:]
        /// Verifications of dialback keys under way (each on a connection of its own).
        var verifying = 0
        /// Routes whose setup failed lately: until when, and the error their stanzas get meanwhile.
        var failures: [Route: (until: NIODeadline, error: StanzaError)] = [:]
        /// Routes being set up.
        var connecting = 0
        /// Numbers setups, so a late answer of an attempt that was given up never ends a newer one.
        var attempts = 0
    }

    let settings: FederationSettings
    private let state = Locked(State())
    private let environment = Locked<Environment?>(nil)
    /// Remote domains authenticated on incoming streams, with how many streams each.
    private let incoming = Locked<[String: Int]>([:])

    init(settings: FederationSettings) {
        self.settings = settings
    }

    /// How a remote domain was authenticated on a stream.
    enum Method: String, Sendable {
        /// SASL EXTERNAL, or dialback taken on a certificate that names the domain (XEP-0344).
        case certificate
        /// A dialback key checked with the domain's authoritative server.
        case dialback
    }

    /// Domains authenticated since the start, by method, both directions (`s2s_authenticated_by_*` statistics).
    private let authentications = Locked<[Method: Int]>([:])

    /// Counts one domain authenticated on a stream.
    func authenticated(by method: Method) {
        authentications.withLock { $0[method, default: 0] += 1 }
    }

    /// How many domains were authenticated by `method` since the start.
    func authenticationCount(_ method: Method) -> Int {
        authentications.withLock { $0[method, default: 0] }
    }

    /// Makes outgoing streams possible (the federation listener's start).
    func attach(_ environment: Environment) {
        self.environment.withLock { $0 = environment }
    }

    /// The remote domains with a ready stream, sorted, and in which directions (`xmppctl remote-domains`).
    var remoteDomains: [(domain: String, incoming: Bool, outgoing: Bool)] {
        let outgoing = Set(state.withLock { state in state.links.compactMap { if case .ready = $0.value { $0.key.remote } else { nil } } })
        let incoming = Set(self.incoming.withLock { $0.keys })
        return outgoing.union(incoming).sorted().map { ($0, incoming.contains($0), outgoing.contains($0)) }
    }

    /// An incoming stream authenticated `domain` (dialback said valid).
    func incomingAuthenticated(_ domain: String) {
        incoming.withLock { $0[domain, default: 0] += 1 }
    }

    /// An incoming stream that had authenticated `domains` closed.
    func incomingClosed(_ domains: Set<String>) {
        incoming.withLock { incoming in
            for domain in domains {
                let remaining = incoming[domain, default: 1] - 1
                incoming[domain] = remaining > 0 ? remaining : nil
            }
        }
    }

    func send(_ stanza: Element, to: JID, kernel: ServerKernel) {
        let domain = to.domainpart
        // The sending domain is the stanza's: the server's own for users, a service's for what a room sends.
        let origin = stanza.attribute("from").flatMap(JID.init(validating:))?.domainpart ?? settings.localDomain
        let route = Route(local: kernel.isHostedService(origin) ? origin : settings.localDomain, remote: domain)
        guard let environment = environment.withLock({ $0 }) else {
            return bounce(stanza, StanzaError(.remoteServerNotFound, text: "federation is not running"), kernel: kernel)
        }
        if let neighbours = environment.neighbours, let neighbour = neighbours.neighbour(serving: domain, besides: kernel) {
            // Only what this domain may send: as a remote server's stream would be held to (`invalid-from`).
            guard let from = stanza.attribute("from").flatMap(JID.init(validating:)),
                  kernel.isLocal(from) || kernel.isHostedService(from.domainpart) else {
                environment.logger.warning("a stanza to another local domain from outside this one was dropped",
                                           metadata: ["from": "\(stanza.attribute("from") ?? "")", "to": "\(to)"])
                return
            }
            if !neighbours.deliver(stanza, from: from, to: to, route: route, neighbour: neighbour) {
                bounce(stanza, StanzaError(.resourceConstraint, type: .wait, text: "too many stanzas wait for \(domain)"), kernel: kernel)
            }
            return
        }
        guard settings.permits(domain) else {
            return bounce(stanza, StanzaError(.remoteServerNotFound, text: "this server does not talk to \(domain)"), kernel: kernel)
        }
        enum Next { case write(OutgoingBatch), queued, refused(StanzaError), connect(attempt: Int) }
        let now = NIODeadline.now()
        let next = state.withLock { state -> Next in
            switch state.links[route] {
            case .ready(let batch)?:
                return .write(batch)
            case .connecting(var queue, let attempt)?:
                guard queue.count < settings.queueLimit else {
                    return .refused(StanzaError(.resourceConstraint, text: "too many stanzas wait for \(domain)"))
                }
                queue.append(stanza)
                state.links[route] = .connecting(queue, attempt: attempt)
                return .queued
            case nil:
                if let failure = state.failures[route] {
                    if failure.until > now { return .refused(failure.error) }
                    state.failures[route] = nil
                }
                guard state.connecting < settings.maxConnecting else {
                    return .refused(StanzaError(.resourceConstraint, type: .wait, text: "too many server-to-server streams are being set up"))
                }
                state.connecting += 1
                state.attempts += 1
                state.links[route] = .connecting([stanza], attempt: state.attempts)
                return .connect(attempt: state.attempts)
            }
        }
        switch next {
        case .write(let batch): write(stanza, to: batch, kernel: kernel)
        case .queued: break
        case .refused(let error): bounce(stanza, error, kernel: kernel)
        case .connect(let attempt): connect(route, attempt: attempt)
        }
    }

    /// Answers the local sender of `stanza` with `error`: a user through the kernel, a hosted service (a room whose
    /// message to a remote occupant failed) through the service itself, which needs the error (a room removes the
    /// occupant).
    private func bounce(_ stanza: Element, _ error: StanzaError, kernel: ServerKernel) {
        guard stanza.mayBeAnsweredWithError, let from = stanza.attribute("from").flatMap(JID.init(validating:)) else { return }
        guard let service = kernel.service(for: from), let eventLoop = environment.withLock({ $0?.group.next() }) else {
            return kernel.bounceToSender(stanza, error)
        }
        let reply = kernel.errorReply(to: stanza, error)
        // Later, never on the spot: the service may be sending this under a lock of its own.
        eventLoop.execute { _ = service.receive(reply, to: from, kernel: kernel, eventLoop: eventLoop) }
    }

    /// Queues a kernel stanza for a remote server's stream; bounced when the remote does not read (its buffer is
    /// full) or the stream is gone.
    private func write(_ stanza: Element, to batch: OutgoingBatch, kernel: ServerKernel) {
        guard batch.channel.isActive, batch.channel.isWritable, batch.enqueue(stanza, limit: settings.queueLimit) else {
            return bounce(stanza, StanzaError(.remoteServerTimeout, text: "the remote server does not keep up"), kernel: kernel)
        }
    }

    private func connect(_ route: Route, attempt: Int) {
        guard let environment = environment.withLock({ $0 }) else {
            failed(route, attempt: attempt, StanzaError(.remoteServerNotFound))
            return
        }
        // One deadline for the whole setup (DNS, every address tried, TLS, dialback); a stream that becomes ready
        // after it is closed again (``established(_:attempt:channel:)`` says no).
        let deadline = environment.group.next().scheduleTask(in: .seconds(settings.setupSeconds)) { [self] in
            if failed(route, attempt: attempt, StanzaError(.remoteServerTimeout, text: "\(route.remote) was not ready in time")) {
                environment.logger.notice("remote server not ready in time", metadata: ["domain": "\(route.remote)"])
            }
        }
        OutgoingServerStream.open(route, purpose: .route(self, attempt: attempt), settings: settings, environment: environment)
            .whenComplete { [self] outcome in
                guard case .failure(let error) = outcome else { return }
                deadline.cancel()
                if failed(route, attempt: attempt, StanzaError(.remoteServerNotFound, text: "cannot connect to \(route.remote)")) {
                    environment.logger.notice("cannot reach remote server", metadata: ["domain": "\(route.remote)", "error": "\(error)"])
                }
            }
    }

    /// The outgoing stream for `route` is authenticated: what waited goes out, and later stanzas go straight to it.
    /// False when the route is no longer waiting for it (its setup timed out): the caller closes the stream.
    func established(_ route: Route, attempt: Int, channel: any Channel) -> Bool {
        guard let kernel = environment.withLock({ $0?.kernel }) else { return false }
        // What waited becomes the batch's first content in the same step as the stream becomes ready, so nothing
        // sent later overtakes it.
        let batch = state.withLock { state -> OutgoingBatch? in
            guard case .connecting(let queue, attempt)? = state.links[route] else { return nil }
            let batch = OutgoingBatch(channel: channel, waiting: queue) { [self] stanza, error in bounce(stanza, error, kernel: kernel) }
            state.links[route] = .ready(batch)
            state.connecting -= 1
            return batch
        }
        batch?.start()
        return batch != nil
    }

    /// Setup `attempt` of `route`'s stream failed: what waited bounces with `error`, and the route is left alone for
    /// `s2s_retry_seconds`. Nothing happens (false) when that attempt is over already (ready, or given up).
    @discardableResult
    func failed(_ route: Route, attempt: Int, _ error: StanzaError) -> Bool {
        let queued = state.withLock { state -> [Element]? in
            guard case .connecting(let queue, attempt)? = state.links[route] else { return nil }
            state.links[route] = nil
            state.connecting -= 1
            if settings.retrySeconds > 0 {
                if state.failures.count >= settings.maxConnecting * 10 {
                    // Full: the entries that ran out go, else the one closest to running out.
                    let now = NIODeadline.now()
                    state.failures = state.failures.filter { $0.value.until > now }
                    if state.failures.count >= settings.maxConnecting * 10,
                       let soonest = state.failures.min(by: { $0.value.until < $1.value.until })?.key {
                        state.failures[soonest] = nil
                    }
                }
                state.failures[route] = (.now() + .seconds(settings.retrySeconds), error)
            }
            return queue
        }
        guard let queued else { return false }
        guard let kernel = environment.withLock({ $0?.kernel }) else { return true }
        for stanza in queued { bounce(stanza, error, kernel: kernel) }
        return true
    }

    /// An established stream is closing: the next stanza for `route` opens a new one.
    func closed(_ route: Route, channel: any Channel) {
        state.withLock { state in
            if case .ready(let current)? = state.links[route], current.channel === channel { state.links[route] = nil }
        }
    }

    /// What the authoritative server said of a dialback key, if it could be asked.
    enum Verification: Sendable {
        case valid
        case invalid
        /// Not asked: too many verifications under way, or the server could not be reached in time.
        case unavailable
        /// Not asked: the certificate the remote presented names the domain (XEP-0344).
        case certified
        /// Not asked: `s2s_secure_auth` takes certificates only, and the remote's does not name the domain.
        case refused
    }

    /// Asks the authoritative server of `route.remote` (the domain that sent a dialback request to our domain
    /// `route.local`), over a stream of its own, whether `key` is its dialback key for the stream `streamID` it opened
    /// to us (XEP-0220 §2.3). Answers within `s2s_setup_seconds`, whatever happens.
    func verify(key: String, streamID: String, _ route: Route, on eventLoop: any EventLoop) -> EventLoopFuture<Verification> {
        guard let environment = environment.withLock({ $0 }) else { return eventLoop.makeSucceededFuture(.unavailable) }
        let admitted = state.withLock { state -> Bool in
            guard state.verifying < settings.maxConnecting else { return false }
            state.verifying += 1
            return true
        }
        guard admitted else { return eventLoop.makeSucceededFuture(.unavailable) }
        let answer = eventLoop.makePromise(of: Bool.self)
        let deadline = eventLoop.scheduleTask(in: .seconds(settings.setupSeconds)) { answer.fail(FederationError.noAnswer(route.remote)) }
        OutgoingServerStream.open(route, purpose: .verify(key: key, streamID: streamID, answer: answer),
                                  settings: settings, environment: environment)
            .whenFailure { answer.fail($0) }
        answer.futureResult.whenComplete { [self] _ in
            deadline.cancel()
            state.withLock { $0.verifying -= 1 }
        }
        return answer.futureResult.map { $0 ? Verification.valid : .invalid }.recover { _ in .unavailable }
    }

    /// Closes every outgoing stream (shutdown); what waits for a stream being set up bounces, and nothing opens a new
    /// stream afterwards.
    func closeAll() {
        let (channels, queued) = state.withLock { state -> ([any Channel], [Element]) in
            defer {
                state.links = [:]
                state.connecting = 0
            }
            var channels: [any Channel] = []
            var queued: [Element] = []
            for link in state.links.values {
                switch link {
                case .ready(let batch): channels.append(batch.channel)
                case .connecting(let queue, _): queued += queue
                }
            }
            return (channels, queued)
        }
        for channel in channels { channel.close(promise: nil) }
        guard let kernel = environment.withLock({ $0?.kernel }) else { return }
        for stanza in queued { bounce(stanza, StanzaError(.remoteServerTimeout, text: "the server is shutting down"), kernel: kernel) }
        environment.withLock { $0 = nil }
    }
}

/// An outgoing stream's two ends: our sending domain and the remote domain.
struct Route: Hashable, Sendable, CustomStringConvertible {
    /// The server's domain or one of its hosted services'.
    let local: String
    let remote: String

    var description: String { "\(local) → \(remote)" }
}
