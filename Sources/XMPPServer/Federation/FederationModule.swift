import XMPPCore
import XMPPServerKernel

/// Server-to-server federation (RFC 6120 §13; SASL EXTERNAL with certificates, XEP-0178, else XEP-0220 dialback): stanzas for other domains leave through
/// ``ServerLinks`` (one outgoing stream per remote domain), and remote servers connect to `s2s_port`
/// (``FederationListenerService``). `federation = off` keeps the server an island: remote JIDs bounce.
public struct FederationModule: ServerModule {
    public let name = "s2s"
    public let specifications = ["RFC 6120 §13", "XEP-0220 1.1.1", "XEP-0185 1.0", "XEP-0178 1.2", "XEP-0344 1.0"]

    /// `federation`.
    public static let enabled = ConfigOption.boolean("federation", default: true, "talk to other XMPP servers (server-to-server)")
    /// `s2s_port`.
    public static let port = ConfigOption.integer("s2s_port", default: 5269, range: 0...65535,
                                                  "the port remote servers connect to, on the bind addresses (0: any free port)")
    /// `s2s_tls_port`.
    public static let tlsPort = ConfigOption.integer(
        "s2s_tls_port", default: 0, range: 0...65535,
        "a port where remote servers connect with TLS from the start (XEP-0368, announced by _xmpps-server._tcp SRV records), on the bind addresses; 0: none")
    /// `s2s_hosts`.
    public static let hosts = ConfigOption.string(
        "s2s_hosts", default: "", "where to reach remote domains (and their subdomains) without asking DNS: DOMAIN=HOST:PORT, comma-separated")
    /// `s2s_dns_servers`.
    public static let dnsServers = ConfigOption.string(
        "s2s_dns_servers", default: "", "name servers for SRV lookups (ADDRESS or ADDRESS:PORT, comma-separated); empty means /etc/resolv.conf's")
    /// `s2s_require_tls`.
    public static let requireTLS = ConfigOption.boolean(
        "s2s_require_tls", default: true, "server-to-server streams must be encrypted with STARTTLS, both ways")
    /// `s2s_ca_file`.
    public static let caFile = ConfigOption.string(
        "s2s_ca_file", default: "", "the roots (PEM) remote servers' certificates must lead to; empty means the system's trust store")
    /// `s2s_secure_auth`.
    public static let secureAuth = ConfigOption.boolean(
        "s2s_secure_auth", default: false,
        "remote domains authenticate only with certificates that verify (SASL EXTERNAL), never with dialback, both ways")
    /// `s2s_allow`.
    public static let allow = ConfigOption.string(
        "s2s_allow", default: "", "if set, the only remote domains this server talks to (comma-separated)")
    /// `s2s_deny`.
    public static let deny = ConfigOption.string("s2s_deny", default: "", "remote domains this server never talks to (comma-separated)")
    /// `s2s_queue_limit`.
    public static let queueLimit = ConfigOption.integer(
        "s2s_queue_limit", default: 1000, range: 1...100_000,
        "stanzas waiting for one remote domain while its stream is set up (more bounce with resource-constraint), and unsent on a ready stream (more bounce with remote-server-timeout)")
    /// `s2s_max_connecting`.
    public static let maxConnecting = ConfigOption.integer(
        "s2s_max_connecting", default: 100, range: 1...10_000,
        "outgoing server-to-server streams being set up at once (a stanza needing one more bounces with resource-constraint), and, separately, dialback verifications under way")
    /// `s2s_retry_seconds`.
    public static let retrySeconds = ConfigOption.integer(
        "s2s_retry_seconds", default: 60, range: 0...3600,
        "after a stream to a remote domain could not be set up, stanzas on that route bounce at once for this long before a new attempt")
    /// `s2s_setup_seconds`.
    public static let setupSeconds = ConfigOption.integer(
        "s2s_setup_seconds", default: 30, range: 1...600,
        "seconds to set up a stream to a remote server (DNS, connect, TLS, dialback; then what waits bounces with remote-server-timeout), for a dialback verification, and for an incoming connection to authenticate")
    /// `s2s_idle_seconds`.
    public static let idleSeconds = ConfigOption.integer(
        "s2s_idle_seconds", default: 600, range: 10...86_400, "a server-to-server stream with no traffic for this long closes")
    /// `s2s_max_incoming`.
    public static let maxIncoming = ConfigOption.integer(
        "s2s_max_incoming", default: 200, range: 1...100_000, "incoming server-to-server streams at once; more are refused")
    /// `s2s_bytes_per_second`.
    public static let bytesPerSecond = ConfigOption.integer(
        "s2s_bytes_per_second", default: 1_048_576, range: 1024...1_073_741_824,
        "how fast one server-to-server stream is read, incoming or outgoing")

    public var options: [ConfigOption] {
        [Self.enabled, Self.port, Self.tlsPort, Self.hosts, Self.dnsServers, Self.requireTLS, Self.caFile, Self.secureAuth, Self.allow, Self.deny, Self.queueLimit, Self.maxConnecting, Self.retrySeconds, Self.setupSeconds,
         Self.idleSeconds, Self.maxIncoming, Self.bytesPerSecond]
    }

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        guard host.option(Self.enabled) as Bool else { return }
        let links = ServerLinks(settings: FederationSettings(host.configuration))
        host.setRemoteRouter(links)
        host.addStatistic("s2s_authenticated_by_certificate") { _ in links.authenticationCount(.certificate) }
        host.addStatistic("s2s_authenticated_by_dialback") { _ in links.authenticationCount(.dialback) }
    }
}
