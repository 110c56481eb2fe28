import Foundation
import XMPPCore

/// The console's logged-in administrators: a random token per login (the session cookie) with its own CSRF token,
/// ended by logout, by ``timeout`` without a request, or when more than ``capacity`` are open (the least recently
/// used goes).
final class AdminSessions: Sendable {
    /// One login.
    struct Session: Sendable {
        let jid: JID
        /// Whose affairs the administrator handles (the server's, or one virtual host's).
        let scope: ServerAdministration.Scope
        /// Every form and every API write from the console carries it.
        let csrfToken: String
        let opened: Date
        var lastSeen: Date
    }

    let capacity: Int
    let timeout: TimeInterval
    /// A login ends after this long whatever it does (an open dashboard polls without end).
    static let lifetime: TimeInterval = 12 * 3600
    private let sessions = Locked<[String: Session]>([:])

    init(capacity: Int, timeout: TimeInterval) {
        self.capacity = max(1, capacity)
        self.timeout = timeout
    }

    /// Opens a session for `jid`; its cookie token.
    func open(for jid: JID, scope: ServerAdministration.Scope) -> String {
        let token = Self.randomToken()
        let session = Session(jid: jid, scope: scope, csrfToken: Self.randomToken(), opened: Date(), lastSeen: Date())
        sessions.withLock { sessions in
            let now = Date()
            sessions = sessions.filter { now.timeIntervalSince($0.value.lastSeen) < timeout }
            while sessions.count >= capacity, let oldest = sessions.min(by: { $0.value.lastSeen < $1.value.lastSeen }) {
                sessions[oldest.key] = nil
            }
            sessions[token] = session
        }
        return token
    }

    /// The session of a cookie token, touched (unless `touch` is false: the chart's polling does not keep a login
    /// alive); nil when unknown or expired.
    func session(_ token: String?, touch: Bool = true) -> Session? {
        guard let token, !token.isEmpty else { return nil }
        return sessions.withLock { sessions in
            guard var session = sessions[token] else { return nil }
            let now = Date()
            guard now.timeIntervalSince(session.lastSeen) < timeout, now.timeIntervalSince(session.opened) < Self.lifetime else {
                sessions[token] = nil
                return nil
            }
            guard touch else { return session }
            session.lastSeen = now
            sessions[token] = session
            return session
        }
    }

    /// Ends a session.
    func close(_ token: String?) {
        guard let token else { return }
        sessions.withLock { $0[token] = nil }
    }

    /// Ends every session of an administrator (whose account was deleted, or whose password changed).
    func close(allOf jid: JID) {
        sessions.withLock { sessions in sessions = sessions.filter { $0.value.jid != jid.bare } }
    }

    /// 32 random bytes, hex.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
