import NIOCore
import NIOSSL
import NIOTLS
import XMPPCore

/// The phases of negotiation a client reports, for connection-state displays.
public enum ClientStreamPhase: Sendable, Hashable {
    /// TLS is being set up (STARTTLS or direct TLS).
    case securing
    /// SASL (or registration, or binding) is under way.
    case authenticating
}

/// Why a client stream ended.
public enum ClientStreamFailure: Error, Sendable {
    /// Negotiation failed (TLS refused, authentication failed, binding refused, ...).
    case negotiation(ClientNegotiationError)
    /// The server sent a stream error, or its XML could not be parsed (then the error is ours to send).
    case streamError(StreamError)
    /// TLS failed (handshake, certificate).
    case tls(FailureCause)
    /// The connection closed or failed underneath the stream.
    case connectionLost(String)
}

/// What a ``ClientStreamHandler`` reports. Called on the channel's event loop.
public protocol ClientStreamDelegate: AnyObject, Sendable {
    /// Negotiation reached a new phase.
    func clientStream(enteredPhase phase: ClientStreamPhase)
    /// The stream is established and bound to `jid`.
    func clientStreamEstablished(jid: JID, features: StreamFeatures, mechanism: SASLMechanism?, channel: any Channel)
    /// The stream resumed an earlier stream-managed session (XEP-0198 §5) instead of binding; `handled` is how many
    /// stanzas the server had handled from the client.
    func clientStreamResumed(jid: JID, handled: UInt32, features: StreamFeatures, channel: any Channel)
    /// A stanza (or nonza) arrived on the established stream.
    func clientStreamReceived(_ element: Element)
    /// A batch of reads ended: the time to flush what the stanzas triggered.
    func clientStreamReadComplete()
    /// The stream failed or the connection closed; `nil` when it closed after our own closing tag.
    func clientStreamEnded(_ failure: ClientStreamFailure?)
}

extension ClientStreamDelegate {
    public func clientStream(enteredPhase phase: ClientStreamPhase) {}
    /// Treats a resumed stream as a newly established one, for delegates that never ask to resume.
    public func clientStreamResumed(jid: JID, handled: UInt32, features: StreamFeatures, channel: any Channel) {
        clientStreamEstablished(jid: jid, features: features, mechanism: nil, channel: channel)
    }
    public func clientStreamReadComplete() {}
}

/// Drives one client connection, for the client library and the load generator alike: negotiation through
/// ``ClientNegotiationStateMachine`` (STARTTLS or direct TLS, SASL with channel binding when asked, registration,
/// binding), then hands stanzas to its delegate. Sits after ``XMPPStreamDecoder`` and ``XMPPStreamEncoder`` in the
/// pipeline; confined to its channel's event loop.
public final class ClientStreamHandler: ChannelDuplexHandler {
    public typealias InboundIn = XMLStreamEvent
    public typealias OutboundIn = XMPPOutbound
    public typealias OutboundOut = XMPPOutbound

    private var machine: ClientNegotiationStateMachine
    private let decoder: any StreamRestarting
    private let startsWhenAdded: Bool
    private let makeTLSHandler: (@Sendable () throws -> NIOSSLClientHandler)?
    private let directTLS: Bool
    private let usesChannelBinding: Bool
    private let delegate: any ClientStreamDelegate
    private var isEstablished = false
    private var ended = false
    private var closingRequested = false

    /// Creates a handler.
    /// - Parameters:
    ///   - configuration: The negotiation: JID, password, mechanisms, TLS policy, registration.
    ///   - decoder: The pipeline's decoder, reset at each stream restart.
    ///   - directTLS: Whether TLS is already in the pipeline (XEP-0368); negotiation then starts after its handshake.
    ///   - makeTLSHandler: Makes the TLS handler STARTTLS inserts; `nil` when TLS is off.
    ///   - usesChannelBinding: Whether to offer the server certificate's hash for SCRAM -PLUS (tls-server-end-point).
    ///   - delegate: Receives the events; held until the channel closes.
    ///   - startsWhenAdded: The connection is open already, secured as it will stay (XMPP over WebSocket after the
    ///     upgrade, RFC 7395: `directTLS` then says whether it is `wss://`); negotiation starts when the handler is added.
    public init(configuration: ClientNegotiationStateMachine.Configuration, decoder: any StreamRestarting, directTLS: Bool,
                makeTLSHandler: (@Sendable () throws -> NIOSSLClientHandler)?, usesChannelBinding: Bool = true,
                delegate: any ClientStreamDelegate, startsWhenAdded: Bool = false) {
        self.startsWhenAdded = startsWhenAdded
        self.machine = ClientNegotiationStateMachine(configuration: configuration, isSecured: directTLS)
        self.decoder = decoder
        self.makeTLSHandler = makeTLSHandler
        self.directTLS = directTLS
        self.usesChannelBinding = usesChannelBinding
        self.delegate = delegate
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        guard startsWhenAdded, context.channel.isActive else { return }
        let binding = directTLS && usesChannelBinding ? serverEndPointBinding(context: context) : nil
        machine = ClientNegotiationStateMachine(configuration: machine.configuration, isSecured: directTLS, channelBinding: binding)
        perform(machine.start(), context: context)
    }

    public func channelActive(context: ChannelHandlerContext) {
        if directTLS {
            delegate.clientStream(enteredPhase: .securing)
        } else {
            perform(machine.start(), context: context)
        }
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        end(closingRequested ? nil : .connectionLost("the connection closed"))
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .streamOpened(let header, let contentNamespace):
            perform(machine.receivedHeader(header, contentNamespace: contentNamespace), context: context)
        case .element(let element):
            if isEstablished {
                if let streamError = StreamError(element: element) {
                    fail(.streamError(streamError), context: context)
                } else {
                    delegate.clientStreamReceived(element)
                }
            } else {
                perform(machine.received(element), context: context)
            }
        case .streamClosed:
            if closingRequested {
                context.close(promise: nil)
            } else {
                perform(machine.receivedStreamClose(), context: context)
            }
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if isEstablished { delegate.clientStreamReadComplete() }
        context.fireChannelReadComplete()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .close = unwrapOutboundIn(data) { closingRequested = true }
        context.write(data, promise: promise)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parseError = error as? XMLStreamError {
            fail(.streamError(StreamError(parseError)), context: context)
        } else if let tlsError = error as? NIOSSLError, case .uncleanShutdown = tlsError, isEstablished {
            // The TCP connection ended without TLS's closing alert: the network dropped, nothing wrong with TLS (a
            // reconnection, and a stream resumption, may follow).
            fail(.connectionLost("the connection dropped (\(error))"), context: context)
        } else if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            fail(.tls(FailureCause.tls(error, domain: machine.configuration.jid.domainpart)), context: context)
        } else {
            fail(.connectionLost("\(error)"), context: context)
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            let binding = usesChannelBinding ? serverEndPointBinding(context: context) : nil
            if directTLS && !machine.isStarted {
                machine = ClientNegotiationStateMachine(configuration: machine.configuration, isSecured: true, channelBinding: binding)
                perform(machine.start(), context: context)
            } else if !machine.isEncrypted {
                perform(machine.tlsEstablished(channelBinding: binding), context: context)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// tls-server-end-point (RFC 5929) from the certificate the server presented.
    private func serverEndPointBinding(context: ChannelHandlerContext) -> ChannelBinding? {
        let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate
        return certificate.flatMap { try? $0.toDERBytes() }.map { ChannelBinding.tlsServerEndPoint(certificateDER: $0) }
    }

    private func perform(_ action: ClientNegotiationStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .sendHeader(let header):
            context.writeAndFlush(wrapOutboundOut(.header(header)), promise: nil)
        case .send(let element):
            // SASL, and registration or binding before it, is the authenticating phase.
            if element.name == "auth" || element.name == "iq" { delegate.clientStream(enteredPhase: .authenticating) }
            context.writeAndFlush(wrapOutboundOut(.element(element)), promise: nil)
        case .startTLS:
            delegate.clientStream(enteredPhase: .securing)
            decoder.resetStream()
            do {
                guard let makeTLSHandler else { return fail(.tls(FailureCause(.localConfiguration, "TLS is disabled")), context: context) }
                try context.pipeline.syncOperations.addHandler(try makeTLSHandler(), position: .first)
            } catch {
                fail(.tls(FailureCause(.localConfiguration, "TLS could not be set up", underlying: "\(error)")), context: context)
            }
        case .restartStream(let header):
            decoder.resetStream()
            context.writeAndFlush(wrapOutboundOut(.header(header)), promise: nil)
        case .established(let jid, let features):
            isEstablished = true
            delegate.clientStreamEstablished(jid: jid, features: features, mechanism: machine.chosenMechanism, channel: context.channel)
        case .resumed(let jid, let handled, let features):
            isEstablished = true
            delegate.clientStreamResumed(jid: jid, handled: handled, features: features, channel: context.channel)
        case .stanza(let element):
            delegate.clientStreamReceived(element)
        case .failed(let error):
            fail(.negotiation(error), context: context)
        }
    }

    private func fail(_ failure: ClientStreamFailure, context: ChannelHandlerContext) {
        end(failure)
        if case .streamError = failure, context.channel.isActive {
            context.writeAndFlush(wrapOutboundOut(.close), promise: nil)
        }
        context.close(promise: nil)
    }

    private func end(_ failure: ClientStreamFailure?) {
        guard !ended else { return }
        ended = true
        delegate.clientStreamEnded(failure)
    }
}
