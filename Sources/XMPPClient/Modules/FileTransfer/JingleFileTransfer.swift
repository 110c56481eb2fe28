import Foundation
import NIOCore
import XMPPCore

/// Jingle file transfer (XEP-0166, XEP-0234) over SOCKS5 (XEP-0260, the sender's own streamhost or the server's proxy as its candidates) or
/// in-band bytestreams (XEP-0261), falling back from the first to the second by `transport-replace` when the
/// receiver cannot reach the proxy. The receiver ends the session: `success` once the file and its hash check out.
enum JingleFileTransfer {
    static let jingle = "urn:xmpp:jingle:1"
    static let fileTransfer = "urn:xmpp:jingle:apps:file-transfer:5"
    static let socks5Transport = "urn:xmpp:jingle:transports:s5b:1"
    static let inBandTransport = "urn:xmpp:jingle:transports:ibb:1"
    static let errors = "urn:xmpp:jingle:errors:1"

    // MARK: Incoming IQs

    /// A Jingle IQ: a new offer, or an action of a session under way (handed to its task); false for other apps.
    static func received(_ iq: IQ, _ jingle: Element, module: FileTransferModule, client: XMPPClient) -> Bool {
        guard let from = iq.from, let sid = jingle.attribute("sid"), let action = jingle.attribute("action") else {
            client.enqueue(iq.errorReply(StanzaError(.badRequest)))
            return true
        }
        if action == "session-initiate" {
            guard let content = jingle.child("content", namespace: jingle.namespace ?? Self.jingle),
                  content.child("description", namespace: fileTransfer) != nil else { return false }
            guard let file = parseFile(content), let transportElement = content.elements.first(where: { $0.name == "transport" }), let transport = parseTransport(transportElement),
                  let name = content.attribute("name") else {
                client.enqueue(iq.errorReply(StanzaError(.badRequest, text: "an offer without a file or a known transport")))
                return true
            }
            let methods: [BytestreamMethod] = if case .socks5(_, let candidates) = transport {
                (candidates.contains { $0.type == "direct" } ? [.direct] : []) + [.socks5, .inBand]
            } else { [.inBand] }
            guard methods.contains(where: module.options.methods.contains) else {
                client.enqueue(iq.result().element)
                let session = JingleOffer(initiator: from, sid: sid, content: name, creator: content.attribute("creator") ?? "initiator", transport: transport)
                Task { await terminate(session, reason: "unsupported-transports", client: client) }
                return true
            }
            client.enqueue(iq.result().element)
            let session = JingleOffer(initiator: from, sid: sid, content: name, creator: content.attribute("creator") ?? "initiator", transport: transport)
            let offer = IncomingFileOffer(from: from, file: file, transferProtocol: .jingle, id: sid, methods: methods.filter(module.options.methods.contains))
            if !module.publish(offer, as: .jingle(session, offer)) {
                Task { await terminate(session, reason: "busy", client: client) }
            }
            return true
        }
        let key = FileTransferModule.OfferKey(peer: from, id: sid)
        if let session = module.jingleSessions.withLock({ $0[key] }) {
            client.enqueue(iq.result().element)
            session.yield(jingle)
            return true
        }
        if action == "session-terminate", module.pending.withLock({ $0.removeValue(forKey: key) }) != nil {
            client.enqueue(iq.result().element)   // the offer was withdrawn before we answered
            return true
        }
        var error = StanzaError(.itemNotFound)
        error.applicationCondition = Element("unknown-session", namespace: errors)
        client.enqueue(iq.errorReply(error))
        return true
    }

    /// Ends `session` with `reason` (success, decline, busy, media-error, ...).
    static func terminate(_ session: JingleOffer, reason: String, client: XMPPClient) async {
        await terminate(sid: session.sid, peer: session.initiator, reason: reason, client: client)
    }

    static func terminate(sid: String, peer: JID, reason: String, client: XMPPClient) async {
        var jingle = jingleElement("session-terminate", sid: sid, initiator: nil)
        var why = Element("reason", namespace: Self.jingle)
        why.append(Element(reason, namespace: Self.jingle))
        jingle.append(why)
        _ = try? await client.query(jingle, type: .set, to: peer)
    }

    // MARK: Receiving

    /// Accepts `session` and receives the file into `sink`: by SOCKS5 through the sender's proxy candidate (else,
    /// after a transport-replace, in-band), or in-band; ends the session with success (or media-error).
    static func receive(_ session: JingleOffer, offer: IncomingFileOffer, into sink: FileSink, module: FileTransferModule,
                        client: XMPPClient, received: @escaping @Sendable (Int64) -> Void) async throws {
        guard let me = client.jid else { throw XMPPClientError.notConnected }
        let events = module.follow(session: session.sid, with: session.initiator)
        defer { module.stopFollowing(session: session.sid, with: session.initiator) }
                let timeout = client.configuration.connectTimeout
        do {
            switch session.transport {
            case .inBand(let sid, let blockSize):
                let blocks = module.inBand.expect(sid: sid, from: session.initiator, limit: offer.file.size)
                try await accept(session, transport: .inBand(sid: sid, blockSize: min(blockSize, InBandBytestream.maxBlockSize)), client: client)
                try await receiveInBand(blocks, into: sink, received: received)
            case .socks5(let sid, let candidates):
                // (Without SOCKS5 allowed here no candidate is tried: the candidate-error makes the sender replace the
                // transport with in-band.)
                try await accept(session, transport: .socks5(sid: sid, candidates: []), client: client)
                let destination = SOCKS5Connection.destination(sid: sid, requester: session.initiator, target: me)
                var connected: (JingleCandidate, NIOAsyncChannel<ByteBuffer, ByteBuffer>)?
                // The best first (direct before proxy), those our options allow.
                let usable = candidates.filter { module.options.methods.contains($0.type == "direct" ? .direct : .socks5) }
                    .sorted { $0.priority > $1.priority }
                for candidate in usable.prefix(4) {
                    // A few seconds each: an address of the sender's that does not answer is common (another network).
                    if let channel = try? await SOCKS5Connection.connect(host: candidate.streamhost.host, port: candidate.streamhost.port,
                                                                          destination: destination, group: client.group,
                                                                          timeout: min(timeout, .seconds(5))) {
                        connected = (candidate, channel)
                        break
                    }
                    received(sink.received)   // (still negotiating: not idle)
                }
                let report = connected.map { Element("candidate-used", namespace: socks5Transport, attributes: ["cid": $0.0.cid]) }
                    ?? Element("candidate-error", namespace: socks5Transport)
                do {
                    try await client.query(transportInfo(sid: session.sid, content: session.content, transportSID: sid, report), type: .set,
                                           to: session.initiator)
                    if let (candidate, _) = connected, candidate.type == "proxy" {
                        // The sender activates the proxy, then says so.
                        try await waitFor(events, timeout: timeout) { jingle in
                            jingle.attribute("action") == "transport-info"
                                && transportChild(jingle, "activated")?.attribute("cid") == candidate.cid
                        }
                    }
                } catch {
                    if let (_, channel) = connected { ChannelHandoff.discard(channel) }
                    throw error
                }
                if let (_, channel) = connected {
                    try await SOCKS5Bytestream.receive(from: channel, into: sink, received: received)
                } else {
                    // The sender replaces the transport with in-band.
                    let replace = try await waitFor(events, timeout: timeout) { $0.attribute("action") == "transport-replace" }
                    guard let element = replace.child("content", namespace: jingle)?.elements.first(where: { $0.name == "transport" }), case .inBand(let ibbSID, let blockSize)? = parseTransport(element) else {
                        throw FileTransferError.noCommonMethod
                    }
                    let blocks = module.inBand.expect(sid: ibbSID, from: session.initiator, limit: offer.file.size)
                    var acceptReplacement = jingleElement("transport-accept", sid: session.sid, initiator: nil)
                    acceptReplacement.append(content(name: session.content, description: nil,
                                                     transport: transportElement(.inBand(sid: ibbSID, blockSize: blockSize))))
                    try await client.query(acceptReplacement, type: .set, to: session.initiator)
                    try await receiveInBand(blocks, into: sink, received: received)
                }
            }
            // A cancelled transfer ends the loops early: it must not look complete.
            try Task.checkCancellation()
            try sink.finish()
        } catch let end as Terminated {
            throw end.error
        } catch {
            let reason = (error as? FileTransferError) == .hashMismatch ? "media-error" : error is CancellationError ? "cancel" : "failed-transport"
            await terminate(session, reason: reason, client: client)
            throw error
        }
        await terminate(session, reason: "success", client: client)
    }

    private static func accept(_ session: JingleOffer, transport: JingleTransport, client: XMPPClient) async throws {
        guard let me = client.jid else { throw XMPPClientError.notConnected }
        var accept = jingleElement("session-accept", sid: session.sid, initiator: nil)
        accept.setAttribute("responder", to: me.description)
        accept.append(content(name: session.content, creator: session.creator, description: nil, transport: transportElement(transport)))
        do {
            try await client.query(accept, type: .set, to: session.initiator)
        } catch XMPPClientError.stanzaError {
            throw FileTransferError.cancelledByPeer
        }
    }

    private static func receiveInBand(_ blocks: AsyncThrowingStream<ByteBuffer, any Error>, into sink: FileSink,
                                      received: @escaping @Sendable (Int64) -> Void) async throws {
        for try await block in blocks {
            try await sink.write(block)
            received(sink.received)
        }
    }


    /// The peer ended the session, with this reason.
    struct Terminated: Error {
        let reason: String?

        /// The transfer's error for it.
        var error: FileTransferError {
            switch reason {
            case "decline": .declined(nil)
            case "media-error": .hashMismatch
            case "success": .transferFailed("the peer ended the session before the transfer")
            default: .cancelledByPeer
            }
        }
    }

    /// The next session action `accepting` takes.
    /// - Throws: ``Terminated`` for a session-terminate on the way; ``FileTransferError/transferFailed(_:)`` after `timeout`.
    @discardableResult
    static func waitFor(_ events: JingleEvents, timeout: Duration, _ accepting: (Element) -> Bool) async throws -> Element {
        let timer = StanzaID.make()
        let alarm = Task { [continuation = events.continuation] in
            try await Task.sleep(for: timeout)
            continuation.yield(Element("timeout", namespace: JingleEvents.timerNamespace, attributes: ["id": timer]))
        }
        defer { alarm.cancel() }
        while let next = await events.next() {
            if next.namespace == JingleEvents.timerNamespace {
                if next.attribute("id") == timer { throw FileTransferError.transferFailed("no answer in time") }
                continue
            }
            if next.attribute("action") == "session-terminate" {
                throw Terminated(reason: next.child("reason", namespace: jingle)?.elements.first(where: { _ in true })?.name)
            }
            if accepting(next) { return next }
        }
        throw FileTransferError.cancelledByPeer
    }

    // MARK: Sending

    /// Offers `description` to `peer` over Jingle and sends the file once accepted; returns, with the way the bytes
    /// went, when the receiver ended the session with success.
    static func send(_ source: FileSource, description: FileDescription, to peer: JID, module: FileTransferModule,
                     client: XMPPClient, sent: @escaping @Sendable (Int64) -> Void) async throws -> BytestreamMethod {
        guard let me = client.jid else { throw XMPPClientError.notConnected }
        let (methods, proxies) = await module.usableMethods(client: client)
        guard let first = methods.first else { throw FileTransferError.noCommonMethod }
        let sid = StanzaID.make()
        let transportSID = StanzaID.make()
        let own = methods.contains(.direct) ? try? await module.openStreamhost(sid: transportSID, to: peer, client: client) : nil
        defer { own?.close() }
        let ownCandidate = own.map { JingleCandidate(cid: StanzaID.make(), streamhost: .init(jid: me, host: $0.host, port: $0.port), type: "direct") }
        let proxyCandidates = methods.contains(.socks5) ? proxies.map { JingleCandidate(cid: StanzaID.make(), streamhost: $0, type: "proxy") } : []
        let candidates = (ownCandidate.map { [$0] } ?? []) + proxyCandidates
        let transport: JingleTransport = first != .inBand && !candidates.isEmpty
            ? .socks5(sid: transportSID, candidates: candidates)
            : .inBand(sid: transportSID, blockSize: InBandBytestream.blockSize)
        let usesSOCKS5 = if case .socks5 = transport { true } else { false }
        let destination = SOCKS5Connection.destination(sid: transportSID, requester: me, target: peer)
        let events = module.follow(session: sid, with: peer)
        defer { module.stopFollowing(session: sid, with: peer) }
                var initiate = jingleElement("session-initiate", sid: sid, initiator: me)
        initiate.append(content(name: "file", description: description,
                                transport: transportElement(transport, dstaddr: usesSOCKS5 ? destination : nil)))
        do {
            try await client.query(initiate, type: .set, to: peer)
        } catch XMPPClientError.stanzaError(let error) {
            throw FileTransferError.declined(error.text ?? error.condition.rawValue)
        }
        do {
            try await waitFor(events, timeout: module.options.acceptTimeout) { $0.attribute("action") == "session-accept" }
            let timeout = client.configuration.connectTimeout
            var method = BytestreamMethod.inBand
            switch transport {
            case .inBand(let ibbSID, _):
                try await module.sendBytes(source, sid: ibbSID, method: .inBand, to: peer, client: client, sent: sent)
            case .socks5(_, let candidates):
                // We offer no way to reach the receiver's candidates: only ours (the proxy) can be used.
                try await client.query(transportInfo(sid: sid, content: "file", transportSID: transportSID,
                                                     Element("candidate-error", namespace: socks5Transport)), type: .set, to: peer)
                let report = try await waitFor(events, timeout: timeout) { jingle in
                    jingle.attribute("action") == "transport-info"
                        && (transportChild(jingle, "candidate-used") != nil || transportChild(jingle, "candidate-error") != nil)
                }
                if let cid = transportChild(report, "candidate-used")?.attribute("cid"), let own, cid == ownCandidate?.cid {
                    // The receiver reached us: no proxy, no activation.
                    try await SOCKS5Bytestream.send(source, through: try await own.connection(timeout: timeout), sent: sent)
                    method = .direct
                } else if let cid = transportChild(report, "candidate-used")?.attribute("cid"), let used = candidates.first(where: { $0.cid == cid }) {
                    let channel = try await SOCKS5Connection.connect(host: used.streamhost.host, port: used.streamhost.port,
                                                                     destination: destination, group: client.group, timeout: timeout)
                    do {
                        try await SOCKS5Bytestream.activate(client: client, proxy: used.streamhost.jid, sid: transportSID, target: peer)
                        try await client.query(transportInfo(sid: sid, content: "file", transportSID: transportSID,
                                                             Element("activated", namespace: socks5Transport, attributes: ["cid": cid])),
                                               type: .set, to: peer)
                    } catch {
                        ChannelHandoff.discard(channel)
                        throw error
                    }
                    try await SOCKS5Bytestream.send(source, through: channel, sent: sent)
                    method = .socks5
                } else {
                    guard module.options.methods.contains(.inBand) else { throw FileTransferError.noCommonMethod }
                    let ibbSID = StanzaID.make()
                    var replace = jingleElement("transport-replace", sid: sid, initiator: nil)
                    replace.append(content(name: "file", description: nil,
                                           transport: transportElement(.inBand(sid: ibbSID, blockSize: InBandBytestream.blockSize))))
                    try await client.query(replace, type: .set, to: peer)
                    try await waitFor(events, timeout: timeout) { $0.attribute("action") == "transport-accept" }
                    try await module.sendBytes(source, sid: ibbSID, method: .inBand, to: peer, client: client, sent: sent)
                }
            }
            // The receiver checks size and hash, then ends the session; one that stays silent has the bytes all the same
            // (XEP-0234 lets either side end it), so after a while we end it.
            do {
                try await waitFor(events, timeout: .seconds(60)) { _ in false }
            } catch let end as Terminated where end.reason == "success" {
                return method
            } catch FileTransferError.transferFailed {
                await terminate(sid: sid, peer: peer, reason: "success", client: client)
                return method
            }
            throw FileTransferError.transferFailed("the receiver did not confirm the file")
        } catch let end as Terminated {
            throw end.error
        } catch {
            await terminate(sid: sid, peer: peer, reason: error is CancellationError ? "cancel" : "failed-transport", client: client)
            throw error
        }
    }
}

/// A Jingle session's actions as they arrive, read by its transfer's task (and, as `timeout` markers, its timers).
final class JingleEvents: @unchecked Sendable {
    // Read by one task only (the transfer's); the continuation is itself safe to use from anywhere.
    static let timerNamespace = "urn:xmpp:swiftxmpp:timer"
    let continuation: AsyncStream<Element>.Continuation
    private var iterator: AsyncStream<Element>.AsyncIterator

    init() {
        let (stream, continuation) = AsyncStream<Element>.makeStream(bufferingPolicy: .bufferingNewest(32))
        self.continuation = continuation
        iterator = stream.makeAsyncIterator()
    }

    func next() async -> Element? {
        await iterator.next()
    }
}

extension FileTransferModule {
    /// The Jingle actions for session `sid` with `peer`, as they arrive.
    func follow(session sid: String, with peer: JID) -> JingleEvents {
        let events = JingleEvents()
        jingleSessions.withLock { $0[OfferKey(peer: peer, id: sid)] = events.continuation }
        return events
    }

    func stopFollowing(session sid: String, with peer: JID) {
        jingleSessions.withLock { $0.removeValue(forKey: OfferKey(peer: peer, id: sid)) }?.finish()
    }
}
