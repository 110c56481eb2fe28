/// Everything modules registered besides IQ handlers, frozen when the kernel is built. Each list is sorted by
/// priority; call sites test `isEmpty` first, so a hook point nobody uses costs one branch.
struct KernelHooks: Sendable {
    var outboundFilters = HookList<OutboundStanzaFilter>()
    var inboundFilters = HookList<InboundStanzaFilter>()
    var inboundPreparations = HookList<InboundPreparation>()
    var deliveredMessage = HookList<DeliveredMessageHook>()
    var offlineMessage = HookList<UndeliverableMessageHook>()
    var unknownAccountMessage = HookList<UndeliverableMessageHook>()
    var initialPresence = HookList<SessionHook>()
    var presenceBroadcast = HookList<PresenceBroadcastHook>()
    var sessionBound = HookList<SessionBoundHook>()
    var sessionEnded = HookList<SessionEndedHook>()
    var rosterChanged = HookList<RosterChangedHook>()
    var accountCreated = HookList<AccountHook>()
    var passwordChanged = HookList<AccountHook>()
    var accountDeleted = HookList<AccountHook>()
    var accountDataChanged = HookList<AccountDataChangedHook>()
    var nonzaHandlers: [String: NonzaHandler] = [:]
    var senderThrottles = HookList<SenderThrottle>()
    var statistics: [String: StatisticReader] = [:]
    var discoNodes: [DiscoNodeProvider] = []
    var accountDisco: [AccountDiscoProvider] = []
    var commands: [String: AdHocCommand] = [:]
    var iqObservers: [String: [IQObserver]] = [:]
}
