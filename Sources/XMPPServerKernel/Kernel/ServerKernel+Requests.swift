import XMPPCore

/// IQ requests the server itself sends to a client session (a disco#info query about entity capabilities it has
/// not seen), waiting for the answer. Bounded: one waits per session (a client that never answers cannot fill the
/// table), and when `limit` wait in all, the next one fails at once.
final class ServerRequests: Sendable {
    private struct Waiting {
        let to: JID
        let continuation: CheckedContinuation<Element, any Error>
    }

    private let waiting = Locked<[String: Waiting]>([:])
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Registers a request under `id`; false when too many wait.
    func register(_ id: String, to: JID, _ continuation: CheckedContinuation<Element, any Error>) -> Bool {
        waiting.withLock { waiting in
            guard waiting.count < limit, !waiting.values.contains(where: { $0.to == to }) else { return false }
            waiting[id] = Waiting(to: to, continuation: continuation)
            return true
        }
    }

    /// Completes the request a reply answers, if it answers one of ours (same id, from the JID we asked).
    func complete(with reply: Element, from sender: JID) -> Bool {
        guard let id = reply.attribute("id") else { return false }
        let found = waiting.withLock { waiting -> Waiting? in
            guard let entry = waiting[id], entry.to == sender else { return nil }
            return waiting.removeValue(forKey: id)
        }
        guard let found else { return false }
        if reply.attribute("type") == "error" {
            found.continuation.resume(throwing: StanzaError(element: reply.child("error") ?? Element("error", namespace: ""))
                                                    ?? StanzaError(.undefinedCondition))
        } else {
            found.continuation.resume(returning: reply)
        }
        return true
    }

    /// Fails a request that waited too long (or whose session went away).
    func fail(_ id: String, with error: StanzaError) {
        waiting.withLock { $0.removeValue(forKey: id) }?.continuation.resume(throwing: error)
    }
}

extension ServerKernel {
    /// Sends an IQ request from the server (its domain) to a local client session, or to an entity of another server
    /// through the remote router, and returns the reply.
    /// - Throws: the ``StanzaError`` of an error reply; `recipient-unavailable` when the local session is gone;
    ///   `remote-server-not-found` when a remote entity cannot be reached; `remote-server-timeout` after `timeout`;
    ///   `resource-constraint` when one waits for this entity already, or too many wait in all.
    public func request(_ payload: Element, type: IQ.IQType = .get, to: JID, timeout: Duration = .seconds(10)) async throws -> Element {
        let isRemote = !isLocal(to) && services[to.domainpart] == nil
        let entry = registry.entry(to)
        if isRemote {
            guard federates else { throw Self.noFederation }
        } else if entry == nil {
            throw StanzaError(.recipientUnavailable)
        }
        let id = "server-" + StanzaID.make()
        var iq = Element("iq", namespace: "jabber:client", attributes: ["type": type.rawValue, "id": id, "to": to.description,
                                                                           "from": domainJID.description])
        iq.append(payload)
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.serverRequests.fail(id, with: StanzaError(.remoteServerTimeout, text: "no answer from \(to)"))
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            guard serverRequests.register(id, to: to, continuation) else {
                continuation.resume(throwing: StanzaError(.resourceConstraint, text: "a server request to \(to) waits already, or too many wait"))
                return
            }
            if let entry {
                entry.session.deliver(iq)
            } else {
                _ = sendRemote(iq, to: to)
            }
        }
    }
}
