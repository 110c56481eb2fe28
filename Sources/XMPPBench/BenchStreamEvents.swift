import NIOCore
import XMPPCore
import XMPPTransport

/// Why a bench connection did not come up.
public enum BenchConnectionError: Error, Sendable, CustomStringConvertible {
    /// Stream negotiation failed.
    case negotiation(ClientNegotiationError)
    /// The connection closed before the stream was established.
    case closedEarly
    /// The server's XML could not be parsed, or TLS failed.
    case malformed(String)

    public var description: String {
        switch self {
        case .negotiation(let error): return "\(error)"
        case .closedEarly: return "connection closed during negotiation"
        case .malformed(let text): return "malformed XML from the server: \(text)"
        }
    }
}

/// The load generator's side of a ``ClientStreamHandler``: completes the login promise (after sending initial
/// presence, as a chat client does), then hands every stanza to ``onStanza``. Touched only on its channel's loop.
final class BenchStreamEvents: ClientStreamDelegate, @unchecked Sendable {
    // @unchecked: every property is used only on the channel's event loop, where the handler calls in.
    private let established: EventLoopPromise<BenchConnection>
    private var isSettled = false
    /// Enables carbons and stream management after login, and acknowledges the server's stanzas.
    private let mobile: Bool
    private var channel: (any Channel)?
    /// Stanzas handled since the server enabled stream management; `nil` before.
    private var handled: UInt32?
    private var needsFlush = false

    /// Called with each stanza once the stream is established.
    var onStanza: ((Element) -> Void)?
    /// Called when a batch of reads ends, to flush what the stanzas triggered in one go.
    var onReadComplete: (() -> Void)?

    init(established: EventLoopPromise<BenchConnection>, mobile: Bool = false) {
        self.established = established
        self.mobile = mobile
    }

    func clientStreamEstablished(jid: JID, features: StreamFeatures, mechanism: SASLMechanism?, channel: any Channel) {
        isSettled = true
        self.channel = channel
        if mobile {
            // As a phone's client starts: carbons, then stream management with resumption, before presence.
            let carbons = IQ(type: .set, payload: Element("enable", namespace: "urn:xmpp:carbons:2"))
            channel.write(XMPPOutbound.element(carbons.element), promise: nil)
            if features.feature("sm", StreamManagementVocabulary.namespace) != nil {
                channel.write(XMPPOutbound.element(Element("enable", namespace: StreamManagementVocabulary.namespace,
                                                           attributes: ["resume": "true"])), promise: nil)
            }
        }
        // Initial presence, as a chat client sends after login (RFC 6121 §4.2).
        channel.writeAndFlush(XMPPOutbound.element(Element("presence", namespace: XMLNamespace.client)), promise: nil)
        established.succeed(BenchConnection(channel: channel, jid: jid, events: self))
    }

    func clientStreamReceived(_ element: Element) {
        if mobile {
            if element.namespace == StreamManagementVocabulary.namespace {
                switch element.name {
                case "enabled": handled = 0
                case "r":
                    channel?.write(XMPPOutbound.element(StreamManagementVocabulary.answer(handled ?? 0)), promise: nil)
                    needsFlush = true
                default: break
                }
                return
            }
            if let count = handled { handled = count &+ 1 }
        }
        onStanza?(element)
    }

    /// `<a h/>` for everything handled, when stream management is on: sent before closing.
    var finalAcknowledgement: Element? { handled.map(StreamManagementVocabulary.answer) }

    func clientStreamReadComplete() {
        if needsFlush {
            needsFlush = false
            channel?.flush()
        }
        onReadComplete?()
    }

    func clientStreamEnded(_ failure: ClientStreamFailure?) {
        guard !isSettled else { return }
        isSettled = true
        switch failure {
        case .negotiation(let error)?: established.fail(BenchConnectionError.negotiation(error))
        case .streamError(let error)?: established.fail(BenchConnectionError.malformed("\(error)"))
        case .tls(let cause)?: established.fail(BenchConnectionError.malformed("TLS failed: \(cause)"))
        case .connectionLost?, nil: established.fail(BenchConnectionError.closedEarly)
        }
    }
}
