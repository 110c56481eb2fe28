import XMPPCore

// The payloads that send a change (XEP-0308, XEP-0424, XEP-0444), shared by one-to-one chat and rooms.
extension MessageChange {
    /// A message of `type` carrying `payloads`, with an origin id equal to `id` (XEP-0359) and a hint to archive it.
    static func message(type: Message.MessageType, to: JID, id: String, body: String?, payloads: [Element]) -> Message {
        var message = Message(type: type, to: to, id: id, body: body)
        message.element.append(StanzaIdentifier(id: id).element)
        for payload in payloads { message.element.append(payload) }
        message.element.append(Element("store", namespace: "urn:xmpp:hints"))
        return message
    }

    /// The `<replace/>` payload of a correction of message `id` (XEP-0308).
    static func correctionPayload(of id: String) -> Element {
        Element("replace", namespace: correctionNamespace, attributes: ["id": id])
    }

    /// The body clients without retraction show instead.
    static let retractionFallbackBody = "This person attempted to retract a previous message, but it's unsupported by your client."

    /// The `<retract/>` payload of a retraction of message `id` (XEP-0424), with its fallback marker (XEP-0428).
    static func retractionPayload(of id: String) -> [Element] {
        [Element("retract", namespace: retractionNamespace, attributes: ["id": id]),
         Element("fallback", namespace: "urn:xmpp:fallback:0", attributes: ["for": retractionNamespace])]
    }

    /// The `<reactions/>` payload setting the sender's reactions to message `id` (XEP-0444), at most ``maxReactions``.
    static func reactionsPayload(to id: String, _ reactions: [String]) -> Element {
        var element = Element("reactions", namespace: reactionsNamespace, attributes: ["id": id])
        for reaction in reactions.prefix(maxReactions) {
            element.append(Element("reaction", namespace: reactionsNamespace, text: reaction))
        }
        return element
    }
}
