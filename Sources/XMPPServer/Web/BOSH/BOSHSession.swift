import NIOCore
import XMPPCore
import XMPPTransport

/// One BOSH session (XEP-0124, XEP-0206): the HTTP requests of a client on one side, and on the other an in-process
/// XMPP stream to an ordinary c2s connection handler (see ``BOSHEndpoint``). It writes what the requests carry onto
/// the stream, holds up to `hold` requests, and answers the oldest with what the server sent since.
///
/// Confined to its event loop (the one of the HTTP connection that created it, which the stream's two channels
/// share): every method is called there.
final class BOSHSession: @unchecked Sendable {
    let sid: String
    let eventLoop: any EventLoop
    /// The negotiated `wait`, `hold` and `inactivity`, in seconds and requests.
    let wait: Int
    let hold: Int
    let inactivity: Int
    /// What the session-creation response says besides the stream's id and features.
    private let creationAttributes: [(String, String)]
    private let domain: String
    private let language: String?
    /// Bytes of stanzas waiting for a request before reading from the stream pauses.
    private let maxQueuedBytes: Int
    private let onEnd: @Sendable (String) -> Void

    private var bridge: (any Channel)?
    private var decoder: XMPPStreamDecoder?
    private var window: BOSHRequestWindow
    private var keys: BOSHKeySequence
    /// Requests that came before the one preceding them, by rid (at most the window's size).
    private var early: [UInt64: (BOSHRequest, EventLoopPromise<ByteBuffer>)] = [:]
    private var held: [Held] = []
    /// Serialized stanzas from the server, waiting for a request to answer.
    private var queued = ByteBuffer()
    private var isReadingPaused = false
    /// Set until the stream's first features arrive, which the session-creation response carries.
    private var isCreating = true
    private var streamID: String?
    private var streamError: Element?
    /// Once the session is over: what every later request gets.
    private var terminalResponse: ByteBuffer?
    private var inactivityTimer: Scheduled<Void>?
    private var isEnded = false

    private struct Held {
        let rid: UInt64
        let key: String?
        var promise: EventLoopPromise<ByteBuffer>
        var timer: Scheduled<Void>?
    }

    init(sid: String, eventLoop: any EventLoop, creation request: BOSHRequest, wait: Int, hold: Int, inactivity: Int, polling: Int,
         domain: String, maxQueuedBytes: Int, onEnd: @escaping @Sendable (String) -> Void) {
        self.sid = sid
        self.eventLoop = eventLoop
        self.wait = wait
        self.hold = hold
        self.inactivity = inactivity
        self.domain = domain
        self.language = request.language
        self.maxQueuedBytes = maxQueuedBytes
        self.onEnd = onEnd
        self.window = BOSHRequestWindow(firstRID: request.rid, size: hold + 1)
        self.keys = BOSHKeySequence(newKey: request.newKey)
        creationAttributes = [
            ("sid", sid), ("wait", String(wait)), ("hold", String(hold)), ("requests", String(hold + 1)),
            ("inactivity", String(inactivity)), ("polling", String(polling)), ("ver", request.agreedVersion), ("from", domain),
            ("secure", "true"), ("xmpp:version", "1.0"),
        ]
    }

    // MARK: - The stream

    /// The stream is connected: opens it, and holds the creation request until its features arrive.
    func start(bridge: any Channel, decoder: XMPPStreamDecoder, creation request: BOSHRequest, promise: EventLoopPromise<ByteBuffer>) {
        eventLoop.assertInEventLoop()
        self.bridge = bridge
        self.decoder = decoder
        held.append(Held(rid: request.rid, key: nil, promise: promise, timer: nil))
        bridge.write(XMPPOutbound.header(StreamHeader(to: request.to, version: "1.0", language: language)), promise: nil)
        for element in request.payloads { bridge.write(XMPPOutbound.element(element), promise: nil) }
        bridge.flush()
    }

    /// What the server wrote on the stream.
    func received(_ event: XMLStreamEvent) {
        switch event {
        case .streamOpened(let header, _):
            streamID = header.attribute("id")
        case .element(let element) where element.namespace == XMLNamespace.streams && element.name == "error":
            streamError = element
        case .element(let element):
            BOSHResponse.appendChild(element, to: &queued)
            if isCreating, element.namespace == XMLNamespace.streams, element.name == "features" {
                isCreating = false
                answerOldest(attributes: creationAttributes + [("authid", streamID ?? "")])
            }
            if queued.readableBytes > maxQueuedBytes, !isReadingPaused, let bridge {
                // The client does not fetch what it is sent: the stream backs up, and the c2s handler's policy for
                // clients that do not read applies.
                isReadingPaused = true
                bridge.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            }
        case .streamClosed:
            streamEnded()
        }
    }

    /// A batch of reads is done: queued stanzas go to the oldest held request.
    func readComplete() {
        if !isCreating, queued.readableBytes > 0, !held.isEmpty { answerOldest() }
    }

    /// The stream ended (closed, failed, or its output could not be read): every request gets `terminate`,
    /// with `remote-stream-error` and the error when the server sent one (XEP-0206 §7).
    func streamEnded() {
        guard terminalResponse == nil else { return }
        var attributes = [("type", "terminate")]
        var children = queued
        queued.clear()
        if let streamError {
            let isHostUnknown = streamError.child("host-unknown", namespace: XMLNamespace.streamErrors) != nil
            attributes.append(("condition", isHostUnknown ? "host-unknown" : "remote-stream-error"))
            BOSHResponse.appendChild(streamError, to: &children)
        }
        finish(with: attributes, children: children)
    }

    // MARK: - Requests

    /// A request for this session.
    func receive(_ request: BOSHRequest, promise: EventLoopPromise<ByteBuffer>) {
        eventLoop.assertInEventLoop()
        if let terminalResponse { return promise.succeed(terminalResponse) }
        // XEP-0124 §7: a client waits for the creation response before it sends anything else.
        guard !isCreating else { return promise.succeed(BOSHRefusal.badRequest("the session is not created yet").response) }
        inactivityTimer?.cancel()
        inactivityTimer = nil
        switch window.position(of: request.rid) {
        case .answered(let response, let key):
            // A client that lost a response asks again (XEP-0124 §14.3); with keys, only with the same key.
            if key == request.key { promise.succeed(response) } else { promise.succeed(BOSHRefusal.itemNotFound("wrong key").response) }
        case .held:
            guard let index = held.firstIndex(where: { $0.rid == request.rid }), held[index].key == request.key else {
                promise.succeed(BOSHRefusal.itemNotFound("wrong key").response)
                break
            }
            // The connection that carried it is probably gone: the new one waits in its place.
            let previous = held[index].promise
            held[index].promise = promise
            previous.succeed(BOSHResponse.body(attributes: []))
        case .outside:
            promise.succeed(BOSHRefusal.itemNotFound("rid \(request.rid) is outside the window").response)
            finish(with: [("type", "terminate"), ("condition", "item-not-found")], children: nil)
            return
        case .early:
            if let (_, previous) = early.updateValue((request, promise), forKey: request.rid) {
                previous.succeed(BOSHResponse.body(attributes: []))
            }
        case .next:
            handle(request, promise: promise)
            while terminalResponse == nil, let (next, nextPromise) = early.removeValue(forKey: window.lastRID + 1) {
                handle(next, promise: nextPromise)
            }
        }
        if held.isEmpty, terminalResponse == nil { startInactivityTimer() }
    }

    private func handle(_ request: BOSHRequest, promise: EventLoopPromise<ByteBuffer>) {
        guard keys.accept(key: request.key, newKey: request.newKey) else {
            // Someone who knows the sid but not the keys: refused, and the session goes on (its rid is still free).
            return promise.succeed(BOSHRefusal.itemNotFound("the key does not match").response)
        }
        window.handled(request.rid)
        guard let bridge else { return promise.succeed(BOSHRefusal.itemNotFound("the session is over").response) }
        if request.isTerminate {
            for element in request.payloads { bridge.write(XMPPOutbound.element(element), promise: nil) }
            bridge.writeAndFlush(XMPPOutbound.close, promise: nil)
            held.append(Held(rid: request.rid, key: request.key, promise: promise, timer: nil))
            return finish(with: [("type", "terminate")], children: nil)
        }
        if request.isRestart {
            // XEP-0206 §5: a new stream header on the client's behalf; what the server sends next is a new stream.
            decoder?.resetStream()
            bridge.write(XMPPOutbound.header(StreamHeader(to: request.to ?? domain, version: "1.0", language: language)), promise: nil)
        }
        for element in request.payloads { bridge.write(XMPPOutbound.element(element), promise: nil) }
        // Every request is activity on the stream (its idle timer), even an empty poll.
        if request.payloads.isEmpty && !request.isRestart { bridge.write(XMPPOutbound.keepalive, promise: nil) }
        bridge.flush()
        let rid = request.rid
        let timer = eventLoop.scheduleTask(in: .seconds(Int64(wait))) { [self] in
            if let index = held.firstIndex(where: { $0.rid == rid }) { answer(at: index) }
        }
        held.append(Held(rid: rid, key: request.key, promise: promise, timer: timer))
        while held.count > hold { answerOldest() }
        readComplete()
    }

    // MARK: - Answering

    private func answerOldest(attributes: [(String, String)] = []) {
        guard !held.isEmpty else { return }
        answer(at: 0, attributes: attributes)
    }

    /// Answers a held request with the queued stanzas.
    private func answer(at index: Int, attributes: [(String, String)] = []) {
        let request = held.remove(at: index)
        request.timer?.cancel()
        let response = BOSHResponse.body(attributes: attributes, children: queued)
        queued.clear()
        window.answered(request.rid, with: response, key: request.key)
        request.promise.succeed(response)
        if isReadingPaused, queued.readableBytes <= maxQueuedBytes, let bridge {
            isReadingPaused = false
            bridge.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            bridge.read()
        }
        if held.isEmpty, terminalResponse == nil { startInactivityTimer() }
    }

    /// Ends the session: the held requests get `attributes` (the oldest with `children`), and so does every later
    /// request until the session is forgotten, after `inactivity` seconds.
    private func finish(with attributes: [(String, String)], children: ByteBuffer?) {
        guard terminalResponse == nil else { return }
        let response = BOSHResponse.body(attributes: attributes, children: children)
        terminalResponse = response
        for request in held {
            request.timer?.cancel()
            request.promise.succeed(response)
        }
        held.removeAll()
        for (_, promise) in early.values { promise.succeed(response) }
        early.removeAll()
        closeStream()
        inactivityTimer?.cancel()
        inactivityTimer = eventLoop.scheduleTask(in: .seconds(Int64(min(inactivity, 30)))) { [self] in end() }
    }

    /// Closes the stream: the c2s side ends its session as for any closed connection.
    private func closeStream() {
        guard let bridge else { return }
        self.bridge = nil
        bridge.writeAndFlush(XMPPOutbound.close).whenComplete { _ in bridge.close(promise: nil) }
    }

    private func startInactivityTimer() {
        inactivityTimer?.cancel()
        inactivityTimer = eventLoop.scheduleTask(in: .seconds(Int64(inactivity))) { [self] in
            // No request for `inactivity` seconds: the client is gone (XEP-0124 §10).
            finish(with: [("type", "terminate")], children: nil)
            end()
        }
    }

    /// Forgets the session.
    private func end() {
        guard !isEnded else { return }
        isEnded = true
        inactivityTimer?.cancel()
        closeStream()
        onEnd(sid)
    }

    /// The server stops: everything held gets `system-shutdown`.
    func shutDown() {
        finish(with: [("type", "terminate"), ("condition", "system-shutdown")], children: nil)
        end()
    }
}

/// The BOSH side of a session's stream: hands what the server writes to the ``BOSHSession``.
final class BOSHBridgeHandler: ChannelInboundHandler {
    typealias InboundIn = XMLStreamEvent

    let session: BOSHSession

    init(session: BOSHSession) {
        self.session = session
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session.received(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        session.readComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        session.streamEnded()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The server's output did not parse (an element over the bridge's limit): the session cannot go on.
        session.streamEnded()
        context.close(promise: nil)
    }
}
