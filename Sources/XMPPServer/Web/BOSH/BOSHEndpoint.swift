#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import XMPPCore
import XMPPServerKernel
import XMPPTransport

/// `/http-bind`: XMPP over BOSH (XEP-0124, XEP-0206).
///
/// Each session is an ordinary c2s stream in the process: the two ends of a Unix socket pair, the c2s pipeline
/// (stream decoder, encoder, ``C2SConnectionHandler``) on one, a ``BOSHSession`` on the other. So a BOSH client
/// meets the same negotiation, SASL, limits, timers and features as on the c2s port, and the stream's own
/// backpressure (the socket's buffer) puts a client that does not fetch what it is sent under the c2s policy for
/// clients that do not read. A session counts among the c2s connections of its address (`connections_per_ip`).
struct BOSHEndpoint: Sendable {
    /// The path the endpoint answers on.
    static let path = "/http-bind"

    let shared: C2SConnectionHandler.Shared
    let sessions: BOSHSessions
    /// The longest a request is held (`bosh_max_wait`): a client asking for more gets this.
    let maxWait: Int
    /// Seconds without a request before a session ends (`bosh_inactivity`).
    let inactivity: Int
    /// Allowed `Origin` values (`websocket_origins`); empty allows every origin.
    let allowedOrigins: [String]
    /// Reverse proxies whose `X-Forwarded-For` names the real client (`trusted_proxies`).
    let trustedProxies: [String]

    init(shared: C2SConnectionHandler.Shared, sessions: BOSHSessions, configuration: ServerConfiguration) {
        self.shared = shared
        self.sessions = sessions
        self.maxWait = configuration.boshMaxWait
        self.inactivity = configuration.boshInactivity
        self.allowedOrigins = configuration.webSocketOrigins
        self.trustedProxies = configuration.trustedProxies
    }

    /// The shortest interval between polls the creation response announces (not enforced).
    static let polling = 2

    /// The largest request body: a body carries at most a stanza's worth (`max_stanza_bytes`, at least 16 KiB).
    var maxBodyBytes: Int { max(16_384, shared.limits.maxStanzaBytes) }

    /// Whether a request target is the endpoint's.
    static func handles(_ uri: String) -> Bool {
        let path = WebSocketEndpoint.requestedPath(uri)
        return path == Self.path || path == Self.path + "/"
    }

    /// Whether a browser page from `origin` may use the endpoint (`websocket_origins`); a request without `Origin`
    /// is not from a page.
    func allows(origin: String?) -> Bool {
        guard let origin, !allowedOrigins.isEmpty else { return true }
        return allowedOrigins.contains(origin)
    }

    /// The CORS headers of a response to a page from `origin`.
    static func corsHeaders(origin: String?) -> [(String, String)] {
        guard let origin else { return [] }
        return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    }

    // MARK: - Requests

    /// Answers one request body; the future is on `eventLoop` (the HTTP connection's).
    func respond(to bytes: ByteBuffer, head: HTTPRequestHead, peer: String, eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer> {
        let request: BOSHRequest
        do {
            request = try BOSHRequest.parse(bytes, limits: XMLParserLimits(maxStanzaBytes: maxBodyBytes))
        } catch {
            shared.logger.debug("BOSH request refused", metadata: ["peer": "\(peer)", "reason": "\(error.reason)"])
            return eventLoop.makeSucceededFuture(error.response)
        }
        if let sid = request.sid {
            guard let session = sessions.session(sid) else {
                return eventLoop.makeSucceededFuture(BOSHRefusal.itemNotFound("unknown sid").response)
            }
            let promise = eventLoop.makePromise(of: ByteBuffer.self)
            session.eventLoop.execute { session.receive(request, promise: promise) }
            return promise.futureResult
        } else {
            let promise = eventLoop.makePromise(of: ByteBuffer.self)
            create(request, head: head, peer: peer, eventLoop: eventLoop, promise: promise)
            return promise.futureResult
        }
    }

    /// A session-creation request (XEP-0124 §7, XEP-0206 §4): the stream is opened and the response waits for its
    /// features.
    private func create(_ request: BOSHRequest, head: HTTPRequestHead, peer: String, eventLoop: any EventLoop,
                        promise: EventLoopPromise<ByteBuffer>) {
        guard let to = request.to, !to.isEmpty else { return promise.succeed(BOSHRefusal.badRequest("to is missing").response) }
        if let xmppVersion = request.xmppVersion, !xmppVersion.hasPrefix("1.") {
            return promise.succeed(BOSHRefusal.badRequest("xmpp:version must be 1.0").response)
        }
        guard request.key == nil, !request.isRestart, !request.isTerminate else {
            return promise.succeed(BOSHRefusal.badRequest("a creation request has no key, restart or terminate").response)
        }
        let address = WebSocketEndpoint.clientAddress(peer: peer, headers: head.headers, trustedProxies: trustedProxies)
        let addressKey = AddressGrouping.key(address, ipv6PrefixLength: shared.limits.ipv6PrefixLength)
        guard shared.connections.open(addressKey, limit: shared.limits.connectionsPerIP) else {
            shared.logger.notice("BOSH session refused: too many connections from one address", metadata: ["peer": "\(address)"])
            return promise.succeed(BOSHRefusal.policyViolation("too many connections from your address").response)
        }
        var descriptors: [CInt] = [-1, -1]
        #if canImport(Darwin)
        let kind = SOCK_STREAM
        #else
        let kind = CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
        #endif
        guard socketpair(AF_UNIX, kind, 0, &descriptors) == 0 else {
            shared.connections.close(addressKey)
            shared.logger.error("BOSH: no socket pair for a session", metadata: ["errno": "\(errno)"])
            return promise.succeed(BOSHRefusal.policyViolation("the server cannot take a session now").response)
        }
        let sid = Self.makeSID()
        let session = BOSHSession(sid: sid, eventLoop: eventLoop, creation: request, wait: min(request.wait ?? maxWait, maxWait),
                                  hold: min(request.hold ?? 1, 1), inactivity: inactivity, polling: Self.polling,
                                  domain: to.lowercased(), maxQueuedBytes: max(65_536, shared.limits.maxOutboundBytes / 4),
                                  onEnd: { [sessions] sid in sessions.remove(sid) })
        let shared = self.shared
        let limits = shared.limits
        let server = ClientBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.writeBufferWaterMark, value: C2SService.waterMark(for: limits.maxOutboundBytes))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let decoder = XMPPStreamDecoder(limits: XMLParserLimits(maxStanzaBytes: limits.maxStanzaBytes))
                    try channel.pipeline.syncOperations.addHandlers([
                        decoder, XMPPStreamEncoder(contentNamespace: XMLNamespace.client),
                        C2SConnectionHandler(shared: shared, decoder: decoder, remoteAddress: address, addressKey: addressKey,
                                             isSecured: true, channelBinding: nil, gate: ReadGate(), listener: .bosh),
                    ])
                }
            }
            .withConnectedSocket(descriptors[0])
        // The server's output may hold elements larger than a client may send (a big roster): the bridge reads up
        // to the outbound limit.
        let bridgeDecoder = XMPPStreamDecoder(limits: XMLParserLimits(maxStanzaBytes: max(limits.maxStanzaBytes, limits.maxOutboundBytes)))
        let bridge = ClientBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        bridgeDecoder, XMPPStreamEncoder(contentNamespace: XMLNamespace.client), BOSHBridgeHandler(session: session),
                    ])
                }
            }
            .withConnectedSocket(descriptors[1])
        sessions.add(session)
        server.and(bridge).hop(to: eventLoop).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let (_, bridgeChannel)):
                session.start(bridge: bridgeChannel, decoder: bridgeDecoder, creation: request, promise: promise)
            case .failure(let error):
                shared.logger.error("BOSH: the session's stream could not be set up", metadata: ["error": "\(error)"])
                bridge.whenSuccess { $0.close(promise: nil) }
                server.whenComplete { result in
                    switch result {
                    // Its connection handler gives the address's place back as it closes.
                    case .success(let channel): channel.close(promise: nil)
                    case .failure: shared.connections.close(addressKey)
                    }
                }
                session.shutDown()
                promise.succeed(BOSHRefusal.policyViolation("the server cannot take a session now").response)
            }
        }
    }

    /// A session id: 128 random bits in hexadecimal.
    static func makeSID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}

/// The BOSH sessions of a server, by sid (both web listeners share them).
final class BOSHSessions: Sendable {
    private let table = Locked<[String: BOSHSession]>([:])

    init() {}

    func session(_ sid: String) -> BOSHSession? { table.withLock { $0[sid] } }

    func add(_ session: BOSHSession) { table.withLock { $0[session.sid] = session } }

    func remove(_ sid: String) { _ = table.withLock { $0.removeValue(forKey: sid) } }

    /// Ends every session (the server stops).
    func closeAll() {
        for session in table.withLock({ Array($0.values) }) {
            session.eventLoop.execute { session.shutDown() }
        }
    }
}
