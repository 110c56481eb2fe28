import Logging
import XMPPCore

/// Blocking Command (XEP-0191): a user keeps a list of JIDs they never want to hear from or talk to. Blocked
/// contacts see the user as offline (unavailable presence on block), their presence is dropped, their messages
/// and IQ requests are answered with `service-unavailable`, and the user's own stanzas to them come back with
/// `not-acceptable` + `<blocked/>`. Resources that fetched the list get a push on every change. The list is a
/// per-user document, and the filters read it from a cache held for online accounts.
///
/// Built only on the kernel's hooks: outbound and inbound stanza filters, session-bound and account-deleted
/// hooks, IQ handlers for the own account, and per-session state.
public struct BlockingModule: ServerModule {
    public let name = "blocking"
    public let specifications = ["XEP-0191 1.3"]

    /// `urn:xmpp:blocking`.
    public static let namespace = "urn:xmpp:blocking"
    /// `urn:xmpp:blocking:errors`, the application-specific error condition `<blocked/>`.
    public static let errorsNamespace = "urn:xmpp:blocking:errors"

    /// `blocklist_max_items`: the longest blocklist.
    public static let maxItems = ConfigOption.integer(
        "blocklist_max_items", default: 1000, range: 1...100_000,
        "most JIDs one account may block; a block beyond it gets resource-constraint")
    /// `blocklist_cache_accounts`: blocklists of offline accounts kept in memory.
    public static let cacheAccounts = ConfigOption.integer(
        "blocklist_cache_accounts", default: 10_000, range: 0...10_000_000,
        "blocklists of accounts without sessions kept in memory for routing (online accounts' are always kept)")
    public var options: [ConfigOption] { [Self.maxItems, Self.cacheAccounts] }

    /// The per-user document the list is stored under.
    static let storageKey = "blocklist"
    /// Whether a session fetched the list, and so gets pushes (§3.3).
    static let wantsPushes = SessionKey<Bool>("blocking.wantsPushes")

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let cache = BlocklistCache(capacity: host.option(Self.cacheAccounts))
        let editor = SerialEditor()
        let maxItems: Int = host.option(Self.maxItems)
        host.addServerFeature(Self.namespace)
        host.addAccountFeature(Self.namespace)
        host.onSessionBound { session, kernel in
            guard let user = session.jid.localpart else { return }
            await Self.load(user, into: cache, kernel: kernel)
        }
        host.filterOutbound(priority: .policy) { stanza in
            Self.checkOutbound(stanza, cache: cache)
        }
        host.filterInbound(priority: .policy, prepare: { account, kernel in
            guard let user = account.localpart else { return }
            await Self.load(user, into: cache, kernel: kernel)
        }) { stanza in
            Self.checkInbound(stanza, cache: cache)
        }
        host.handleIQ(Self.namespace, for: [.ownAccount]) { request in
            try await editor.edit { try await Self.handle(request, cache: cache, maxItems: maxItems) }
        }
        host.onAccountDataChanged { user, topic, kernel in
            // Changed on another cluster node: read again now, as the filters here may be routing to the account.
            guard topic == Self.storageKey else { return }
            cache.changedElsewhere(user)
            kernel.startBackgroundTask { await Self.load(user, into: cache, kernel: kernel) }
        }
        // Last of the deletion hooks: if an earlier one fails, the account stays, and still with its blocklist.
        host.onAccountDeleted(priority: .fallback) { user, kernel in
            try await kernel.storage.userData.setValue(nil, for: Self.storageKey, of: user)
            cache.forget(user)
            kernel.announceAccountDataChange(user, topic: Self.storageKey)
        }
    }

    // MARK: Loading

    /// Reads the account's list into the cache, unless it is there or the index says there is none.
    static func load(_ user: String, into cache: BlocklistCache, kernel: ServerKernel) async {
        await cache.ensureIndex {
            do {
                return Set(try await kernel.storage.userData.users(withKey: storageKey))
            } catch {
                kernel.logger.error("blocklist index not loaded; every login reads its list", metadata: ["error": "\(error)"])
                return nil
            }
        }
        guard cache.mayHaveStoredList(user), cache.list(of: user) == nil else { return }
        do {
            let document = try await kernel.storage.userData.value(storageKey, of: user)
            cache.storeLoaded(document.map(Blocklist.init(document:)) ?? Blocklist(), of: user)
            cache.trim { name in
                (try? JID(localpart: name, domainpart: kernel.configuration.domain)).map { kernel.registry.sessionCount(of: $0) > 0 } ?? false
            }
        } catch {
            kernel.logger.error("blocklist not loaded", metadata: ["user": "\(user)", "error": "\(error)"])
        }
    }

    // MARK: Filters

    /// The user's own stanza to someone they blocked (§3.3): not routed; the sender is told with `not-acceptable`
    /// and `<blocked/>`, except for errors, IQ results and subscription management, and presence the server fans
    /// out on the user's behalf, which go (or are dropped) silently.
    static func checkOutbound(_ stanza: OutboundStanza, cache: BlocklistCache) -> StanzaVerdict {
        // Never between the user's own resources (§5), nor to the user's own server (a blocked own domain must not
        // stop pings, disco or account removal).
        guard !cache.isEmpty, let user = stanza.from.localpart, let list = cache.list(of: user), list.blocks(stanza.to),
              stanza.to.bare != stanza.from.bare, stanza.to != stanza.kernel.domainJID else { return .pass }
        let type = stanza.element.attribute("type")
        if stanza.element.name == "presence", let type, ["subscribe", "subscribed", "unsubscribe", "unsubscribed"].contains(type) {
            return .pass
        }
        guard stanza.isAddressed, type != "error", !(stanza.element.name == "iq" && type == "result") else { return .drop }
        return .reject(StanzaError(.notAcceptable, text: "you have blocked this JID",
                                   applicationCondition: Element("blocked", namespace: errorsNamespace)))
    }

    /// A stanza from someone the recipient blocked (§3.3): presence of every kind is dropped, chat and normal
    /// messages and IQ requests are answered with `service-unavailable` (as if nobody were there), anything else
    /// is dropped. The user's own resources are never blocked from each other (§5).
    static func checkInbound(_ stanza: InboundStanza, cache: BlocklistCache) -> StanzaVerdict {
        guard !cache.isEmpty, let user = stanza.to.localpart, let list = cache.list(of: user), list.blocks(stanza.from),
              stanza.from.bare != stanza.to.bare, stanza.from != stanza.kernel.domainJID else { return .pass }
        let type = stanza.element.attribute("type")
        switch stanza.element.name {
        case "message" where type == nil || type == "chat" || type == "normal":
            return .reject(StanzaError(.serviceUnavailable))
        case "iq" where type == "get" || type == "set":
            return .reject(StanzaError(.serviceUnavailable))
        default:
            return .drop
        }
    }
}
