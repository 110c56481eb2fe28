import Crypto
import Foundation
import Logging
import NIOCore
import XMPPCore
import XMPPServerKernel
import XMPPTransport

/// One external component's connection (XEP-0114): the stream header names a configured component domain, the
/// component proves it knows the domain's secret with `<handshake/>` (SHA-1 of the stream id and the secret, in hex),
/// and from then on its stanzas go into the kernel (to local users and hosted services) and the kernel's stanzas for
/// its domain come out here. A stanza whose `from` is not at the component's domain closes the stream (invalid-from).
final class ComponentConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = XMLStreamEvent
    typealias OutboundOut = XMPPOutbound

    /// Seconds a component has to complete its handshake.
    static let handshakeSeconds: Int64 = 30

    private enum State {
        case awaitingHeader
        case awaitingHandshake(domain: String, streamID: String)
        case established(domain: String)
        case closed
    }

    private let secrets: [String: String]
    private let links: ComponentLinks
    private let kernel: ServerKernel
    private let logger: Logger
    private var state = State.awaitingHeader
    /// The domain this connection serves once its handshake succeeded; kept after the stream closes, so the link is
    /// dropped when the connection goes.
    private var connectedDomain: String?
    private var handshakeTimer: Scheduled<Void>?

    init(secrets: [String: String], links: ComponentLinks, kernel: ServerKernel, logger: Logger) {
        self.secrets = secrets
        self.links = links
        self.kernel = kernel
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        handshakeTimer = context.eventLoop.scheduleTask(in: .seconds(Self.handshakeSeconds)) {
            channel.pipeline.fireUserInboundEventTriggered(HandshakeTimedOut())
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        if let domain = connectedDomain {
            links.disconnect(domain, context.channel)
            logger.notice("component disconnected", metadata: ["domain": "\(domain)"])
        }
        state = .closed
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch (event, state) {
        case (is HandshakeTimedOut, .awaitingHeader), (is HandshakeTimedOut, .awaitingHandshake):
            close(with: StreamError(.connectionTimeout, text: "no handshake"), context: context)
        case (is Replaced, .established):
            close(with: StreamError(.conflict, text: "another connection of this component took over"), context: context)
        default:
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
        switch (unwrapInboundIn(data), state) {
        case (.streamOpened(let root, let contentNamespace), .awaitingHeader):
            opened(root, contentNamespace: contentNamespace, context: context)
        case (.element(let element), .awaitingHandshake(let domain, let streamID)):
            handshake(element, domain: domain, streamID: streamID, context: context)
        case (.element(let element), .established(let domain)):
            route(element.replacingNamespace(XMLNamespace.component, with: XMLNamespace.client), from: domain, context: context)
        case (.streamClosed, _):
            close(with: nil, context: context)
        case (_, .closed):
            break
        default:
            close(with: StreamError(.notAuthorized, text: "handshake first"), context: context)
        }
    }

    private func opened(_ root: Element, contentNamespace: String, context: ChannelHandlerContext) {
        let streamID = StanzaID.make()
        let domain = root.attribute("to")?.lowercased() ?? ""
        var header = StreamHeader(from: domain.isEmpty ? kernel.configuration.domain : domain, id: streamID, version: nil,
                                  contentNamespace: XMLNamespace.component)
        guard root.name == "stream", root.namespace == XMLNamespace.streams, contentNamespace == XMLNamespace.component else {
            header.from = kernel.configuration.domain
            return close(with: StreamError(.invalidNamespace, text: "a component stream is in jabber:component:accept"),
                         header: header, context: context)
        }
        // Only a domain that is this component's own service: never the server's domain or another service's, whose
        // users and rooms the component could then speak for.
        guard secrets[domain] != nil, let jid = JID(validating: domain), kernel.service(for: jid) is ComponentService else {
            header.from = kernel.configuration.domain
            return close(with: StreamError(.hostUnknown, text: "no component is configured for \(domain)"), header: header, context: context)
        }
        context.writeAndFlush(wrapOutboundOut(.header(header)), promise: nil)
        state = .awaitingHandshake(domain: domain, streamID: streamID)
    }

    private func handshake(_ element: Element, domain: String, streamID: String, context: ChannelHandlerContext) {
        guard element.name == "handshake", element.namespace == XMLNamespace.component, let secret = secrets[domain] else {
            return close(with: StreamError(.notAuthorized, text: "handshake first"), context: context)
        }
        let expected = Insecure.SHA1.hash(data: Array((streamID + secret).utf8)).map { String(format: "%02x", $0) }.joined()
        guard constantTimeEqual(Array(element.text.trimmingCharacters(in: .whitespaces).lowercased().utf8), Array(expected.utf8)) else {
            logger.notice("component handshake failed", metadata: ["domain": "\(domain)"])
            return close(with: StreamError(.notAuthorized, text: "wrong secret"), context: context)
        }
        handshakeTimer?.cancel()
        state = .established(domain: domain)
        connectedDomain = domain
        if let previous = links.connect(domain, context.channel) {
            previous.pipeline.fireUserInboundEventTriggered(Replaced())
        }
        context.writeAndFlush(wrapOutboundOut(.element(Element("handshake", namespace: XMLNamespace.component))), promise: nil)
        logger.notice("component connected", metadata: ["domain": "\(domain)"])
    }

    /// A stanza from the component: to a local user, or to a hosted service (another component, a room, ...).
    private func route(_ stanza: Element, from domain: String, context: ChannelHandlerContext) {
        guard ["message", "presence", "iq"].contains(stanza.name) else {
            return close(with: StreamError(.unsupportedStanzaType, text: "\(stanza.name) is not a stanza"), context: context)
        }
        guard let from = stanza.attribute("from").flatMap(JID.init(validating:)), from.domainpart == domain else {
            return close(with: StreamError(.invalidFrom, text: "stanzas from this stream are from \(domain)"), context: context)
        }
        guard let to = stanza.attribute("to").flatMap(JID.init(validating:)) else {
            return close(with: StreamError(.improperAddressing, text: "a stanza needs a to"), context: context)
        }
        if kernel.isLocal(to) {
            _ = kernel.deliverFromService(stanza, to: to, eventLoop: context.eventLoop)
        } else if let service = kernel.service(for: to), to.domainpart != domain {
            _ = service.receive(stanza, to: to, kernel: kernel, eventLoop: context.eventLoop)
        } else if let router = kernel.remoteRouter, to.domainpart != domain, kernel.service(for: to) == nil {
            // A gateway's answer to a user of another server, over federation.
            router.send(stanza, to: to, kernel: kernel)
        } else if stanza.mayBeAnsweredWithError {
            var reply = kernel.errorReply(to: stanza, StanzaError(.remoteServerNotFound, text: "\(to.domainpart) is not served here"))
            reply.setAttribute("from", to: to.description)
            context.writeAndFlush(wrapOutboundOut(.element(reply.replacingNamespace(XMLNamespace.client, with: XMLNamespace.component))),
                                  promise: nil)
        }
    }

    private func close(with error: StreamError?, header: StreamHeader? = nil, context: ChannelHandlerContext) {
        if case .closed = state { return }
        state = .closed
        // Nothing more is routed here from now on: stanzas for the domain bounce instead of going into a closing stream.
        if let domain = connectedDomain { links.disconnect(domain, context.channel) }
        if let header { context.write(wrapOutboundOut(.header(header)), promise: nil) }
        if let error { context.write(wrapOutboundOut(.element(error.element)), promise: nil) }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.close)).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// The component's handshake did not come in time.
private struct HandshakeTimedOut {}

/// Another connection of the same component completed its handshake: this one closes.
struct Replaced {}
