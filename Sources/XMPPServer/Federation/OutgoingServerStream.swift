import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import XMPPCore
import XMPPServerKernel
import XMPPTransport

/// A stream this server opens to a remote server (RFC 6120 §13): the header, STARTTLS (required unless
/// `s2s_require_tls = off`; our certificate goes along), then for routing SASL EXTERNAL when the remote offers it
/// (XEP-0178: it found that our certificate names our domain), else — or when it fails, unless `s2s_secure_auth` —
/// dialback (XEP-0220) with our key; once authenticated, the stanzas ``ServerLinks`` has for it. For verification,
/// one `<db:verify/>` and its answer. Under `s2s_secure_auth` the remote's certificate must name its domain too.
final class OutgoingServerStream: ChannelInboundHandler {
    typealias InboundIn = XMLStreamEvent
    typealias OutboundOut = XMPPOutbound

    enum Purpose {
        /// Carry stanzas for ``ServerLinks`` (setup attempt number `attempt`).
        case route(ServerLinks, attempt: Int)
        /// Ask whether `key` is the remote's dialback key for the stream `streamID` it opened to us.
        case verify(key: String, streamID: String, answer: EventLoopPromise<Bool>)
    }

    enum State {
        case awaitingHeader
        case awaitingFeatures
        case awaitingProceed
        /// The remote's certificate is being checked (`s2s_secure_auth`).
        case checkingCertificate
        /// `<auth mechanism='EXTERNAL'/>` went out.
        case awaitingSASLOutcome
        case awaitingAnswer
        case established
        /// SASL failed: a new connection (dialback only) took over the route; this one just closes.
        case handedOver
        case done
    }

    let local: String
    let remote: String
    let purpose: Purpose
    /// Whether SASL EXTERNAL may be tried (not on the connection that replaces one where it failed).
    let allowExternal: Bool
    let settings: FederationSettings
    let environment: ServerLinks.Environment
    let decoder: XMPPStreamDecoder
    var state = State.awaitingHeader
    var isSecured = false
    /// What the remote presented in the TLS handshake.
    var presented: PresentedCertificates?
    /// SASL EXTERNAL succeeded: the restarted stream is ready once its features come.
    var isSASLDone = false
    var streamID = ""
    var setupTimer: Scheduled<Void>?
    var isClosing = false

    /// With `directTLS`, the connection began with TLS (XEP-0368) and this is what the remote presented.
    init(_ route: Route, purpose: Purpose, settings: FederationSettings, environment: ServerLinks.Environment,
         decoder: XMPPStreamDecoder, directTLS: PresentedCertificates? = nil, allowExternal: Bool = true) {
        self.allowExternal = allowExternal
        self.presented = directTLS
        self.isSecured = directTLS != nil
        self.local = route.local
        self.remote = route.remote
        self.purpose = purpose
        self.settings = settings
        self.environment = environment
        self.decoder = decoder
    }

    /// Finds `route.remote`'s server (``FederationSettings/addresses(of:group:)``), connects to the first address
    /// that accepts, and runs a stream from `route.local` for `purpose`; the future fails when no address does.
    /// `allowExternal: false` for a second connection after SASL EXTERNAL failed on the first.
    static func open(_ route: Route, purpose: Purpose, settings: FederationSettings,
                     environment: ServerLinks.Environment, allowExternal: Bool = true) -> EventLoopFuture<Void> {
        let eventLoop = environment.group.next()
        return eventLoop.makeFutureWithTask { await settings.addresses(of: route.remote, group: environment.group) }
            .flatMap { addresses in
                connect(route, to: addresses[...], purpose: purpose, settings: settings, environment: environment, allowExternal: allowExternal)
            }
    }

    static func connect(_ route: Route, to addresses: ArraySlice<RemoteAddress>, purpose: Purpose,
                                settings: FederationSettings, environment: ServerLinks.Environment,
                                allowExternal: Bool) -> EventLoopFuture<Void> {
        guard let address = addresses.first else {
            return environment.group.next().makeFailedFuture(FederationError.noAddress(route.remote))
        }
        let limits = XMLParserLimits(maxStanzaBytes: environment.maxStanzaBytes)
        let directTLS = address.directTLS ? PresentedCertificates() : nil
        // The addresses share the setup's one deadline: a target that drops packets does not use it all up.
        let connectSeconds = max(1, settings.setupSeconds / Int64(addresses.count))
        return ClientBootstrap(group: environment.group)
            .connectTimeout(.seconds(connectSeconds))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let directTLS {
                        // XEP-0368: TLS at once, the remote domain as SNI; the stream then needs no STARTTLS.
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(
                            context: environment.clientTLS, serverHostname: route.remote, customVerificationCallback: directTLS.callback))
                    }
                    try channel.pipeline.syncOperations.addHandlers([
                        // The remote may only answer on this stream, but it is read no faster than an incoming one.
                        ReadRateLimiter(bytesPerSecond: settings.bytesPerSecond, burst: settings.bytesPerSecond, gate: ReadGate()),
                        XMPPStreamDecoder(limits: limits), XMPPStreamEncoder(contentNamespace: XMLNamespace.server),
                        IdleStateHandler(allTimeout: .seconds(settings.idleSeconds)),
                    ])
                }
            }
            .connect(host: address.host, port: address.port)
            .flatMap { channel in
                // Only the connection that won (of the addresses a name resolves to) gets the stream: a losing attempt
                // must not settle the route or the verification.
                channel.eventLoop.makeCompletedFuture {
                    let decoder = try channel.pipeline.syncOperations.handler(type: XMPPStreamDecoder.self)
                    try channel.pipeline.syncOperations.addHandler(OutgoingServerStream(
                        route, purpose: purpose, settings: settings, environment: environment, decoder: decoder, directTLS: directTLS,
                        allowExternal: allowExternal))
                }.flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
            }
            .flatMapError { error in
                guard addresses.count > 1 else { return environment.group.next().makeFailedFuture(error) }
                return connect(route, to: addresses.dropFirst(), purpose: purpose, settings: settings, environment: environment,
                               allowExternal: allowExternal)
            }
    }

    /// Added once connected: the stream starts at once (or is settled as failed when the connection went already).
    func handlerAdded(context: ChannelHandlerContext) {
        guard context.channel.isActive else {
            return finish(StanzaError(.remoteServerNotFound, text: "the connection to \(remote) closed"), context: context)
        }
        let channel = context.channel
        setupTimer = context.eventLoop.scheduleTask(in: .seconds(settings.setupSeconds)) {
            channel.pipeline.fireUserInboundEventTriggered(SetupTimedOut())
        }
        openStream(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        setupTimer?.cancel()
        finish(StanzaError(.remoteServerNotFound, text: "the stream to \(remote) closed"), context: context)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is SetupTimedOut, !isEstablished {
            finish(StanzaError(.remoteServerTimeout, text: "\(remote) did not answer in time"), context: context)
            closeStream(context: context)
        } else if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .all {
            closeStream(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream that is closing or was handed over ends as it may (peers often skip TLS close_notify): not news.
        let settled: Bool = switch state { case .done, .handedOver: true; default: isClosing }
        environment.logger.log(level: settled ? .debug : .notice, "server-to-server stream failed",
                               metadata: ["domain": "\(remote)", "error": "\(error)"])
        finish(StanzaError(.remoteServerNotFound, text: "the stream to \(remote) failed"), context: context)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.streamOpened(let root, _), .awaitingHeader):
            streamID = root.attribute("id") ?? ""
            state = .awaitingFeatures
        case (.element(let features), .awaitingFeatures) where features.name == "features":
            negotiate(features, context: context)
        case (.element(let element), .awaitingProceed) where element.namespace == Dialback.tlsNamespace:
            guard element.name == "proceed" else { return fail("\(remote) refused STARTTLS", context: context) }
            startTLS(context: context)
        case (.element(let element), .awaitingAnswer) where element.namespace == Dialback.namespace:
            answered(element, context: context)
        case (.element(let element), .awaitingSASLOutcome) where element.namespace == XMLNamespace.sasl:
            saslOutcome(element, context: context)
        case (.streamClosed, _):
            closeStream(context: context)
        case (.element(let element), _) where element.name == "error" && element.namespace == XMLNamespace.streams:
            fail("\(remote) sent a stream error: \(StreamError(element: element)?.condition.rawValue ?? "?")", context: context)
        default:
            // Outgoing streams carry our stanzas only (RFC 6120 §13: one direction per stream).
            break
        }
    }

    var isEstablished: Bool {
        if case .established = state { true } else { false }
    }

    func openStream(context: ChannelHandlerContext) {
        let header = StreamHeader(from: local, to: remote, version: "1.0", contentNamespace: XMLNamespace.server)
        context.writeAndFlush(wrapOutboundOut(.header(header)), promise: nil)
    }

    func startTLS(context: ChannelHandlerContext) {
        do {
            let presented = PresentedCertificates()
            let handler = try NIOSSLClientHandler(context: environment.clientTLS, serverHostname: remote,
                                                  customVerificationCallback: presented.callback)
            try context.pipeline.syncOperations.addHandler(handler, position: .first)
            self.presented = presented
        } catch {
            return fail("TLS with \(remote): \(error)", context: context)
        }
        decoder.resetStream()
        isSecured = true
        state = .awaitingHeader
        openStream(context: context)
    }

    /// The stream is authenticated: ``ServerLinks`` sends its stanzas on it.
    func ready(by method: ServerLinks.Method, context: ChannelHandlerContext) {
        guard case .route(let links, let attempt) = purpose else { return }
        state = .established
        setupTimer?.cancel()
        guard links.established(Route(local: local, remote: remote), attempt: attempt, channel: context.channel) else {
            // Too late: the route gave up meanwhile (its stanzas bounced); this stream is not wanted.
            state = .done
            return closeStream(context: context)
        }
        environment.logger.notice("server-to-server stream ready",
                                  metadata: ["domain": "\(remote)", "from": "\(local)", "direction": "out", "by": "\(method.rawValue)"])
        links.authenticated(by: method)
    }

    func fail(_ reason: String, context: ChannelHandlerContext) {
        environment.logger.notice("server-to-server stream failed", metadata: ["domain": "\(remote)", "reason": "\(reason)"])
        finish(StanzaError(.remoteServerNotFound, text: reason), context: context)
        closeStream(context: context)
    }

    /// Settles the purpose once: the queued stanzas bounce (or the stream is forgotten), the verification says no.
    func finish(_ error: StanzaError, context: ChannelHandlerContext) {
        let previous = state
        state = .done
        switch (purpose, previous) {
        case (.route(let links, _), .established): links.closed(Route(local: local, remote: remote), channel: context.channel)
        case (.route(let links, let attempt), .awaitingHeader), (.route(let links, let attempt), .awaitingFeatures),
             (.route(let links, let attempt), .awaitingProceed), (.route(let links, let attempt), .awaitingAnswer),
             (.route(let links, let attempt), .checkingCertificate), (.route(let links, let attempt), .awaitingSASLOutcome):
            links.failed(Route(local: local, remote: remote), attempt: attempt, error)
        case (.verify(_, _, let promise), let state) where !Self.isDone(state):
            // No answer is not a "no": the key was not judged.
            promise.fail(FederationError.noAnswer(remote))
        default:
            break
        }
    }

    static func isDone(_ state: State) -> Bool {
        if case .done = state { true } else { false }
    }

    func closeStream(context: ChannelHandlerContext) {
        let channel = context.channel
        guard channel.isActive, !isClosing else { return }
        isClosing = true
        // No more stanzas into a stream that is closing: the next one opens a new stream.
        if case .route(let links, _) = purpose, isEstablished { links.closed(Route(local: local, remote: remote), channel: channel) }
        context.writeAndFlush(wrapOutboundOut(.close)).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// The stream was not ready within `s2s_setup_seconds`.
private struct SetupTimedOut {}

/// Why no stream to a remote server could be opened.
enum FederationError: Error, CustomStringConvertible {
    /// DNS says the domain offers no server-to-server service.
    case noAddress(String)
    /// The remote did not answer a verification in time.
    case noAnswer(String)

    var description: String {
        switch self {
        case .noAddress(let domain): "\(domain) offers no server-to-server service"
        case .noAnswer(let domain): "\(domain) did not answer in time"
        }
    }
}
