/// A stanza-level error (RFC 6120 §8.3): the `<error/>` child of a stanza of type `error`.
///
/// ```swift
/// let error = StanzaError(.itemNotFound)          // type "cancel", the default for that condition
/// let reply = iq.errorReply(error)                // an <iq type='error'/> carrying it
/// ```
public struct StanzaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// How the sender may proceed (RFC 6120 §8.3.2).
    public enum ErrorType: String, Sendable, Hashable, CaseIterable {
        /// Retry after providing credentials.
        case auth
        /// Do not retry: the error cannot be remedied.
        case cancel
        /// Proceed: the condition was only a warning.
        case `continue`
        /// Retry after changing the data sent.
        case modify
        /// Retry after waiting: the error is temporary.
        case wait
    }

    /// The defined stanza error conditions of RFC 6120 §8.3.3.
    public enum Condition: String, Sendable, Hashable, CaseIterable {
        case badRequest = "bad-request"
        case conflict
        case featureNotImplemented = "feature-not-implemented"
        case forbidden
        case gone
        case internalServerError = "internal-server-error"
        case itemNotFound = "item-not-found"
        case jidMalformed = "jid-malformed"
        case notAcceptable = "not-acceptable"
        case notAllowed = "not-allowed"
        case notAuthorized = "not-authorized"
        case policyViolation = "policy-violation"
        case recipientUnavailable = "recipient-unavailable"
        case redirect
        case registrationRequired = "registration-required"
        case remoteServerNotFound = "remote-server-not-found"
        case remoteServerTimeout = "remote-server-timeout"
        case resourceConstraint = "resource-constraint"
        case serviceUnavailable = "service-unavailable"
        case subscriptionRequired = "subscription-required"
        case undefinedCondition = "undefined-condition"
        case unexpectedRequest = "unexpected-request"

        /// The error type RFC 6120 §8.3.3 uses with this condition in its examples.
        public var defaultType: ErrorType {
            switch self {
            case .badRequest, .jidMalformed, .notAcceptable, .policyViolation, .redirect: return .modify
            case .forbidden, .notAuthorized, .registrationRequired, .subscriptionRequired: return .auth
            case .recipientUnavailable, .remoteServerTimeout, .resourceConstraint, .unexpectedRequest, .internalServerError: return .wait
            case .conflict, .featureNotImplemented, .gone, .itemNotFound, .notAllowed, .remoteServerNotFound,
                 .serviceUnavailable, .undefinedCondition:
                return .cancel
            }
        }
    }

    /// How the sender may proceed.
    public var type: ErrorType
    /// The defined condition.
    public var condition: Condition
    /// Optional descriptive text for humans.
    public var text: String?
    /// The `xml:lang` of `text`.
    public var language: String?
    /// The entity that generated the error, when it is not the one the stanza was addressed to.
    public var by: String?
    /// For ``Condition/gone`` and ``Condition/redirect``: the new address (a URI).
    public var alternateAddress: String?
    /// An application-specific condition element, if any.
    public var applicationCondition: Element?

    /// Creates a stanza error; `type` defaults to the condition's ``Condition/defaultType``.
    public init(_ condition: Condition, type: ErrorType? = nil, text: String? = nil, language: String? = nil, by: String? = nil,
                alternateAddress: String? = nil, applicationCondition: Element? = nil) {
        self.type = type ?? condition.defaultType
        self.condition = condition
        self.text = text
        self.language = language
        self.by = by
        self.alternateAddress = alternateAddress
        self.applicationCondition = applicationCondition
    }

    /// The `<error/>` element, in `namespace` (the stream's content namespace, `jabber:client` by default).
    public func element(namespace: String = XMLNamespace.client) -> Element {
        var error = Element("error", namespace: namespace, attributes: ["type": type.rawValue])
        if let by { error.setAttribute("by", to: by) }
        error.append(Element(condition.rawValue, namespace: XMLNamespace.stanzaErrors, text: alternateAddress ?? ""))
        if let text {
            var textElement = Element("text", namespace: XMLNamespace.stanzaErrors, text: text)
            textElement.language = language
            error.append(textElement)
        }
        if let applicationCondition { error.append(applicationCondition) }
        return error
    }

    /// Reads an `<error/>` element. Returns `nil` when `element` is not named `error`. A missing or unknown
    /// condition reads as ``Condition/undefinedCondition``; a missing or unknown type as the condition's default.
    public init?(element: Element) {
        guard element.name == "error" else { return nil }
        var condition = Condition.undefinedCondition
        var text: String?
        var language: String?
        var alternate: String?
        var application: Element?
        for child in element.elements {
            if child.namespace == XMLNamespace.stanzaErrors {
                if child.name == "text" {
                    text = child.text
                    language = child.language
                } else if let known = Condition(rawValue: child.name) {
                    condition = known
                    let address = child.text
                    if !address.isEmpty { alternate = address }
                }
            } else {
                application = child
            }
        }
        self.init(condition, type: element.attribute("type").flatMap(ErrorType.init(rawValue:)), text: text, language: language,
                  by: element.attribute("by"), alternateAddress: alternate, applicationCondition: application)
    }

    public var description: String {
        "stanza error \(type.rawValue)/\(condition.rawValue)" + (text.map { ": \($0)" } ?? "")
    }
}
