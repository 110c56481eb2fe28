import XMPPCore
import XMPPServerKernel

/// The available resources of contacts at other servers, as their presence reached local accounts (broadcast, or the
/// answer to the probes sent at login), with that presence: PEP notifies them as it notifies local contacts' sessions
/// (XEP-0163 §4.3), reading their `+notify` features from the caps in it. An account's entries go when its last
/// session ends (its next login probes again). Bounded by `pep_remote_resources` in all and ``maxPerAccount`` per
/// account (so one remote server sending presence to many accounts, or many resources to one, cannot take all of
/// it): past either, a new resource is not recorded (and gets no notifications).
final class RemoteResources: Sendable {
    private struct State {
        /// Local account (bare JID) → remote resource (full JID) → its last available presence.
        var byAccount: [JID: [JID: Element]] = [:]
        var count = 0
    }

    /// Remote resources one account may have recorded.
    static let maxPerAccount = 256
    private let state = Locked(State())
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Records presence from remote resource `resource` to local `account`; true when it is newly available or
    /// announces other caps than before (what XEP-0163 sends the last items on).
    func observe(_ presence: Element, from resource: JID, to account: JID) -> Bool {
        let available = presence.attribute("type") == nil
        return state.withLock { state in
            var resources = state.byAccount[account] ?? [:]
            guard available else {
                if resources.removeValue(forKey: resource) != nil {
                    state.count -= 1
                    state.byAccount[account] = resources.isEmpty ? nil : resources
                }
                return false
            }
            let previous = resources[resource]
            if previous == nil {
                guard state.count < capacity, resources.count < Self.maxPerAccount else { return false }
                state.count += 1
            }
            resources[resource] = presence
            state.byAccount[account] = resources
            return previous == nil || CapsCache.announcement(in: previous)?.ver != CapsCache.announcement(in: presence)?.ver
        }
    }

    /// The available resources of remote `contact` (bare JID) that `account` knows of, with their presence.
    func resources(of contact: JID, for account: JID) -> [(jid: JID, presence: Element)] {
        state.withLock { state in
            (state.byAccount[account] ?? [:]).filter { $0.key.bare == contact }.map { ($0.key, $0.value) }
        }
    }

    /// Forgets one resource (it turned out not to be a contact the account shares its presence with).
    func forget(_ resource: JID, of account: JID) {
        state.withLock { state in
            guard state.byAccount[account]?.removeValue(forKey: resource) != nil else { return }
            state.count -= 1
            if state.byAccount[account]?.isEmpty == true { state.byAccount[account] = nil }
        }
    }

    /// Forgets what `account` knew (its last session ended).
    func forget(_ account: JID) {
        state.withLock { state in
            state.count -= state.byAccount.removeValue(forKey: account)?.count ?? 0
        }
    }
}
