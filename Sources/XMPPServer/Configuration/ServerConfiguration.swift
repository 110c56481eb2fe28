import Logging
import XMPPCore
import XMPPServerKernel
import XMPPServerPostgres
import XMPPServerMUC
import XMPPServerPubSub

/// Everything `xmppd` can be told, with the defaults of docs/CONFIG.md. Built from defaults, then a config
/// file (``ConfigFile``), then command-line flags, each overriding the one before.
public struct ServerConfiguration: Sendable {
    /// The served domain (with ``virtualHosts``: the first, whose kernel the components, the upload and proxy
    /// services and `/metrics` belong to).
    public var domain = "localhost"
    /// Further domains this server serves (virtual hosts), each with accounts, storage, certificate and modules of its
    /// own, on the same listeners: a client's stream header (`to`) or its TLS SNI picks the domain.
    public var virtualHosts: [String] = []
    /// Per virtual host, its certificate chain and private key (PEM paths); a host without one gets a generated
    /// self-signed certificate.
    public var hostCertificates: [String: (certificate: String?, privateKey: String?)] = [:]
    /// Where the database and the generated certificate live.
    public var dataDirectory = "data"
    /// Where this domain's database lives, when not in ``dataDirectory`` (a virtual host's: `DATA/hosts/DOMAIN`).
    public var storageDirectory: String?
    /// Addresses the c2s listeners bind to; loopback by default.
    public var bindAddresses = ["127.0.0.1", "::1"]
    /// The STARTTLS c2s port (0: any free port, for tests).
    public var c2sPort = 5222
    /// The direct-TLS c2s port (XEP-0368), or `nil` to disable it.
    public var c2sTLSPort: Int? = 5223
    /// The plain HTTP port of the web listener (XMPP over WebSocket, XEP-0156 discovery, `/health`), or `nil` to
    /// disable it. WebSocket streams on it count as secured only from loopback (a TLS-terminating proxy).
    public var httpPort: Int? = 5280
    /// The HTTPS port of the web listener (the server's certificate), or `nil` to disable it.
    public var httpsPort: Int? = 5281
    /// `Origin` values allowed to open XMPP WebSockets; empty allows every origin.
    public var webSocketOrigins: [String] = []
    /// The WebSocket URL the discovery documents give (behind a proxy); by default built from the request's host.
    public var webSocketURL: String?
    /// Whether the web listener serves XMPP over BOSH (XEP-0206) at `/http-bind`.
    public var bosh = true
    /// The longest a BOSH request is held (seconds): the `wait` a client asks for is cut to this. Below the web
    /// listener's idle timeout (60 s).
    public var boshMaxWait = 50
    /// Seconds a BOSH session lives without a request from its client; then it ends like a closed connection.
    public var boshInactivity = 60
    /// Reverse proxies in front of the web listener (their IP addresses) whose `X-Forwarded-For` is believed: a
    /// WebSocket stream through them counts under the client's address for the per-address limits and the throttle.
    public var trustedProxies: [String] = []
    /// External components (XEP-0114): each component domain and its shared secret.
    public var components: [String: String] = [:]
    /// The component port (XEP-0114), or `nil` to disable it; it is opened only when components are configured.
    public var componentPort: Int? = 5347
    /// The addresses the component port binds to: loopback, since components run beside the server.
    public var componentInterfaces = ["127.0.0.1", "::1"]
    /// The bearer token `/metrics` requires; without one, only loopback clients may scrape it.
    public var metricsToken: String?
    /// Whether the web admin console and its API are served at `/admin` (`admin_console`).
    public var adminConsole = true
    /// The most console logins open at once (`admin_max_sessions`); one more ends the least recently used.
    public var adminMaxSessions = 64
    /// Seconds a console login lasts without a request (`admin_session_timeout`).
    public var adminSessionTimeoutSeconds = 1800
    /// Whether STARTTLS is required before authentication.
    public var requireTLS = true
    /// PEM certificate chain file; a self-signed certificate is generated in the data directory when unset.
    public var certificatePath: String?
    /// PEM private key file, with ``certificatePath``.
    public var privateKeyPath: String?
    /// Whether -PLUS SASL mechanisms (tls-server-end-point channel binding) are offered.
    public var channelBinding = true
    /// Storage backend: `sqlite` (in the data directory) or `memory` (lost on exit).
    public var storage = "sqlite"
    /// The PostgreSQL database for `storage = postgresql` (`postgresql_url`).
    public var postgres = PostgresSettings()
    /// The log level.
    public var logLevel: Logger.Level = .info
    /// The kernel's policy (registration, limits).
    public var kernel = KernelConfiguration(domain: "localhost")
    /// Connection-level limits.
    public var limits = ConnectionLimits()

    /// The defaults.
    public init() {}

    /// The directory of this domain's database.
    public var databaseDirectory: String { storageDirectory ?? dataDirectory }

    /// Every domain served: ``domain``, then ``virtualHosts``.
    public var domains: [String] { [domain] + virtualHosts.filter { $0 != domain } }

    /// The settings of one virtual host: these, with its domain, certificate and storage directory, and no virtual
    /// hosts of its own. `nil` when `name` is not one of ``virtualHosts``.
    public func virtualHost(_ name: String) -> ServerConfiguration? {
        let name = name.lowercased()
        guard name != domain, virtualHosts.contains(name) else { return nil }
        var host = self
        host.domain = name
        host.kernel.domain = name
        host.virtualHosts = []
        host.hostCertificates = [:]
        host.certificatePath = hostCertificates[name]?.certificate
        host.privateKeyPath = hostCertificates[name]?.privateKey
        host.storageDirectory = "\(dataDirectory)/hosts/\(name)"
        host.components = [:]
        // Each domain's administrators are its own accounts: a tenant's admin administers no other tenant.
        host.kernel.admins = kernel.admins.filter { $0.domainpart == name }
        // A service domain named in the config is the first domain's; each virtual host has its own at the default
        // (conference.DOMAIN, pubsub.DOMAIN), unless the service is off.
        for key in Self.serviceDomainOptions where host.kernel.moduleSettings[key] != "off" {
            host.kernel.moduleSettings[key] = nil
        }
        return host
    }

    /// The module options that name a service's domain.
    static let serviceDomainOptions = [MUCModule.domain.key, PubSubServiceModule.domain.key]

    /// These settings without the module options `modules` do not declare (a virtual host runs no SOCKS5 proxy, so
    /// `proxy_port` is not its concern; a kernel refuses options no module of its declares).
    public func keepingOptions(of modules: [any ServerModule]) -> ServerConfiguration {
        let declared = Set(modules.flatMap { $0.options.map(\.key) })
        var kept = self
        kept.kernel.moduleSettings = kernel.moduleSettings.filter { declared.contains($0.key) }
        return kept
    }
}

/// Limits that protect the server from one abusive peer (docs/CONFIG.md, "Limits").
public struct ConnectionLimits: Sendable {
    /// Largest stanza, in bytes (a larger one closes the stream with `policy-violation`).
    public var maxStanzaBytes = 262_144
    /// Bytes waiting to be sent to one connection (a client that does not read) before it is closed with
    /// `policy-violation`; reading from it pauses long before, at a quarter of this (at most 256 KiB).
    public var maxOutboundBytes = 4_194_304
    /// Seconds a connection may stay unwritable (not reading what waits for it) before it is closed with
    /// `policy-violation`: a client that stopped reading is dead or hostile, and holds its buffer till then.
    public var writeStallSeconds = 60
    /// Sustained read rate per connection, bytes per second; reading pauses when exceeded.
    public var readBytesPerSecond = 65_536
    /// Burst allowance above the sustained rate, in bytes.
    public var readBurstBytes = 524_288
    /// How IPv6 addresses count for the per-address limits: by this prefix length (one /64 is one client).
    public var ipv6PrefixLength = 64
    /// Simultaneous connections from one IP address.
    public var connectionsPerIP = 32
    /// Failed authentications per IP address within ``authFailureWindowSeconds`` before further attempts from it
    /// get `temporary-auth-failure`.
    public var authFailuresPerIP = 20
    /// Failed authentications per account from one address within the window before that address's attempts for the
    /// account are refused; from all addresses together, before attempts for the account are answered ever more slowly.
    public var authFailuresPerAccount = 10
    /// The window of the two failure limits, in seconds.
    public var authFailureWindowSeconds = 300
    /// Seconds a connection has to complete negotiation (TLS, SASL, bind).
    public var negotiationTimeoutSeconds = 60
    /// Seconds without any input from the client before the stream is closed with `connection-timeout`.
    public var idleTimeoutSeconds = 900
    /// Seconds of silence from the server after which it sends a whitespace keepalive.
    public var keepaliveIntervalSeconds = 240

    /// The defaults.
    public init() {}
}
