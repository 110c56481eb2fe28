/// A stream-level error (RFC 6120 §4.9): sent as `<stream:error/>` just before the stream is closed.
///
/// ```swift
/// let error = StreamError(.hostUnknown, text: "this server does not serve example.net")
/// error.element   // <stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>...</stream:error>
/// ```
public struct StreamError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The defined stream error conditions of RFC 6120 §4.9.3.
    public enum Condition: String, Sendable, Hashable, CaseIterable {
        case badFormat = "bad-format"
        case badNamespacePrefix = "bad-namespace-prefix"
        case conflict
        case connectionTimeout = "connection-timeout"
        case hostGone = "host-gone"
        case hostUnknown = "host-unknown"
        case improperAddressing = "improper-addressing"
        case internalServerError = "internal-server-error"
        case invalidFrom = "invalid-from"
        case invalidNamespace = "invalid-namespace"
        case invalidXML = "invalid-xml"
        case notAuthorized = "not-authorized"
        case notWellFormed = "not-well-formed"
        case policyViolation = "policy-violation"
        case remoteConnectionFailed = "remote-connection-failed"
        case reset
        case resourceConstraint = "resource-constraint"
        case restrictedXML = "restricted-xml"
        case seeOtherHost = "see-other-host"
        case systemShutdown = "system-shutdown"
        case undefinedCondition = "undefined-condition"
        case unsupportedEncoding = "unsupported-encoding"
        case unsupportedFeature = "unsupported-feature"
        case unsupportedStanzaType = "unsupported-stanza-type"
        case unsupportedVersion = "unsupported-version"
    }

    /// The defined condition.
    public var condition: Condition
    /// Optional descriptive text, for humans and logs (RFC 6120 §4.9.2).
    public var text: String?
    /// The `xml:lang` of `text`.
    public var language: String?
    /// For ``Condition/seeOtherHost``: the host (and optional port) to connect to instead.
    public var otherHost: String?
    /// An application-specific condition element, if any.
    public var applicationCondition: Element?

    /// Creates a stream error.
    public init(_ condition: Condition, text: String? = nil, language: String? = nil, otherHost: String? = nil, applicationCondition: Element? = nil) {
        self.condition = condition
        self.text = text
        self.language = language
        self.otherHost = otherHost
        self.applicationCondition = applicationCondition
    }

    /// The error a parser failure calls for.
    public init(_ parserError: XMLStreamError) {
        self.init(parserError.condition, text: parserError.reason)
    }

    /// The `<stream:error/>` element.
    public var element: Element {
        var error = Element("error", namespace: XMLNamespace.streams)
        error.append(Element(condition.rawValue, namespace: XMLNamespace.streamErrors, text: otherHost ?? ""))
        if let text {
            var textElement = Element("text", namespace: XMLNamespace.streamErrors, text: text)
            textElement.language = language
            error.append(textElement)
        }
        if let applicationCondition { error.append(applicationCondition) }
        return error
    }

    /// Reads a `<stream:error/>` element. Returns `nil` when it is not one; an unknown condition reads as
    /// ``Condition/undefinedCondition`` as RFC 6120 §4.9.3.21 asks.
    public init?(element: Element) {
        guard element.name == "error", element.namespace == XMLNamespace.streams else { return nil }
        var condition = Condition.undefinedCondition
        var otherHost: String?
        var text: String?
        var language: String?
        var application: Element?
        for child in element.elements {
            if child.namespace == XMLNamespace.streamErrors {
                if child.name == "text" {
                    text = child.text
                    language = child.language
                } else if let known = Condition(rawValue: child.name) {
                    condition = known
                    if known == .seeOtherHost { otherHost = child.text }
                }
            } else {
                application = child
            }
        }
        self.init(condition, text: text, language: language, otherHost: otherHost, applicationCondition: application)
    }

    public var description: String {
        "stream error \(condition.rawValue)" + (text.map { ": \($0)" } ?? "")
    }
}
