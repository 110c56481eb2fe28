/// A chat room the user keeps a bookmark for: XEP-0402 (one PEP item per room) and XEP-0048 (all in one
/// `storage:bookmarks` document, in private XML storage or PEP). Both forms convert to and from this value.
public struct Bookmark: Sendable, Hashable {
    /// The XEP-0402 namespace of `<conference/>`.
    public static let namespace = "urn:xmpp:bookmarks:1"
    /// The XEP-0048 namespace of `<storage/>`.
    public static let legacyNamespace = "storage:bookmarks"

    /// The room.
    public var room: JID
    /// A name to show for it.
    public var name: String?
    /// Whether clients enter the room when they connect.
    public var autojoin: Bool
    /// The nickname to enter with.
    public var nickname: String?
    /// The room's password (XEP-0402 keeps it; XEP-0048 discourages it).
    public var password: String?

    /// Creates a bookmark.
    public init(room: JID, name: String? = nil, autojoin: Bool = false, nickname: String? = nil, password: String? = nil) {
        self.room = room
        self.name = name
        self.autojoin = autojoin
        self.nickname = nickname
        self.password = password
    }

    /// Reads a XEP-0402 `<conference/>` payload whose item id is `itemID` (the room's JID).
    public init?(conference: Element, itemID: String) {
        guard conference.name == "conference", conference.namespace == Self.namespace,
              let room = JID(validating: itemID), room.isBare else { return nil }
        self.init(room: room, name: conference.attribute("name"), autojoin: Self.isTrue(conference.attribute("autojoin")),
                  nickname: conference.child("nick")?.text, password: conference.child("password")?.text)
    }

    /// Reads one `<conference jid=…/>` of a XEP-0048 `<storage/>`.
    public init?(legacyConference conference: Element) {
        guard conference.name == "conference", let jid = conference.attribute("jid") else { return nil }
        self.init(conference: Element("conference", namespace: Self.namespace, attributes: [:], children: conference.children)
                    .settingAttributes(name: conference.attribute("name"), autojoin: conference.attribute("autojoin")),
                  itemID: jid)
    }

    /// The XEP-0402 payload (the item id is ``room``).
    public var conference: Element {
        var element = Element("conference", namespace: Self.namespace)
            .settingAttributes(name: name, autojoin: autojoin ? "true" : nil)
        if let nickname { element.append(Element("nick", namespace: Self.namespace, text: nickname)) }
        if let password { element.append(Element("password", namespace: Self.namespace, text: password)) }
        return element
    }

    /// The bookmarks as one XEP-0048 `<storage xmlns='storage:bookmarks'/>` document.
    public static func legacyStorage(_ bookmarks: [Bookmark]) -> Element {
        var storage = Element("storage", namespace: legacyNamespace)
        for bookmark in bookmarks {
            var conference = Element("conference", namespace: legacyNamespace, attributes: ["jid": bookmark.room.description])
                .settingAttributes(name: bookmark.name, autojoin: bookmark.autojoin ? "true" : nil)
            if let nickname = bookmark.nickname { conference.append(Element("nick", namespace: legacyNamespace, text: nickname)) }
            if let password = bookmark.password { conference.append(Element("password", namespace: legacyNamespace, text: password)) }
            storage.append(conference)
        }
        return storage
    }

    /// The room bookmarks of a XEP-0048 `<storage/>` document (URL bookmarks are not rooms and are left out).
    public static func fromLegacyStorage(_ storage: Element) -> [Bookmark] {
        storage.children("conference").compactMap { Bookmark(legacyConference: $0) }
    }

    private static func isTrue(_ value: String?) -> Bool { value == "true" || value == "1" }
}

extension Element {
    /// A copy with `name` and `autojoin` set (or removed when `nil`), the attributes bookmarks share.
    fileprivate func settingAttributes(name: String?, autojoin: String?) -> Element {
        var copy = self
        copy.attributes.removeAll { $0.name == "name" || $0.name == "autojoin" }
        if let name { copy.attributes.append(.init(name: "name", value: name)) }
        if let autojoin { copy.attributes.append(.init(name: "autojoin", value: autojoin)) }
        return copy
    }
}
