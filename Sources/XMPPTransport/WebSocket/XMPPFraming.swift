import NIOCore
import XMPPCore

/// The vocabulary of XMPP over WebSocket (RFC 7395): the framing namespace of `<open/>` and `<close/>`, and the
/// WebSocket subprotocol both sides name.
public enum XMPPFraming {
    /// `urn:ietf:params:xml:ns:xmpp-framing`, the namespace of `<open/>` and `<close/>`.
    public static let namespace = XMLNamespace.framing
    /// The `Sec-WebSocket-Protocol` value for XMPP.
    public static let subprotocol = "xmpp"

    /// The framed close of a stream (RFC 7395 §3.6).
    public static let closeElement: StaticString = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"

    /// Reads an `<open/>` as the stream header it stands for, in the form the stream parser reports a
    /// `<stream:stream>` (so that negotiation handles both transports alike), or nil when `element` is no `<open/>`.
    public static func header(from element: Element) -> XMLStreamEvent? {
        guard element.name == "open", element.namespace == namespace else { return nil }
        let root = Element(name: "stream", namespace: XMLNamespace.streams, attributes: element.attributes, children: [])
        return .streamOpened(root, contentNamespace: XMLNamespace.client)
    }

    /// Whether `element` is the framed `<close/>`.
    public static func isClose(_ element: Element) -> Bool {
        element.name == "close" && element.namespace == namespace
    }
}
