import XMPPCore

/// A change of a session's broadcast presence, after the kernel sent it to the contacts.
public struct PresenceEvent: Sendable {
    /// Which change.
    public enum Kind: Sendable, Hashable {
        /// The session's first available presence.
        case initial
        /// A later available presence (show, status or priority changed).
        case update
        /// The session went unavailable (by presence, or because it ended).
        case unavailable
    }

    /// Which change.
    public let kind: Kind
    /// The session.
    public let session: any ClientSession
    /// The presence as broadcast, without `to`.
    public let element: Element
    /// The kernel.
    public let kernel: ServerKernel
}

/// Sees a broadcast presence change; runs where the broadcast ran and must not block.
public typealias PresenceBroadcastHook = @Sendable (PresenceEvent) -> Void

extension ModuleHost {
    /// Observes broadcast presence changes (initial, update, unavailable). Initial presence also runs the
    /// ``onInitialPresence(priority:_:)`` hooks, which may wait for storage.
    public func onPresenceBroadcast(priority: HookPriority = .normal, _ hook: @escaping PresenceBroadcastHook) {
        hooks.presenceBroadcast.add(hook, priority: priority)
    }
}

extension ServerKernel {
    func presenceBroadcast(_ kind: PresenceEvent.Kind, of session: any ClientSession, element: Element) {
        guard !hooks.presenceBroadcast.isEmpty else { return }
        let event = PresenceEvent(kind: kind, session: session, element: element, kernel: self)
        for hook in hooks.presenceBroadcast.hooks { hook(event) }
    }
}
