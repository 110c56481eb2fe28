/// A `<presence/>` stanza (RFC 6120 §8.2.2, RFC 6121 §3, §4).
///
/// ```swift
/// var presence = Presence()                   // available
/// presence.show = .away
/// presence.status = "In a meeting"
/// presence.priority = 5
/// ```
public struct Presence: Stanza {
    /// The presence types of RFC 6121 §4.7.1; availability is the absence of a type.
    public enum PresenceType: String, Sendable, Hashable, CaseIterable {
        case available
        case error, probe, subscribe, subscribed, unavailable, unsubscribe, unsubscribed
    }

    /// Availability sub-states (RFC 6121 §4.7.2.1).
    public enum Show: String, Sendable, Hashable, CaseIterable {
        case away, chat, dnd, xa
    }

    public var element: Element

    public init?(element: Element) {
        guard element.name == "presence" else { return nil }
        self.element = element
    }

    /// Creates a presence in the client namespace.
    public init(type: PresenceType = .available, to: JID? = nil, from: JID? = nil, namespace: String = XMLNamespace.client) {
        element = Element("presence", namespace: namespace)
        self.type = type
        self.to = to
        self.from = from
    }

    /// The type; `available` when no `type` attribute is present. An unknown type reads as `nil`.
    public var type: PresenceType? {
        get {
            guard let raw = element.attribute("type") else { return .available }
            return raw == "available" ? nil : PresenceType(rawValue: raw)
        }
        set { element.setAttribute("type", to: newValue == .available ? nil : newValue?.rawValue) }
    }

    /// The `<show/>` value; `nil` means plain available.
    public var show: Show? {
        get { element.child("show", namespace: element.namespace).flatMap { Show(rawValue: $0.text) } }
        set { setChildText("show", newValue?.rawValue) }
    }

    /// The first `<status/>` text.
    public var status: String? {
        get { element.child("status", namespace: element.namespace)?.text }
        set { setChildText("status", newValue) }
    }

    /// The priority, -128...127; 0 when absent or malformed (RFC 6121 §4.7.2.3).
    public var priority: Int {
        get { element.child("priority", namespace: element.namespace).flatMap { Int8($0.text) }.map(Int.init) ?? 0 }
        set { setChildText("priority", newValue == 0 ? nil : String(Int8(clamping: newValue))) }
    }
}
