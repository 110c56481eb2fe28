import XMPPCore

/// A change to the user's bookmarks, made by this client or by another of the account's clients.
public enum BookmarkEvent: Sendable, Hashable {
    /// The list was read from the server.
    case loaded([Bookmark])
    /// A room was bookmarked, or its bookmark changed.
    case added(Bookmark)
    /// The bookmark of this room was removed.
    case removed(JID)
}

/// Chat room bookmarks, shared by all of the user's clients: XEP-0402 (one item per room in the PEP node
/// `urn:xmpp:bookmarks:1`, only the user may read them), falling back to XEP-0048 in private XML storage
/// (`jabber:iq:private`) on a server without PEP. Changes made by the account's other clients arrive on ``updates``
/// through PEP notifications (`urn:xmpp:bookmarks:1+notify` in the capabilities; needs a ``DiscoModule``).
///
/// ```swift
/// let bookmarks = client.add(BookmarksModule())
/// try await client.connect()
/// try await bookmarks.add(Bookmark(room: try JID("tea@conference.example.com"), name: "Tea", autojoin: true, nickname: "Jules"))
/// for bookmark in try await bookmarks.list() where bookmark.autojoin { … }
/// try await bookmarks.remove(try JID("tea@conference.example.com"))
/// ```
public final class BookmarksModule: XMPPClientModule {
    /// Where the bookmarks are kept.
    public enum Storage: Sendable, Hashable {
        /// Decide at first use: XEP-0402 when the account's service discovery shows `urn:xmpp:bookmarks:1#compat` or a
        /// PEP service, else XEP-0048 in private XML storage.
        case automatic
        /// XEP-0402, in PEP.
        case pep
        /// XEP-0048, in private XML storage.
        case privateStorage
    }

    /// The feature a server shows when it keeps XEP-0402 and XEP-0048 bookmarks in step (XEP-0402 §3).
    public static let compatFeature = "urn:xmpp:bookmarks:1#compat"
    /// The publish options of every bookmark (XEP-0402 §3.3): kept, as many as there are rooms, only for the user.
    public static let publishOptions = ["pubsub#persist_items": "true", "pubsub#max_items": "max",
                                        "pubsub#send_last_published_item": "never", "pubsub#access_model": "whitelist"]
    static let privateNamespace = "jabber:iq:private"

    private let client = ClientReference()
    private let pubsub = PubSubModule()
    private let requested: Storage
    private let resolved = Locked<Storage?>(nil)
    private let current = Locked<[JID: Bookmark]>([:])
    private let changes = Broadcast<BookmarkEvent>()

    /// Creates the module.
    /// - Parameter storage: Where to keep bookmarks; ``Storage/automatic`` asks the server.
    public init(storage: Storage = .automatic) {
        requested = storage
    }

    public func attached(to client: XMPPClient) {
        self.client.set(client)
        pubsub.attached(to: client)
    }

    public var discoFeatures: [String] { [PubSubNamespace.notifyFeature(PEPNode.bookmarks)] }

    /// The bookmarks as last read, added or heard of, by room.
    public var bookmarks: [Bookmark] { current.withLock { $0.values.sorted { $0.room.description < $1.room.description } } }

    /// Changes from this client and from the account's other clients (PEP storage only).
    public var updates: AsyncStream<BookmarkEvent> { changes.subscribe() }

    /// Where the bookmarks are kept for this account: the configured storage, or what the server offers.
    public func storage() async throws -> Storage {
        if requested != .automatic { return requested }
        if let known = resolved.withLock({ $0 }) { return known }
        let client = try client.require()
        guard let own = client.jid?.bare else { throw XMPPClientError.notConnected }
        let answer = try await client.query(Element("query", namespace: DiscoModule.infoNamespace), to: own)
        let info = answer.map(DiscoInfo.init(query:))
        let hasPEP = info?.identities.contains { $0.category == "pubsub" && $0.type == "pep" } ?? false
        let storage: Storage = info?.features.contains(Self.compatFeature) == true || hasPEP ? .pep : .privateStorage
        resolved.withLock { $0 = storage }
        return storage
    }

    /// Reads every bookmark from the server.
    @discardableResult
    public func list() async throws -> [Bookmark] {
        let bookmarks: [Bookmark]
        switch try await storage() {
        case .privateStorage:
            bookmarks = try await readPrivateStorage()
        default:
            do {
                bookmarks = try await pubsub.items(of: PEPNode.bookmarks).compactMap { item in
                    guard let id = item.id, let payload = item.payload else { return nil }
                    return Bookmark(conference: payload, itemID: id)
                }
            } catch let error as PubSubError where error.reason == .itemNotFound {
                bookmarks = []  // no node yet: nothing was ever bookmarked
            }
        }
        current.withLock { current in current = Dictionary(bookmarks.map { ($0.room, $0) }, uniquingKeysWith: { $1 }) }
        changes.publish(.loaded(bookmarks))
        return bookmarks
    }

    /// Bookmarks a room, or replaces its bookmark.
    public func add(_ bookmark: Bookmark) async throws {
        switch try await storage() {
        case .privateStorage:
            var all = try await readPrivateStorage().filter { $0.room != bookmark.room }
            all.append(bookmark)
            try await writePrivateStorage(all)
        default:
            try await pubsub.publish(bookmark.conference, to: PEPNode.bookmarks, itemID: bookmark.room.description,
                                     publishOptions: Self.publishOptions)
        }
        apply(.added(bookmark))
    }

    /// Removes the bookmark of `room`; nothing happens when there is none.
    public func remove(_ room: JID) async throws {
        switch try await storage() {
        case .privateStorage:
            let all = try await readPrivateStorage()
            guard all.contains(where: { $0.room == room.bare }) else { break }
            try await writePrivateStorage(all.filter { $0.room != room.bare })
        default:
            do {
                try await pubsub.retract([room.bare.description], from: PEPNode.bookmarks)
            } catch let error as PubSubError where error.reason == .itemNotFound {}
        }
        apply(.removed(room.bare))
    }

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        // Only the account's own service speaks for its bookmarks.
        guard let own = client.jid?.bare else { return false }
        for event in PubSubEvent.events(in: stanza, account: own) where event.node == PEPNode.bookmarks && event.service == own {
            switch event.kind {
            case .published(let items):
                for item in items {
                    guard let id = item.id, let bookmark = item.payload.flatMap({ Bookmark(conference: $0, itemID: id) }) else { continue }
                    apply(.added(bookmark))
                }
            case .retracted(let ids):
                for room in ids.compactMap(JID.init(validating:)) { apply(.removed(room)) }
            case .purged, .deleted:
                for room in bookmarks.map(\.room) { apply(.removed(room)) }
            case .configured:
                continue
            }
        }
        return false
    }

    /// Records a change and tells subscribers, unless it is what is known already (an echo of this client's own).
    private func apply(_ event: BookmarkEvent) {
        let changed = current.withLock { current -> Bool in
            switch event {
            case .added(let bookmark):
                guard current[bookmark.room] != bookmark else { return false }
                current[bookmark.room] = bookmark
            case .removed(let room):
                guard current.removeValue(forKey: room) != nil else { return false }
            case .loaded:
                return true
            }
            return true
        }
        if changed { changes.publish(event) }
    }

    private func readPrivateStorage() async throws -> [Bookmark] {
        let query = Element("query", namespace: Self.privateNamespace,
                            children: [.element(Element("storage", namespace: Bookmark.legacyNamespace))])
        let answer = try await client.require().query(query)
        return answer?.child("storage", namespace: Bookmark.legacyNamespace).map(Bookmark.fromLegacyStorage) ?? []
    }

    private func writePrivateStorage(_ bookmarks: [Bookmark]) async throws {
        let query = Element("query", namespace: Self.privateNamespace, children: [.element(Bookmark.legacyStorage(bookmarks))])
        try await client.require().query(query, type: .set)
    }
}
