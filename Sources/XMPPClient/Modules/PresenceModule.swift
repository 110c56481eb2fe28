import XMPPCore

/// A contact resource's presence changed.
public struct PresenceUpdate: Sendable, Hashable {
    /// The full JID of the resource (or a bare JID when the contact sent no resource).
    public var jid: JID
    /// The presence it sent; `type` is `.unavailable` when it went offline.
    public var presence: Presence
}

/// The user's own presence (show, status, priority; RFC 6121 §4) and the presence of contacts, per resource.
/// Sent with initial presence and kept across reconnections.
///
/// ```swift
/// let presence = client.add(PresenceModule())
/// try await presence.set(show: .away, status: "At lunch")
/// for await update in presence.updates { print(update.jid, update.presence.show ?? .chat) }
/// ```
public final class PresenceModule: XMPPClientModule {
    private struct State {
        var show: Presence.Show?
        var status: String?
        var priority = 0
        var contacts: [JID: [JID: Presence]] = [:]
        /// Contacts' presence when the connection dropped, for a session that may be resumed.
        var suspended: [JID: [JID: Presence]]?
    }

    private let state = Locked(State())
    private let client = ClientReference()
    private let changes = Broadcast<PresenceUpdate>()

    /// Creates the module with the presence the client starts with.
    public init(show: Presence.Show? = nil, status: String? = nil, priority: Int = 0) {
        state.withLock { state in
            state.show = show
            state.status = status
            state.priority = priority
        }
    }

    /// Changes to contacts' presence, per resource (chat room occupants are not contacts: see ``ChatRoom/events``).
    public var updates: AsyncStream<PresenceUpdate> { changes.subscribe() }

    /// The user's own show value (`nil`: plain available).
    public var show: Presence.Show? { state.withLock { $0.show } }
    /// The user's own status text.
    public var status: String? { state.withLock { $0.status } }

    /// Sets and broadcasts the user's presence.
    /// - Parameters:
    ///   - show: `away`, `chat`, `dnd`, `xa`, or `nil` for plain available.
    ///   - status: Free text, or `nil`.
    ///   - priority: -128...127; negative keeps messages to the bare JID away from this resource (RFC 6121 §4.7.2.3).
    public func set(show: Presence.Show? = nil, status: String? = nil, priority: Int = 0) async throws {
        state.withLock { state in
            state.show = show
            state.status = status
            state.priority = priority
        }
        try await client.require().sendPresence(Presence())
    }

    /// Goes offline for contacts while staying connected (unavailable presence, RFC 6121 §4.5).
    public func setUnavailable(status: String? = nil) async throws {
        var presence = Presence(type: .unavailable)
        presence.status = status
        try await client.require().send(presence)
    }

    /// The available resources of a contact and their presence.
    public func presences(of jid: JID) -> [JID: Presence] {
        state.withLock { $0.contacts[jid.bare] ?? [:] }
    }

    /// Whether any resource of the contact is available.
    public func isAvailable(_ jid: JID) -> Bool {
        !presences(of: jid).isEmpty
    }

    /// The contact's available resource with the highest priority, if any.
    public func bestResource(of jid: JID) -> (jid: JID, presence: Presence)? {
        presences(of: jid).max { $0.value.priority < $1.value.priority }.map { ($0.key, $0.value) }
    }

    public func attached(to client: XMPPClient) {
        self.client.set(client)
    }

    public func decorate(presence: inout Presence) {
        let (show, status, priority) = state.withLock { ($0.show, $0.status, $0.priority) }
        if presence.show == nil { presence.show = show }
        if presence.status == nil { presence.status = status }
        if presence.priority == 0 { presence.priority = priority }
    }

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        // Occupants of chat rooms are the room's (``ChatRoom/occupants``), not contacts.
        guard stanza.name == "presence", let presence = Presence(element: stanza), let from = presence.from,
              presence.type == .available || presence.type == .unavailable, !ChatModule.isRoomTraffic(stanza) else { return false }
        state.withLock { state in
            if presence.type == .available {
                state.contacts[from.bare, default: [:]][from] = presence
            } else if from.isBare {
                state.contacts[from.bare] = nil
            } else {
                state.contacts[from.bare]?[from] = nil
                if state.contacts[from.bare]?.isEmpty == true { state.contacts[from.bare] = nil }
            }
        }
        changes.publish(PresenceUpdate(jid: from, presence: presence))
        return false
    }

    public func sessionEnded(client: XMPPClient, error: XMPPClientError?) {
        // Contacts' presence is unknown until the server sends it again on the next session; a resumed session
        // (XEP-0198) gets nothing again, so what was known is put aside for it.
        state.withLock { state in
            state.suspended = error == nil ? nil : state.contacts
            state.contacts = [:]
        }
    }

    public func sessionStarted(client: XMPPClient) async {
        state.withLock { $0.suspended = nil }
    }

    public func sessionResumed(client: XMPPClient) async {
        state.withLock { state in
            if let suspended = state.suspended { state.contacts.merge(suspended) { current, _ in current } }
            state.suspended = nil
        }
    }
}
