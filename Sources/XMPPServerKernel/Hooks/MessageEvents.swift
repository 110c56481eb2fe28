import Logging
import NIOCore
import XMPPCore

/// A message the kernel is delivering to a local account, as message hooks see it.
public struct MessageEvent: Sendable {
    /// How the message is addressed and where it is going.
    public enum Kind: Sendable, Hashable {
        /// To a full JID whose session is online.
        case toFullJID
        /// To a bare JID (or an offline full JID treated as bare, RFC 6121 §8.5.3.2.1), with available resources.
        case toBareJID
        /// To an existing account none of whose resources is available (or none with a non-negative priority).
        case toOfflineAccount
        /// To a local address with no account behind it.
        case toUnknownAccount
    }

    /// How the message is addressed.
    public let kind: Kind
    /// The message, `from` and `to` stamped.
    public let element: Element
    /// The recipient as addressed.
    public let to: JID
    /// The sessions it was delivered to (empty for the offline and unknown cases).
    public let recipients: [any ClientSession]
    /// The kernel.
    public let kernel: ServerKernel

    /// The message's type (`normal` when absent).
    public var type: Message.MessageType { Message(element: element)?.type ?? .normal }
}

/// Sees a message after it was delivered to online sessions (message carbons, archiving); runs on the routing
/// event loop and must not block: start a task for storage.
public typealias DeliveredMessageHook = @Sendable (MessageEvent) -> Void
/// Handles a message to an account that cannot take it now (offline storage) or to an unknown account. The first
/// hook to answer ``HookOutcome/handled`` ends the chain; when none does, the kernel bounces the message with
/// `service-unavailable` (RFC 6121 §8.5.2.2.1, §8.5.2.1) unless it is a headline or an error.
public typealias UndeliverableMessageHook = @Sendable (MessageEvent) async -> HookOutcome

extension ModuleHost {
    /// Observes messages delivered to online sessions (``MessageEvent/Kind/toFullJID`` and ``MessageEvent/Kind/toBareJID``).
    public func onMessageDelivered(priority: HookPriority = .normal, _ hook: @escaping DeliveredMessageHook) {
        hooks.deliveredMessage.add(hook, priority: priority)
    }

    /// Handles messages to an existing account with no available resource (offline storage listens here).
    public func onMessageToOfflineAccount(priority: HookPriority = .normal, _ hook: @escaping UndeliverableMessageHook) {
        hooks.offlineMessage.add(hook, priority: priority)
    }

    /// Handles messages to a local address without an account (the default bounces them).
    public func onMessageToUnknownAccount(priority: HookPriority = .normal, _ hook: @escaping UndeliverableMessageHook) {
        hooks.unknownAccountMessage.add(hook, priority: priority)
    }
}

extension ServerKernel {
    /// Tells the delivered-message hooks.
    func messageDelivered(_ element: Element, to: JID, kind: MessageEvent.Kind, recipients: [any ClientSession]) {
        guard !hooks.deliveredMessage.isEmpty else { return }
        let event = MessageEvent(kind: kind, element: element, to: to, recipients: recipients, kernel: self)
        for hook in hooks.deliveredMessage.hooks { hook(event) }
    }

    /// A message no session can take now: the offline or unknown-account hooks decide, else it bounces. A
    /// `redelivery` passed the inbound filters before (``InboundStanza/isRedelivery``).
    func messageUndeliverable(_ element: Element, to: JID, redelivery: Bool = false) async {
        guard let user = to.localpart else { return }
        let exists: Bool
        do {
            exists = try await storage.accounts.accountExists(user)
        } catch {
            logger.error("account lookup failed", metadata: ["user": "\(user)", "error": "\(error)"])
            bounceToSender(element, StanzaError(.internalServerError))
            return
        }
        if exists && !isBeingDeleted(user) {
            await prepareInbound(to: to)
            guard let filtered = filterInbound(element, to: to, redelivery: redelivery) else { return }
            let event = MessageEvent(kind: .toOfflineAccount, element: filtered, to: to, recipients: [], kernel: self)
            for hook in hooks.offlineMessage.hooks where await hook(event) == .handled { return }
        } else {
            let event = MessageEvent(kind: .toUnknownAccount, element: element, to: to, recipients: [], kernel: self)
            for hook in hooks.unknownAccountMessage.hooks where await hook(event) == .handled { return }
        }
        let type = Message(element: element)?.type ?? .normal
        if type != .headline && type != .error { bounceToSender(element, StanzaError(.serviceUnavailable)) }
    }
}
