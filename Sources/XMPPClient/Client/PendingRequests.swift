import NIOCore
import XMPPCore

/// IQ requests awaiting their answer, by id. An answer counts only from the entity that was asked (RFC 6120
/// §8.2.3); a request without `to` is answered by the account's server on the account's behalf.
struct PendingRequests {
    struct Request {
        let to: JID?
        let continuation: CheckedContinuation<IQ, any Error>
        let timeout: Scheduled<Void>?
    }

    private var requests: [String: Request] = [:]

    mutating func add(id: String, _ request: Request) {
        requests[id] = request
    }

    /// Takes the request `iq` answers, if it answers one, given the session's own full JID.
    mutating func takeMatch(for iq: IQ, ownJID: JID?) -> Request? {
        guard let id = iq.id, let request = requests[id] else { return nil }
        let from = iq.from
        let matches: Bool
        if let to = request.to, to != ownJID?.bare {
            matches = from == to
        } else {
            matches = from == nil || from == ownJID?.bare || from == ownJID || from == ownJID?.domain
        }
        guard matches else { return nil }
        requests[id] = nil
        return request
    }

    /// Takes the request with this id regardless of the answer's sender (timeouts, failures).
    mutating func take(id: String) -> Request? {
        requests.removeValue(forKey: id)
    }

    /// Takes every request.
    mutating func takeAll() -> [Request] {
        defer { requests = [:] }
        return Array(requests.values)
    }
}
