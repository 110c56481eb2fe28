import XMPPCore

/// Publish-subscribe (XEP-0060) with any service: a pubsub component (`pubsub.example.com`) or a personal eventing
/// service (an account's bare JID; `service: nil` means the user's own). Nodes are created, configured, purged and
/// deleted; items published, retracted and read; subscriptions and affiliations managed. Refusals throw
/// ``PubSubError``, whose ``PubSubError/reason`` tells `precondition-not-met`, `item-not-found`, `forbidden`, ... apart;
/// no session throws ``XMPPClientError``. Every notification that reaches the client is on ``events``.
///
/// ```swift
/// let pubsub = client.add(PubSubModule())
/// try await client.connect()
/// let service = try JID("pubsub.example.com")
/// try await pubsub.create(node: "news", on: service, configuration: ["pubsub#max_items": "10"])
/// try await pubsub.subscribe(to: "news", on: service)
/// let id = try await pubsub.publish(Element("entry", namespace: "urn:example:news", text: "hi"), to: "news", on: service)
/// for await event in pubsub.events where event.node == "news" { print(event.kind) }
/// ```
public final class PubSubModule: XMPPClientModule {
    private let client = ClientReference()
    private let notifications = Broadcast<PubSubEvent>()

    /// Creates the module.
    public init() {}

    public func attached(to client: XMPPClient) {
        self.client.set(client)
    }

    /// Every notification received from any service (or the user's PEP), in order.
    public var events: AsyncStream<PubSubEvent> { notifications.subscribe() }

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        for event in PubSubEvent.events(in: stanza, account: client.jid) { notifications.publish(event) }
        return false
    }

    // MARK: - Nodes

    /// Creates `node` (or an instant node with a name the service chooses, when `nil`), configured with `configuration`
    /// (`pubsub#node_config` fields, e.g. `["pubsub#access_model": "open"]`). Returns the node's name.
    /// - Throws: ``PubSubError`` with ``PubSubError/Reason/conflict`` when it exists.
    @discardableResult
    public func create(node: String?, on service: JID? = nil, configuration: [String: String] = [:]) async throws -> String {
        var create = Element("create", namespace: PubSubNamespace.pubsub)
        create.setAttribute("node", to: node)
        var pubsub = Self.pubsub([create])
        if !configuration.isEmpty {
            pubsub.append(Element("configure", namespace: PubSubNamespace.pubsub,
                                  children: [.element(Self.form(PubSubNamespace.nodeConfig, configuration))]))
        }
        let answer = try await request(pubsub, type: .set, to: service)
        guard let name = answer?.child("create", namespace: PubSubNamespace.pubsub)?.attribute("node") ?? node else {
            throw XMPPClientError.unexpectedResponse("the service did not name the instant node")
        }
        return name
    }

    /// The configuration form of `node` (owner only).
    public func configuration(of node: String, on service: JID? = nil) async throws -> DataForm {
        let answer = try await request(Self.owner(Self.nodeElement("configure", node, namespace: PubSubNamespace.owner)), to: service)
        guard let form = answer?.child("configure", namespace: PubSubNamespace.owner)?.child("x", namespace: DataForm.namespace)
            .flatMap(DataForm.init(element:)) else {
            throw XMPPClientError.unexpectedResponse("no configuration form for \(node)")
        }
        return form
    }

    /// Changes the configuration of `node` (owner only): the fields given, e.g. `["pubsub#max_items": "5"]`.
    public func configure(node: String, on service: JID? = nil, values: [String: String]) async throws {
        var configure = Self.nodeElement("configure", node, namespace: PubSubNamespace.owner)
        configure.append(Self.form(PubSubNamespace.nodeConfig, values))
        try await request(Self.owner(configure), type: .set, to: service)
    }

    /// Deletes `node` with its items; subscribers are told (owner only).
    public func delete(node: String, on service: JID? = nil) async throws {
        try await request(Self.owner(Self.nodeElement("delete", node, namespace: PubSubNamespace.owner)), type: .set, to: service)
    }

    /// Removes every item of `node` (owner only).
    public func purge(node: String, on service: JID? = nil) async throws {
        try await request(Self.owner(Self.nodeElement("purge", node, namespace: PubSubNamespace.owner)), type: .set, to: service)
    }

    // MARK: - Items

    /// Publishes `payload` as an item of `node` and returns the item's id: `itemID`, or the one the service chose.
    /// - Parameter publishOptions: Preconditions on the node's configuration (XEP-0060 §7.1.5), e.g.
    ///   `["pubsub#access_model": "whitelist"]`; a PEP node is created with them, and an existing node whose
    ///   configuration differs refuses with ``PubSubError/Reason/preconditionNotMet``.
    @discardableResult
    public func publish(_ payload: Element?, to node: String, on service: JID? = nil, itemID: String? = nil,
                        publishOptions: [String: String] = [:]) async throws -> String {
        var item = Element("item", namespace: PubSubNamespace.pubsub)
        item.setAttribute("id", to: itemID)
        if let payload { item.append(payload) }
        var publish = Self.nodeElement("publish", node)
        publish.append(item)
        var pubsub = Self.pubsub([publish])
        if !publishOptions.isEmpty {
            pubsub.append(Element("publish-options", namespace: PubSubNamespace.pubsub,
                                  children: [.element(Self.form(PubSubNamespace.publishOptions, publishOptions))]))
        }
        let answer = try await request(pubsub, type: .set, to: service)
        let assigned = answer?.child("publish", namespace: PubSubNamespace.pubsub)?.child("item", namespace: PubSubNamespace.pubsub)?.attribute("id")
        guard let id = assigned ?? itemID else { throw XMPPClientError.unexpectedResponse("the service did not name the published item") }
        return id
    }

    /// Removes items from `node`; with `notify`, subscribers are told (XEP-0060 §7.2).
    public func retract(_ itemIDs: [String], from node: String, on service: JID? = nil, notify: Bool = true) async throws {
        var retract = Self.nodeElement("retract", node)
        if notify { retract.setAttribute("notify", to: "true") }
        for id in itemIDs { retract.append(Element("item", namespace: PubSubNamespace.pubsub, attributes: ["id": id])) }
        try await request(Self.pubsub([retract]), type: .set, to: service)
    }

    /// The items of `node`: those with `ids`, or (without ids) the newest `max` of them, or all it keeps.
    public func items(of node: String, on service: JID? = nil, max: Int? = nil, ids: [String] = []) async throws -> [PubSubItem] {
        var items = Self.nodeElement("items", node)
        if let max, ids.isEmpty { items.setAttribute("max_items", to: String(max)) }
        for id in ids { items.append(Element("item", namespace: PubSubNamespace.pubsub, attributes: ["id": id])) }
        let answer = try await request(Self.pubsub([items]), to: service)
        return answer?.child("items", namespace: PubSubNamespace.pubsub)?.children("item", namespace: PubSubNamespace.pubsub)
            .map(PubSubItem.init(element:)) ?? []
    }

    // MARK: - Subscriptions

    /// Subscribes `jid` (the user's bare JID by default) to `node`; the answer says whether the subscription is
    /// active or waits for approval.
    @discardableResult
    public func subscribe(to node: String, on service: JID? = nil, jid: JID? = nil) async throws -> PubSubSubscription {
        let subscriber = try jid ?? ownBareJID()
        var subscribe = Self.nodeElement("subscribe", node)
        subscribe.setAttribute("jid", to: subscriber.description)
        let answer = try await request(Self.pubsub([subscribe]), type: .set, to: service)
        return answer?.child("subscription", namespace: PubSubNamespace.pubsub).flatMap { PubSubSubscription(element: $0, node: node) }
            ?? PubSubSubscription(node: node, jid: subscriber, state: .subscribed)
    }

    /// Ends the subscription of `jid` (the user's bare JID by default) to `node`.
    public func unsubscribe(from node: String, on service: JID? = nil, jid: JID? = nil, subscriptionID: String? = nil) async throws {
        var unsubscribe = Self.nodeElement("unsubscribe", node)
        unsubscribe.setAttribute("jid", to: try (jid ?? ownBareJID()).description)
        unsubscribe.setAttribute("subid", to: subscriptionID)
        try await request(Self.pubsub([unsubscribe]), type: .set, to: service)
    }

    /// The user's subscriptions on `service` (to `node` only, when given).
    public func subscriptions(on service: JID? = nil, node: String? = nil) async throws -> [PubSubSubscription] {
        var query = Element("subscriptions", namespace: PubSubNamespace.pubsub)
        query.setAttribute("node", to: node)
        let answer = try await request(Self.pubsub([query]), to: service)
        return answer?.child("subscriptions", namespace: PubSubNamespace.pubsub)?.children("subscription", namespace: PubSubNamespace.pubsub)
            .compactMap { PubSubSubscription(element: $0, node: node) } ?? []
    }

    /// Every subscription to `node` (owner only, XEP-0060 §8.8).
    public func subscribers(of node: String, on service: JID? = nil) async throws -> [PubSubSubscription] {
        let answer = try await request(Self.owner(Self.nodeElement("subscriptions", node, namespace: PubSubNamespace.owner)), to: service)
        return answer?.child("subscriptions", namespace: PubSubNamespace.owner)?.children("subscription", namespace: PubSubNamespace.owner)
            .compactMap { PubSubSubscription(element: $0, node: node) } ?? []
    }

    // MARK: - Affiliations

    /// The user's own affiliations on `service` (with `node` only, when given).
    public func affiliations(on service: JID? = nil, node: String? = nil) async throws -> [PubSubAffiliation] {
        var query = Element("affiliations", namespace: PubSubNamespace.pubsub)
        query.setAttribute("node", to: node)
        let answer = try await request(Self.pubsub([query]), to: service)
        return answer?.child("affiliations", namespace: PubSubNamespace.pubsub)?.children("affiliation", namespace: PubSubNamespace.pubsub)
            .compactMap(PubSubAffiliation.init(element:)) ?? []
    }

    /// Every entity's affiliation with `node` (owner only, XEP-0060 §8.9).
    public func affiliations(of node: String, on service: JID? = nil) async throws -> [PubSubAffiliation] {
        let answer = try await request(Self.owner(Self.nodeElement("affiliations", node, namespace: PubSubNamespace.owner)), to: service)
        return answer?.child("affiliations", namespace: PubSubNamespace.owner)?.children("affiliation", namespace: PubSubNamespace.owner)
            .compactMap(PubSubAffiliation.init(element:)).map { PubSubAffiliation(node: node, jid: $0.jid, role: $0.role) } ?? []
    }

    /// Sets entities' affiliations with `node` (owner only); `.none` removes one.
    public func setAffiliations(_ affiliations: [JID: PubSubAffiliation.Role], of node: String, on service: JID? = nil) async throws {
        var change = Self.nodeElement("affiliations", node, namespace: PubSubNamespace.owner)
        for (jid, role) in affiliations.sorted(by: { $0.key.description < $1.key.description }) {
            change.append(Element("affiliation", namespace: PubSubNamespace.owner,
                                  attributes: ["jid": jid.description, "affiliation": role.rawValue]))
        }
        try await request(Self.owner(change), type: .set, to: service)
    }

    // MARK: - Requests

    /// Sends a pubsub request; an error answer becomes a ``PubSubError``.
    @discardableResult
    private func request(_ payload: Element, type: IQ.IQType = .get, to service: JID?) async throws -> Element? {
        do {
            return try await client.require().query(payload, type: type, to: service)
        } catch XMPPClientError.stanzaError(let error) {
            throw PubSubError(error)
        }
    }

    private func ownBareJID() throws -> JID {
        guard let jid = try client.require().jid else { throw XMPPClientError.notConnected }
        return jid.bare
    }

    private static func pubsub(_ children: [Element]) -> Element {
        Element("pubsub", namespace: PubSubNamespace.pubsub, children: children.map { .element($0) })
    }

    private static func owner(_ child: Element) -> Element {
        Element("pubsub", namespace: PubSubNamespace.owner, children: [.element(child)])
    }

    private static func nodeElement(_ name: String, _ node: String, namespace: String = PubSubNamespace.pubsub) -> Element {
        Element(name, namespace: namespace, attributes: ["node": node])
    }

    /// A submitted form of `formType` with `values`, in a stable order.
    private static func form(_ formType: String, _ values: [String: String]) -> Element {
        var form = DataForm(type: .submit, formType: formType)
        for (variable, value) in values.sorted(by: { $0.key < $1.key }) { form.setValues([value], for: variable) }
        return form.element
    }
}
