import Logging
import XMPPCore
import XMPPServerKernel

/// XEP-0398: PEP avatars (XEP-0084) and vCard avatars (XEP-0153) are one avatar. A metadata item the account
/// publishes puts the image in its vCard; a vCard with a photo publishes the image and its metadata in PEP; and the
/// server puts the avatar's hash in the account's available presence when the client left it out.
enum AvatarConversion {
    /// `urn:xmpp:pep-vcard-conversion:0`.
    static let feature = "urn:xmpp:pep-vcard-conversion:0"
    static let updateNamespace = "vcard-temp:x:update"

    static func activate(in host: ModuleHost, pep: PersonalEventing) {
        let hashes = AvatarHashes()
        host.addAccountFeature(feature)
        pep.ownChangeObservers.withLock { observers in
            observers.append { owner, event, kernel in
                guard event.node.name == PEPNode.avatarMetadata, case .published(let items) = event.kind, let item = items.last else { return }
                await copyToVCard(item, owner: owner, pep: pep, hashes: hashes, kernel: kernel)
            }
        }
        host.observeIQ(VCardModule.namespace) { request, _ in
            guard request.iq.type == .set, request.isFromOwner else { return }
            hashes.noteVCard(of: request.to.localpart ?? "")
            await copyToPEP(request.payload, owner: request.to, pep: pep, hashes: hashes, kernel: request.kernel)
        }
        host.onSessionBound { session, kernel in
            guard let user = session.jid.localpart, hashes.hash(of: user) == nil else { return }
            // Most accounts have no vCard: they log in without a read (the set of those that do is read once).
            guard await hashes.mayHaveVCard(user, kernel: kernel) else { return hashes.set("", for: user) }
            let vCard = try? await kernel.storage.userData.value(VCardModule.storageKey, of: user)
            hashes.set(photo(inVCard: vCard).map { AvatarInfo.hash(of: $0.image) } ?? "", for: user)
        }
        host.onAccountDeleted { user, _ in hashes.forgetVCard(of: user) }
        host.onSessionEnded { session, _, remaining, _ in
            if remaining == 0, let user = session.jid.localpart { hashes.set(nil, for: user) }
        }
        host.filterOutbound { stanza in
            guard stanza.element.name == "presence", stanza.element.attribute("type") == nil,
                  let user = stanza.from.localpart, let hash = hashes.hash(of: user) else { return .pass }
            // An <x/> with a <photo/> (even empty: "not ready") is the client's to decide; an <x/> without one, or none, gets ours.
            if stanza.element.child("x", namespace: updateNamespace)?.child("photo", namespace: updateNamespace) != nil { return .pass }
            stanza.element.removeChildren("x", namespace: updateNamespace)
            stanza.element.append(Element("x", namespace: updateNamespace).appending(Element("photo", namespace: updateNamespace, text: hash)))
            return .pass
        }
    }

    /// The photo of a stored vCard: its bytes and type.
    static func photo(inVCard bytes: [UInt8]?) -> (image: [UInt8], type: String)? {
        guard let bytes, let vCard = try? Element(xml: String(decoding: bytes, as: UTF8.self)),
              let photo = vCard.child("PHOTO"), let binval = photo.child("BINVAL")?.text else { return nil }
        let compact = binval.filter { !$0.isWhitespace }
        guard let image = Base64.decode(compact), !image.isEmpty else { return nil }
        return (image, photo.child("TYPE")?.text ?? "image/png")
    }

    /// PEP → vCard (XEP-0398 §3.1): the data item the metadata names, checked against its id, becomes the PHOTO.
    static func copyToVCard(_ metadataItem: PubSubItem, owner: JID, pep: PersonalEventing, hashes: AvatarHashes, kernel: ServerKernel) async {
        guard let user = owner.localpart, let payload = metadataItem.payload, let metadata = try? Element(xml: payload) else { return }
        let store = kernel.storage.userData
        let stored = try? await store.value(VCardModule.storageKey, of: user)
        var vCard = stored.flatMap { try? Element(xml: String(decoding: $0, as: UTF8.self)) } ?? Element("vCard", namespace: VCardModule.namespace)
        vCard.removeChildren("PHOTO")
        var hash = ""
        // The info without a url is the one served from the data node.
        if let info = metadata.children("info").first(where: { $0.attribute("url") == nil }), let id = info.attribute("id") {
            guard let dataNode = try? await pep.node(PEPNode.avatarData, of: owner, kernel: kernel),
                  let dataPayload = dataNode.items.first(where: { $0.id == id })?.payload,
                  let data = try? Element(xml: dataPayload), let image = Base64.decode(data.text.filter { !$0.isWhitespace }),
                  AvatarInfo.hash(of: image) == id.lowercased() else { return }
            var photo = Element("PHOTO", namespace: VCardModule.namespace)
            photo.append(Element("TYPE", namespace: VCardModule.namespace, text: info.attribute("type") ?? "image/png"))
            photo.append(Element("BINVAL", namespace: VCardModule.namespace, text: Base64.encode(image)))
            vCard.append(photo)
            hash = id.lowercased()
        }
        try? await store.setValue(Array(vCard.xmlString.utf8), for: VCardModule.storageKey, of: user)
        hashes.noteVCard(of: user)
        hashes.update(hash, for: user)
    }

    /// vCard → PEP (XEP-0398 §3.2): a new photo is published as data, then as metadata. A vCard without a photo
    /// leaves the PEP avatar alone (a client that edits only its name must not erase the avatar).
    static func copyToPEP(_ vCard: Element, owner: JID, pep: PersonalEventing, hashes: AvatarHashes, kernel: ServerKernel) async {
        guard let user = owner.localpart else { return }
        guard let photo = photo(inVCard: Array(vCard.xmlString.utf8)) else {
            hashes.update("", for: user)
            return
        }
        let info = AvatarInfo(image: photo.image, type: photo.type)
        hashes.update(info.id, for: user)
        let current = try? await pep.node(PEPNode.avatarMetadata, of: owner, kernel: kernel)
        let currentInfo = current?.lastItem?.payload.flatMap { try? Element(xml: $0) }.flatMap(AvatarInfo.init(metadata:))
        guard currentInfo?.id != info.id else { return }
        do {
            try await pep.publish(AvatarInfo.data(photo.image), itemID: info.id, node: PEPNode.avatarData, options: nil, owner: owner, kernel: kernel)
            try await pep.publish(info.metadata, itemID: info.id, node: PEPNode.avatarMetadata, options: nil, owner: owner, kernel: kernel)
        } catch {
            kernel.logger.warning("could not publish the vCard photo as a PEP avatar", metadata: ["user": "\(user)", "error": "\(error)"])
        }
    }
}

/// The avatar hash of each account with a session online ("" for none), for the presence the server completes, and
/// which accounts have a vCard at all (read once from storage, then kept up to date), so the others cost no read.
final class AvatarHashes: Sendable {
    private let hashes = Locked<[String: String]>([:])
    /// The accounts with a vCard once read (nil before), and those written since the server started (kept apart so a
    /// write that races the first read is not lost).
    private let withVCard = Locked<(read: Set<String>?, written: Set<String>)>((nil, []))

    /// Whether `user` has a stored vCard (false for certain, true when it has or the list could not be read).
    func mayHaveVCard(_ user: String, kernel: ServerKernel) async -> Bool {
        if let known = withVCard.withLock({ state in state.read.map { $0.contains(user) || state.written.contains(user) } }) {
            return known
        }
        guard let users = try? await kernel.storage.userData.users(withKey: VCardModule.storageKey) else { return true }
        return withVCard.withLock { state in
            if state.read == nil { state.read = Set(users) }
            return state.read!.contains(user) || state.written.contains(user)
        }
    }

    /// Records that `user` now has a vCard.
    func noteVCard(of user: String) {
        withVCard.withLock { _ = $0.written.insert(user) }
    }

    /// Forgets `user`'s vCard (account deleted).
    func forgetVCard(of user: String) {
        withVCard.withLock { state in
            state.written.remove(user)
            state.read?.remove(user)
        }
    }

    func hash(of user: String) -> String? { hashes.withLock { $0[user] } }

    /// Sets (or, with nil, forgets) the hash of an account.
    func set(_ hash: String?, for user: String) { hashes.withLock { $0[user] = hash } }

    /// Changes the hash of an account that is online (one that is not learns it at its next login).
    func update(_ hash: String, for user: String) {
        hashes.withLock { if $0[user] != nil { $0[user] = hash } }
    }
}
