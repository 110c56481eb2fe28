import XMPPCore

/// Personal eventing (XEP-0163): the user's own pubsub service at the account's bare JID, and notifications from
/// contacts' services. Asking for a node's ``notifications(node:)`` registers interest in it: the client announces
/// `node+notify` in its service discovery features and capabilities (XEP-0163 §4.3.1), so the server sends what
/// contacts publish there, and the last item of each at login. Needs a ``DiscoModule`` on the client (capabilities
/// travel in its presence), and contacts are heard from when presence subscriptions go both ways.
///
/// ```swift
/// let pep = client.add(PEPModule(interests: ["urn:xmpp:tune"]))
/// client.add(DiscoModule())
/// try await client.connect()
/// try await pep.publish(Element("tune", namespace: "urn:xmpp:tune"), to: "urn:xmpp:tune")
/// for await event in pep.notifications(node: "urn:xmpp:tune") { print(event.service, event.kind) }
/// ```
public final class PEPModule: XMPPClientModule {
    private let client = ClientReference()
    private let pubsub = PubSubModule()
    private let interests: Locked<Set<String>>
    private let notifications = Broadcast<PubSubEvent>()

    /// Creates the module.
    /// - Parameter interests: Nodes to hear of from the first presence on; ``notifications(node:)`` adds more.
    public init(interests: Set<String> = []) {
        self.interests = Locked(interests)
    }

    public func attached(to client: XMPPClient) {
        self.client.set(client)
        pubsub.attached(to: client)
    }

    /// The nodes whose notifications this client asks for.
    public var nodesOfInterest: Set<String> { interests.withLock { $0 } }

    /// `node+notify` for every node of interest.
    public var discoFeatures: [String] { nodesOfInterest.sorted().map(PubSubNamespace.notifyFeature) }

    /// Notifications of `node`, from every contact (and the user's own other clients), from now on. Registers interest
    /// in the node when it is new: when online, presence goes out again with the new capabilities.
    public func notifications(node: String) -> AsyncFilterSequence<AsyncStream<PubSubEvent>> {
        let stream = notifications.subscribe()
        register(interest: node)
        return stream.filter { $0.node == node }
    }

    /// Asks for notifications of `node` from now on (see ``notifications(node:)``), and waits until the updated
    /// capabilities have gone out when online.
    public func registerInterest(in node: String) async throws {
        guard interests.withLock({ $0.insert(node).inserted }) else { return }
        try await announceCapabilities()
    }

    /// Stops asking for notifications of `node`.
    public func removeInterest(in node: String) async throws {
        guard interests.withLock({ $0.remove(node) != nil }) else { return }
        try await announceCapabilities()
    }

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        for event in PubSubEvent.events(in: stanza, account: client.jid) where nodesOfInterest.contains(event.node) {
            notifications.publish(event)
        }
        return false
    }

    // MARK: - The user's own nodes

    /// Publishes `payload` to the user's own `node` (created on first use) and returns the item id.
    /// - Parameters:
    ///   - itemID: The id; the service chooses one when `nil`. Use `current` for a node that holds one state.
    ///   - publishOptions: Preconditions the node must meet (XEP-0060 §7.1.5), e.g. `["pubsub#access_model": "open"]`.
    @discardableResult
    public func publish(_ payload: Element, to node: String, itemID: String? = nil, publishOptions: [String: String] = [:]) async throws -> String {
        try await pubsub.publish(payload, to: node, itemID: itemID, publishOptions: publishOptions)
    }

    /// Retracts items of the user's own `node`, telling subscribers.
    public func retract(_ itemIDs: [String], from node: String) async throws {
        try await pubsub.retract(itemIDs, from: node)
    }

    /// Items of `node` of `jid` (a contact's bare JID; the user's own when `nil`): those with `ids`, or the newest `max`.
    public func items(of node: String, from jid: JID? = nil, max: Int? = nil, ids: [String] = []) async throws -> [PubSubItem] {
        try await pubsub.items(of: node, on: jid?.bare, max: max, ids: ids)
    }

    /// Deletes the user's own `node`.
    public func delete(node: String) async throws {
        try await pubsub.delete(node: node)
    }

    /// Re-sends the broadcast presence when online, so the server learns the new capabilities.
    private func announceCapabilities() async throws {
        guard let client = client.value, client.connectionState.isOnline, client.configuration.sendsInitialPresence else { return }
        try await client.sendPresence(Presence())
    }

    private func register(interest node: String) {
        guard interests.withLock({ $0.insert(node).inserted }) else { return }
        Task { try? await announceCapabilities() }
    }
}
