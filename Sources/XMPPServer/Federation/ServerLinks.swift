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
final class ServerLinks: RemoteRouter, Sendable {
    private enum Link {
        /// The stream is being set up; these wait for it.
        case connecting([Element])
        /// Authenticated: stanzas go straight out.
        case ready(any Channel)
    }

    /// What the links need from the running server, given when the federation listener starts.
    struct Environment: Sendable {
        let group: any EventLoopGroup
        let kernel: ServerKernel
        let clientTLS: NIOSSLContext
        let logger: Logger
        let maxStanzaBytes: Int
    }

    let settings: FederationSettings
    /// By ``Route``.
    private let links = Locked<[Route: Link]>([:])
    private let environment = Locked<Environment?>(nil)
    /// Remote domains authenticated on incoming streams, with how many streams each.
    private let incoming = Locked<[String: Int]>([:])

    init(settings: FederationSettings) {
        self.settings = settings
    }

    /// Makes outgoing streams possible (the federation listener's start).
    func attach(_ environment: Environment) {
        self.environment.withLock { $0 = environment }
    }

    /// The remote domains with a ready stream, sorted, and in which directions (`xmppctl remote-domains`).
    var remoteDomains: [(domain: String, incoming: Bool, outgoing: Bool)] {
        let outgoing = Set(links.withLock { links in links.compactMap { if case .ready = $0.value { $0.key.remote } else { nil } } })
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
        guard settings.permits(domain) else {
            return kernel.bounceToSender(stanza, StanzaError(.remoteServerNotFound, text: "this server does not talk to \(domain)"))
        }
        guard let environment = environment.withLock({ $0 }) else {
            return kernel.bounceToSender(stanza, StanzaError(.remoteServerNotFound, text: "federation is not running"))
        }
        enum Next { case write(any Channel), queued, full, connect }
        let next = links.withLock { links -> Next in
            switch links[route] {
            case .ready(let channel)?:
                return .write(channel)
            case .connecting(var queue)?:
                guard queue.count < settings.queueLimit else { return .full }
                queue.append(stanza)
                links[route] = .connecting(queue)
                return .queued
            case nil:
                links[route] = .connecting([stanza])
                return .connect
            }
        }
        switch next {
        case .write(let channel): write(stanza, on: channel, kernel: kernel, flush: true)
        case .queued: break
        case .full: kernel.bounceToSender(stanza, StanzaError(.resourceConstraint, text: "too many stanzas wait for \(domain)"))
        case .connect: connect(route, environment: environment)
        }
    }

    /// Writes a kernel stanza (`jabber:client`) to a remote server's stream (`jabber:server`); bounced when the
    /// remote does not read (its buffer is full) or the stream is gone.
    private func write(_ stanza: Element, on channel: any Channel, kernel: ServerKernel, flush: Bool) {
        guard channel.isActive, channel.isWritable else {
            return kernel.bounceToSender(stanza, StanzaError(.remoteServerTimeout, text: "the remote server does not keep up"))
        }
        let outbound = XMPPOutbound.element(stanza.replacingNamespace(XMLNamespace.client, with: XMLNamespace.server))
        let written = flush ? channel.writeAndFlush(outbound) : channel.write(outbound)
        written.whenFailure { _ in kernel.bounceToSender(stanza, StanzaError(.remoteServerTimeout, text: "the stream to the remote server closed")) }
    }

    private func connect(_ route: Route, environment: Environment) {
        OutgoingServerStream.open(route, purpose: .route(self), settings: settings, environment: environment)
            .whenFailure { [self] error in
                environment.logger.notice("cannot reach remote server", metadata: ["domain": "\(route.remote)", "error": "\(error)"])
                failed(route, StanzaError(.remoteServerNotFound, text: "cannot connect to \(route.remote)"))
            }
    }

    /// The outgoing stream for `route` is authenticated: what waited goes out, and later stanzas go straight to it.
    func established(_ route: Route, channel: any Channel) {
        let queued = links.withLock { links -> [Element] in
            guard case .connecting(let queue)? = links[route] else { return [] }
            links[route] = .ready(channel)
            return queue
        }
        guard let kernel = environment.withLock({ $0?.kernel }) else { return }
        for stanza in queued { write(stanza, on: channel, kernel: kernel, flush: false) }
        channel.flush()
    }

    /// The setup of `route`'s stream failed: what waited bounces with `error`.
    func failed(_ route: Route, _ error: StanzaError) {
        let queued = links.withLock { links -> [Element] in
            guard case .connecting(let queue)? = links[route] else { return [] }
            links[route] = nil
            return queue
        }
        guard let kernel = environment.withLock({ $0?.kernel }) else { return }
        for stanza in queued { kernel.bounceToSender(stanza, error) }
    }

    /// An established stream closed: the next stanza for `route` opens a new one.
    func closed(_ route: Route, channel: any Channel) {
        links.withLock { links in
            if case .ready(let current)? = links[route], current === channel { links[route] = nil }
        }
    }

    /// Asks the authoritative server of `route.remote` (the domain that sent a dialback request to our domain
    /// `route.local`), over a stream of its own, whether `key` is its dialback key for the stream `streamID` it opened
    /// to us (XEP-0220 §2.3). Fails when the server cannot be reached.
    func verify(key: String, streamID: String, _ route: Route, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        guard let environment = environment.withLock({ $0 }) else { return eventLoop.makeSucceededFuture(false) }
        let answer = eventLoop.makePromise(of: Bool.self)
        OutgoingServerStream.open(route, purpose: .verify(key: key, streamID: streamID, answer: answer),
                                  settings: settings, environment: environment)
            .whenFailure { answer.fail($0) }
        return answer.futureResult
    }

    /// Closes every outgoing stream (shutdown).
    func closeAll() {
        let channels = links.withLock { links -> [any Channel] in
            defer { links = [:] }
            return links.values.compactMap { if case .ready(let channel) = $0 { channel } else { nil } }
        }
        for channel in channels { channel.close(promise: nil) }
    }
}

/// An outgoing stream's two ends: our sending domain and the remote domain.
struct Route: Hashable, Sendable, CustomStringConvertible {
    /// The server's domain or one of its hosted services'.
    let local: String
    let remote: String

    var description: String { "\(local) → \(remote)" }
}
