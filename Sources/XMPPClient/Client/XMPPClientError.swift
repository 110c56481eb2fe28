import XMPPCore

/// What can go wrong for a client, with the XMPP condition where there is one.
public enum XMPPClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The connection, or a request, did not complete in time.
    case timeout
    /// No connection could be opened: DNS lookup, TCP connect or the network failed. The cause's
    /// ``FailureCause/kind`` tells a refused connection from an unknown host or an unreachable network.
    case connectionFailed(FailureCause)
    /// TLS could not be established. The cause's ``FailureCause/kind`` tells an untrusted certificate
    /// (``FailureCause/Kind/untrustedCertificate``) or one for another name from other handshake failures.
    case tlsFailed(FailureCause)
    /// SASL authentication failed; carries the condition (`not-authorized` for a wrong password).
    case authenticationFailed(SASLError)
    /// In-band registration was refused: `conflict` when the username is taken, `not-allowed`, ...
    case registrationFailed(StanzaError)
    /// Stream negotiation failed for another reason (no common mechanism, binding refused, ...).
    case negotiationFailed(ClientNegotiationError)
    /// The server ended the stream with this error (RFC 6120 §4.9), e.g. `conflict` when another session
    /// took over the resource.
    case streamError(StreamError)
    /// The connection was lost or closed by the server without a stream error.
    case connectionLost(String)
    /// A request was answered with this stanza error.
    case stanzaError(StanzaError)
    /// The operation needs an established session.
    case notConnected
    /// The server answered with something the client cannot use.
    case unexpectedResponse(String)

    /// Whether reconnecting may help: lost connections and most stream errors, but not refused credentials,
    /// a refused registration or a session replaced by another one.
    public var isTransient: Bool {
        switch self {
        case .timeout, .connectionFailed, .connectionLost: return true
        case .streamError(let error): return ![.conflict, .notAuthorized, .policyViolation, .hostUnknown].contains(error.condition)
        // A handshake cut short is the network's doing; an untrusted certificate or a bad CA file needs a person.
        case .tlsFailed(let cause): return cause.kind == .handshake
        case .authenticationFailed, .registrationFailed, .negotiationFailed, .stanzaError, .notConnected, .unexpectedResponse:
            return false
        }
    }

    public var description: String {
        switch self {
        case .timeout: return "timed out"
        case .connectionFailed(let cause): return "cannot connect: \(cause)"
        case .tlsFailed(let cause): return "TLS failed: \(cause)"
        case .authenticationFailed(let error): return "authentication failed: \(error)"
        case .registrationFailed(let error): return "registration failed: \(error)"
        case .negotiationFailed(let error): return "\(error)"
        case .streamError(let error): return "\(error)"
        case .connectionLost(let cause): return "connection lost: \(cause)"
        case .stanzaError(let error): return "\(error)"
        case .notConnected: return "not connected"
        case .unexpectedResponse(let what): return "unexpected response: \(what)"
        }
    }

    init(_ negotiation: ClientNegotiationError) {
        switch negotiation {
        case .authenticationFailed(let error): self = .authenticationFailed(error)
        case .registrationFailed(let error): self = .registrationFailed(error)
        case .streamError(let error): self = .streamError(error)
        case .closedByServer: self = .connectionLost("the server closed the stream")
        case .tlsRequired: self = .tlsFailed(FailureCause(.handshake, "the server does not offer TLS, and this client requires it"))
        case .tlsFailed: self = .tlsFailed(FailureCause(.handshake, "the server refused to start TLS"))
        case .noCommonMechanism, .bindFailed, .unexpected: self = .negotiationFailed(negotiation)
        }
    }
}
