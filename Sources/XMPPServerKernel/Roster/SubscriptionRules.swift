import XMPPCore

/// The subscription state machine of RFC 6121 §3 and Appendix A, as pure functions on a ``RosterEntry``.
///
/// "Outbound" rules run at the sender's server on the sender's item for the recipient; "inbound" rules run
/// at the recipient's server on the recipient's item for the sender. Each returns what the server must do
/// next; the caller stores the item when ``Outcome/changed`` is set and pushes it to the user's resources.
public enum SubscriptionRules {
    /// What applying a rule asks of the server.
    public struct Outcome: Sendable, Hashable {
        /// The item changed: store it and push it.
        public var changed = false
        /// Route (outbound) or deliver to the user's available resources (inbound) the presence stanza.
        public var forward = false
        /// Inbound subscribe only: answer `subscribed` on the user's behalf (already approved or pre-approved).
        public var autoReplySubscribed = false
        /// Send the user's current presence from each available resource to the contact (after approval).
        public var sendCurrentPresence = false
        /// Send unavailable presence from each of the user's available resources to the contact.
        public var sendUnavailable = false
    }

    /// Applies the outbound rule for a subscription presence type (`subscribe`, `subscribed`, `unsubscribe`,
    /// `unsubscribed`); other types change nothing.
    public static func outbound(_ type: Presence.PresenceType, _ item: inout RosterEntry) -> Outcome {
        switch type {
        case .subscribe: outboundSubscribe(&item)
        case .subscribed: outboundSubscribed(&item)
        case .unsubscribe: outboundUnsubscribe(&item)
        case .unsubscribed: outboundUnsubscribed(&item)
        default: Outcome()
        }
    }

    /// Applies the inbound rule for a subscription presence type; other types change nothing.
    public static func inbound(_ type: Presence.PresenceType, _ item: inout RosterEntry) -> Outcome {
        switch type {
        case .subscribe: inboundSubscribe(&item)
        case .subscribed: inboundSubscribed(&item)
        case .unsubscribe: inboundUnsubscribe(&item)
        case .unsubscribed: inboundUnsubscribed(&item)
        default: Outcome()
        }
    }

    // MARK: Outbound (the user sends the presence to the contact)

    /// The user asks to subscribe to the contact's presence (RFC 6121 §3.1.2).
    public static func outboundSubscribe(_ item: inout RosterEntry) -> Outcome {
        var outcome = Outcome(forward: true)
        if !item.isListed { item.isListed = true; outcome.changed = true }
        if !item.userReceivesPresence && !item.pendingOut {
            item.pendingOut = true
            outcome.changed = true
        }
        return outcome
    }

    /// The user approves the contact's request, or pre-approves one (RFC 6121 §3.1.5, §3.4).
    public static func outboundSubscribed(_ item: inout RosterEntry) -> Outcome {
        if item.contactReceivesPresence { return Outcome() }
        if item.pendingIn {
            item.pendingIn = false
            item.subscription = item.subscription == .to ? .both : .from
            item.isListed = true
            return Outcome(changed: true, forward: true, sendCurrentPresence: true)
        }
        guard !item.preApproved else { return Outcome() }
        item.preApproved = true
        item.isListed = true
        return Outcome(changed: true)
    }

    /// The user cancels their subscription to the contact (RFC 6121 §3.3.2).
    public static func outboundUnsubscribe(_ item: inout RosterEntry) -> Outcome {
        var outcome = Outcome(forward: true)
        if item.pendingOut { item.pendingOut = false; outcome.changed = true }
        switch item.subscription {
        case .to: item.subscription = .none; outcome.changed = true
        case .both: item.subscription = .from; outcome.changed = true
        case .none, .from: break
        }
        return outcome
    }

    /// The user cancels the contact's subscription, or declines their request (RFC 6121 §3.2.2).
    public static func outboundUnsubscribed(_ item: inout RosterEntry) -> Outcome {
        var outcome = Outcome(forward: true)
        let wasSubscribed = item.contactReceivesPresence
        if item.pendingIn { item.pendingIn = false; outcome.changed = true }
        if item.preApproved { item.preApproved = false; outcome.changed = true }
        switch item.subscription {
        case .from: item.subscription = .none; outcome.changed = true
        case .both: item.subscription = .to; outcome.changed = true
        case .none, .to: break
        }
        outcome.sendUnavailable = wasSubscribed
        return outcome
    }

    // MARK: Inbound (the contact's presence arrives for the user)

    /// The contact asks to subscribe to the user's presence (RFC 6121 §3.1.3).
    public static func inboundSubscribe(_ item: inout RosterEntry) -> Outcome {
        if item.contactReceivesPresence { return Outcome(autoReplySubscribed: true) }
        if item.preApproved {
            item.preApproved = false
            item.pendingIn = false
            item.subscription = item.subscription == .to ? .both : .from
            return Outcome(changed: true, autoReplySubscribed: true, sendCurrentPresence: true)
        }
        let changed = !item.pendingIn
        item.pendingIn = true
        return Outcome(changed: changed, forward: true)
    }

    /// The contact approved the user's request (RFC 6121 §3.1.6).
    public static func inboundSubscribed(_ item: inout RosterEntry) -> Outcome {
        guard item.pendingOut else { return Outcome() }
        item.pendingOut = false
        item.subscription = item.subscription == .from ? .both : .to
        return Outcome(changed: true, forward: true)
    }

    /// The contact no longer wants the user's presence (RFC 6121 §3.3.3).
    public static func inboundUnsubscribe(_ item: inout RosterEntry) -> Outcome {
        var outcome = Outcome()
        if item.pendingIn { item.pendingIn = false; outcome.changed = true }
        switch item.subscription {
        case .from: item.subscription = .none; outcome.changed = true; outcome.sendUnavailable = true
        case .both: item.subscription = .to; outcome.changed = true; outcome.sendUnavailable = true
        case .none, .to: break
        }
        outcome.forward = outcome.changed
        return outcome
    }

    /// The contact cancelled the user's subscription or declined the request (RFC 6121 §3.2.3).
    public static func inboundUnsubscribed(_ item: inout RosterEntry) -> Outcome {
        var outcome = Outcome()
        if item.pendingOut { item.pendingOut = false; outcome.changed = true }
        switch item.subscription {
        case .to: item.subscription = .none; outcome.changed = true
        case .both: item.subscription = .from; outcome.changed = true
        case .none, .from: break
        }
        outcome.forward = outcome.changed
        return outcome
    }
}
