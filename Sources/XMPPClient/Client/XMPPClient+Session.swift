import NIOCore
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

    /// The connection resumed the earlier session (XEP-0198 §5); `handled` is the server's count of our stanzas.
    /// Called on the new connection's event loop before anything else can write to it: what the server did not
    /// handle is written again here, in order, ahead of anything new.
    func sessionResumed(jid: JID, handled: UInt32, features: StreamFeatures, channel: any Channel, generation: Int) {
        let (resend, acknowledged) = state.withLock { state -> ([Element], [Element]) in
            guard state.generation == generation else { return ([], []) }
            state.jid = jid
            state.lastReceived = .now
            state.features = features
            state.channel = channel
            state.resumedHandled = handled
            guard let done = state.streamManagement.acknowledge(handled) else {
                state.streamManagement.disable()
                return ([], [])
            }
            return (state.streamManagement.unacknowledged, done)
        }
        for element in resend { channel.write(XMPPOutbound.element(element), promise: nil) }
        channel.writeAndFlush(XMPPOutbound.element(StreamManagementVocabulary.request), promise: nil)
        for element in acknowledged { acknowledgements.publish(element) }
    }

    /// On a fresh session: asks for stream management when the server offers it (counting starts with the
    /// `<enable/>` on the connection's event loop, in order with every other write), and returns the messages an
    /// earlier session that could not be resumed never got acknowledged (to be sent again).
    func startStreamManagement() -> [Element] {
        let (leftover, channel, jid) = state.withLock { state -> ([Element], (any Channel)?, JID?) in
            let leftover = state.streamManagement.takeUnacknowledgedMessages()
            guard state.configuration.streamManagement, let jid = state.jid, let channel = state.channel,
                  state.features.feature("sm", StreamManagementVocabulary.namespace) != nil else { return (leftover, nil, nil) }
            return (leftover, channel, jid)
        }
        if let channel, let jid {
            channel.eventLoop.execute { [weak self] in
                guard self?.state.withLock({ state -> Bool in
                    guard state.channel === channel else { return false }
                    state.streamManagement.enabling(jid: jid)
                    return true
                }) == true else { return }
                let enable = Element("enable", namespace: StreamManagementVocabulary.namespace, attributes: ["resume": "true"])
                channel.writeAndFlush(XMPPOutbound.element(enable), promise: nil)
            }
        }
        return leftover
    }

    /// Handles a stream-management element from the server; `true` when it was one.
    private func handleStreamManagement(_ element: Element) -> Bool {
        guard element.namespace == StreamManagementVocabulary.namespace else { return false }
        switch element.name {
        case "enabled":
            state.withLock { $0.streamManagement.enabled(element) }
        case "failed":
            state.withLock { $0.streamManagement.disable() }
        case "r":
            let handled = state.withLock { $0.streamManagement.handled }
            _ = write(StreamManagementVocabulary.answer(handled))
        case "a":
            guard let handled = StreamManagementVocabulary.handledCount(in: element) else { return true }
            let acknowledged = state.withLock { $0.streamManagement.acknowledge(handled) }
            for stanza in acknowledged ?? [] { acknowledgements.publish(stanza) }
        default:
            break
        }
        return true
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
            state.streamManagement.recordInbound(element)
            return (true, answer.flatMap { state.pending.takeMatch(for: $0, ownJID: state.jid) }, state.modules)
        }
        guard current, !handleStreamManagement(element) else { return }
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
            // A disco node nobody here knows is item-not-found (XEP-0030 §3.2); anything else nobody serves.
            let isDiscoNode = iq.payload.map { $0.namespace.hasPrefix("http://jabber.org/protocol/disco#") && $0.attribute("node") != nil } ?? false
            enqueue(iq.errorReply(StanzaError(isDiscoNode ? .itemNotFound : .serviceUnavailable)))
        }
        incoming.publish(element)
    }
}
