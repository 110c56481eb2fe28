import XMPPCore

/// What an entity says about itself in service discovery (XEP-0030 §3).
public struct DiscoInfo: Sendable, Hashable {
    /// One identity: category, type, optional name and language (XMPPCore's ``DiscoIdentity``, shared with the server).
    public typealias Identity = DiscoIdentity

    /// The identities.
    public var identities: [Identity]
    /// The feature namespaces.
    public var features: Set<String>
    /// Data forms attached (XEP-0128), as elements.
    public var extensions: [Element]

    /// Reads a disco#info `<query/>`.
    init(query: Element) {
        let namespace = DiscoModule.infoNamespace
        identities = query.children("identity", namespace: namespace).map(DiscoIdentity.init(element:))
        features = Set(query.children("feature", namespace: namespace).compactMap { $0.attribute("var") })
        extensions = query.children("x", namespace: "jabber:x:data")
    }

    /// Creates a description.
    public init(identities: [Identity], features: Set<String>, extensions: [Element] = []) {
        self.identities = identities
        self.features = features
        self.extensions = extensions
    }

    /// The entity-capabilities verification string (XEP-0115 §5.1) with SHA-1, without extensions.
    public var capsVerification: String {
        EntityCapabilities.verification(identities: identities, features: features)
    }
}

/// One item of a disco#items answer (XEP-0030 §4): a room of a conference service, a component, ...
public struct DiscoItem: Sendable, Hashable {
    public var jid: JID
    public var node: String?
    public var name: String?
}

/// Service discovery (XEP-0030) and entity capabilities (XEP-0115): asks other entities what they are and
/// offer (answers are cached, and capabilities announced in presence are verified and cached by their
/// hash), answers such questions about this client from the modules attached, and announces the client's
/// own capabilities in its presence.
public final class DiscoModule: XMPPClientModule {
    /// The disco#info namespace.
    public static let infoNamespace = "http://jabber.org/protocol/disco#info"
    /// The disco#items namespace.
    public static let itemsNamespace = "http://jabber.org/protocol/disco#items"
    /// The entity capabilities namespace.
    public static let capsNamespace = "http://jabber.org/protocol/caps"

    private struct State {
        var infos: [String: DiscoInfo] = [:]
        var capsByVerification: [String: DiscoInfo] = [:]
        var announced: [JID: (node: String, verification: String)] = [:]
    }

    private let client = ClientReference()
    private let state = Locked(State())
    /// The client's identity in its own disco#info answers.
    public let identity: DiscoInfo.Identity
    /// The node of the client's capabilities: a URL naming the software.
    public let capsNode: String

    /// Creates the module.
    /// - Parameters:
    ///   - identity: What this client is (category `client`; type `pc`, `phone`, `bot`, ...).
    ///   - capsNode: A URL identifying the client software.
    public init(identity: DiscoInfo.Identity = .init(category: "client", type: "pc", name: "SwiftXMPP"),
                capsNode: String = "https://github.com/swiftxmpp/swiftxmpp") {
        self.identity = identity
        self.capsNode = capsNode
    }

    /// What this client announces: its identity and the features of every module attached.
    public var ownInfo: DiscoInfo {
        let modules = client.value?.modules ?? []
        var features: Set<String> = [Self.infoNamespace, Self.capsNamespace]
        for module in modules { features.formUnion(module.discoFeatures) }
        return DiscoInfo(identities: [identity], features: features)
    }

    public func attached(to client: XMPPClient) {
        self.client.set(client)
    }

    /// What `jid` (optionally at `node`) says about itself; cached for the client's lifetime unless `refresh`.
    public func info(of jid: JID, node: String? = nil, refresh: Bool = false) async throws -> DiscoInfo {
        let key = "\(jid)#\(node ?? "")"
        if !refresh, let cached = state.withLock({ $0.infos[key] }) { return cached }
        var query = Element("query", namespace: Self.infoNamespace)
        query.setAttribute("node", to: node)
        guard let answer = try await client.require().query(query, to: jid) else {
            throw XMPPClientError.unexpectedResponse("empty disco#info answer")
        }
        let info = DiscoInfo(query: answer)
        state.withLock { $0.infos[key] = info }
        return info
    }

    /// The items `jid` lists (rooms of a conference service, services of a server, ...).
    public func items(of jid: JID, node: String? = nil) async throws -> [DiscoItem] {
        var query = Element("query", namespace: Self.itemsNamespace)
        query.setAttribute("node", to: node)
        let answer = try await client.require().query(query, to: jid)
        return (answer?.children("item", namespace: Self.itemsNamespace) ?? []).compactMap { item in
            guard let jid = item.attribute("jid").flatMap(JID.init(validating:)) else { return nil }
            return DiscoItem(jid: jid, node: item.attribute("node"), name: item.attribute("name"))
        }
    }

    /// What the resource `jid` can do, from the capabilities it announced in presence: from the cache when
    /// another entity announced the same hash, else asked and verified against the hash (XEP-0115 §5.4).
    public func capabilities(of jid: JID) async throws -> DiscoInfo? {
        guard let announced = state.withLock({ $0.announced[jid] }) else { return nil }
        if let known = state.withLock({ $0.capsByVerification[announced.verification] }) { return known }
        let info = try await self.info(of: jid, node: "\(announced.node)#\(announced.verification)")
        if info.capsVerification == announced.verification {
            state.withLock { $0.capsByVerification[announced.verification] = info }
        }
        return info
    }

    public func decorate(presence: inout Presence) {
        presence.element.append(Element("c", namespace: Self.capsNamespace,
                                        attributes: ["hash": "sha-1", "node": capsNode, "ver": ownInfo.capsVerification]))
    }

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        if stanza.name == "presence", let from = stanza.attribute("from").flatMap(JID.init(validating:)) {
            if let caps = stanza.child("c", namespace: Self.capsNamespace), caps.attribute("hash") == "sha-1",
               let node = caps.attribute("node"), let verification = caps.attribute("ver") {
                state.withLock { $0.announced[from] = (node, verification) }
            }
            return false
        }
        guard stanza.name == "iq", let iq = IQ(element: stanza), iq.type == .get, let query = iq.payload,
              query.name == "query" else { return false }
        switch query.namespace {
        case Self.infoNamespace:
            let info = ownInfo
            let node = query.attribute("node")
            // Another node may be another module's (the commands an app offers): it answers, or the client does.
            if let node, node != "\(capsNode)#\(info.capsVerification)" { return false }
            var answer = Element("query", namespace: Self.infoNamespace)
            answer.setAttribute("node", to: node)
            for identity in info.identities { answer.append(identity.element) }
            for feature in info.features.sorted() {
                answer.append(Element("feature", namespace: Self.infoNamespace, attributes: ["var": feature]))
            }
            client.enqueue(iq.result(payload: answer).element)
            return true
        case Self.itemsNamespace:
            guard query.attribute("node") == nil else { return false }
            client.enqueue(iq.result(payload: Element("query", namespace: Self.itemsNamespace)).element)
            return true
        default:
            return false
        }
    }
}
