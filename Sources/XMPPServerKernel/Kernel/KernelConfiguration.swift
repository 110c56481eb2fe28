import XMPPCore

/// Who may create accounts with in-band registration (XEP-0077).
public enum RegistrationPolicy: Sendable, Hashable {
    /// Nobody: accounts are made by the administrator (`xmppctl adduser`).
    case closed
    /// Anybody, without limit.
    case open
    /// Anybody, at most `count` accounts per IP address per `seconds`.
    case limited(count: Int, seconds: Int)
}

/// The kernel's policy: the served domain, the kernel's own limits, and the modules' settings (each module
/// declares its keys, see ``ConfigOption``).
public struct KernelConfiguration: Sendable {
    /// The domain this server serves, normalized.
    public var domain: String
    /// Most simultaneous sessions (resources) per account; binding another gives `resource-constraint`.
    public var maxSessionsPerAccount: Int
    /// Most distinct JIDs (contacts not subscribed, chat rooms) one session may have sent directed presence to;
    /// one more gets `resource-constraint` (RFC 6121 §4.6: the server remembers them to revoke the presence).
    public var maxDirectedPresence = 256
    /// Largest roster, in items (listed contacts and recorded subscription requests alike); adding one by a roster
    /// set or a subscription gives `resource-constraint`, and an inbound request beyond it is dropped.
    public var maxRosterItems = 1000
    /// Most recorded subscription requests from contacts not on the roster (strangers); more are dropped, so they
    /// never count against the user's own ``maxRosterItems``.
    public var maxPendingSubscriptions = 100
    /// The in-band registration policy.
    public var registration: RegistrationPolicy
    /// The software name reported by XEP-0092.
    public var softwareName: String
    /// The software version reported by XEP-0092.
    public var softwareVersion: String
    /// The server's secret for answers that must not reveal whether an account exists (the SCRAM salt of an
    /// unknown account is derived from it); random unless the server keeps one in its data directory.
    public var secret: [UInt8] = (0..<32).map { _ in UInt8.random(in: 0...255) }
    /// Values of the modules' options by key, as written in the config file; a key not here has its default.
    public var moduleSettings: [String: String] = [:]
    /// The server's administrators (bare JIDs, config key `admins`): who may run the administration commands over
    /// XMPP (and log in to the web console).
    public var admins: Set<JID> = []

    /// Whether `jid` (any resource) is one of ``admins``.
    public func isAdmin(_ jid: JID) -> Bool {
        admins.contains(jid.bare)
    }

    /// Creates a configuration; every parameter but the domain has a documented default (docs/CONFIG.md).
    public init(domain: String, maxSessionsPerAccount: Int = 10, registration: RegistrationPolicy = .closed,
                softwareName: String = "SwiftXMPP", softwareVersion: String = "0.1.0") {
        self.domain = domain
        self.maxSessionsPerAccount = maxSessionsPerAccount
        self.registration = registration
        self.softwareName = softwareName
        self.softwareVersion = softwareVersion
    }
}
