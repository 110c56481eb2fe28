/// The `<stream:features/>` a receiving entity offers (RFC 6120 §4.3.2), with typed access to the features
/// negotiation needs and the raw elements for everything else.
public struct StreamFeatures: Sendable, Hashable {
    /// Every feature element, in order.
    public var elements: [Element]

    /// Creates features from their elements.
    public init(_ elements: [Element] = []) {
        self.elements = elements
    }

    /// Reads a `<stream:features/>` element.
    public init?(element: Element) {
        guard element.name == "features", element.namespace == XMLNamespace.streams else { return nil }
        self.init(Array(element.elements))
    }

    /// The `<stream:features/>` element.
    public var element: Element {
        Element(name: "features", namespace: XMLNamespace.streams, attributes: [], children: elements.map { .element($0) })
    }

    /// STARTTLS (RFC 6120 §5): `nil` when not offered, otherwise whether it is required.
    public var startTLS: (offered: Bool, required: Bool) {
        guard let starttls = feature("starttls", XMLNamespace.tls) else { return (false, false) }
        return (true, starttls.child("required", namespace: XMLNamespace.tls) != nil)
    }

    /// The SASL mechanism names offered, in the server's order (RFC 6120 §6.4.1).
    public var saslMechanisms: [String] {
        feature("mechanisms", XMLNamespace.sasl)?.children("mechanism", namespace: XMLNamespace.sasl).map(\.text) ?? []
    }

    /// The channel-binding types the server lists (XEP-0440), or `nil` when it lists none.
    public var channelBindingTypes: [String]? {
        feature("sasl-channel-binding", Self.channelBindingNamespace)?.children("channel-binding", namespace: Self.channelBindingNamespace)
            .compactMap { $0.attribute("type") }
    }

    /// The namespace of XEP-0440's channel-binding capability.
    public static let channelBindingNamespace = "urn:xmpp:sasl-cb:0"

    /// The XEP-0440 element listing the channel-binding types a server supports.
    public static func channelBindingFeature(_ types: [ChannelBinding.BindingType]) -> Element {
        var element = Element("sasl-channel-binding", namespace: channelBindingNamespace)
        for type in types { element.append(Element("channel-binding", namespace: channelBindingNamespace, attributes: ["type": type.rawValue])) }
        return element
    }

    /// Whether resource binding is offered (RFC 6120 §7).
    public var offersBind: Bool { feature("bind", XMLNamespace.bind) != nil }

    /// Whether the legacy session feature is offered and not marked `<optional/>` (RFC 6121 appendix E).
    public var requiresSession: Bool {
        guard let session = feature("session", XMLNamespace.session) else { return false }
        return session.child("optional", namespace: XMLNamespace.session) == nil
    }

    /// The first feature with this name and namespace.
    public func feature(_ name: String, _ namespace: String) -> Element? {
        elements.first { $0.name == name && $0.namespace == namespace }
    }

    /// The STARTTLS feature element.
    public static func startTLSFeature(required: Bool) -> Element {
        var element = Element("starttls", namespace: XMLNamespace.tls)
        if required { element.append(Element("required", namespace: XMLNamespace.tls)) }
        return element
    }

    /// The SASL mechanisms feature element.
    public static func mechanismsFeature(_ mechanisms: [SASLMechanism]) -> Element {
        var element = Element("mechanisms", namespace: XMLNamespace.sasl)
        for mechanism in mechanisms { element.append(Element("mechanism", namespace: XMLNamespace.sasl, text: mechanism.rawValue)) }
        return element
    }

    /// The resource binding feature element.
    public static let bindFeature = Element("bind", namespace: XMLNamespace.bind)

    /// The legacy session feature, marked optional as RFC 6121 appendix E recommends.
    public static let optionalSessionFeature = Element("session", namespace: XMLNamespace.session,
                                                       children: [.element(Element("optional", namespace: XMLNamespace.session))])
}
