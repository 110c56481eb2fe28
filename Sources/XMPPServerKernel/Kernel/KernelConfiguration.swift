/// Who may create accounts with in-band registration (XEP-0077).
public enum RegistrationPolicy: Sendable, Hashable {
    /// Nobody: accounts are made by the administrator (`xmppctl adduser`).
    case closed
    /// Anybody, without limit.
    case open
    /// Anybody, at most `count` accounts per IP address per `seconds`.
    case limited(count: Int, seconds: Int)
}

/// The kernel's policy: the served domain and the limits of the IM features.
public struct KernelConfiguration: Sendable {
    /// The domain this server serves, normalized.
    public var domain: String
    /// Most offline messages kept per user; further messages bounce with `service-unavailable`.
    public var offlineMessageLimit: Int
    /// Most simultaneous sessions (resources) per account; binding another gives `resource-constraint`.
    public var maxSessionsPerAccount: Int
    /// Largest vCard accepted, in bytes of serialized XML; larger ones get `not-acceptable`.
    public var maxVCardBytes: Int
    /// Largest roster, in items; adding more gives `resource-constraint`.
    public var maxRosterItems: Int
    /// The in-band registration policy.
    public var registration: RegistrationPolicy
    /// The software name reported by XEP-0092.
    public var softwareName: String
    /// The software version reported by XEP-0092.
    public var softwareVersion: String
    /// Whether the multi-user chat service (XEP-0045) runs.
    public var mucEnabled = true
    /// The multi-user chat service's domain; `nil` means `conference.<domain>`.
    public var mucDomain: String?
    /// What the multi-user chat service allows each room.
    public var mucLimits = MUCLimits()

    /// The domain the multi-user chat service answers for, or `nil` when it is off.
    public var effectiveMUCDomain: String? {
        mucEnabled ? (mucDomain ?? "conference.\(domain)") : nil
    }

    /// Creates a configuration; every parameter but the domain has a documented default (docs/CONFIG.md).
    public init(domain: String, offlineMessageLimit: Int = 500, maxSessionsPerAccount: Int = 10,
                maxVCardBytes: Int = 131_072, maxRosterItems: Int = 1000, registration: RegistrationPolicy = .closed,
                softwareName: String = "SwiftXMPP", softwareVersion: String = "0.1.0") {
        self.domain = domain
        self.offlineMessageLimit = offlineMessageLimit
        self.maxSessionsPerAccount = maxSessionsPerAccount
        self.maxVCardBytes = maxVCardBytes
        self.maxRosterItems = maxRosterItems
        self.registration = registration
        self.softwareName = softwareName
        self.softwareVersion = softwareVersion
    }
}
