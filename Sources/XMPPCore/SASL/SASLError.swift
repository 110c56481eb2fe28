/// A SASL failure (RFC 6120 §6.5): the condition sent in `<failure/>` and an optional text.
public struct SASLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The defined SASL failure conditions of RFC 6120 §6.5.
    public enum Condition: String, Sendable, Hashable, CaseIterable {
        case aborted
        case accountDisabled = "account-disabled"
        case credentialsExpired = "credentials-expired"
        case encryptionRequired = "encryption-required"
        case incorrectEncoding = "incorrect-encoding"
        case invalidAuthzid = "invalid-authzid"
        case invalidMechanism = "invalid-mechanism"
        case malformedRequest = "malformed-request"
        case mechanismTooWeak = "mechanism-too-weak"
        case notAuthorized = "not-authorized"
        case temporaryAuthFailure = "temporary-auth-failure"
    }

    /// The failure condition.
    public var condition: Condition
    /// Optional text for humans; never contains secrets.
    public var text: String?

    /// Creates a SASL error.
    public init(_ condition: Condition, text: String? = nil) {
        self.condition = condition
        self.text = text
    }

    /// The `<failure/>` nonza.
    public var element: Element {
        var failure = Element("failure", namespace: XMLNamespace.sasl)
        failure.append(Element(condition.rawValue, namespace: XMLNamespace.sasl))
        if let text { failure.append(Element("text", namespace: XMLNamespace.sasl, text: text)) }
        return failure
    }

    /// Reads a `<failure/>` nonza; an unknown condition reads as ``Condition/notAuthorized``.
    public init?(element: Element) {
        guard element.name == "failure", element.namespace == XMLNamespace.sasl else { return nil }
        let condition = element.elements.lazy.compactMap { Condition(rawValue: $0.name) }.first ?? .notAuthorized
        let text = element.child("text", namespace: XMLNamespace.sasl)?.text
        self.init(condition, text: text)
    }

    public var description: String { "SASL failure \(condition.rawValue)" + (text.map { ": \($0)" } ?? "") }
}
