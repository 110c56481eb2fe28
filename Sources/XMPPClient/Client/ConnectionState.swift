import XMPPCore

/// Where a client's connection stands. Observe it with ``XMPPClient/states``.
///
/// The states follow the stream's life (RFC 6120 §4–§7): the TCP connection, TLS, SASL and resource binding,
/// then the session. The classic "is connected / is connecting / is disconnected" questions are
/// ``isOnline``, ``isConnecting`` and ``isDisconnected``.
public enum ConnectionState: Sendable, Hashable, CustomStringConvertible {
    /// No connection. Carries why the last one ended, or `nil` when it never started or was closed on request.
    case disconnected(XMPPClientError?)
    /// Looking up the server and opening the TCP connection.
    case connecting
    /// Negotiating TLS (STARTTLS or direct TLS).
    case securing
    /// Registering (when asked), authenticating and binding a resource.
    case authenticating
    /// The session is established, bound to this full JID.
    case online(JID)

    /// Whether the session is established.
    public var isOnline: Bool {
        if case .online = self { return true }
        return false
    }

    /// Whether a connection attempt is under way.
    public var isConnecting: Bool {
        switch self {
        case .connecting, .securing, .authenticating: return true
        case .disconnected, .online: return false
        }
    }

    /// Whether there is no connection.
    public var isDisconnected: Bool {
        if case .disconnected = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .disconnected(let error?): return "disconnected (\(error))"
        case .disconnected(nil): return "disconnected"
        case .connecting: return "connecting"
        case .securing: return "securing"
        case .authenticating: return "authenticating"
        case .online(let jid): return "online as \(jid)"
        }
    }
}
