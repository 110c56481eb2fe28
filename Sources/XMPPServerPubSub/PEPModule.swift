import XMPPCore
import XMPPServerKernel

/// Personal eventing (XEP-0163) on every account, with the publish-subscribe engine of XEP-0060: avatars
/// (XEP-0084), nicknames (XEP-0172), bookmarks (XEP-0402) and private nodes (XEP-0223) are PEP nodes like any other.
public struct PEPModule: ServerModule {
    public let name = "pep"
    public let specifications = ["XEP-0060 1.26.0", "XEP-0163 1.2.2", "XEP-0084 1.1.4", "XEP-0172 1.1", "XEP-0223 1.1.1"]

    /// `pep_max_nodes`: nodes per account.
    public static let maxNodes = ConfigOption.integer(
        "pep_max_nodes", default: 64, range: 1...10_000, "most PEP nodes one account may have; one more gets resource-constraint")
    /// `pep_max_items`: items per PEP node.
    public static let maxItems = ConfigOption.integer(
        "pep_max_items", default: 256, range: 1...100_000, "most items one PEP node keeps (max_items=max means this many); the oldest go")
    /// `pep_max_item_bytes`: the largest PEP item.
    public static let maxItemBytes = ConfigOption.integer(
        "pep_max_item_bytes", default: 196_608, range: 256...16_777_216,
        "largest PEP item payload in bytes of XML (avatar data included; below the stanza size limit); a larger one gets not-acceptable with payload-too-big")
    /// `pep_max_subscriptions`: explicit subscriptions per PEP node.
    public static let maxSubscriptions = ConfigOption.integer(
        "pep_max_subscriptions", default: 1000, range: 1...1_000_000,
        "most explicit subscriptions (and affiliations) one PEP node keeps; one more gets resource-constraint")
    /// `pep_max_bytes`: the bytes of all of one account's PEP items.
    public static let maxBytes = ConfigOption.integer(
        "pep_max_bytes", default: 4_194_304, range: 1024...1_073_741_824,
        "most bytes of item payloads one account keeps in all its PEP nodes; a publish beyond gets resource-constraint")
    /// `pep_cache_bytes`: the memory the cached PEP nodes may take.
    public static let cacheBytes = ConfigOption.integer(
        "pep_cache_bytes", default: 134_217_728, range: 1_048_576...68_719_476_736,
        "most bytes of item payloads the PEP nodes kept in memory may hold; the least recently loaded accounts are dropped first")
    /// `pep_cached_accounts`: accounts whose nodes stay in memory.
    public static let cachedAccounts = ConfigOption.integer(
        "pep_cached_accounts", default: 10_000, range: 1...10_000_000,
        "accounts whose PEP nodes stay in memory after use; the least recently loaded are read from storage again when needed")
    /// `caps_cache_size`: entity capabilities remembered.
    public static let capsCacheSize = ConfigOption.integer(
        "caps_cache_size", default: 4096, range: 16...1_000_000,
        "client capability hashes (XEP-0115) the server remembers the features of; the oldest are asked again when seen")
    /// `pep_remote_resources`: remote contacts' resources PEP keeps track of.
    public static let remoteResources = ConfigOption.integer(
        "pep_remote_resources", default: 100_000, range: 0...10_000_000,
        "resources of contacts at other servers whose presence (and caps) the server keeps for PEP notifications, in all; past it, new ones get no notifications")
    public var options: [ConfigOption] {
        [Self.maxNodes, Self.maxItems, Self.maxItemBytes, Self.maxSubscriptions, Self.maxBytes, Self.cachedAccounts, Self.cacheBytes,
         Self.capsCacheSize, Self.remoteResources]
    }

    /// The pubsub features PEP offers (XEP-0060 §10), as account disco#info lists them.
    public static let features: [String] = [
        "access-open", "access-presence", "access-roster", "access-whitelist", "auto-create", "auto-subscribe", "config-node",
        "create-nodes", "delete-items", "delete-nodes", "filtered-notifications", "item-ids", "last-published",
        "manage-subscriptions", "modify-affiliations", "multi-items", "persistent-items", "presence-notifications", "publish",
        "publish-options", "purge-nodes", "retract-items", "retrieve-affiliations", "retrieve-default", "retrieve-items",
        "retrieve-subscriptions", "subscribe",
    ].map(PubSubNamespace.feature) + [PubSubNamespace.pubsub]

    /// The caps verification string a session announced last.
    static let announcedCaps = SessionKey<String>("pep.announcedCaps")

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let limits = PubSubLimits(maxNodes: host.option(Self.maxNodes), maxItems: host.option(Self.maxItems),
                                  maxItemBytes: host.option(Self.maxItemBytes), maxSubscriptions: host.option(Self.maxSubscriptions),
                                  maxOwnerBytes: host.option(Self.maxBytes))
        let pep = PersonalEventing(defaults: .personalDefault, limits: limits,
                                   cache: NodeStore.CacheBounds(owners: host.option(Self.cachedAccounts), bytes: host.option(Self.cacheBytes)),
                                   capsCacheSize: host.option(Self.capsCacheSize), remoteResources: host.option(Self.remoteResources))
        host.addAccountIdentity(DiscoIdentity(category: "pubsub", type: "pep"))
        host.answerAccountDisco(pep.discoProvider)
        for feature in Self.features { host.addAccountFeature(feature) }
        host.handleIQ(PubSubNamespace.pubsub, for: .anyAccount) { try await pep.handle($0) }
        host.handleIQ(PubSubNamespace.owner, for: .anyAccount) { try await pep.handle($0) }
        host.onAccountDataChanged { account, topic, kernel in
            // Another cluster node changed the account's nodes: read them from storage next time.
            if topic == PersonalEventing.clusterTopic { pep.store(kernel).forget(account) }
        }
        host.onPresenceBroadcast { event in
            // Only clients that announce capabilities can ask for notifications: the others cost nothing here. A
            // session's first caps, and each change of them (interest registered later), bring the last items.
            guard event.kind != .unavailable, let (_, ver) = CapsCache.announcement(in: event.element),
                  event.kernel.state(Self.announcedCaps, of: event.session) != ver else { return }
            let (session, presence, kernel) = (event.session, event.element, event.kernel)
            kernel.setState(ver, for: Self.announcedCaps, of: session)
            kernel.startBackgroundTask { await pep.sendLastItems(to: session, presence: presence, kernel: kernel) }
        }
        host.onRosterChanged { account, item, _, kernel in
            // A new presence subscription (to or both) brings the contact's last items (XEP-0163 §4.3.2).
            guard let subscription = item.attribute("subscription"), subscription == "to" || subscription == "both",
                  let contact = item.attribute("jid").flatMap(JID.init(validating:)), contact.localpart != nil, kernel.isLocal(contact) else { return }
            for entry in kernel.registry.entries(of: account) where entry.isAvailable {
                let wanted = Set((pep.caps.knownFeatures(of: entry.presence) ?? []).compactMap { feature -> String? in
                    feature.hasSuffix("+notify") ? String(feature.dropLast("+notify".count)) : nil
                })
                guard !wanted.isEmpty else { continue }
                let target = entry.session.jid
                kernel.startBackgroundTask { await pep.sendLastItems(of: contact, nodes: wanted, to: target, kernel: kernel) }
            }
        }
        host.filterInbound(priority: .late) { stanza in
            // Presence of a contact at another server, after the filters that may stop it (a block): remembered so
            // its resources hear of PEP changes, and get the last items now.
            guard stanza.element.name == "presence", !stanza.kernel.isLocal(stanza.from), stanza.from.isFull,
                  stanza.kernel.hostedServiceDomains.contains(stanza.from.domainpart) == false else { return .pass }
            // Only what can ask for notifications: available presence with caps, not a room occupant's; and the end of it.
            let type = stanza.element.attribute("type")
            guard type == "unavailable" || (type == nil && CapsCache.announcement(in: stanza.element) != nil
                && stanza.element.child("x", namespace: "http://jabber.org/protocol/muc#user") == nil) else { return .pass }
            let (element, resource, account, kernel) = (stanza.element, stanza.from, stanza.to.bare, stanza.kernel)
            if pep.remoteResources.observe(element, from: resource, to: account) {
                kernel.startBackgroundTask { await pep.remoteResourceAvailable(resource, presence: element, account: account, kernel: kernel) }
            }
            return .pass
        }
        host.onSessionEnded { session, _, remaining, _ in
            if remaining == 0 { pep.remoteResources.forget(session.jid.bare) }
        }
        host.onAccountDeleted { user, kernel in try await pep.store(kernel).removeAll(of: user) }
        AvatarConversion.activate(in: host, pep: pep)
        BookmarksCompatibility.activate(in: host, pep: pep)
    }
}
