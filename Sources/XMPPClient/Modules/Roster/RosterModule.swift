import XMPPCore

/// What changed on the roster.
public enum RosterEvent: Sendable, Hashable {
    /// The roster was (re)loaded from the server; carries every item.
    case loaded([RosterItem])
    /// A contact was added or changed.
    case updated(RosterItem)
    /// A contact was removed.
    case removed(JID)
}

/// A contact asking to see the user's presence (RFC 6121 §3.1.3). Answer with ``RosterModule/approve(_:)`` or
/// ``RosterModule/deny(_:)``.
public struct SubscriptionRequest: Sendable, Hashable {
    /// Who asks.
    public var from: JID
    /// The text they sent with the request, if any.
    public var status: String?
}

/// The roster (RFC 6121 §2–§3): a live model of the contacts, loaded at login (only the changes when the
/// server supports versioning and a ``RosterStorage`` remembers the last version), kept current by roster
/// pushes, and the subscription requests and answers. Roster pushes are accepted only from the own account
/// (RFC 6121 §2.1.6); others are answered `service-unavailable`.
///
/// ```swift
/// let roster = client.add(RosterModule())
/// try await client.connect()                       // the roster is loaded before initial presence
/// try await roster.add(try JID("romeo@example.net"), name: "Romeo", groups: ["Friends"])
/// try await roster.subscribe(to: try JID("romeo@example.net"))
/// for await request in roster.subscriptionRequests { try await roster.approve(request.from) }
/// ```
public final class RosterModule: XMPPClientModule {
    /// The `jabber:iq:roster` namespace.
    public static let namespace = "jabber:iq:roster"

    private struct State {
        var items: [JID: RosterItem] = [:]
        var version: String?
        var account: JID?
    }

    private let state = Locked(State())
    private let client = ClientReference()
    private let storage: any RosterStorage
    private let writer = StorageWriter(store: "roster")
    private let fetchesOnLogin: Bool
    private let events = Broadcast<RosterEvent>()
    // Requests the server delivers at login, before the app can listen, wait for the first subscriber.
    private let requests = Broadcast<SubscriptionRequest>(keepingWhileUnsubscribed: 100)

    /// Creates the module.
    /// - Parameters:
    ///   - storage: Where the roster and its version are kept between sessions.
    ///   - fetchesOnLogin: Whether to load the roster when the session starts (before initial presence).
    public init(storage: any RosterStorage = InMemoryRosterStorage(), fetchesOnLogin: Bool = true) {
        self.storage = storage
        self.fetchesOnLogin = fetchesOnLogin
    }

    /// Every contact, sorted by JID.
    public var items: [RosterItem] {
        state.withLock { $0.items.values.sorted { $0.jid.description < $1.jid.description } }
    }

    /// The contact with this bare JID, if on the roster.
    public func item(for jid: JID) -> RosterItem? {
        state.withLock { $0.items[jid.bare] }
    }

    /// The roster version last received, if the server versions rosters.
    public var version: String? { state.withLock { $0.version } }

    /// Changes to the roster, from loads and pushes.
    public var updates: AsyncStream<RosterEvent> { events.subscribe() }

    /// Saves of the roster that failed (the roster in memory is right; the next launch may start from an older one).
    public var storageFailures: AsyncStream<StorageFailure> { writer.failures }

    /// Returns once the roster changes received so far are in the storage.
    public func flushStorage() async {
        await writer.flush()
    }

    /// Contacts asking to see the user's presence. Those that arrive while nobody is subscribed (the server delivers
    /// pending ones at login) are handed to the first subscriber, up to 100.
    public var subscriptionRequests: AsyncStream<SubscriptionRequest> { requests.subscribe() }

    /// Loads what the storage kept for the configured account, so the contacts are there before the connection is.
    public func attached(to client: XMPPClient) {
        self.client.set(client)
        let account = client.configuration.jid.bare
        let loaded = loadStored(account: account)
        state.withLock { state in
            state.account = account
            state.items = Dictionary((loaded?.items ?? []).map { ($0.jid, $0) }, uniquingKeysWith: { $1 })
            state.version = loaded?.version
        }
    }

    public func sessionStarted(client: XMPPClient) async {
        guard fetchesOnLogin else { return }
        try? await fetch()
    }

    // MARK: - Requests

    /// Loads the roster from the server. With versioning, only changes arrive; they are applied through
    /// pushes that follow.
    public func fetch() async throws {
        let client = try self.client.require()
        guard let account = client.jid?.bare else { throw XMPPClientError.notConnected }
        var query = Element("query", namespace: Self.namespace)
        let versioning = client.serverFeatures.feature("ver", "urn:xmpp:features:rosterver") != nil
        // A new account (or the first session since launch) starts from what the storage kept, with its version.
        let needsLoad = state.withLock { $0.account != account }
        let loaded = needsLoad ? loadStored(account: account) : nil
        let stored = state.withLock { state -> (version: String, items: [RosterItem])? in
            if state.account != account {
                state.account = account
                state.items = Dictionary((loaded?.items ?? []).map { ($0.jid, $0) }, uniquingKeysWith: { $1 })
                state.version = loaded?.version
            }
            return state.version.map { ($0, Array(state.items.values)) }
        }
        if versioning { query.setAttribute("ver", to: stored?.version ?? "") }
        let answer = try await client.query(query)
        guard let answer else {
            // Versioned and unchanged: the stored roster stands (XEP-0237 §2.4).
            events.publish(.loaded(items))
            return
        }
        let items = answer.children("item", namespace: Self.namespace).compactMap(RosterItem.init(element:))
        let version = answer.attribute("ver")
        state.withLock { state in
            state.items = Dictionary(items.map { ($0.jid, $0) }, uniquingKeysWith: { $1 })
            state.version = version
        }
        save(account: account, version: version, items: items)
        events.publish(.loaded(self.items))
    }

    /// What the storage kept for `account`; a storage that cannot be read is reported and the roster starts empty.
    private func loadStored(account: JID) -> (version: String, items: [RosterItem])? {
        do {
            return try storage.load(account: account)
        } catch {
            writer.write { throw error }   // reported on storageFailures like a failed save
            return nil
        }
    }

    private func save(account: JID, version: String?, items: [RosterItem]) {
        writer.write { [storage] in try storage.save(account: account, version: version, items: items) }
    }

    /// Adds a contact, or changes its name and groups (RFC 6121 §2.3). The change arrives as a push.
    public func add(_ jid: JID, name: String? = nil, groups: [String] = []) async throws {
        let item = RosterItem(jid: jid.bare, name: name, groups: groups)
        try await client.require().query(Element("query", namespace: Self.namespace, children: [.element(item.setElement)]), type: .set)
    }

    /// Removes a contact (RFC 6121 §2.5), which also cancels both subscriptions.
    public func remove(_ jid: JID) async throws {
        let item = Element("item", namespace: Self.namespace, attributes: ["jid": jid.bare.description, "subscription": "remove"])
        try await client.require().query(Element("query", namespace: Self.namespace, children: [.element(item)]), type: .set)
    }

    /// Asks to see the contact's presence (RFC 6121 §3.1.1).
    public func subscribe(to jid: JID, status: String? = nil) async throws {
        var presence = Presence(type: .subscribe, to: jid.bare)
        presence.status = status
        try await client.require().send(presence)
    }

    /// Accepts a contact's request, or pre-approves one (RFC 6121 §3.1.4, §3.4).
    public func approve(_ jid: JID) async throws {
        try await client.require().send(Presence(type: .subscribed, to: jid.bare))
    }

    /// Refuses a contact's request, or revokes an approved subscription (RFC 6121 §3.2).
    public func deny(_ jid: JID) async throws {
        try await client.require().send(Presence(type: .unsubscribed, to: jid.bare))
    }

    /// Stops seeing the contact's presence (RFC 6121 §3.3).
    public func unsubscribe(from jid: JID) async throws {
        try await client.require().send(Presence(type: .unsubscribe, to: jid.bare))
    }

    // MARK: - Incoming

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        if stanza.name == "presence", let presence = Presence(element: stanza), presence.type == .subscribe, let from = presence.from {
            requests.publish(SubscriptionRequest(from: from.bare, status: presence.status))
            return false
        }
        guard stanza.name == "iq", let iq = IQ(element: stanza), iq.type == .set,
              let query = iq.payload, query.name == "query", query.namespace == Self.namespace else { return false }
        // Only the user's own server may push (RFC 6121 §2.1.6): no from, or the account's bare JID.
        let ownBare = client.jid?.bare
        guard iq.from == nil || iq.from == ownBare else {
            client.enqueue(iq.errorReply(StanzaError(.serviceUnavailable)))
            return true
        }
        let items = query.children("item", namespace: Self.namespace)
        guard items.count == 1, let element = items.first else {
            client.enqueue(iq.errorReply(StanzaError(.badRequest)))
            return true
        }
        apply(push: element, version: query.attribute("ver"))
        client.enqueue(iq.result().element)
        return true
    }

    private func apply(push element: Element, version: String?) {
        let event: RosterEvent?
        let snapshot: (JID, String?, [RosterItem])?
        if element.attribute("subscription") == "remove" {
            let jid = element.attribute("jid").flatMap(JID.init(validating:))?.bare
            (event, snapshot) = state.withLock { state in
                guard let jid else { return (nil, nil) }
                state.items[jid] = nil
                if let version { state.version = version }
                return (.removed(jid), state.account.map { ($0, state.version, Array(state.items.values)) })
            }
        } else if let item = RosterItem(element: element) {
            (event, snapshot) = state.withLock { state in
                state.items[item.jid] = item
                if let version { state.version = version }
                return (.updated(item), state.account.map { ($0, state.version, Array(state.items.values)) })
            }
        } else {
            return
        }
        if let (account, version, items) = snapshot { save(account: account, version: version, items: items) }
        if let event { events.publish(event) }
    }
}
