import XMPPCore

/// User avatars in PEP (XEP-0084): the image in `urn:xmpp:avatar:data`, then its description in
/// `urn:xmpp:avatar:metadata`, both items named by the image's SHA-1 (the XEP-0153 hash of the same image).
extension AvatarModule {
    /// `urn:xmpp:avatar:metadata+notify` unless turned off: contacts' PEP avatar changes reach ``updates``.
    public var discoFeatures: [String] { notifiesOfPEPAvatars ? [PubSubNamespace.notifyFeature(PEPNode.avatarMetadata)] : [] }

    /// What `jid` (a contact; the user's own when `nil`) says of its PEP avatar: `nil` when it has none, or shows
    /// none to this user (no node, no access).
    public func metadata(of jid: JID? = nil) async throws -> AvatarInfo? {
        do {
            let items = try await pubsub.items(of: PEPNode.avatarMetadata, on: jid?.bare, max: 1)
            return items.last?.payload.flatMap(AvatarInfo.init(metadata:))
        } catch let error as PubSubError {
            switch error.reason {
            case .itemNotFound, .notAuthorized, .forbidden, .unsupported: return nil
            default: throw error
            }
        }
    }

    /// The PEP avatar of `jid`: its metadata, then the image with that id (from the cache when known). `nil` when it
    /// has none, or the image does not match its id.
    public func pepAvatar(of jid: JID) async throws -> Avatar? {
        guard let info = try await metadata(of: jid) else { return nil }
        if let cached = state.withLock({ $0.images[info.id] }) { return cached }
        let items = try await pubsub.items(of: PEPNode.avatarData, on: jid.bare, ids: [info.id])
        guard let encoded = items.first(where: { $0.id == info.id })?.payload?.text,
              let data = Base64.decode(encoded.filter { !$0.isWhitespace }) else { return nil }
        let avatar = Avatar(type: info.type, data: data)
        // Cached by hash: an image that is not what its id says must not stand in for another.
        guard avatar.hash == info.id.lowercased() else { return nil }
        state.withLock { $0.images[avatar.hash] = avatar }
        return avatar
    }

    /// Publishes the data, then the metadata that points at it (XEP-0084 §4.1, §4.2); `nil` publishes empty
    /// metadata, which says there is no avatar (§4.5).
    func publishPEP(_ avatar: Avatar?) async throws {
        guard let avatar else {
            try await pubsub.publish(AvatarInfo.noAvatar, to: PEPNode.avatarMetadata)
            return
        }
        let info = AvatarInfo(image: avatar.data, type: avatar.type)
        try await pubsub.publish(AvatarInfo.data(avatar.data), to: PEPNode.avatarData, itemID: info.id)
        try await pubsub.publish(info.metadata, to: PEPNode.avatarMetadata, itemID: info.id)
        state.withLock { $0.images[info.id] = avatar }
    }

    /// Contacts' metadata notifications: the new id, or none.
    func handlePEPEvents(_ stanza: Element, client: XMPPClient) {
        for event in PubSubEvent.events(in: stanza, account: client.jid) where event.node == PEPNode.avatarMetadata {
            guard case .published(let items) = event.kind, let item = items.last, event.service.bare != client.jid?.bare else { continue }
            record(item.payload.flatMap(AvatarInfo.init(metadata:))?.id.lowercased(), of: event.service.bare)
        }
    }
}
