import NIOCore
import Synchronization
import XMPPCore
import XMPPTransport

/// What the connection reports, applied to the client's state. Each call carries the generation of the
/// connection attempt it comes from; a stale one is ignored.
extension XMPPClient {
    func setConnectionState(_ newState: ConnectionState, generation: Int) {
        let changed = state.withLock { state -> Bool in
            guard state.generation == generation, state.connectionState != newState else { return false }
            // A late phase report must not revive a connection that has already ended.
            if state.connectionState.isDisconnected && newState != .connecting { return false }
            state.connectionState = newState
            return true
        }
        if changed { stateChanges.publish(newState) }
    }

    func sessionEstablished(jid: JID, features: StreamFeatures, mechanism: SASLMechanism?, channel: any Channel, generation: Int) {
        state.withLock { state in
            guard state.generation == generation else { return }
            state.jid = jid
            state.mechanism = mechanism
            state.lastReceived = .now
            state.features = features
            state.channel = channel
        }
    }

    func sessionEnded(_ error: XMPPClientError?, generation: Int) {
        let (requests, modules, ended) = state.withLock { state -> ([PendingRequests.Request], [any XMPPClientModule], Bool) in
            guard state.generation == generation, !state.connectionState.isDisconnected else { return ([], [], false) }
            state.connectionState = .disconnected(error)
            state.channel = nil
            state.jid = nil
            state.connection = nil
            return (state.pending.takeAll(), state.modules, true)
        }
        guard ended else { return }
        for request in requests {
            request.timeout?.cancel()
            request.continuation.resume(throwing: error ?? .notConnected)
        }
        stateChanges.publish(.disconnected(error))
        for module in modules { module.sessionEnded(client: self, error: error) }
    }

    /// Routes one incoming stanza: an answer to a pending request, then the modules, then the subscribers.
    /// An IQ request nobody handles is answered `service-unavailable` (RFC 6120 §8.4).
    func dispatch(_ element: Element, generation: Int) {
        let answer = element.name == "iq" ? IQ(element: element).flatMap { $0.type == .result || $0.type == .error ? $0 : nil } : nil
        // One lock per stanza: a stale connection's stanzas are dropped, activity is noted, an answer is matched.
        let (current, request, modules) = state.withLock { state -> (Bool, PendingRequests.Request?, [any XMPPClientModule]) in
            guard state.generation == generation else { return (false, nil, []) }
            state.lastReceived = .now
            return (true, answer.flatMap { state.pending.takeMatch(for: $0, ownJID: state.jid) }, state.modules)
        }
        guard current else { return }
        if let request, let answer {
            request.timeout?.cancel()
            request.continuation.resume(returning: answer)
            return
        }
        var handled = false
        for module in modules where module.handle(element, client: self) {
            handled = true
            break
        }
        if !handled, element.name == "iq", let iq = IQ(element: element), iq.type?.isRequest == true {
            enqueue(iq.errorReply(StanzaError(.serviceUnavailable)))
        }
        incoming.publish(element)
    }
}
