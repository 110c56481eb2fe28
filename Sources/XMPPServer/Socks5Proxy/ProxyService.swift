import NIOCore
import XMPPCore
import XMPPServerKernel

/// The SOCKS5 bytestreams proxy's XMPP side at `proxy.<domain>` (XEP-0065): disco, the streamhost (where the proxy
/// listens), and `activate`, which joins the two connections of a stream. Only the initiator can activate: the
/// destination address hashes its full JID, which the server stamped.
struct ProxyService: HostedService {
    static let namespace = "http://jabber.org/protocol/bytestreams"

    let domain: String
    let displayName = "SOCKS5 bytestreams proxy"
    let pairing: ProxyPairing
    /// Where clients connect: set once the listener is bound (host, port).
    let streamhost: Locked<(host: String, port: Int)?>
    /// Bytes per second each connection of an activated stream is read at.
    let bytesPerSecond: Int

    func receive(_ stanza: Element, to: JID, kernel: ServerKernel, eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        // An activation is answered once both connections relay: the initiator writes as soon as it hears back, and
        // bytes that reached the handshake handler first would be taken for data before activation.
        var activated: (target: any Channel, initiator: any Channel)?
        let (bytesPerSecond, pairing) = (bytesPerSecond, pairing)
        return answerRequest(stanza, to: to, kernel: kernel, eventLoop: eventLoop, replyingAfter: {
            activated.map { Self.join($0.target, $0.initiator, bytesPerSecond: bytesPerSecond, pairing: pairing) }
        }) { iq, from throws(StanzaError) in
            try answer(iq, from: from, to: to, kernel: kernel, activated: &activated)
        }
    }

    private func answer(_ iq: IQ, from: JID, to: JID, kernel: ServerKernel,
                        activated: inout (target: any Channel, initiator: any Channel)?) throws(StanzaError) -> Element? {
        guard to.localpart == nil, to.resourcepart == nil, let payload = iq.payload else { throw StanzaError(.serviceUnavailable) }
        switch (payload.namespace, iq.type) {
        case (DiscoNamespace.info, .get?):
            var query = Element("query", namespace: DiscoNamespace.info)
            query.append(DiscoIdentity(category: "proxy", type: "bytestreams", name: displayName).element)
            for feature in [DiscoNamespace.info, Self.namespace] {
                query.append(Element("feature", namespace: DiscoNamespace.info, attributes: ["var": feature]))
            }
            return query
        case (DiscoNamespace.items, .get?):
            return Element("query", namespace: DiscoNamespace.items)
        case (Self.namespace, .get?):
            guard from.domainpart == kernel.configuration.domain else { throw StanzaError(.forbidden, text: "for accounts of this server") }
            guard let streamhost = streamhost.withLock({ $0 }) else { throw StanzaError(.serviceUnavailable, text: "the proxy is not listening") }
            var query = Element("query", namespace: Self.namespace)
            query.append(Element("streamhost", namespace: Self.namespace,
                                 attributes: ["jid": domain, "host": streamhost.host, "port": String(streamhost.port)]))
            return query
        case (Self.namespace, .set?):
            guard from.domainpart == kernel.configuration.domain, from.resourcepart != nil else {
                throw StanzaError(.forbidden, text: "for accounts of this server")
            }
            guard let sid = payload.attribute("sid"), !sid.isEmpty,
                  let target = payload.child("activate", namespace: Self.namespace).flatMap({ JID(validating: $0.text) }) else {
                throw StanzaError(.badRequest, text: "activate needs a sid and the target's JID")
            }
            let address = ProxyPairing.address(sid: sid, initiator: from, target: target)
            guard let pair = pairing.activate(address: address) else {
                throw StanzaError(.itemNotFound, text: "both the target and the initiator must be connected to the proxy first")
            }
            activated = pair
            return nil
        default:
            throw StanzaError(.serviceUnavailable)
        }
    }

    /// Replaces the SOCKS5 handshake of both connections by the relay, at the transfer's rate; done when both relay.
    static func join(_ target: any Channel, _ initiator: any Channel, bytesPerSecond: Int, pairing: ProxyPairing) -> EventLoopFuture<Void> {
        let ended = Locked(false)
        let end: @Sendable () -> Void = {
            if ended.withLock({ done in defer { done = true }; return !done }) { pairing.transferEnded() }
        }
        let swaps = [(target, initiator), (initiator, target)].map { channel, partner in
            channel.eventLoop.submit {
                let operations = channel.pipeline.syncOperations
                if let handshake = try? operations.handler(type: Socks5Handler.self) { _ = operations.removeHandler(handshake) }
                if let limiter = try? operations.handler(type: ReadRateLimiter.self) { limiter.setRate(bytesPerSecond: bytesPerSecond) }
                try? operations.addHandler(ProxyRelay(partner: partner, ended: end))
            }
        }
        return swaps[0].and(swaps[1]).map { _ in }
    }
}
