import XMPPCore

/// What changed on the blocklist, from the user's own requests or another of their resources.
public enum BlocklistEvent: Sendable, Hashable {
    /// The list was loaded from the server; carries every blocked JID.
    case loaded(Set<JID>)
    /// These JIDs were blocked.
    case blocked([JID])
    /// These JIDs were unblocked.
    case unblocked([JID])
    /// Everything was unblocked.
    case unblockedAll
}

/// Blocking Command (XEP-0191): block and unblock contacts (or whole domains) so that the user looks offline to
/// them and hears nothing from them, on every device. The list is fetched at login (which also asks the server
/// for pushes), kept current by pushes from the user's own server only, and offered as ``blocked`` and
/// ``updates``. A stanza to a blocked JID comes back with `not-acceptable` and `<blocked/>`
/// (``XMPPCore/StanzaError/isBlockedByUser``).
///
/// ```swift
/// let blocking = client.add(BlockingModule())
/// try await client.connect()
/// try await blocking.block([try JID("spammer@example.net")])
/// print(blocking.blocked)                         // ["spammer@example.net"]
/// try await blocking.unblockAll()
/// ```
public final class BlockingModule: XMPPClientModule {
    /// `urn:xmpp:blocking`.
    public static let namespace = "urn:xmpp:blocking"
    /// `urn:xmpp:blocking:errors`, the `<blocked/>` condition of a refused stanza.
    public static let errorsNamespace = "urn:xmpp:blocking:errors"

    private let client = ClientReference()
    private let list = Locked<Set<JID>>([])
    private let events = Broadcast<BlocklistEvent>()
    private let fetchesOnLogin: Bool

    /// Creates the module.
    /// - Parameter fetchesOnLogin: Whether to load the list when the session starts, which also subscribes this
    ///   resource to the server's pushes (XEP-0191 §3.2).
    public init(fetchesOnLogin: Bool = true) {
        self.fetchesOnLogin = fetchesOnLogin
    }

    /// The blocked JIDs as last known.
    public var blocked: Set<JID> { list.withLock { $0 } }

    /// Whether `jid` is on the list as an item (exactly; the server also applies domain and bare-JID items to
    /// the JIDs under them).
    public func isBlocked(_ jid: JID) -> Bool { list.withLock { $0.contains(jid) } }

    /// Changes to the list, from loads, the user's own requests and pushes.
    public var updates: AsyncStream<BlocklistEvent> { events.subscribe() }

    public func attached(to client: XMPPClient) {
        self.client.set(client)
    }

    public func sessionStarted(client: XMPPClient) async {
        guard fetchesOnLogin else { return }
        _ = try? await fetch()
    }

    // MARK: - Requests

    /// Loads the list from the server (and asks for pushes from then on).
    @discardableResult
    public func fetch() async throws -> Set<JID> {
        let answer = try await client.require().query(Element("blocklist", namespace: Self.namespace))
        let jids = Set(Self.jids(in: answer))
        list.withLock { $0 = jids }
        events.publish(.loaded(jids))
        return jids
    }

    /// Blocks `jids`: bare JIDs, full JIDs or domains (XEP-0191 §6 says what each covers).
    public func block(_ jids: [JID]) async throws {
        guard !jids.isEmpty else { return }
        try await client.require().query(Self.command("block", jids), type: .set)
        apply(.blocked(jids))
    }

    /// Unblocks `jids`.
    public func unblock(_ jids: [JID]) async throws {
        guard !jids.isEmpty else { return }
        try await client.require().query(Self.command("unblock", jids), type: .set)
        apply(.unblocked(jids))
    }

    /// Unblocks everyone.
    public func unblockAll() async throws {
        try await client.require().query(Self.command("unblock", []), type: .set)
        apply(.unblockedAll)
    }

    // MARK: - Pushes

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        guard stanza.name == "iq", let iq = IQ(element: stanza), iq.type == .set, let payload = iq.payload,
              payload.namespace == Self.namespace, payload.name == "block" || payload.name == "unblock" else { return false }
        // Only the user's own server may push: no from, or the account's bare JID.
        guard iq.from == nil || iq.from == client.jid?.bare else {
            client.enqueue(iq.errorReply(StanzaError(.serviceUnavailable)))
            return true
        }
        let jids = Self.jids(in: payload)
        switch payload.name {
        case "block": apply(.blocked(jids))
        default: apply(jids.isEmpty ? .unblockedAll : .unblocked(jids))
        }
        client.enqueue(iq.result().element)
        return true
    }

    private func apply(_ event: BlocklistEvent) {
        let changed = list.withLock { list -> Bool in
            let before = list
            switch event {
            case .loaded(let jids): list = jids
            case .blocked(let jids): list.formUnion(jids)
            case .unblocked(let jids): list.subtract(jids)
            case .unblockedAll: list = []
            }
            return list != before
        }
        // A push repeating the change this resource just made is not news.
        if changed { events.publish(event) }
    }

    static func command(_ name: String, _ jids: [JID]) -> Element {
        Element(name, namespace: namespace, children: jids.map {
            .element(Element("item", namespace: namespace, attributes: ["jid": $0.description]))
        })
    }

    static func jids(in element: Element?) -> [JID] {
        element?.children("item", namespace: namespace).compactMap { $0.attribute("jid").flatMap(JID.init(validating:)) } ?? []
    }
}

extension StanzaError {
    /// Whether the server refused the stanza because the user blocked its recipient (XEP-0191 §3.3).
    public var isBlockedByUser: Bool {
        condition == .notAcceptable && applicationCondition?.name == "blocked"
            && applicationCondition?.namespace == BlockingModule.errorsNamespace
    }
}
