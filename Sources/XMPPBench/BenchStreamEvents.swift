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

    /// Called with each stanza once the stream is established.
    var onStanza: ((Element) -> Void)?
    /// Called when a batch of reads ends, to flush what the stanzas triggered in one go.
    var onReadComplete: (() -> Void)?

    init(established: EventLoopPromise<BenchConnection>) {
        self.established = established
    }

    func clientStreamEstablished(jid: JID, features: StreamFeatures, mechanism: SASLMechanism?, channel: any Channel) {
        isSettled = true
        // Initial presence, as a chat client sends after login (RFC 6121 §4.2).
        channel.writeAndFlush(XMPPOutbound.element(Element("presence", namespace: XMLNamespace.client)), promise: nil)
        established.succeed(BenchConnection(channel: channel, jid: jid, events: self))
    }

    func clientStreamReceived(_ element: Element) {
        onStanza?(element)
    }

    func clientStreamReadComplete() {
        onReadComplete?()
    }

    func clientStreamEnded(_ failure: ClientStreamFailure?) {
        guard !isSettled else { return }
        isSettled = true
        switch failure {
        case .negotiation(let error)?: established.fail(BenchConnectionError.negotiation(error))
        case .streamError(let error)?: established.fail(BenchConnectionError.malformed("\(error)"))
        case .tls(let text)?: established.fail(BenchConnectionError.malformed(text))
        case .connectionLost?, nil: established.fail(BenchConnectionError.closedEarly)
        }
    }
}
