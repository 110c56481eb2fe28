import XMPPCore

/// The resumable stream-management sessions of a listener, by resumption id: each from `<enabled/>` until it
/// ends (at most one entry per session, so bounded by the session limits).
final class ResumptionTable: Sendable {
    private let sessions = Locked<[String: StreamManagement]>([:])

    func insert(_ management: StreamManagement) {
        sessions.withLock { $0[management.id] = management }
    }

    func lookUp(_ id: String) -> StreamManagement? {
        sessions.withLock { $0[id] }
    }

    func remove(_ management: StreamManagement) {
        sessions.withLock { sessions in
            if sessions[management.id] === management { sessions[management.id] = nil }
        }
    }
}
