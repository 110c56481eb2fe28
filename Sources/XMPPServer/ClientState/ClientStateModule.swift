import XMPPCore
import XMPPServerKernel

/// Client state indication (XEP-0352): a client in the background says `<inactive/>`, and until it says
/// `<active/>` the server holds back what can wait — presence (only the latest per contact is kept) and chat
/// states (the latest per conversation) — and writes everything held at once, before anything that matters (a
/// message with a body, an IQ, a subscription request) or when the client becomes active again. Fewer writes
/// wake the phone's radio less.
///
/// Like stream management this is about what is written to one connection, so the holding happens in the c2s
/// session (``HeldStanzas``); this module declares the feature and its limit.
public struct ClientStateModule: ServerModule {
    public let name = "csi"
    public let specifications = ["XEP-0352 1.0.0"]

    /// `urn:xmpp:csi:0`.
    public static let namespace = "urn:xmpp:csi:0"

    /// `csi_max_held`: how much an inactive session holds back.
    public static let maxHeld = ConfigOption.integer(
        "csi_max_held", default: 200, range: 1...10_000,
        "presence updates and chat states held back for an inactive client (one per contact); one more flushes them all")
    public var options: [ConfigOption] { [Self.maxHeld] }

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        host.addPostAuthenticationFeature(Element("csi", namespace: Self.namespace))
    }

    /// The most stanzas held per session, or `nil` when the kernel does not run this module.
    static func maxHeld(of kernel: ServerKernel) -> Int? {
        guard kernel.postAuthenticationFeatures.contains(where: { $0.namespace == namespace }) else { return nil }
        return kernel.configuration.value(of: maxHeld)
    }
}
