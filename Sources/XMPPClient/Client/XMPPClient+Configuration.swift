import Foundation
import XMPPCore

extension XMPPClient {
    /// How and where a client connects. Set it once; ``XMPPClient/connect()`` uses it on every attempt.
    public struct Configuration: Sendable {
        /// Where the server is.
        public enum Server: Sendable, Hashable {
            /// Look up `_xmpps-client._tcp` and `_xmpp-client._tcp` SRV records of the JID's domain (RFC 6120
            /// §3.2, XEP-0368), falling back to the domain itself on port 5222.
            case automatic
            /// Connect to this host and port; `directTLS` starts TLS at once (XEP-0368, usually port 5223)
            /// instead of STARTTLS.
            case host(String, port: Int = 5222, directTLS: Bool = false)
            /// XMPP over WebSocket (RFC 7395) at this `ws://` or `wss://` URL, such as
            /// `wss://example.com/xmpp-websocket` (XEP-0156 host-meta documents name it). A `wss://` certificate is
            /// checked against the JID's domain, as on the other transports. `ws://` is not encrypted: it needs
            /// `tls: .disabled` (a server on this machine, or behind a TLS-terminating proxy on its loopback).
            case webSocket(URL)
        }

        /// Whether and how the stream is encrypted.
        public enum TLSPolicy: Sendable, Hashable {
            /// TLS or nothing (the default).
            case required
            /// STARTTLS when the server offers it, plain TCP otherwise. Only for servers you control.
            case ifAvailable
            /// No TLS at all. Only for tests against a server without TLS.
            case disabled
        }

        /// Which server certificates are accepted. Certificates are always checked against the JID's domain,
        /// not the host name an SRV record points to (RFC 7590 §3.2).
        public enum CertificateTrust: Sendable, Hashable {
            /// The operating system's trust store (the default).
            case system
            /// Certificates issued by the CAs in this PEM file, or this self-signed certificate itself.
            case caFile(String)
            /// Certificates issued by these PEM-encoded CAs, or these self-signed certificates.
            case caCertificates([String])
            /// Only the certificate whose DER encoding has this SHA-256 digest (64 hex digits; colons allowed).
            case pinned(sha256: String)
            /// Any certificate, unverified. For local development and tests only: it gives up protection
            /// against anyone on the path.
            case acceptAnyCertificate
            /// The app decides, seeing the chain and what the usual checks say of it (XMPPFramework's
            /// `didReceiveTrust`): for trust on first use, or asking the user.
            case evaluate(TrustEvaluator)
        }

        /// The account's JID. A resourcepart, if present, is requested at bind time; otherwise the server
        /// chooses one.
        public var jid: JID
        /// The password.
        public var password: String
        /// Where the server is.
        public var server: Server
        /// Whether TLS is required.
        public var tls: TLSPolicy
        /// Which server certificates are accepted.
        public var trust: CertificateTrust
        /// SASL mechanisms the client may use, strongest first.
        public var mechanisms: [SASLMechanism]
        /// How long ``XMPPClient/connect()`` may take, from DNS lookup to the bound session.
        public var connectTimeout: Duration
        /// How long a request (``XMPPClient/request(_:timeout:)``) waits for its answer by default.
        public var requestTimeout: Duration
        /// Whether to send initial presence once online, which makes the session "available" (RFC 6121 §4.2).
        /// Turn it off for scripts that only send, so no messages are routed to them.
        public var sendsInitialPresence: Bool
        /// Name servers for SRV lookups (IP addresses, optionally `host:port`); empty means those of
        /// `/etc/resolv.conf`.
        public var nameServers: [String]
        /// Whether to use stream management (XEP-0198) when the server offers it: the server acknowledges what the
        /// client sends (``XMPPClient/acknowledgedStanzas``), and after a dropped connection the next ``XMPPClient/connect()``
        /// resumes the session — nothing in flight either way is lost. On by default.
        public var streamManagement = true
        /// Whether to ask for message carbons (XEP-0280) when the server offers them, so this client sees the
        /// messages the account's other clients send and receive. On by default.
        public var carbons = true

        /// Creates a configuration.
        public init(jid: JID, password: String, server: Server = .automatic, tls: TLSPolicy = .required,
                    trust: CertificateTrust = .system, mechanisms: [SASLMechanism] = SASLMechanism.preferenceOrder,
                    connectTimeout: Duration = .seconds(20), requestTimeout: Duration = .seconds(30),
                    sendsInitialPresence: Bool = true, nameServers: [String] = []) {
            self.jid = jid
            self.password = password
            self.server = server
            self.tls = tls
            self.trust = trust
            self.mechanisms = mechanisms
            self.connectTimeout = connectTimeout
            self.requestTimeout = requestTimeout
            self.sendsInitialPresence = sendsInitialPresence
            self.nameServers = nameServers
        }
    }
}
