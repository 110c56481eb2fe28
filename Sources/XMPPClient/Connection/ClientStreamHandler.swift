import NIOCore
import NIOSSL
import NIOTLS
import XMPPCore
import XMPPTransport

/// What a ``ClientStreamHandler`` reports to its client. Called on the channel's event loop.
protocol ClientStreamDelegate: AnyObject, Sendable {
    /// Negotiation reached a new phase (``ConnectionState/securing`` or ``ConnectionState/authenticating``).
    func streamPhaseChanged(_ state: ConnectionState)
    /// The stream is established and bound to `jid`.
    func streamEstablished(_ jid: JID, features: StreamFeatures, mechanism: SASLMechanism?, channel: any Channel)
    /// A stanza (or nonza) arrived on the established stream.
    func streamReceived(_ element: Element)
    /// The stream failed or the connection closed; `nil` when it closed after our own closing tag.
    func streamEnded(_ error: XMPPClientError?)
}

/// Drives one client connection: negotiation through ``ClientNegotiationStateMachine`` (STARTTLS, SASL,
/// binding), then hands stanzas to its delegate. Confined to its channel's event loop.
final class ClientStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = XMLStreamEvent
    typealias OutboundIn = XMPPOutbound
    typealias OutboundOut = XMPPOutbound

    private var machine: ClientNegotiationStateMachine
    private let decoder: XMPPStreamDecoder
    private let tls: ClientTLS?
    private let directTLS: Bool
    private weak var delegate: (any ClientStreamDelegate)?
    private var isEstablished = false
    private var ended = false
    private var closingRequested = false

    init(configuration: ClientNegotiationStateMachine.Configuration, decoder: XMPPStreamDecoder, tls: ClientTLS?,
         directTLS: Bool, delegate: any ClientStreamDelegate) {
        self.machine = ClientNegotiationStateMachine(configuration: configuration, isSecured: directTLS)
        self.decoder = decoder
        self.tls = tls
        self.directTLS = directTLS
        self.delegate = delegate
    }

    func channelActive(context: ChannelHandlerContext) {
        if directTLS {
            delegate?.streamPhaseChanged(.securing)
        } else {
            perform(machine.start(), context: context)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(closingRequested ? nil : .connectionLost("the connection closed"))
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .streamOpened(let header, let contentNamespace):
            perform(machine.receivedHeader(header, contentNamespace: contentNamespace), context: context)
        case .element(let element):
            if isEstablished {
                if let streamError = StreamError(element: element) {
                    fail(.streamError(streamError), context: context)
                } else {
                    delegate?.streamReceived(element)
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

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .close = unwrapOutboundIn(data) { closingRequested = true }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parseError = error as? XMLStreamError {
            fail(.streamError(StreamError(parseError)), context: context)
        } else if error is NIOSSLError || error is BoringSSLError {
            fail(.tlsFailed("\(error)"), context: context)
        } else {
            fail(.connectionLost("\(error)"), context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate
            let binding = certificate.flatMap { try? $0.toDERBytes() }.map { ChannelBinding.tlsServerEndPoint(certificateDER: $0) }
            if directTLS && !machine.isStarted {
                machine = ClientNegotiationStateMachine(configuration: machine.configuration, isSecured: true, channelBinding: binding)
                perform(machine.start(), context: context)
            } else {
                perform(machine.tlsEstablished(channelBinding: binding), context: context)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func perform(_ action: ClientNegotiationStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .sendHeader(let header):
            context.writeAndFlush(wrapOutboundOut(.header(header)), promise: nil)
        case .send(let element):
            // SASL, and registration or binding before it, is the authenticating phase.
            if element.name == "auth" || element.name == "iq" { delegate?.streamPhaseChanged(.authenticating) }
            context.writeAndFlush(wrapOutboundOut(.element(element)), promise: nil)
        case .startTLS:
            delegate?.streamPhaseChanged(.securing)
            decoder.resetStream()
            do {
                guard let tls else { throw XMPPClientError.tlsFailed("TLS is disabled") }
                try context.pipeline.syncOperations.addHandler(try tls.makeHandler(), position: .first)
            } catch {
                fail(.tlsFailed("\(error)"), context: context)
            }
        case .restartStream(let header):
            decoder.resetStream()
            context.writeAndFlush(wrapOutboundOut(.header(header)), promise: nil)
        case .established(let jid, let features):
            isEstablished = true
            delegate?.streamEstablished(jid, features: features, mechanism: machine.chosenMechanism, channel: context.channel)
        case .stanza(let element):
            delegate?.streamReceived(element)
        case .failed(let error):
            fail(XMPPClientError(error), context: context)
        }
    }

    private func fail(_ error: XMPPClientError, context: ChannelHandlerContext) {
        end(error)
        if case .streamError = error, context.channel.isActive {
            context.writeAndFlush(wrapOutboundOut(.close), promise: nil)
        }
        context.close(promise: nil)
    }

    private func end(_ error: XMPPClientError?) {
        guard !ended else { return }
        ended = true
        delegate?.streamEnded(error)
    }
}
