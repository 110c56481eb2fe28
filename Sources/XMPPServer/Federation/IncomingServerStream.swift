import Logging
import NIOCore
import NIOSSL
import XMPPCore
import XMPPServerKernel
import XMPPTransport

/// A stream a remote server opened to us (RFC 6120 §13): we offer STARTTLS (required unless `s2s_require_tls =
/// off`), then SASL EXTERNAL when the certificate the remote presented names the domain it claims (XEP-0178), and
/// dialback (XEP-0220). A `<db:result/>` is taken at once for a domain the certificate names (XEP-0344), else checked
/// with the claimed domain's authoritative server (never under `s2s_secure_auth`) before any stanza from that domain
/// is accepted; a `<db:verify/>` (the remote checking a key of ours) is answered from our secret. Stanzas must come from an authenticated domain (else `invalid-from`) and go to this server's
/// domain or a hosted service's (else `host-unknown`).
final class IncomingServerStream: ChannelInboundHandler {
    typealias InboundIn = XMLStreamEvent
    typealias OutboundOut = XMPPOutbound

    /// Dialback requests checked at once on one stream; more are refused.
    static let maxPendingVerifications = 8
    /// Stanzas waiting for storage work on one stream before reading pauses.
    static let maxBacklog = 64
    /// Remote domains one stream may authenticate (a server multiplexing its services' domains); more are refused.
    static let maxDomains = 32

    /// The domain's (with virtual hosts, the one the stream's first header names).
    private(set) var settings: FederationSettings
    private(set) var links: ServerLinks
    private(set) var kernel: ServerKernel
    private var tls: NIOSSLContext?
    /// Every domain of the server, for the stream to take the one it is opened to.
    let hosts: FederationHosts?
    /// Whether the first header picked the domain already.
    private var isHostChosen = false
    /// How the remote's certificate is judged (with ``tls``).
    let trust: ServerCertificateTrust?
    /// What the remote presented in the TLS handshake.
    var presented: PresentedCertificates?
    /// The domain of the stream header's `from` when the certificate names it: SASL EXTERNAL is offered for it.
    var certifiedDomain: String?
    /// SASL succeeded: the restarted stream offers no more mechanisms.
    var isSASLDone = false
    /// `<auth/>` attempts that failed (RFC 6120 §6.4.5: a few retries, then the stream closes).
    var saslFailures = 0
    private let decoder: XMPPStreamDecoder
    private let gate: ReadGate
    let logger: Logger
    var streamID = ""
    /// The domain of ours the remote opened the stream to (the server's, or a hosted service's).
    private var receivingDomain = ""
    private var isOpen = false
    var isSecured = false
    var isClosing = false
    /// Whether our stream header went out (a stream error needs one before it).
    private var headerSent = false
    /// The connection is gone: late verification answers change nothing.
    var isInactive = false
    private var setupTimer: Scheduled<Void>?
    var remoteDomains: Set<String> = []
    var pendingVerifications = 0
    private var backlog = 0
    /// Per sender (bare JID: a user's resources, or a room's occupants, whose joins must stay in order), the last of
    /// its stanzas whose (storage) work is still under way.
    private var unfinished: [JID: EventLoopFuture<Void>] = [:]

    /// With `directTLS`, the connection began with TLS (XEP-0368) and this is what the remote presented.
    init(host: FederationHosts.Host, hosts: FederationHosts? = nil, trust: ServerCertificateTrust?,
         directTLS: PresentedCertificates? = nil, decoder: XMPPStreamDecoder, gate: ReadGate, logger: Logger) {
        self.presented = directTLS
        self.isSecured = directTLS != nil
        self.settings = host.links.settings
        self.links = host.links
        self.kernel = host.kernel
        self.tls = host.serverTLS
        self.hosts = hosts
        self.trust = trust
        self.decoder = decoder
        self.gate = gate
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        startSetupTimer(context: context)
        context.fireChannelActive()
    }

    /// A connection that has not authenticated a domain in time goes: it would otherwise hold one of
    /// `s2s_max_incoming` for `s2s_idle_seconds`. Answering a `db:verify` (a verification stream) and a dialback check
    /// under way (which has a deadline of its own) give it another period.
    func startSetupTimer(context: ChannelHandlerContext) {
        setupTimer?.cancel()
        let channel = context.channel
        setupTimer = context.eventLoop.scheduleTask(in: .seconds(settings.setupSeconds)) {
            channel.pipeline.fireUserInboundEventTriggered(IncomingSetupTimedOut())
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isInactive = true
        setupTimer?.cancel()
        links.incomingClosed(remoteDomains)
        remoteDomains = []
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .all {
            close(with: isOpen ? nil : StreamError(.connectionTimeout), context: context)
        } else if event is IncomingSetupTimedOut {
            if pendingVerifications > 0 {
                startSetupTimer(context: context)
            } else if remoteDomains.isEmpty {
                close(with: StreamError(.connectionTimeout, text: "no domain authenticated in time"), context: context)
            }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? XMLStreamError {
            close(with: StreamError(parserError), context: context)
        } else {
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isClosing else { return }
        switch unwrapInboundIn(data) {
        case .streamOpened(let root, let contentNamespace):
            opened(root, contentNamespace: contentNamespace, context: context)
        case .element(let element) where isOpen:
            received(element, context: context)
        case .element:
            close(with: StreamError(.notAuthorized), context: context)
        case .streamClosed:
            close(with: nil, context: context)
        }
    }

    // MARK: Stream

    private func opened(_ root: Element, contentNamespace: String, context: ChannelHandlerContext) {
        streamID = StanzaID.make()
        let to = root.attribute("to")?.lowercased() ?? ""
        if !isHostChosen {
            // With virtual hosts, the domain the stream is opened to is the one it talks to; later headers (after
            // STARTTLS, SASL) must name it again.
            isHostChosen = true
            if !serves(to), let host = hosts?.host(serving: to) {
                (settings, links, kernel, tls) = (host.links.settings, host.links, host.kernel, host.serverTLS)
            }
        }
        receivingDomain = serves(to) ? to : settings.localDomain
        let header = StreamHeader(from: receivingDomain, to: root.attribute("from"), id: streamID, version: "1.0",
                                  contentNamespace: XMLNamespace.server)
        context.write(wrapOutboundOut(.header(header)), promise: nil)
        headerSent = true
        guard root.name == "stream", root.namespace == XMLNamespace.streams, contentNamespace == XMLNamespace.server else {
            return close(with: StreamError(.invalidNamespace, text: "a server-to-server stream is in jabber:server"), context: context)
        }
        guard serves(to) else {
            return close(with: StreamError(.hostUnknown, text: "this server is \(settings.localDomain)"), context: context)
        }
        // The domain as SASL and dialback will take it (normalized), not as written.
        if let from = root.attribute("from").map({ JID(validating: $0)?.domainpart ?? $0.lowercased() }), !settings.permits(from) {
            return close(with: StreamError(.policyViolation, text: "this server does not talk to \(from)"), context: context)
        }
        isOpen = true
        // SASL EXTERNAL is offered only when the certificate names the domain the header claims, so that is checked
        // (off the event loop) before the features go out.
        guard isSecured, !isSASLDone, let from = root.attribute("from").flatMap(JID.init(validating:)), from.localpart == nil,
              from.resourcepart == nil, !isOwn(from.domainpart) else {
            return sendFeatures(context: context)
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        certificateNames(from.domainpart, context: context).whenSuccess { named in
            let (stream, context) = loopBound.value
            guard !stream.isClosing, !stream.isInactive else { return }
            stream.certifiedDomain = named ? from.domainpart : nil
            stream.sendFeatures(context: context)
        }
    }

    private func sendFeatures(context: ChannelHandlerContext) {
        var features = Element("features", namespace: XMLNamespace.streams)
        if !isSecured, tls != nil {
            var starttls = Element("starttls", namespace: Dialback.tlsNamespace)
            if settings.requireTLS { starttls.append(Element("required", namespace: Dialback.tlsNamespace)) }
            features.append(starttls)
        }
        if certifiedDomain != nil, !isSASLDone {
            var mechanisms = Element("mechanisms", namespace: XMLNamespace.sasl)
            var external = Element("mechanism", namespace: XMLNamespace.sasl)
            external.append(text: "EXTERNAL")
            mechanisms.append(external)
            features.append(mechanisms)
        }
        if isSecured || !settings.requireTLS {
            var dialback = Element("dialback", namespace: Dialback.featureNamespace)
            dialback.append(Element("errors", namespace: Dialback.featureNamespace))
            features.append(dialback)
        }
        context.writeAndFlush(wrapOutboundOut(.element(features)), promise: nil)
    }

    private func received(_ element: Element, context: ChannelHandlerContext) {
        switch element.namespace {
        case Dialback.tlsNamespace where element.name == "starttls":
            startTLS(context: context)
        case Dialback.namespace where element.name == "result" && element.attribute("type") == nil:
            dialbackRequest(element, context: context)
        case Dialback.namespace where element.name == "verify" && element.attribute("type") == nil:
            verifyRequest(element, context: context)
        case XMLNamespace.sasl where element.name == "auth":
            saslAuth(element, context: context)
        case XMLNamespace.sasl where element.name == "abort":
            saslFailure(.aborted, context: context)
        case XMLNamespace.server where ["message", "presence", "iq"].contains(element.name):
            stanza(element, context: context)
        case XMLNamespace.streams where element.name == "error":
            logger.notice("remote server sent a stream error", metadata: [
                "domains": "\(remoteDomains.sorted())", "condition": "\(StreamError(element: element)?.condition.rawValue ?? "?")"])
            close(with: nil, context: context)
        default:
            close(with: StreamError(.unsupportedStanzaType, text: "\(element.name) is not expected here"), context: context)
        }
    }

    private func startTLS(context: ChannelHandlerContext) {
        guard !isSecured, let tls else { return close(with: StreamError(.policyViolation, text: "TLS is not offered"), context: context) }
        context.writeAndFlush(wrapOutboundOut(.element(Element("proceed", namespace: Dialback.tlsNamespace))), promise: nil)
        do {
            let presented = PresentedCertificates()
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls, customVerificationCallback: presented.callback),
                                                           position: .first)
            self.presented = presented
        } catch {
            return context.close(promise: nil) as Void
        }
        decoder.resetStream()
        isSecured = true
        isOpen = false
    }

    // MARK: Stanzas

    private func stanza(_ element: Element, context: ChannelHandlerContext) {
        guard let from = element.attribute("from").flatMap(JID.init(validating:)), remoteDomains.contains(from.domainpart) else {
            return close(with: StreamError(.invalidFrom, text: "stanzas on this stream come from the domains it authenticated"),
                         context: context)
        }
        guard let to = element.attribute("to").flatMap(JID.init(validating:)),
              kernel.isLocal(to) || kernel.isHostedService(to.domainpart) else {
            return close(with: StreamError(.hostUnknown, text: "this server is \(settings.localDomain)"), context: context)
        }
        let stanza = element.replacingNamespace(XMLNamespace.server, with: XMLNamespace.client)
        // In order per sending bare JID (RFC 6120 §10.1 asks for order between two entities; a remote room's
        // occupants are one bare JID, so a join's presences, history and subject keep their order): a stanza waits
        // for the storage work of that sender's previous one, not for every user of the remote server.
        let (eventLoop, kernel, sender) = (context.eventLoop, kernel, from.bare)
        if let previous = unfinished[sender] {
            // A stanza whose work failed does not hold back the ones after it.
            track(previous.recover { _ in }.flatMap {
                kernel.processFromRemote(stanza, from: from, to: to, eventLoop: eventLoop) ?? eventLoop.makeSucceededVoidFuture()
            }, of: sender, context: context)
        } else if let processed = kernel.processFromRemote(stanza, from: from, to: to, eventLoop: eventLoop) {
            track(processed, of: sender, context: context)
        }
    }

    /// Remembers `work` as `sender`'s latest unfinished stanza; reading pauses while ``maxBacklog`` are unfinished.
    private func track(_ work: EventLoopFuture<Void>, of sender: JID, context: ChannelHandlerContext) {
        unfinished[sender] = work
        backlog += 1
        if backlog >= Self.maxBacklog { gate.pause(.backlog, context: context) }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        work.whenComplete { _ in
            let (stream, context) = loopBound.value
            stream.backlog -= 1
            if stream.unfinished[sender] === work { stream.unfinished[sender] = nil }
            if stream.backlog < Self.maxBacklog / 2 { stream.gate.resume(.backlog, context: context) }
        }
    }

    func write(_ element: Element, context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(.element(element)), promise: nil)
    }

    /// Restarts the stream after SASL (RFC 6120 §6.4.6): the remote sends a new header, the parser starts over.
    func restartStream() {
        decoder.resetStream()
        isOpen = false
    }

    func close(with error: StreamError?, context: ChannelHandlerContext) {
        guard !isClosing else { return }
        isClosing = true
        if let error {
            logger.notice("server-to-server stream closed with an error", metadata: [
                "peer": "\(context.channel.remoteAddress?.description ?? "?")", "domains": "\(remoteDomains.sorted())",
                "condition": "\(error.condition.rawValue)", "text": "\(error.text ?? "")"])
        }
        if !headerSent {
            // A stream error needs a stream around it (RFC 6120 §4.9.1.1), even for a peer that never opened one.
            let header = StreamHeader(from: settings.localDomain, id: StanzaID.make(), version: "1.0", contentNamespace: XMLNamespace.server)
            context.write(wrapOutboundOut(.header(header)), promise: nil)
        }
        if let error { context.write(wrapOutboundOut(.element(error.element)), promise: nil) }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.close)).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// An incoming stream authenticated nothing within `s2s_setup_seconds`.
private struct IncomingSetupTimedOut {}
