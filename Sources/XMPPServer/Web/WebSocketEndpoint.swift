import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import XMPPCore
import XMPPServerKernel
import XMPPTransport

/// `/xmpp-websocket`: upgrades an HTTP request to XMPP over WebSocket (RFC 7395) and puts the same session handler
/// as a c2s connection behind it, so the stream meets the same negotiation, SASL, limits and features.
///
/// The upgrade is refused (the request then gets an HTTP error from ``WebRequestHandler``) unless the client asks
/// for the `xmpp` subprotocol, its `Origin` (if any) is allowed, and its address is under the per-address
/// connection limit.
struct WebSocketEndpoint: Sendable {
    /// The path the endpoint answers on.
    static let path = "/xmpp-websocket"

    let shared: C2SConnectionHandler.Shared
    /// Allowed `Origin` values; empty allows every origin.
    let allowedOrigins: [String]
    /// Reverse proxies whose `X-Forwarded-For` names the real client (`trusted_proxies`).
    var trustedProxies: [String] = []

    /// The upgrader to give the HTTP pipeline of one listener.
    func upgrader() -> NIOWebSocketServerUpgrader {
        let maxFrame = max(16_384, shared.limits.maxStanzaBytes)
        return NIOWebSocketServerUpgrader(
            maxFrameSize: maxFrame, automaticErrorHandling: true,
            shouldUpgrade: { channel, head in
                channel.eventLoop.makeSucceededFuture(self.responseHeaders(for: head))
            },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture { try self.configureStream(on: channel, head: head, maxFrame: maxFrame) }
            })
    }

    /// The extra response headers of an accepted upgrade, or nil to refuse it.
    func responseHeaders(for head: HTTPRequestHead) -> HTTPHeaders? {
        guard Self.requestedPath(head.uri) == Self.path, Self.asksForXMPP(head.headers) else { return nil }
        if let origin = head.headers.first(name: "origin"), !allowedOrigins.isEmpty, !allowedOrigins.contains(origin) {
            return nil
        }
        return HTTPHeaders([("Sec-WebSocket-Protocol", XMPPFraming.subprotocol)])
    }

    /// Why an upgrade request for the endpoint would be refused, for the HTTP answer; nil when it would be accepted.
    func refusal(for head: HTTPRequestHead) -> (HTTPResponseStatus, String)? {
        guard head.headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" }) else {
            return (.upgradeRequired, "this is an XMPP over WebSocket endpoint (RFC 7395): open a WebSocket with the subprotocol xmpp")
        }
        guard Self.asksForXMPP(head.headers) else { return (.badRequest, "the WebSocket subprotocol must be xmpp") }
        if let origin = head.headers.first(name: "origin"), !allowedOrigins.isEmpty, !allowedOrigins.contains(origin) {
            return (.forbidden, "origin \(origin) is not allowed")
        }
        return nil
    }

    /// Replaces the finished HTTP exchange with the XMPP stream: frame aggregation, framing, the session.
    private func configureStream(on channel: any Channel, head: HTTPRequestHead, maxFrame: Int) throws {
        let operations = channel.pipeline.syncOperations
        let address = Self.clientAddress(peer: channel.remoteAddress?.ipAddress ?? "unknown", headers: head.headers,
                                         trustedProxies: trustedProxies)
        let addressKey = AddressGrouping.key(address, ipv6PrefixLength: shared.limits.ipv6PrefixLength)
        guard shared.connections.open(addressKey, limit: shared.limits.connectionsPerIP) else {
            shared.logger.notice("WebSocket refused: too many connections from one address", metadata: ["peer": "\(address)"])
            try operations.addHandler(XMPPWebSocketEncoder())
            let header = StreamHeader(from: shared.kernel.configuration.domain, id: StanzaID.make(), version: "1.0")
            channel.write(XMPPOutbound.header(header), promise: nil)
            channel.write(XMPPOutbound.element(StreamError(.policyViolation, text: "too many connections from your address").element), promise: nil)
            channel.writeAndFlush(XMPPOutbound.close).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        let decoder = XMPPWebSocketDecoder(limits: XMLParserLimits(maxStanzaBytes: shared.limits.maxStanzaBytes))
        // The listener's read-rate limiter (in front of the HTTP and WebSocket decoders) pauses through the same gate
        // as the session does.
        let gate = try operations.handler(type: ReadRateLimiter.self).gate
        try operations.addHandlers([
            WebSocketMaskCheck(),
            NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64,
                                        maxAccumulatedFrameSize: maxFrame),
            decoder,
            XMPPWebSocketEncoder(),
            C2SConnectionHandler(shared: shared, decoder: decoder, remoteAddress: address, addressKey: addressKey,
                                 isSecured: true, channelBinding: nil, gate: gate, listener: .webSocket),
        ])
    }

    /// The client's address as the per-address limits and the login throttle count it: the connection's peer, or, when
    /// the peer is a trusted proxy, the last address its `X-Forwarded-For` adds (the one the proxy itself saw; any
    /// earlier ones are the client's say-so).
    static func clientAddress(peer: String, headers: HTTPHeaders, trustedProxies: [String]) -> String {
        guard trustedProxies.contains(peer), let forwarded = headers[canonicalForm: "x-forwarded-for"].last else { return peer }
        let candidate = forwarded.trimmingCharacters(in: .whitespaces)
        guard (try? SocketAddress(ipAddress: candidate, port: 0)) != nil else { return peer }
        return candidate
    }

    /// The path of a request target, without its query.
    static func requestedPath(_ uri: String) -> Substring {
        uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    /// Whether `Sec-WebSocket-Protocol` lists `xmpp`.
    static func asksForXMPP(_ headers: HTTPHeaders) -> Bool {
        headers[canonicalForm: "sec-websocket-protocol"].contains { $0.trimmingCharacters(in: .whitespaces) == XMPPFraming.subprotocol }
    }
}
