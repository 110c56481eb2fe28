import XMPPCore

/// The stanza errors of XEP-0060, with their `pubsub#errors` application conditions.
enum PubSubError {
    /// An error with an application-specific condition from `pubsub#errors`.
    static func make(_ condition: StanzaError.Condition, _ pubsubCondition: String? = nil, text: String? = nil) -> StanzaError {
        StanzaError(condition, text: text, applicationCondition: pubsubCondition.map { Element($0, namespace: PubSubNamespace.errors) })
    }

    /// `feature-not-implemented` with `<unsupported feature='…'/>`.
    static func unsupported(_ feature: String) -> StanzaError {
        StanzaError(.featureNotImplemented, applicationCondition: Element(
            "unsupported", namespace: PubSubNamespace.errors, attributes: ["feature": feature]))
    }

    static let nodeNotFound = StanzaError(.itemNotFound, text: "no such node")
    static let nodeIDRequired = make(.badRequest, "nodeid-required")
    static let itemRequired = make(.badRequest, "item-required")
    static let invalidPayload = make(.badRequest, "invalid-payload")
    static let payloadRequired = make(.badRequest, "payload-required")
    static let invalidJID = make(.badRequest, "invalid-jid")
    static let notSubscribed = make(.unexpectedRequest, "not-subscribed")
    static let preconditionNotMet = make(.conflict, "precondition-not-met")
    static let presenceSubscriptionRequired = make(.notAuthorized, "presence-subscription-required")
    static let notInRosterGroup = make(.notAuthorized, "not-in-roster-group")
    static let closedNode = make(.notAllowed, "closed-node")
    static let forbidden = StanzaError(.forbidden)
    static func payloadTooBig(_ limit: Int) -> StanzaError { make(.notAcceptable, "payload-too-big", text: "items are at most \(limit) bytes") }
}
