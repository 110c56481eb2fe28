import Crypto
import XMPPCore

/// A contact's or a room occupant's avatar changed (XEP-0153): the hash is of the new image, `nil` when it was
/// removed.
public struct AvatarUpdate: Sendable, Hashable {
    /// The contact (bare JID), or the occupant (its room JID, `room@service/nick`).
    public var jid: JID
    /// The SHA-1 of the image, in hex.
    public var hash: String?
}

/// An avatar image.
public struct Avatar: Sendable, Hashable {
    /// The MIME type, e.g. `image/png`.
    public var type: String
    /// The image bytes.
    public var data: [UInt8]
    /// Creates an avatar from image bytes.
    public init(type: String, data: [UInt8]) {
        self.type = type
        self.data = data
    }

    /// The SHA-1 of the image in hex: what presence carries (XEP-0153 §3.1).
    public var hash: String { Insecure.SHA1.hash(data: data).hexString }
}

/// Avatars, both kinds: vCard-based (XEP-0153: the image in the vCard, its hash in every presence) and user avatars
/// in PEP (XEP-0084: the image in `urn:xmpp:avatar:data`, its description in `urn:xmpp:avatar:metadata`, both named by
/// the image's SHA-1). Publishes the user's avatar either way or both, notices contacts' avatar changes in their
/// presence and in PEP notifications, and fetches their images — from PEP first, from the vCard when a contact has
/// no PEP avatar — caching them by hash. Needs a ``VCardModule`` on the same client for vCards, and a
/// ``DiscoModule`` for PEP notifications.
public final class AvatarModule: XMPPClientModule {
    /// Where an avatar is published.
    public enum Method: Sendable, Hashable, CaseIterable {
        /// In the vCard, with the hash in presence (XEP-0153).
        case vCard
        /// In PEP (XEP-0084).
        case pep
    }

    /// The `vcard-temp:x:update` namespace of the presence hash.
    public static let updateNamespace = "vcard-temp:x:update"

    struct State {
        /// The own avatar's hash: `nil` until known, "" for none.
        var ownHash: String?
        /// By contact bare JID and by occupant room JID.
        var contactHashes: [JID: String] = [:]
        /// The keys of `contactHashes` that are room occupants, whose vCards are asked through the room.
        var occupants: Set<JID> = []
        var images: [String: Avatar] = [:]
    }

    let client = ClientReference()
    let state = Locked(State())
    let changes = Broadcast<AvatarUpdate>()
    let pubsub = PubSubModule()
    /// Whether the capabilities ask for contacts' PEP avatar metadata.
    let notifiesOfPEPAvatars: Bool

    /// Creates the module.
    /// - Parameter notifiesOfPEPAvatars: Whether to ask for contacts' XEP-0084 avatar changes
    ///   (`urn:xmpp:avatar:metadata+notify`), besides the hashes in their presence.
    public init(notifiesOfPEPAvatars: Bool = true) {
        self.notifiesOfPEPAvatars = notifiesOfPEPAvatars
    }

    /// Contacts whose avatar changed.
    public var updates: AsyncStream<AvatarUpdate> { changes.subscribe() }

    /// The hash a contact (any JID of it) or a room occupant (its room JID) last advertised, if any.
    public func hash(of jid: JID) -> String? {
        state.withLock { $0.contactHashes[jid] ?? $0.contactHashes[jid.bare] }
    }

    public func attached(to client: XMPPClient) {
        self.client.set(client)
        pubsub.attached(to: client)
    }

    public func sessionStarted(client: XMPPClient) async {
        // XEP-0153 §3.2: learn the own hash before the first presence carries it.
        guard let vcards = client.module(VCardModule.self), let own = try? await vcards.fetch() else { return }
        let hash = own.photo.map { Avatar(type: $0.type, data: $0.data).hash } ?? ""
        state.withLock { $0.ownHash = hash }
    }

    /// Publishes `avatar` as the user's own (or removes it when `nil`): in the vCard, telling contacts through presence,
    /// and/or in PEP, where contacts with `+notify` hear of it.
    /// - Parameter methods: Where to publish; the vCard by default. With both, the vCard goes first: a server that
    ///   converts vCard avatars to PEP (XEP-0398) then creates the PEP nodes as open as the vCard.
    public func publish(_ avatar: Avatar?, via methods: Set<Method> = [.vCard]) async throws {
        if methods.contains(.vCard) { try await publishVCard(avatar) }
        if methods.contains(.pep) { try await publishPEP(avatar) }
    }

    private func publishVCard(_ avatar: Avatar?) async throws {
        let client = try self.client.require()
        guard let vcards = client.module(VCardModule.self) else { throw XMPPClientError.unexpectedResponse("AvatarModule needs a VCardModule") }
        var vcard = try await vcards.fetch()
        vcard.photo = avatar.map { ($0.type, $0.data) }
        try await vcards.publish(vcard)
        state.withLock { state in
            state.ownHash = avatar?.hash ?? ""
            if let avatar { state.images[avatar.hash] = avatar }
        }
        try await client.sendPresence(Presence())
    }

    /// The avatar of a contact or of a room occupant seen in the room (its room JID), from the cache when its
    /// advertised hash is known there, else from the contact's PEP (XEP-0084), else from its vCard.
    public func avatar(of jid: JID) async throws -> Avatar? {
        let client = try self.client.require()
        if let hash = hash(of: jid), let cached = state.withLock({ $0.images[hash] }) { return cached }
        if !state.withLock({ $0.occupants.contains(jid) }), let avatar = try await pepAvatar(of: jid) { return avatar }
        return try await vCardAvatar(of: jid, client: client)
    }

    /// The avatar in the vCard of a contact or an occupant.
    func vCardAvatar(of jid: JID, client: XMPPClient) async throws -> Avatar? {
        guard let vcards = client.module(VCardModule.self) else { throw XMPPClientError.unexpectedResponse("AvatarModule needs a VCardModule") }
        let isOccupant = state.withLock { $0.occupants.contains(jid) }
        let vcard = isOccupant ? try await vcards.fetch(occupant: jid) : try await vcards.fetch(jid)
        guard let photo = vcard.photo else { return nil }
        let avatar = Avatar(type: photo.type, data: photo.data)
        state.withLock { $0.images[avatar.hash] = avatar }
        return avatar
    }

    public func decorate(presence: inout Presence) {
        let hash = state.withLock { $0.ownHash }
        var update = Element("x", namespace: Self.updateNamespace)
        // No <photo/> child means "not ready to advertise" (XEP-0153 §4.1); an empty one means no avatar.
        if let hash { update.append(Element("photo", namespace: Self.updateNamespace, text: hash)) }
        presence.element.append(update)
    }

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        if stanza.name == "message" {
            handlePEPEvents(stanza, client: client)
            return false
        }
        guard stanza.name == "presence", let presence = Presence(element: stanza), presence.type == .available,
              let sender = presence.from,
              let photo = stanza.child("x", namespace: Self.updateNamespace)?.child("photo", namespace: Self.updateNamespace) else { return false }
        // In a room every occupant shares the room's bare JID: occupants are told apart by their room JIDs.
        let isOccupant = stanza.child("x", namespace: "http://jabber.org/protocol/muc#user") != nil && sender.isFull
        let from = isOccupant ? sender : sender.bare
        guard isOccupant || from != client.jid?.bare else { return false }
        let hash = photo.text.isEmpty ? nil : photo.text.lowercased()
        if isOccupant { state.withLock { _ = $0.occupants.insert(from) } }
        record(hash, of: from)
        return false
    }

    /// Records the hash `jid` advertises, telling subscribers when it changed.
    func record(_ hash: String?, of jid: JID) {
        let changed = state.withLock { state -> Bool in
            guard state.contactHashes[jid] != hash else { return false }
            state.contactHashes[jid] = hash
            return true
        }
        if changed { changes.publish(AvatarUpdate(jid: jid, hash: hash)) }
    }
}
