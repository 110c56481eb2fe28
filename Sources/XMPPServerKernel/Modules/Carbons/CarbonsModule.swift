import XMPPCore

/// Message Carbons (XEP-0280): every resource of a user that enabled carbons sees both sides of the user's
/// one-to-one conversations — copies of what the user's other resources sent (`<sent/>`) and of what reached
/// another resource (`<received/>`). The copies come from the user's bare JID, so a client can tell them from a
/// forgery (§11). `<private/>` (XEP-0280 §7) and `<no-copy/>` (XEP-0334) keep a message out of the copies.
///
/// Built on the kernel's hooks: an outbound filter for sent copies, the delivered-message hook for received copies,
/// an IQ handler for enable/disable and per-session state.
public struct CarbonsModule: ServerModule {
    public let name = "carbons"
    public let specifications = ["XEP-0280 1.0.1", "XEP-0297 1.0", "XEP-0334 0.3.0"]

    /// `urn:xmpp:carbons:2`.
    public static let namespace = "urn:xmpp:carbons:2"
    /// `urn:xmpp:hints` (XEP-0334).
    public static let hintsNamespace = "urn:xmpp:hints"
    /// Whether a session enabled carbons.
    /// Shared with the other nodes of a cluster: what they route to the user is copied here too.
    static let enabled = SessionKey<Bool>.shared("carbons.enabled")

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        host.addServerFeature(Self.namespace)
        // Clients send the request without `to` (the own account); some address the server.
        host.handleIQ(Self.namespace, for: [.ownAccount, .server]) { request in
            guard request.iq.type == .set, let session = request.session else {
                throw StanzaError(.badRequest, text: "enable or disable with an iq set")
            }
            switch request.payload.name {
            case "enable": request.kernel.setState(true, for: Self.enabled, of: session)
            case "disable": request.kernel.setState(nil, for: Self.enabled, of: session)
            default: throw StanzaError(.badRequest, text: "expected <enable/> or <disable/>")
            }
            return IQReply()
        }
        // Late: after the policy filters (blocking) decided the message goes out at all.
        host.filterOutbound(priority: .late) { stanza in
            if stanza.isAddressed, stanza.element.name == "message" { Self.copySent(stanza) }
            return .pass
        }
        host.onMessageDelivered { event in
            Self.copyReceived(event)
        }
    }

    /// Whether a message is one of the conversation messages carbons copy (§6): chat, or normal with a body; never
    /// one marked private or no-copy.
    static func isEligible(_ element: Element) -> Bool {
        switch element.attribute("type") {
        case "chat": break
        case nil, "normal": guard element.child("body") != nil else { return false }
        default: return false
        }
        for child in element.elements {
            if child.name == "private" && child.namespace == namespace { return false }
            if child.name == "no-copy" && child.namespace == hintsNamespace { return false }
        }
        return true
    }

    /// Sends `<sent/>` copies of a message the user sent to the user's other carbons-enabled resources (§5). Not for
    /// messages to the user's own resources or to a chat service (§6: nothing from or to a room).
    static func copySent(_ stanza: OutboundStanza) {
        let kernel = stanza.kernel
        guard stanza.to.bare != stanza.from.bare, !kernel.isHostedService(stanza.to.domainpart),
              kernel.registry.sessionCount(of: stanza.from.bare) > 1, isEligible(stanza.element) else { return }
        var original = stanza.element
        if original.attribute("to") == nil { original.setAttribute("to", to: stanza.to.description) }
        for entry in kernel.registry.entries(of: stanza.from.bare)
        where entry.session.jid != stanza.from && entry.state[enabled] == true {
            entry.session.deliver(copy(original, as: "sent", to: entry.session.jid))
        }
    }

    /// Sends `<received/>` copies of a message delivered to some of a user's resources to the user's other
    /// carbons-enabled resources (§4). Not for what comes from a chat service, rooms' private messages included.
    static func copyReceived(_ event: MessageEvent) {
        let kernel = event.kernel
        guard kernel.registry.sessionCount(of: event.to.bare) > event.recipients.count,
              let from = event.element.attribute("from").flatMap({ JID(validating: $0) }),
              !kernel.isHostedService(from.domainpart), from.bare != event.to.bare, isEligible(event.element) else { return }
        for entry in kernel.registry.entries(of: event.to.bare) where entry.state[enabled] == true {
            let session = entry.session
            guard !event.recipients.contains(where: { $0 === session }) else { continue }
            session.deliver(copy(event.element, as: "received", to: session.jid))
        }
    }

    /// The carbon copy of `original` for `resource`: from the user's bare JID, of the original's type (§4, §5).
    static func copy(_ original: Element, as direction: String, to resource: JID) -> Element {
        var wrapper = Element("message", namespace: XMLNamespace.client,
                              attributes: ["from": resource.bare.description, "to": resource.description])
        wrapper.setAttribute("type", to: original.attribute("type"))
        wrapper.append(Element(direction, namespace: namespace, children: [.element(Forwarded(stanza: original).element)]))
        return wrapper
    }
}
