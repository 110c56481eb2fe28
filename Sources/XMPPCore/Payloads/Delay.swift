import Foundation

/// A delayed-delivery stamp (XEP-0203): when a stanza was first sent or stored, and by whom.
public struct Delay: Sendable, Hashable {
    /// `urn:xmpp:delay`.
    public static let namespace = "urn:xmpp:delay"

    /// When the stanza was originally sent or stored.
    public var stamp: Date
    /// Who added the delay (the server that stored an offline message, a room that replays history).
    public var from: JID?
    /// Why, if said.
    public var reason: String?

    /// Creates a stamp.
    public init(stamp: Date, from: JID? = nil, reason: String? = nil) {
        self.stamp = stamp
        self.from = from
        self.reason = reason
    }

    /// Reads a `<delay/>` element; `nil` when it is not one or its stamp is not an XEP-0082 date-time.
    public init?(element: Element) {
        guard element.name == "delay", element.namespace == Self.namespace,
              let stamp = element.attribute("stamp").flatMap(Self.parse) else { return nil }
        self.init(stamp: stamp, from: element.attribute("from").flatMap(JID.init(validating:)),
                  reason: element.text.isEmpty ? nil : element.text)
    }

    /// The stamp a stanza carries, if any.
    public init?(in stanza: Element) {
        guard let element = stanza.child("delay", namespace: Self.namespace) else { return nil }
        self.init(element: element)
    }

    /// The `<delay/>` element, stamped in UTC (XEP-0082).
    public var element: Element {
        var element = Element("delay", namespace: Self.namespace, attributes: ["stamp": stamp.formatted(.iso8601)],
                              text: reason ?? "")
        element.setAttribute("from", to: from?.description)
        return element
    }

    /// Reads XEP-0082 date-times, with or without fractions of a second; `nil` for anything else.
    public static func parse(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        return try? Date(text, strategy: fractional)
    }
}
