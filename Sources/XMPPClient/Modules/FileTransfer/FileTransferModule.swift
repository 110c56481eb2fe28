import Foundation
import NIOCore
import XMPPCore

/// Sends files to other clients and receives theirs, directly rather than through an upload service: offers by
/// Jingle file transfer (XEP-0234) or stream initiation (XEP-0096), bytes through the server's SOCKS5 proxy
/// (XEP-0065/0260) or, when that cannot work, in-band (XEP-0047/0261); every file checked against the SHA-256 the
/// sender announced (XEP-0300).
///
/// ```swift
/// let files = client.add(FileTransferModule())
/// try await client.connect()
/// // Sending, to a full JID (a client, not an account):
/// let sending = files.send(file: URL(fileURLWithPath: "report.pdf"), to: romeoPhone)
/// try await sending.value                       // the receiver has all of it, hash checked
/// // Receiving:
/// for await offer in files.offers {
///     let receiving = files.accept(offer, saveTo: downloads.appendingPathComponent(offer.file.safeName))
///     Task { for await step in receiving.progress { print(step.completed, "of", step.total ?? 0) } }
///     _ = try await receiving.value
/// }
/// ```
public final class FileTransferModule: XMPPClientModule {
    /// What the module does and allows.
    public struct Options: Sendable {
        /// How the bytes may travel, in order of preference (in-band is slow: a few hundred KB/s at most).
        public var methods: [BytestreamMethod] = [.direct, .socks5, .inBand]
        /// How long a peer has to accept an offer.
        public var acceptTimeout: Duration = .seconds(300)
        /// Offers waiting for an answer at once (each declined after `acceptTimeout`); more are refused with
        /// `resource-constraint`, and so are more than a quarter of them from one sender.
        public var maxPendingOffers = 32

        /// The defaults.
        public init() {}
    }

    let options: Options
    let client = ClientReference()
    let inBand = InBandReceivers()
    let socks5 = SOCKS5Receivers()
    private let offerBroadcast = Broadcast<IncomingFileOffer>(keepingWhileUnsubscribed: 16)
    /// Offers received and not yet answered, by sender and id.
    let pending = Locked<[OfferKey: PendingOffer]>([:])
    /// Jingle sessions under way, each followed by its transfer's task.
    let jingleSessions = Locked<[OfferKey: AsyncStream<Element>.Continuation]>([:])
    /// The proxies of the account's server, found once per session.
    private let proxies = Locked<[SOCKS5Bytestream.Streamhost]?>(nil)

    struct OfferKey: Hashable {
        let peer: JID
        let id: String
    }

    /// What an unanswered offer needs for its answer.
    enum PendingOffer: Sendable {
        /// The `<si/>` IQ.
        case streamInitiation(IQ, IncomingFileOffer)
        /// A Jingle session (``JingleFileTransfer``).
        case jingle(JingleOffer, IncomingFileOffer)
    }

    /// Creates the module.
    public init(options: Options = Options()) {
        self.options = options
    }

    public func attached(to client: XMPPClient) {
        self.client.set(client)
    }

    public var discoFeatures: [String] {
        var features = [StreamInitiation.namespace, StreamInitiation.fileTransferProfile, StreamInitiation.hashesNamespace,
                        "urn:xmpp:hash-function-text-names:sha-256"]
        features += [JingleFileTransfer.jingle, JingleFileTransfer.fileTransfer]
        if usesSOCKS5 { features += [SOCKS5Bytestream.namespace, JingleFileTransfer.socks5Transport] }
        if options.methods.contains(.inBand) { features += [InBandBytestream.namespace, JingleFileTransfer.inBandTransport] }
        return features
    }

    public func sessionEnded(client: XMPPClient, error: XMPPClientError?) {
        proxies.withLock { $0 = nil }
        // Unanswered offers die with the session (their senders see it end).
        pending.withLock { $0 = [:] }
    }

    /// Files offered to this client, as they come; accept or decline each (an offer nobody answers is declined
    /// after a while by its sender).
    public var offers: AsyncStream<IncomingFileOffer> { offerBroadcast.subscribe() }

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        if inBand.handle(stanza, client: client) || socks5.handle(stanza, client: client) { return true }
        if stanza.name == "iq", stanza.attribute("type") == "set", let iq = IQ(element: stanza) {
            if let si = stanza.child("si", namespace: StreamInitiation.namespace) {
                receivedStreamInitiation(iq, si, client: client)
                return true
            }
            if let jingle = stanza.child("jingle", namespace: JingleFileTransfer.jingle) {
                return JingleFileTransfer.received(iq, jingle, module: self, client: client)
            }
        }
        return false
    }

    // MARK: - Offers

    /// Publishes an offer, unless too many wait already (then `false`: the caller refuses it).
    func publish(_ offer: IncomingFileOffer, as pendingOffer: PendingOffer) -> Bool {
        let perSender = max(1, options.maxPendingOffers / 4)
        let key = OfferKey(peer: offer.from, id: offer.id)
        let admitted = pending.withLock { pending -> Bool in
            guard pending.count < options.maxPendingOffers, pending[key] == nil,
                  pending.keys.count(where: { $0.peer.bare == offer.from.bare }) < perSender else { return false }
            pending[key] = pendingOffer
            return true
        }
        guard admitted else { return false }
        offerBroadcast.publish(offer)
        // An offer nobody answers is declined in time, so it cannot hold a place for ever.
        let timeout = options.acceptTimeout
        Task { [weak self] in
            try await Task.sleep(for: timeout)
            await self?.decline(offer)
        }
        return true
    }

    private func receivedStreamInitiation(_ iq: IQ, _ si: Element, client: XMPPClient) {
        guard let from = iq.from, let (id, file) = StreamInitiation.file(in: si) else {
            var error = StanzaError(.badRequest)
            error.applicationCondition = Element("bad-profile", namespace: StreamInitiation.namespace)
            return client.enqueue(iq.errorReply(error))
        }
        let methods = StreamInitiation.methods(in: si).compactMap(StreamInitiation.method(named:))
            .filter { $0 == .socks5 ? usesSOCKS5 : options.methods.contains($0) }
        guard !methods.isEmpty else {
            var error = StanzaError(.badRequest)
            error.applicationCondition = Element("no-valid-streams", namespace: StreamInitiation.namespace)
            return client.enqueue(iq.errorReply(error))
        }
        let offer = IncomingFileOffer(from: from, file: file, transferProtocol: .streamInitiation, id: id, methods: methods)
        if !publish(offer, as: .streamInitiation(iq, offer)) {
            client.enqueue(iq.errorReply(StanzaError(.resourceConstraint, type: .wait, text: "too many offers wait for an answer")))
        }
    }

    /// Declines `offer`; the sender's transfer fails with ``FileTransferError/declined(_:)``.
    public func decline(_ offer: IncomingFileOffer) async {
        guard let client = client.value, let pendingOffer = pending.withLock({ $0.removeValue(forKey: OfferKey(peer: offer.from, id: offer.id)) }) else { return }
        await refuse(pendingOffer, client: client)
    }

    /// Tells the sender of an offer taken from `pending` that it will not be received.
    private func refuse(_ pendingOffer: PendingOffer, client: XMPPClient) async {
        switch pendingOffer {
        case .streamInitiation(let iq, _):
            client.enqueue(iq.errorReply(StanzaError(.forbidden, text: "Offer Declined")))
        case .jingle(let session, _):
            await JingleFileTransfer.terminate(session, reason: "decline", client: client)
        }
    }

    /// Accepts `offer` and receives the file into `destination` (replaced if it exists). The transfer's value is
    /// `destination` once the whole file is there and its hash checked; nothing is left there when it fails.
    public func accept(_ offer: IncomingFileOffer, saveTo destination: URL) -> FileTransfer<URL> {
        FileTransfer { progress in
            let client = try self.client.require()
            guard let pendingOffer = self.pending.withLock({ $0.removeValue(forKey: OfferKey(peer: offer.from, id: offer.id)) }) else {
                throw FileTransferError.transferFailed("the offer is no longer open")
            }
            // The offer as it came, not as the caller may have changed it.
            let offer = switch pendingOffer {
            case .streamInitiation(_, let stored), .jingle(_, let stored): stored
            }
            let sink: FileSink
            do {
                sink = try FileSink(destination: destination.path, expected: offer.file)
            } catch {
                await self.refuse(pendingOffer, client: client)
                throw error
            }
            let total = offer.file.size
            progress(TransferProgress(completed: 0, total: total))
            do {
                // A sender that never opens the bytestream, or stops sending, fails the transfer after the
                // configuration's request timeout without a byte.
                try await withIdleTimeout(client.configuration.requestTimeout) { touch in
                    let received: @Sendable (Int64) -> Void = {
                        touch()
                        progress(TransferProgress(completed: $0, total: total))
                    }
                    switch pendingOffer {
                    case .streamInitiation(let iq, _):
                        try await self.receiveStreamInitiation(iq, offer: offer, into: sink, client: client, received: received)
                        try sink.finish()
                    case .jingle(let session, _):
                        try await JingleFileTransfer.receive(session, offer: offer, into: sink, module: self, client: client, received: received)
                    }
                }
            } catch {
                sink.discard()
                throw error
            }
            return destination
        }
    }

    private func receiveStreamInitiation(_ iq: IQ, offer: IncomingFileOffer, into sink: FileSink, client: XMPPClient,
                                         received: @escaping @Sendable (Int64) -> Void) async throws {
        let method = offer.methods[0]
        // Expected before the answer goes out: the sender opens the bytestream as soon as it has it.
        switch method {
        case .socks5, .direct:
            let handoff = socks5.expect(sid: offer.id, from: offer.from, direct: options.methods.contains(.direct),
                                        proxies: options.methods.contains(.socks5))
            defer { socks5.forget(sid: offer.id, from: offer.from) }
            try await client.send(iq.result(payload: StreamInitiation.answer(choosing: method)))
            let channel = try await handoff.take(timeout: options.acceptTimeout)
            try await SOCKS5Bytestream.receive(from: channel, into: sink, received: received)
        case .inBand:
            let blocks = inBand.expect(sid: offer.id, from: offer.from, limit: offer.file.size)
            do {
                try await client.send(iq.result(payload: StreamInitiation.answer(choosing: method)))
                for try await block in blocks {
                    try await sink.write(block)
                    received(sink.received)
                }
                // A cancelled transfer ends the loop early: it must not look complete.
                try Task.checkCancellation()
            } catch {
                inBand.forget(sid: offer.id, from: offer.from)
                throw error
            }
        }
    }

    // MARK: - Sending

    /// Offers `file` to `peer` (a full JID) and sends it once accepted. The transfer's value, the way the bytes went,
    /// comes when every byte was handed over (with Jingle: when the receiver confirmed the file and its hash).
    /// - Parameters:
    ///   - name: The name the receiver sees; the file's own by default.
    ///   - text: A description to go with it.
    ///   - transferProtocol: Jingle or stream initiation; by default Jingle when the peer announces it (XEP-0030),
    ///     else stream initiation.
    /// - Throws (from ``FileTransfer/value``): ``FileTransferError``, ``XMPPClientError``, `CancellationError`.
    public func send(file: URL, to peer: JID, name: String? = nil, text: String? = nil,
                     using transferProtocol: FileTransferProtocol? = nil) -> FileTransfer<BytestreamMethod> {
        FileTransfer { progress in
            let client = try self.client.require()
            let source = try FileSource(path: file.path)
            let name = name ?? file.lastPathComponent
            let description = FileDescription(name: name, size: source.size, mediaType: HTTPUploadModule.mimeType(forFilename: name),
                                              text: text, sha256: try await source.sha256())
            let chosen: FileTransferProtocol
            if let transferProtocol {
                chosen = transferProtocol
            } else {
                chosen = await self.peerSupportsJingle(peer, client: client) ? .jingle : .streamInitiation
            }
            progress(TransferProgress(completed: 0, total: source.size))
            // Waiting for the peer to accept has its own limit (acceptTimeout); once bytes flow, a proxy or peer that
            // stops taking them fails the transfer as well.
            let idle = max(self.options.acceptTimeout, client.configuration.requestTimeout)
            return try await withIdleTimeout(idle) { touch in
                let sent: @Sendable (Int64) -> Void = {
                    touch()
                    progress(TransferProgress(completed: $0, total: source.size))
                }
                switch chosen {
                case .streamInitiation:
                    return try await self.sendByStreamInitiation(source, description: description, to: peer, client: client, sent: sent)
                case .jingle:
                    return try await JingleFileTransfer.send(source, description: description, to: peer, module: self, client: client, sent: sent)
                }
            }
        }
    }

    /// Whether `peer` announces Jingle file transfer.
    private func peerSupportsJingle(_ peer: JID, client: XMPPClient) async -> Bool {
        guard let answer = try? await client.query(Element("query", namespace: DiscoModule.infoNamespace), to: peer) else { return false }
        let features = DiscoInfo(query: answer).features
        return features.contains(JingleFileTransfer.fileTransfer) && features.contains(JingleFileTransfer.jingle)
    }

    /// Whether SOCKS5 bytestreams may be used at all (directly or through a proxy).
    var usesSOCKS5: Bool { options.methods.contains(.socks5) || options.methods.contains(.direct) }

    /// The methods this client may use now: through a proxy only when the server has one (found once per session),
    /// directly only when the connection's local address is known.
    func usableMethods(client: XMPPClient) async -> (methods: [BytestreamMethod], proxies: [SOCKS5Bytestream.Streamhost]) {
        var found = proxies.withLock { $0 }
        if found == nil, options.methods.contains(.socks5) {
            found = (try? await SOCKS5Bytestream.proxies(of: client)) ?? []
            proxies.withLock { $0 = found }
        }
        let hosts = found ?? []
        let local = client.localIPAddress
        return (options.methods.filter { $0 == .socks5 ? !hosts.isEmpty : $0 == .direct ? local != nil : true }, hosts)
    }

    private func sendByStreamInitiation(_ source: FileSource, description: FileDescription, to peer: JID, client: XMPPClient,
                                        sent: @escaping @Sendable (Int64) -> Void) async throws -> BytestreamMethod {
        let (methods, proxies) = await usableMethods(client: client)
        guard !methods.isEmpty else { throw FileTransferError.noCommonMethod }
        let sid = StanzaID.make()
        let answer: Element?
        do {
            answer = try await client.query(StreamInitiation.offer(id: sid, file: description, methods: methods), type: .set, to: peer,
                                            timeout: options.acceptTimeout)
        } catch XMPPClientError.stanzaError(let error) {
            throw error.condition == .badRequest ? FileTransferError.noCommonMethod : FileTransferError.declined(error.text)
        }
        guard let chosen = answer.flatMap({ StreamInitiation.methods(in: $0).first }).flatMap(StreamInitiation.method(named:)),
              StreamInitiation.offered(methods).contains(chosen) else { throw FileTransferError.noCommonMethod }
        if chosen == .inBand {
            try await sendBytes(source, sid: sid, method: .inBand, to: peer, client: client, sent: sent)
            return .inBand
        }
        let own = methods.contains(.direct) ? try? await openStreamhost(sid: sid, to: peer, client: client) : nil
        defer { own?.close() }
        let (channel, used) = try await SOCKS5Bytestream.connect(client: client, to: peer, sid: sid, own: own,
                                                                 proxies: methods.contains(.socks5) ? proxies : [],
                                                                 timeout: client.configuration.connectTimeout)
        try await SOCKS5Bytestream.send(source, through: channel, sent: sent)
        return used
    }

    /// A streamhost of our own for the session `sid` to `peer` (XEP-0065 direct), on the connection's local address.
    func openStreamhost(sid: String, to peer: JID, client: XMPPClient) async throws -> DirectStreamhost {
        guard let me = client.jid, let address = client.localIPAddress else { throw FileTransferError.noCommonMethod }
        return try await DirectStreamhost.open(on: address, destination: SOCKS5Connection.destination(sid: sid, requester: me, target: peer),
                                               group: client.group)
    }

    /// Opens the in-band bytestream `sid` to `peer` and sends the file through it.
    func sendBytes(_ source: FileSource, sid: String, method: BytestreamMethod,
                   to peer: JID, client: XMPPClient, sent: @escaping @Sendable (Int64) -> Void) async throws {
        switch method {
        case .socks5, .direct:
            preconditionFailure("SOCKS5 bytestreams are opened by their protocol's negotiation")
        case .inBand:
            let sender = try await InBandSender.open(client: client, to: peer, sid: sid)
            var total: Int64 = 0
            do {
                try await source.read { chunk in
                    try await sender.send(chunk)
                    total += Int64(chunk.readableBytes)
                    sent(total)
                }
                try await sender.finish()
            } catch {
                sender.abort()
                throw error
            }
        }
    }
}
