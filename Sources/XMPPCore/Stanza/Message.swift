/// A `<message/>` stanza (RFC 6120 §8.2.1, RFC 6121 §5).
///
/// ```swift
/// var message = Message(type: .chat, to: try JID("juliet@example.com"), body: "Art thou not Romeo?")
/// message.thread = "e0ffe42b28561960c6b12b944a092794b9683a38"
/// send(message.element)
/// ```
public struct Message: Stanza {
    /// The message types of RFC 6121 §5.2.2.
    public enum MessageType: String, Sendable, Hashable, CaseIterable {
        case chat, error, groupchat, headline, normal
    }

    public var element: Element

    public init?(element: Element) {
        guard element.name == "message" else { return nil }
        self.element = element
    }

    /// Creates a message in the client namespace.
    public init(type: MessageType = .normal, to: JID? = nil, from: JID? = nil, id: String? = nil, body: String? = nil,
                namespace: String = XMLNamespace.client) {
        element = Element("message", namespace: namespace)
        if type != .normal { element.setAttribute("type", to: type.rawValue) }
        self.to = to
        self.from = from
        self.id = id
        if let body { self.body = body }
    }

    /// The type; an absent or unknown `type` means `normal` (RFC 6121 §5.2.2).
    public var type: MessageType {
        get { element.attribute("type").flatMap(MessageType.init(rawValue:)) ?? .normal }
        set { element.setAttribute("type", to: newValue == .normal ? nil : newValue.rawValue) }
    }

    /// The text of the first `<body/>` (RFC 6121 §5.2.3).
    public var body: String? {
        get { element.child("body", namespace: element.namespace)?.text }
        set { setChildText("body", newValue) }
    }

    /// The text of the first `<subject/>` (RFC 6121 §5.2.4).
    public var subject: String? {
        get { element.child("subject", namespace: element.namespace)?.text }
        set { setChildText("subject", newValue) }
    }

    /// The conversation thread id (RFC 6121 §5.2.5).
    public var thread: String? {
        get { element.child("thread", namespace: element.namespace)?.text }
        set { setChildText("thread", newValue) }
    }
}
