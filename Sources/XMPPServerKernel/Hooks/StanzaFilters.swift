import XMPPCore

/// What a stanza filter decides.
public enum StanzaVerdict: Sendable {
    /// Route the stanza (possibly rewritten by the filter).
    case pass
    /// Drop it silently.
    case drop
    /// Drop it and answer the sender with this error (never for a stanza that is itself an error, RFC 6120 §8.3.1).
    case reject(StanzaError)
}

/// A stanza on its way out of a local user's session, checked before it is routed: for stanzas the client
/// addressed, and for each recipient of a presence broadcast or of presence the server sends on the user's behalf.
public struct OutboundStanza: Sendable {
    /// The stanza, `from` stamped with the sender's full JID; a filter may rewrite it.
    public var element: Element
    /// The sender: a local user's full JID.
    public let from: JID
    /// The recipient as resolved by the kernel (the sender's own bare JID when `to` was absent).
    public let to: JID
    /// Whether the client addressed the stanza itself (`false` for broadcast presence the server fans out to
    /// contacts on the user's behalf: a filter drops those silently rather than answer with an error).
    public let isAddressed: Bool
    /// The kernel.
    public let kernel: ServerKernel
}

/// A stanza on its way to a local account (one of its sessions, its offline store or the server acting for it),
/// checked before it is delivered or stored. `from` may be local, remote or a hosted service's entity.
public struct InboundStanza: Sendable {
    /// The stanza; a filter may rewrite it.
    public var element: Element
    /// The sender, as stamped.
    public let from: JID
    /// The recipient: the local account's bare JID or one of its full JIDs.
    public let to: JID
    /// Whether the stanza passed the filters before and is being delivered now from where it waited (offline
    /// storage, a stream-management queue): a filter that records or stamps stanzas (an archive) does so once.
    public let isRedelivery: Bool
    /// The kernel.
    public let kernel: ServerKernel
}

/// Checks a stanza leaving a local user; runs on the event loop that routes it, so it must not block.
public typealias OutboundStanzaFilter = @Sendable (inout OutboundStanza) -> StanzaVerdict
/// Checks a stanza reaching a local account; runs on the routing event loop, so it must not block. Data a filter
/// needs for an account without online sessions is loaded by its ``InboundPreparation`` first.
public typealias InboundStanzaFilter = @Sendable (inout InboundStanza) -> StanzaVerdict
/// Loads what an inbound filter needs for an account (a blocklist) before the kernel filters a stanza to an
/// account that has no online session. For online accounts, modules load their data when a session binds.
public typealias InboundPreparation = @Sendable (_ account: JID, ServerKernel) async -> Void

extension ModuleHost {
    /// Checks stanzas from local users before routing (XEP-0191: nothing reaches a contact the user blocked).
    public func filterOutbound(priority: HookPriority = .normal, _ filter: @escaping OutboundStanzaFilter) {
        hooks.outboundFilters.add(filter, priority: priority)
    }

    /// Checks stanzas to local accounts before delivery or storage (XEP-0191: nothing arrives from a blocked
    /// contact). `prepare`, if given, runs before filtering a stanza to an account without online sessions.
    public func filterInbound(priority: HookPriority = .normal, prepare: InboundPreparation? = nil,
                              _ filter: @escaping InboundStanzaFilter) {
        hooks.inboundFilters.add(filter, priority: priority)
        if let prepare { hooks.inboundPreparations.add(prepare, priority: priority) }
    }
}

extension ServerKernel {
    /// Runs the outbound filters for a stanza from local user `from` to `to`; the stanza as it may be routed, or
    /// `nil` when a filter stopped it (and the sender was answered if the filter said so and the stanza was addressed).
    func filterOutbound(_ element: Element, from: JID, to: JID, addressed: Bool) -> Element? {
        guard !hooks.outboundFilters.isEmpty else { return element }
        var stanza = OutboundStanza(element: element, from: from, to: to, isAddressed: addressed, kernel: self)
        for filter in hooks.outboundFilters.hooks {
            switch filter(&stanza) {
            case .pass: continue
            case .drop: return nil
            case .reject(let error):
                if addressed { bounceToSender(element, error) }
                return nil
            }
        }
        return stanza.element
    }

    /// Runs the inbound filters for a stanza to a local account; the stanza as it may be delivered, or `nil`
    /// when a filter stopped it (the sender answered if the filter said so). Call ``prepareInbound(to:)`` first
    /// when the account may have no online session. Modules that deliver what they stored earlier (offline
    /// messages) run it again at delivery: a block may have come in between.
    /// `from` is the sender when the caller knows it (saves parsing the stamped attribute again).
    /// `redelivery` marks a stanza that passed the filters before (``InboundStanza/isRedelivery``).
    public func filterInbound(_ element: Element, to: JID, from knownSender: JID? = nil, redelivery: Bool = false) -> Element? {
        guard !hooks.inboundFilters.isEmpty,
              let from = knownSender ?? element.attribute("from").flatMap({ JID(validating: $0) }) else { return element }
        var stanza = InboundStanza(element: element, from: from, to: to, isRedelivery: redelivery, kernel: self)
        for filter in hooks.inboundFilters.hooks {
            switch filter(&stanza) {
            case .pass: continue
            case .drop: return nil
            case .reject(let error):
                bounceToSender(element, error)
                return nil
            }
        }
        return stanza.element
    }

    /// Lets the inbound filters load what they need for `account` (which may have no online session).
    public func prepareInbound(to account: JID) async {
        for prepare in hooks.inboundPreparations.hooks { await prepare(account.bare, self) }
    }
}
