import XMPPCore

/// Service discovery (XEP-0030) for the server and its accounts, and the server's entity capabilities
/// (XEP-0115) as a stream feature.
public struct DiscoModule: ServerModule {
    public let name = "disco"
    public let specifications = ["XEP-0030 2.5", "XEP-0115 1.6"]
    /// `http://jabber.org/protocol/disco#info`.
    public static let infoNamespace = "http://jabber.org/protocol/disco#info"
    /// `http://jabber.org/protocol/disco#items`.
    public static let itemsNamespace = "http://jabber.org/protocol/disco#items"
    /// The node the server's capabilities are published under.
    public static let capsNode = "https://github.com/swiftxmpp/swiftxmpp"

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        for feature in [Self.infoNamespace, Self.itemsNamespace] {
            host.addServerFeature(feature)
            host.addAccountFeature(feature)
        }
        host.handleIQ(Self.infoNamespace, for: [.server, .account]) { request in
            guard request.iq.type == .get else { throw StanzaError(.notAllowed) }
            if request.payload.attribute("node") != nil, request.payload.attribute("node") != Self.capsNode + "#" + Self.capsVerification(features: request.kernel.serverFeatures) {
                throw StanzaError(.itemNotFound)
            }
            return IQReply(Self.info(for: request))
        }
        host.handleIQ(Self.itemsNamespace, for: [.server, .account]) { request in
            guard request.iq.type == .get else { throw StanzaError(.notAllowed) }
            guard request.payload.attribute("node") == nil else { throw StanzaError(.itemNotFound) }
            var items = Element("query", namespace: Self.itemsNamespace)
            if request.to.localpart == nil {
                // The server's services (XEP-0045 §6.1: clients find the chat service this way).
                for service in request.kernel.hostedServices {
                    items.append(Element("item", namespace: Self.itemsNamespace, attributes: ["jid": service.domain, "name": service.displayName]))
                }
            }
            return IQReply(items)
        }
    }

    /// The server's identity.
    static let serverIdentity = (category: "server", type: "im", name: "SwiftXMPP")

    static func info(for request: IQRequest) -> Element {
        var query = Element("query", namespace: infoNamespace)
        query.setAttribute("node", to: request.payload.attribute("node"))
        let features: [String]
        if request.to.localpart == nil {
            query.append(Element("identity", namespace: infoNamespace,
                                 attributes: ["category": serverIdentity.category, "type": serverIdentity.type, "name": serverIdentity.name]))
            features = request.kernel.serverFeatures
        } else {
            query.append(Element("identity", namespace: infoNamespace, attributes: ["category": "account", "type": "registered"]))
            features = request.kernel.accountFeatures
        }
        for feature in features { query.append(Element("feature", namespace: infoNamespace, attributes: ["var": feature])) }
        return query
    }

    /// The XEP-0115 §5.1 verification string of the server's identity and features (SHA-1, base64).
    public static func capsVerification(features: [String]) -> String {
        var input = "\(serverIdentity.category)/\(serverIdentity.type)//\(serverIdentity.name)<"
        for feature in features.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            input += feature + "<"
        }
        return Base64.encode(SCRAMHash.sha1.hash(Array(input.utf8)))
    }

    /// The `<c/>` stream feature carrying the server's capabilities.
    public static func capsFeature(features: [String]) -> Element {
        Element("c", namespace: "http://jabber.org/protocol/caps",
                attributes: ["hash": "sha-1", "node": capsNode, "ver": capsVerification(features: features)])
    }
}
