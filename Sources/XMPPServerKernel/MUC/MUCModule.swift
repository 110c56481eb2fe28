import XMPPCore

/// Multi-user chat (XEP-0045): runs a ``MUCService`` at the configured domain (`conference.<domain>` by default)
/// unless `mucEnabled` is off.
public struct MUCModule: ServerModule {
    public let name = "muc"
    public let specifications = ["XEP-0045 1.35", "XEP-0249 1.2", "XEP-0359 0.7", "XEP-0410 1.1"]

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        // The service needs a domain of its own; one equal to the server's would swallow its traffic.
        guard let domain = host.configuration.effectiveMUCDomain, domain != host.configuration.domain else { return }
        host.addService(MUCService(domain: domain, limits: host.configuration.mucLimits))
    }
}
