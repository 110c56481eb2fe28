import Foundation
import XMPPCore

/// The server under load and the accounts to log in with.
public struct BenchTarget: Sendable {
    /// How a connection is secured.
    public enum Security: String, Sendable, CaseIterable, Codable {
        /// STARTTLS on the plain port (RFC 6120 §5).
        case starttls
        /// TLS from the first byte (XEP-0368).
        case direct
        /// XMPP over WebSocket (RFC 7395) on a plain `ws://` endpoint at ``BenchTarget/webSocketPath``: for servers
        /// that count loopback WebSockets as secured (xmppd; Prosody with `consider_websocket_secure`).
        case websocket
    }

    /// The server's address.
    public var host: String
    /// The c2s port.
    public var port: Int
    /// The XMPP domain the accounts live on.
    public var domain: String
    /// STARTTLS or direct TLS.
    public var security: Security
    /// The SASL mechanism to use (SCRAM-SHA-1, SCRAM-SHA-256 or PLAIN).
    public var mechanism: SASLMechanism
    /// The localpart of account `i`, with `{i}` replaced by the index (1-based).
    public var userFormat: String
    /// The password of account `i`.
    public var passwordFormat: String
    /// How many accounts exist (`bench1` ... `benchN`); indices beyond wrap around.
    public var accountCount: Int
    /// Source addresses to spread connections over (127.0.0.1 ... 127.0.0.N), so more connections can be
    /// opened and closed than one address has ephemeral ports; 0 lets the kernel choose.
    public var sourceAddressCount: Int
    /// Whether each connection behaves like a mobile client: enables message carbons (XEP-0280) and stream
    /// management (XEP-0198), acknowledging what the server sends when it asks.
    public var mobile = false
    /// The request target of the WebSocket endpoint, with ``Security/websocket``.
    public var webSocketPath = "/xmpp-websocket"

    /// Creates a target.
    public init(host: String = "127.0.0.1", port: Int = 5222, domain: String = "localhost", security: Security = .starttls,
                mechanism: SASLMechanism = .scramSHA1, userFormat: String = "bench{i}", passwordFormat: String = "secret{i}",
                accountCount: Int = 20_000, sourceAddressCount: Int = 0) {
        self.host = host
        self.port = port
        self.domain = domain
        self.security = security
        self.mechanism = mechanism
        self.userFormat = userFormat
        self.passwordFormat = passwordFormat
        self.accountCount = accountCount
        self.sourceAddressCount = sourceAddressCount
    }

    /// The JID of account `index`, with the resource every bench connection asks for.
    func jid(_ index: Int) throws -> JID {
        try JID(localpart: userFormat.replacingOccurrences(of: "{i}", with: "\(index)"), domainpart: domain,
                resourcepart: "bench")
    }

    /// The password of account `index`.
    func password(_ index: Int) -> String {
        passwordFormat.replacingOccurrences(of: "{i}", with: "\(index)")
    }
}
