import Foundation
import XMPPCore

/// The command executions under way (XEP-0050 §4.3 sessions), bounded per requester and expiring.
final class AdHocSessions: Sendable {
    /// One execution: the command, the forms shown (for `prev`), the values submitted.
    struct Session: Sendable {
        /// Who runs it: only they may continue it.
        var requester: JID
        var node: String
        var shown: [(form: DataForm, isLast: Bool)]
        var values: [String: [String]]
        var touched: ContinuousClock.Instant
    }

    /// Why a session cannot be used.
    enum Refusal: Error {
        case unknown, expired, tooMany
    }

    private let sessions = Locked<[String: Session]>([:])
    private let timeout: Duration
    private let maxPerRequester: Int

    init(timeout: Duration, maxPerRequester: Int) {
        self.timeout = timeout
        self.maxPerRequester = maxPerRequester
    }

    /// Starts a session of `node` for `requester`; its id.
    func start(node: String, requester: JID) throws(Refusal) -> String {
        let now = ContinuousClock.now
        let id = StanzaID.make() + StanzaID.make()
        try sessions.withLock { (sessions: inout [String: Session]) throws(Refusal) in
            sessions = sessions.filter { now - $0.value.touched < timeout }
            guard sessions.values.filter({ $0.requester == requester }).count < maxPerRequester else { throw Refusal.tooMany }
            sessions[id] = Session(requester: requester, node: node, shown: [], values: [:], touched: now)
        }
        return id
    }

    /// The session `id` of `requester` (only its own), refreshed.
    func session(_ id: String, of requester: JID) throws(Refusal) -> Session {
        let now = ContinuousClock.now
        return try sessions.withLock { (sessions: inout [String: Session]) throws(Refusal) -> Session in
            guard var session = sessions[id], session.requester == requester else { throw Refusal.unknown }
            guard now - session.touched < timeout else {
                sessions[id] = nil
                throw Refusal.expired
            }
            session.touched = now
            sessions[id] = session
            return session
        }
    }

    /// Stores a changed session.
    func update(_ id: String, _ session: Session) {
        sessions.withLock { $0[id] = session }
    }

    /// Ends a session.
    func end(_ id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }
}
