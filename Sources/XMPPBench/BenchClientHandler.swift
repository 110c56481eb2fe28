import NIOCore
import NIOSSL
import NIOTLS
import XMPPCore
import XMPPTransport

/// Why a bench connection did not come up.
public enum BenchConnectionError: Error, Sendable, CustomStringConvertible {
    /// Stream negotiation failed.
    case negotiation(ClientNegotiationError)
    /// The connection closed before the stream was established.
    case closedEarly
    /// The server's XML could not be parsed.
    case malformed(String)

    public var description: String {
        switch self {
        case .negotiation(let error): return "\(error)"
        case .closedEarly: return "connection closed during negotiation"
        case .malformed(let text): return "malformed XML from the server: \(text)"
        }
    }
}

/// Drives one load-generator connection through negotiation with ``ClientNegotiationStateMachine``, then
/// hands every stanza to ``onStanza``. Confined to its channel's event loop; it writes bytes itself (no
/// encoder in the pipeline) so a scenario can send prebuilt stanzas without building element trees.
final class BenchClientHandler: ChannelInboundHandler {
    typealias InboundIn = XMLStreamEvent
    typealias OutboundOut = ByteBuffer

    private var machine: ClientNegotiationStateMachine
    private let decoder: XMPPStreamDecoder
    private let tlsContext: NIOSSLContext
    private let established: EventLoopPromise<BenchConnection>
    private var isEstablished = false

    /// Called with each stanza once the stream is established.
    var onStanza: ((Element) -> Void)?
    /// Called when a batch of reads ends, to flush what the stanzas triggered in one go.
    var onReadComplete: (() -> Void)?

    init(machine: ClientNegotiationStateMachine, decoder: XMPPStreamDecoder, tlsContext: NIOSSLContext, established: EventLoopPromise<BenchConnection>) {
        self.machine = machine
        self.decoder = decoder
        self.tlsContext = tlsContext
        self.established = established
    }

    func channelActive(context: ChannelHandlerContext) {
        perform(machine.start(), context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !isEstablished { established.fail(BenchConnectionError.closedEarly) }
        isEstablished = true
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .streamOpened(let header, let contentNamespace):
            perform(machine.receivedHeader(header, contentNamespace: contentNamespace), context: context)
        case .element(let element):
            if isEstablished {
                onStanza?(element)
            } else {
                perform(machine.received(element), context: context)
            }
        case .streamClosed:
            perform(machine.receivedStreamClose(), context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        onReadComplete?()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !isEstablished { established.fail(BenchConnectionError.malformed("\(error)")) }
        isEstablished = true
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls, !machine.isEncrypted {
            perform(machine.tlsEstablished(channelBinding: nil), context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func perform(_ action: ClientNegotiationStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .sendHeader(let header):
            var buffer = context.channel.allocator.buffer(capacity: 256)
            header.write(to: &buffer)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        case .send(let element):
            send(element, context: context)
        case .startTLS:
            decoder.resetStream()
            do {
                let tls = try NIOSSLClientHandler(context: tlsContext, serverHostname: nil)
                try context.pipeline.syncOperations.addHandler(tls, position: .first)
            } catch {
                context.close(promise: nil)
            }
        case .restartStream(let header):
            decoder.resetStream()
            perform(.sendHeader(header), context: context)
        case .established(let jid, _):
            isEstablished = true
            // Initial presence, as a chat client sends after login (RFC 6121 §4.2).
            send(Element("presence", namespace: XMLNamespace.client), context: context)
            established.succeed(BenchConnection(channel: context.channel, jid: jid, handler: self))
        case .stanza(let element):
            onStanza?(element)
        case .failed(let error):
            if !isEstablished { established.fail(BenchConnectionError.negotiation(error)) }
            isEstablished = true
            context.close(promise: nil)
        }
    }

    private func send(_ element: Element, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 256)
        element.writeInStream(to: &buffer, contentNamespace: XMLNamespace.client)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }
}
