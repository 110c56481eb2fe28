import XMPPCore

/// The human part of a subscription request (RFC 6121 §3.1.1): the `<status/>` the requester wrote and its XEP-0172
/// nickname. The server keeps it with a pending request so that a request delivered later, when the user comes
/// online, still says who is asking and why.
public struct SubscriptionRequestNote: Sendable, Hashable {
    /// The longest status or nickname kept, in characters; longer text is cut (the request itself is bounded by the
    /// stanza size, this keeps a roster row small).
    public static let maxLength = 1024

    /// The request's status text.
    public var status: String?
    /// The requester's nickname (`<nick xmlns='http://jabber.org/protocol/nick'/>`).
    public var nick: String?

    /// Creates a note, cutting each text to ``maxLength``.
    public init(status: String?, nick: String?) {
        self.status = status.map { String($0.prefix(Self.maxLength)) }
        self.nick = nick.map { String($0.prefix(Self.maxLength)) }
    }

    /// The note of a `<presence type='subscribe'/>`, or nil when it carries neither a status nor a nickname.
    public init?(request: Element) {
        let status = request.child("status", namespace: request.namespace)?.text
        let nick = request.child("nick", namespace: Self.nickNamespace)?.text
        guard status != nil || nick != nil else { return nil }
        self.init(status: status, nick: nick)
    }

    /// The XEP-0172 namespace.
    public static let nickNamespace = "http://jabber.org/protocol/nick"

    /// The children to put back into a re-sent request, in the stanza namespace `namespace`.
    public func elements(namespace: String = XMLNamespace.client) -> [Element] {
        var children: [Element] = []
        if let status { children.append(Element("status", namespace: namespace, text: status)) }
        if let nick { children.append(Element("nick", namespace: Self.nickNamespace, text: nick)) }
        return children
    }
}
