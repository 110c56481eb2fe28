import XMPPCore

/// A contact's nickname changed (XEP-0172); `nil` when it was removed.
public struct NicknameUpdate: Sendable, Hashable {
    /// The contact's bare JID.
    public var jid: JID
    /// The nickname the contact chose for themselves.
    public var nickname: String?
}

/// User nicknames (XEP-0172): publishes the user's own nickname to PEP and hears of contacts' nicknames, through
/// `http://jabber.org/protocol/nick+notify` in the client's capabilities (needs a ``DiscoModule``, and presence
/// subscriptions both ways).
///
/// ```swift
/// let nicknames = client.add(NicknameModule())
/// try await client.connect()
/// try await nicknames.publish("Jules")
/// for await update in nicknames.updates { print(update.jid, update.nickname ?? "(none)") }
/// ```
public final class NicknameModule: XMPPClientModule {
    private let pubsub = PubSubModule()
    private let known = Locked<[JID: String]>([:])
    private let changes = Broadcast<NicknameUpdate>()
    private let notifies: Bool

    /// Creates the module.
    /// - Parameter notifies: Whether to ask for contacts' nicknames as they change.
    public init(notifies: Bool = true) {
        self.notifies = notifies
    }

    public func attached(to client: XMPPClient) {
        pubsub.attached(to: client)
    }

    public var discoFeatures: [String] { notifies ? [PubSubNamespace.notifyFeature(PEPNode.nickname)] : [] }

    /// Contacts whose nickname changed (or arrived, at login).
    public var updates: AsyncStream<NicknameUpdate> { changes.subscribe() }

    /// The nickname `jid` last published, as heard in notifications or fetched.
    public func nickname(for jid: JID) -> String? { known.withLock { $0[jid.bare] } }

    /// Publishes the user's own nickname; `nil` publishes an empty one, which says there is none.
    public func publish(_ nickname: String?) async throws {
        try await pubsub.publish(Element("nick", namespace: PEPNode.nickname, text: nickname ?? ""), to: PEPNode.nickname, itemID: "current")
    }

    /// Asks `jid`'s service (the user's own when `nil`) for its nickname; `nil` when none is published.
    public func fetch(_ jid: JID? = nil) async throws -> String? {
        do {
            let nickname = try await pubsub.items(of: PEPNode.nickname, on: jid?.bare, max: 1).last?.payload.flatMap(Self.read)
            if let jid { remember(nickname, for: jid.bare) }
            return nickname
        } catch let error as PubSubError where error.reason == .itemNotFound {
            return nil
        }
    }

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        for event in PubSubEvent.events(in: stanza, account: client.jid) where event.node == PEPNode.nickname {
            guard case .published(let items) = event.kind, let item = items.last else { continue }
            remember(item.payload.flatMap(Self.read), for: event.service.bare)
        }
        return false
    }

    private func remember(_ nickname: String?, for jid: JID) {
        let changed = known.withLock { known -> Bool in
            guard known[jid] != nickname else { return false }
            known[jid] = nickname
            return true
        }
        if changed { changes.publish(NicknameUpdate(jid: jid, nickname: nickname)) }
    }

    private static func read(_ payload: Element) -> String? {
        guard payload.name == "nick", payload.namespace == PEPNode.nickname, !payload.text.isEmpty else { return nil }
        return payload.text
    }
}
