import XMPPCore

/// The application-specific conditions of publish-subscribe errors (XEP-0060, `pubsub#errors`), carried next to
/// the stanza error's defined condition.
public enum PubSubErrorCondition: String, Sendable, Hashable, CaseIterable {
    case closedNode = "closed-node"
    case configurationRequired = "configuration-required"
    case invalidJID = "invalid-jid"
    case invalidOptions = "invalid-options"
    case invalidPayload = "invalid-payload"
    case invalidSubscriptionID = "invalid-subid"
    case itemForbidden = "item-forbidden"
    case itemRequired = "item-required"
    case jidRequired = "jid-required"
    case maxItemsExceeded = "max-items-exceeded"
    case maxNodesExceeded = "max-nodes-exceeded"
    case nodeIDRequired = "nodeid-required"
    case notInRosterGroup = "not-in-roster-group"
    case notSubscribed = "not-subscribed"
    case payloadTooBig = "payload-too-big"
    case payloadRequired = "payload-required"
    case pendingSubscription = "pending-subscription"
    case preconditionNotMet = "precondition-not-met"
    case presenceSubscriptionRequired = "presence-subscription-required"
    case subscriptionIDRequired = "subid-required"
    case tooManySubscriptions = "too-many-subscriptions"
    case unsupported
}

/// A publish-subscribe request refused by the service: the stanza error, read for what a pubsub client decides on.
///
/// ```swift
/// do {
///     try await pubsub.publish(payload, to: "urn:example:status", publishOptions: ["pubsub#access_model": "whitelist"])
/// } catch let error as PubSubError where error.reason == .preconditionNotMet {
///     // the node exists with another access model: reconfigure it, or publish without the options
/// }
/// ```
public struct PubSubError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as a pubsub client acts on it.
    public enum Reason: Sendable, Hashable {
        /// The node's configuration does not match the publish options (`conflict` + `precondition-not-met`).
        case preconditionNotMet
        /// The node (or the item asked for) does not exist.
        case itemNotFound
        /// A node with that name exists already (`conflict`).
        case conflict
        /// The user may not do this: not the owner, not a publisher, an outcast.
        case forbidden
        /// The node's access model shuts the user out: a presence subscription, a roster group or a whitelist entry is
        /// needed (`not-authorized`, `not-allowed`).
        case notAuthorized
        /// The service does not implement the feature (`feature-not-implemented` + `unsupported feature=…`), or has no
        /// pubsub at all (`service-unavailable`).
        case unsupported(feature: String?)
        /// The request was malformed or its payload refused (`bad-request`, `not-acceptable`, `invalid-payload`, ...).
        case badRequest
        /// Any other condition; ``PubSubError/stanzaError`` says which.
        case other
    }

    /// The reason, read from the conditions.
    public var reason: Reason
    /// The `pubsub#errors` condition, when the service gave one.
    public var condition: PubSubErrorCondition?
    /// The stanza error as received.
    public var stanzaError: StanzaError

    /// Reads a stanza error answering a pubsub request.
    public init(_ error: StanzaError) {
        stanzaError = error
        let application = error.applicationCondition.flatMap { $0.namespace == PubSubNamespace.errors ? $0 : nil }
        condition = application.flatMap { PubSubErrorCondition(rawValue: $0.name) }
        switch (error.condition, condition) {
        case (_, .preconditionNotMet): reason = .preconditionNotMet
        case (.featureNotImplemented, _), (.serviceUnavailable, _): reason = .unsupported(feature: application?.attribute("feature"))
        case (.itemNotFound, _): reason = .itemNotFound
        case (.conflict, _): reason = .conflict
        case (.forbidden, _): reason = .forbidden
        case (.notAuthorized, _), (.notAllowed, _), (.registrationRequired, _), (.subscriptionRequired, _): reason = .notAuthorized
        case (.badRequest, _), (.notAcceptable, _), (.jidMalformed, _), (.policyViolation, _): reason = .badRequest
        default: reason = .other
        }
    }

    public var description: String {
        "pubsub: \(stanzaError.condition.rawValue)" + (condition.map { " (\($0.rawValue))" } ?? "")
            + (stanzaError.text.map { ": \($0)" } ?? "")
    }
}
