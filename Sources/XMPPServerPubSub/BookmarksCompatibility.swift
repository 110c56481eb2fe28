import Logging
import XMPPCore
import XMPPServerKernel

/// XEP-0402 bookmarks with the XEP-0048 view kept in step (`urn:xmpp:bookmarks:1#compat`): a `storage:bookmarks`
/// document written to private XML storage (XEP-0049) becomes one PEP item per room, and every change of the PEP
/// node rewrites that document, so old and new clients of one account see the same bookmarks.
enum BookmarksCompatibility {
    /// `urn:xmpp:bookmarks:1#compat`.
    static let feature = "urn:xmpp:bookmarks:1#compat"

    /// The node configuration XEP-0402 §3.2 asks for.
    static var publishOptions: DataForm {
        var form = DataForm(type: .submit, formType: PubSubNamespace.publishOptions)
        form.setValues(["true"], for: "pubsub#persist_items")
        form.setValues(["max"], for: "pubsub#max_items")
        form.setValues(["never"], for: "pubsub#send_last_published_item")
        form.setValues(["whitelist"], for: "pubsub#access_model")
        return form
    }

    static func activate(in host: ModuleHost, pep: PersonalEventing) {
        host.addAccountFeature(feature)
        host.addAccountFeature(PEPNode.bookmarks)
        pep.ownChangeObservers.withLock { observers in
            observers.append { owner, event, kernel in
                guard event.node.name == PEPNode.bookmarks else { return }
                await writePrivateView(of: owner, pep: pep, kernel: kernel)
            }
        }
        host.observeIQ(PrivateStorageModule.namespace) { request, _ in
            guard request.iq.type == .set, let storage = request.payload.child("storage", namespace: Bookmark.legacyNamespace) else { return }
            await publish(Bookmark.fromLegacyStorage(storage), owner: request.to, pep: pep, kernel: request.kernel)
        }
    }

    /// PEP → private XML: the document old clients read.
    static func writePrivateView(of owner: JID, pep: PersonalEventing, kernel: ServerKernel) async {
        guard let user = owner.localpart else { return }
        let node = try? await pep.node(PEPNode.bookmarks, of: owner, kernel: kernel)
        let bookmarks = (node?.items ?? []).compactMap { item in
            item.payload.flatMap { try? Element(xml: $0) }.flatMap { Bookmark(conference: $0, itemID: item.id) }
        }
        let document = Bookmark.legacyStorage(bookmarks).xmlString
        try? await kernel.storage.userData.setValue(Array(document.utf8), for: PrivateStorageModule.storageKey(for: Bookmark.legacyNamespace),
                                                    of: user)
    }

    /// Private XML → PEP: publishes what is new or changed, retracts what is gone.
    static func publish(_ bookmarks: [Bookmark], owner: JID, pep: PersonalEventing, kernel: ServerKernel) async {
        let node = try? await pep.node(PEPNode.bookmarks, of: owner, kernel: kernel)
        var current: [String: Bookmark] = [:]
        for item in node?.items ?? [] {
            if let bookmark = item.payload.flatMap({ try? Element(xml: $0) }).flatMap({ Bookmark(conference: $0, itemID: item.id) }) {
                current[item.id] = bookmark
            }
        }
        let wanted = Dictionary(bookmarks.map { ($0.room.description, $0) }, uniquingKeysWith: { _, last in last })
        do {
            for (id, bookmark) in wanted.sorted(by: { $0.key < $1.key }) where current[id] != bookmark {
                try await pep.publish(bookmark.conference, itemID: id, node: PEPNode.bookmarks, options: publishOptions, owner: owner, kernel: kernel)
            }
            let gone = current.keys.filter { wanted[$0] == nil }.sorted()
            try await pep.retract(gone, node: PEPNode.bookmarks, owner: owner, kernel: kernel)
        } catch {
            kernel.logger.warning("could not copy XEP-0048 bookmarks to PEP", metadata: ["owner": "\(owner)", "error": "\(error)"])
        }
    }
}
