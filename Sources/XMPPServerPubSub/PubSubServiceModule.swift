import XMPPCore
import XMPPServerKernel

/// Runs the publish-subscribe service (XEP-0060) at `pubsub_domain` (`pubsub.<domain>` by default), or nothing
/// when it is `off`.
public struct PubSubServiceModule: ServerModule {
    public let name = "pubsub"
    public let specifications = ["XEP-0060 1.26.0", "XEP-0248 0.3.0 partial"]

    /// `pubsub_domain`: where the service runs.
    public static let domain = ConfigOption.string(
        "pubsub_domain", default: "", "the pubsub service's domain; empty means pubsub.DOMAIN, off turns the service off")
    /// `pubsub_creators`: who may create nodes.
    public static let creators = ConfigOption.choice(
        "pubsub_creators", default: "local", PubSubService.NodeCreators.allCases.map(\.rawValue),
        "who may create nodes on the pubsub service: local (every account) or admins")
    /// `pubsub_max_nodes`: nodes of the whole service.
    public static let maxNodes = ConfigOption.integer(
        "pubsub_max_nodes", default: 10_000, range: 1...10_000_000, "most nodes on the pubsub service; one more gets resource-constraint")
    /// `pubsub_max_items`: items per node.
    public static let maxItems = ConfigOption.integer(
        "pubsub_max_items", default: 1000, range: 1...1_000_000, "most items one pubsub node keeps (max_items=max means this many)")
    /// `pubsub_max_item_bytes`: the largest item.
    public static let maxItemBytes = ConfigOption.integer(
        "pubsub_max_item_bytes", default: 65_536, range: 256...16_777_216, "largest pubsub item payload in bytes of XML")
    /// `pubsub_max_subscriptions`: subscriptions per node.
    public static let maxSubscriptions = ConfigOption.integer(
        "pubsub_max_subscriptions", default: 10_000, range: 1...10_000_000,
        "most subscriptions (and affiliations) one pubsub node keeps; one more gets resource-constraint")
    /// `pubsub_max_bytes_per_owner`: the bytes of the items of one owner's nodes.
    public static let maxOwnerBytes = ConfigOption.integer(
        "pubsub_max_bytes_per_owner", default: 67_108_864, range: 1024...68_719_476_736,
        "most bytes of item payloads in the nodes one account created on the pubsub service; a publish beyond gets resource-constraint")
    /// `pubsub_max_nodes_per_owner`: nodes one account may create.
    public static let maxNodesPerOwner = ConfigOption.integer(
        "pubsub_max_nodes_per_owner", default: 100, range: 1...10_000_000, "most nodes one account may create on the pubsub service")
    /// `pubsub_max_bytes`: the bytes of all the service's items (they are kept in memory).
    public static let maxTotalBytes = ConfigOption.integer(
        "pubsub_max_bytes", default: 268_435_456, range: 1024...68_719_476_736,
        "most bytes of items the whole pubsub service keeps (all in memory); a publish beyond gets resource-constraint")
    public var options: [ConfigOption] {
        [Self.domain, Self.creators, Self.maxNodes, Self.maxItems, Self.maxItemBytes, Self.maxSubscriptions, Self.maxOwnerBytes,
         Self.maxNodesPerOwner, Self.maxTotalBytes]
    }

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let configured: String = host.option(Self.domain)
        guard configured != "off" else { return }
        let domain = configured.isEmpty ? "pubsub.\(host.configuration.domain)" : configured.lowercased()
        guard domain != host.configuration.domain, JID(validating: domain) != nil else { return }
        let creators = PubSubService.NodeCreators(rawValue: host.option(Self.creators)) ?? .local
        let limits = PubSubLimits(maxNodes: host.option(Self.maxNodes), maxItems: host.option(Self.maxItems),
                                  maxItemBytes: host.option(Self.maxItemBytes), maxSubscriptions: host.option(Self.maxSubscriptions),
                                  maxOwnerBytes: host.option(Self.maxOwnerBytes), maxNodesPerOwner: host.option(Self.maxNodesPerOwner),
                                  maxTotalBytes: host.option(Self.maxTotalBytes))
        host.addService(PubSubService(domain: domain, creators: creators, limits: limits))
    }
}
