import XMPPCore

/// Service discovery (XEP-0030) for the server and its accounts, and the server's entity capabilities
/// (XEP-0115) as a stream feature.
public struct DiscoModule: ServerModule {
    public let name = "disco"
    public let specifications = ["XEP-0030 2.5", "XEP-0115 1.6"]
    /// `http://jabber.org/protocol/disco#info`.
    public static let infoNamespace = DiscoNamespace.info
    /// `http://jabber.org/protocol/disco#items`.
    public static let itemsNamespace = DiscoNamespace.items
    /// The node the server's capabilities are published under.
    public static let capsNode = "https://github.com/swiftxmpp/swiftxmpp"

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        host.addServerIdentity(Self.serverIdentity)
        for feature in [Self.infoNamespace, Self.itemsNamespace] {
            host.addServerFeature(feature)
            host.addAccountFeature(feature)
        }
        host.handleIQ(Self.infoNamespace, for: [.server, .ownAccount, .otherAccount]) { request in
            guard request.iq.type == .get else { throw StanzaError(.notAllowed) }
            let kernel = request.kernel
            if let node = request.payload.attribute("node"), request.to.localpart == nil, let provider = kernel.discoNodeProvider(for: node) {
                guard let children = try await provider.info(node, request) else { throw StanzaError(.itemNotFound) }
                return IQReply(Element("query", namespace: Self.infoNamespace, attributes: ["node": node], children: children.map { .element($0) }))
            }
            if let node = request.payload.attribute("node"), request.to.localpart != nil {
                guard let children = try await kernel.accountDiscoInfo(node, request) else { throw StanzaError(.itemNotFound) }
                return IQReply(Element("query", namespace: Self.infoNamespace, attributes: ["node": node], children: children.map { .element($0) }))
            }
            if request.payload.attribute("node") != nil,
               request.payload.attribute("node") != Self.capsNode + "#" + Self.capsVerification(identities: kernel.serverIdentities, features: kernel.serverFeatures,
                                                                                                forms: kernel.serverInfoForms) {
                throw StanzaError(.itemNotFound)
            }
            return IQReply(Self.info(for: request))
        }
        host.handleIQ(Self.itemsNamespace, for: [.server, .ownAccount, .otherAccount]) { request in
            guard request.iq.type == .get else { throw StanzaError(.notAllowed) }
            if request.to.localpart != nil {
                let node = request.payload.attribute("node")
                guard let children = try await request.kernel.accountDiscoItems(node, request) else { throw StanzaError(.itemNotFound) }
                var query = Element("query", namespace: Self.itemsNamespace, children: children.map { .element($0) })
                query.setAttribute("node", to: node)
                return IQReply(query)
            }
            if let node = request.payload.attribute("node") {
                guard let provider = request.kernel.discoNodeProvider(for: node),
                      let children = try await provider.items(node, request) else { throw StanzaError(.itemNotFound) }
                return IQReply(Element("query", namespace: Self.itemsNamespace, attributes: ["node": node], children: children.map { .element($0) }))
            }
            // The server's services (XEP-0045 §6.1: clients find the chat service this way).
            var items = Element("query", namespace: Self.itemsNamespace)
            for service in request.kernel.hostedServices {
                items.append(Element("item", namespace: Self.itemsNamespace, attributes: ["jid": service.domain, "name": service.displayName]))
            }
            return IQReply(items)
        }
    }

    /// The server's identity.
    public static let serverIdentity = DiscoIdentity(category: "server", type: "im", name: "SwiftXMPP")

    static func info(for request: IQRequest) -> Element {
        var query = Element("query", namespace: infoNamespace)
        query.setAttribute("node", to: request.payload.attribute("node"))
        let features: [String]
        if request.to.localpart == nil {
            for identity in request.kernel.serverIdentities { query.append(identity.element) }
            features = request.kernel.serverFeatures
        } else {
            query.append(Element("identity", namespace: infoNamespace, attributes: ["category": "account", "type": "registered"]))
            for identity in request.kernel.accountIdentities { query.append(identity.element) }
            features = request.kernel.accountFeatures
        }
        for feature in features { query.append(Element("feature", namespace: infoNamespace, attributes: ["var": feature])) }
        if request.to.localpart == nil { for form in request.kernel.serverInfoForms { query.append(form.element) } }
        return query
    }

    /// The XEP-0115 §5.1 verification string of the server's identities and features (SHA-1, base64).
    public static func capsVerification(identities: [DiscoIdentity] = [serverIdentity], features: [String], forms: [DataForm] = []) -> String {
        EntityCapabilities.verification(identities: identities, features: features, forms: forms)
    }

    /// The `<c/>` stream feature carrying the server's capabilities.
    public static func capsFeature(identities: [DiscoIdentity], features: [String], forms: [DataForm] = []) -> Element {
        Element("c", namespace: EntityCapabilities.namespace,
                attributes: ["hash": "sha-1", "node": capsNode, "ver": capsVerification(identities: identities, features: features, forms: forms)])
    }
}
