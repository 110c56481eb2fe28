import Foundation
import NIOCore
import XMPPCore

/// In-band bytestreams (XEP-0047): the bytes in base64 inside IQs, one block at a time, each acknowledged before the
/// next is sent (so a slow peer slows the sender, and the server's rate limits apply).
enum InBandBytestream {
    /// The namespace.
    static let namespace = "http://jabber.org/protocol/ibb"
    /// The block size we ask for: 4 KiB of data, about 5.5 KiB of base64, well inside any server's stanza limit.
    static let blockSize = 4096
    /// The largest block size we take from a peer.
    static let maxBlockSize = 65_535
}

/// The sending side of one in-band bytestream.
final class InBandSender: Sendable {
    private let client: XMPPClient
    private let peer: JID
    private let sid: String
    private let blockSize: Int
    private let sequence = Locked<UInt16>(0)

    private init(client: XMPPClient, peer: JID, sid: String, blockSize: Int) {
        self.client = client
        self.peer = peer
        self.sid = sid
        self.blockSize = blockSize
    }

    /// Opens the bytestream `sid` to `peer` (XEP-0047 §2.1).
    /// - Throws: ``FileTransferError/declined(_:)`` when the peer refuses it.
    static func open(client: XMPPClient, to peer: JID, sid: String, blockSize: Int = InBandBytestream.blockSize) async throws -> InBandSender {
        let open = Element("open", namespace: InBandBytestream.namespace,
                           attributes: ["block-size": String(blockSize), "sid": sid, "stanza": "iq"])
        do {
            try await client.query(open, type: .set, to: peer)
        } catch XMPPClientError.stanzaError(let error) {
            throw FileTransferError.declined(error.text ?? error.condition.rawValue)
        }
        return InBandSender(client: client, peer: peer, sid: sid, blockSize: blockSize)
    }

    /// Sends `chunk` as blocks of at most the block size, each waiting for the peer's acknowledgement.
    func send(_ chunk: ByteBuffer) async throws {
        var chunk = chunk
        while chunk.readableBytes > 0 {
            let block = chunk.readSlice(length: min(blockSize, chunk.readableBytes))!
            let seq = sequence.withLock { value in
                defer { value &+= 1 }
                return value
            }
            let data = Element("data", namespace: InBandBytestream.namespace, attributes: ["seq": String(seq), "sid": sid],
                               text: Data(block.readableBytesView).base64EncodedString())
            do {
                try await client.query(data, type: .set, to: peer)
            } catch XMPPClientError.stanzaError(let error) {
                throw FileTransferError.transferFailed("the peer refused a block: \(error.condition.rawValue)")
            }
        }
    }

    /// Closes the bytestream after the last block (XEP-0047 §2.3).
    func finish() async throws {
        try await client.query(Element("close", namespace: InBandBytestream.namespace, attributes: ["sid": sid]), type: .set, to: peer)
    }

    /// Closes it without waiting (a cancelled transfer).
    func abort() {
        client.enqueue(IQ(type: .set, to: peer, payload: Element("close", namespace: InBandBytestream.namespace, attributes: ["sid": sid])).element)
    }
}

/// The receiving side: in-band bytestreams this client expects (an accepted offer announced them), by sender and
/// sid, each handing its blocks to a stream. Others are refused with `not-acceptable`.
final class InBandReceivers: Sendable {
    private struct Receiver {
        let continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation
        /// The file's size: a sender that sends more is cut off (what is received waits in memory for the disk).
        let limit: Int64
        var received: Int64 = 0
        var isOpen = false
        var nextSequence: UInt16 = 0
        var blockSize = 0
    }

    private struct Key: Hashable {
        let peer: JID
        let sid: String
    }

    private let receivers = Locked<[Key: Receiver]>([:])

    /// Expects the bytestream `sid` from `peer`; its blocks come out of the returned stream, which finishes when the
    /// peer closes the bytestream (or fails when it sends blocks out of order).
    func expect(sid: String, from peer: JID, limit: Int64) -> AsyncThrowingStream<ByteBuffer, any Error> {
        let (stream, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        receivers.withLock { $0[Key(peer: peer, sid: sid)] = Receiver(continuation: continuation, limit: limit) }
        continuation.onTermination = { [weak self] _ in
            self?.receivers.withLock { $0[Key(peer: peer, sid: sid)] = nil }
        }
        return stream
    }

    /// Stops expecting `sid` from `peer` (the transfer ended another way).
    func forget(sid: String, from peer: JID) {
        let receiver = receivers.withLock { $0.removeValue(forKey: Key(peer: peer, sid: sid)) }
        receiver?.continuation.finish(throwing: FileTransferError.cancelledByPeer)
    }

    /// Handles an in-band bytestream IQ (or a data message); false when `stanza` is not one.
    func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        guard let payload = stanza.child(namespace: InBandBytestream.namespace),
              let from = stanza.attribute("from").flatMap(JID.init(validating:)), let sid = payload.attribute("sid") else { return false }
        let isIQ = stanza.name == "iq"
        guard !isIQ || stanza.attribute("type") == "set" else { return false }
        func answer(_ error: StanzaError?) {
            guard isIQ, let iq = IQ(element: stanza) else { return }
            client.enqueue(error.map { iq.errorReply($0) } ?? iq.result().element)
        }
        let key = Key(peer: from, sid: sid)
        switch payload.name {
        case "open":
            let size = payload.attribute("block-size").flatMap(Int.init) ?? 0
            let outcome = receivers.withLock { receivers -> StanzaError? in
                guard var receiver = receivers[key], !receiver.isOpen else { return StanzaError(.notAcceptable) }
                guard (1...InBandBytestream.maxBlockSize).contains(size) else {
                    return StanzaError(.resourceConstraint, type: .modify, text: "at most \(InBandBytestream.maxBlockSize) bytes per block")
                }
                receiver.isOpen = true
                receiver.blockSize = size
                receivers[key] = receiver
                return nil
            }
            answer(outcome)
        case "data":
            let decoded = Data(base64Encoded: payload.text.filter { !$0.isWhitespace })
            let seq = payload.attribute("seq").flatMap(UInt16.init)
            enum Outcome { case unknown, block(AsyncThrowingStream<ByteBuffer, any Error>.Continuation), broken(AsyncThrowingStream<ByteBuffer, any Error>.Continuation, StanzaError) }
            let outcome = receivers.withLock { receivers -> Outcome in
                guard var receiver = receivers[key], receiver.isOpen else { return .unknown }
                guard let decoded, decoded.count <= receiver.blockSize else {
                    receivers[key] = nil
                    return .broken(receiver.continuation, StanzaError(.badRequest, text: "not base64, or larger than the block size"))
                }
                guard seq == receiver.nextSequence else {
                    receivers[key] = nil
                    return .broken(receiver.continuation, StanzaError(.unexpectedRequest, text: "blocks out of order"))
                }
                guard receiver.received + Int64(decoded.count) <= receiver.limit else {
                    receivers[key] = nil
                    return .broken(receiver.continuation, StanzaError(.notAcceptable, text: "more bytes than the file offered"))
                }
                receiver.received += Int64(decoded.count)
                receiver.nextSequence &+= 1
                receivers[key] = receiver
                return .block(receiver.continuation)
            }
            switch outcome {
            case .unknown:
                answer(StanzaError(.itemNotFound))
            case .block(let continuation):
                continuation.yield(ByteBuffer(bytes: decoded ?? Data()))
                answer(nil)
            case .broken(let continuation, let error):
                answer(error)
                continuation.finish(throwing: FileTransferError.transferFailed(error.text ?? "a bad block"))
            }
        case "close":
            let receiver = receivers.withLock { $0.removeValue(forKey: key) }
            answer(receiver == nil ? StanzaError(.itemNotFound) : nil)
            receiver?.continuation.finish()
        default:
            answer(StanzaError(.badRequest))
        }
        return true
    }
}
