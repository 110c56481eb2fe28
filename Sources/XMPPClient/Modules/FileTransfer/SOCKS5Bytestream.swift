import Foundation
import NIOCore
import XMPPCore

/// SOCKS5 bytestreams (XEP-0065) through the account server's proxy: the sender offers the proxy as streamhost, the
/// receiver connects to it and says so, the sender connects too and asks the proxy to activate the pair; then the
/// bytes flow between the two TCP connections at the proxy's pace.
enum SOCKS5Bytestream {
    /// The namespace.
    static let namespace = "http://jabber.org/protocol/bytestreams"

    /// A place both sides can connect to (XEP-0065 §4.1).
    struct Streamhost: Sendable, Hashable {
        let jid: JID
        let host: String
        let port: Int

        init(jid: JID, host: String, port: Int) {
            self.jid = jid
            self.host = host
            self.port = port
        }

        /// From a `<streamhost/>` element.
        init?(element: Element) {
            guard let jid = element.attribute("jid").flatMap(JID.init(validating:)), let host = element.attribute("host"),
                  let port = element.attribute("port").flatMap(Int.init), (1...65535).contains(port) else { return nil }
            self.init(jid: jid, host: host, port: port)
        }

        var element: Element {
            Element("streamhost", namespace: SOCKS5Bytestream.namespace, attributes: ["jid": jid.description, "host": host, "port": String(port)])
        }
    }

    /// The streamhosts the account's server offers: the items of its disco#items that are SOCKS5 proxies
    /// (identity proxy/bytestreams), each asked for its address; the items are asked at once, each given 10 seconds
    /// (one that does not answer, a component that is down, costs no more).
    static func proxies(of client: XMPPClient) async throws -> [Streamhost] {
        let domain = client.configuration.jid.domain
        let items = try await client.query(Element("query", namespace: DiscoModule.itemsNamespace), to: domain)
        let candidates = (items?.children("item", namespace: DiscoModule.itemsNamespace) ?? []).compactMap { item -> JID? in
            item.attribute("node") == nil ? item.attribute("jid").flatMap(JID.init(validating:)) : nil
        }
        return await withTaskGroup(of: [Streamhost].self) { group in
            for jid in candidates.prefix(32) {
                group.addTask {
                    guard let answer = try? await client.query(Element("query", namespace: DiscoModule.infoNamespace), to: jid, timeout: .seconds(10))
                    else { return [] }
                    let info = DiscoInfo(query: answer)
                    guard info.identities.contains(where: { $0.category == "proxy" && $0.type == "bytestreams" }) || info.features.contains(namespace),
                          let address = try? await client.query(Element("query", namespace: namespace), to: jid, timeout: .seconds(10)) else { return [] }
                    return address.children("streamhost", namespace: namespace).compactMap(Streamhost.init(element:))
                }
            }
            var found: [Streamhost] = []
            for await hosts in group { found += hosts }
            return found.sorted { $0.jid.description < $1.jid.description }
        }
    }

    /// Offers our own streamhost `own` (first) and `proxies` to `target` for the session `sid` (XEP-0065 §5.3.1);
    /// once it has connected to one, takes that connection (ours) or connects to the proxy too and activates the pair.
    /// Returns the channel that carries the bytes to `target`, and whether it is direct or through a proxy.
    /// - Throws: ``FileTransferError/transferFailed(_:)`` when the target could use none or the proxy fails;
    ///   ``FileTransferError/declined(_:)`` when the target refuses the bytestream.
    static func connect(client: XMPPClient, to target: JID, sid: String, own: DirectStreamhost?, proxies: [Streamhost],
                        timeout: Duration) async throws -> (NIOAsyncChannel<ByteBuffer, ByteBuffer>, BytestreamMethod) {
        guard let me = client.jid else { throw XMPPClientError.notConnected }
        var query = Element("query", namespace: namespace, attributes: ["sid": sid, "mode": "tcp"])
        if let own { query.append(Streamhost(jid: me, host: own.host, port: own.port).element) }
        for host in proxies { query.append(host.element) }
        guard own != nil || !proxies.isEmpty else { throw FileTransferError.noCommonMethod }
        let answer: Element?
        do {
            answer = try await client.query(query, type: .set, to: target, timeout: timeout)
        } catch XMPPClientError.stanzaError(let error) {
            throw error.condition == .itemNotFound
                ? FileTransferError.transferFailed("the peer could reach no streamhost") : FileTransferError.declined(error.text)
        }
        guard let usedJID = answer?.child("streamhost-used", namespace: namespace)?.attribute("jid").flatMap(JID.init(validating:)) else {
            throw FileTransferError.transferFailed("the peer named no streamhost it used")
        }
        if usedJID == me, let own {
            return (try await own.connection(timeout: timeout), .direct)
        }
        guard let used = proxies.first(where: { $0.jid == usedJID }) else {
            throw FileTransferError.transferFailed("the peer named a streamhost that was not offered")
        }
        let channel = try await SOCKS5Connection.connect(
            host: used.host, port: used.port, destination: SOCKS5Connection.destination(sid: sid, requester: me, target: target),
            group: client.group, timeout: timeout)
        do {
            try await activate(client: client, proxy: used.jid, sid: sid, target: target)
        } catch {
            ChannelHandoff.discard(channel)
            throw error
        }
        return (channel, .socks5)
    }

    /// Asks the proxy `proxy` to join our connection and the target's for `sid` (XEP-0065 §6.3.3).
    static func activate(client: XMPPClient, proxy: JID, sid: String, target: JID) async throws {
        var activate = Element("query", namespace: namespace, attributes: ["sid": sid])
        activate.append(Element("activate", namespace: namespace, text: target.description))
        do {
            try await client.query(activate, type: .set, to: proxy)
        } catch XMPPClientError.stanzaError(let error) {
            throw FileTransferError.transferFailed("the proxy did not activate the stream: \(error.condition.rawValue)")
        }
    }

    /// Sends the file through `channel` and waits until the far end has it all (the proxy closes the connection
    /// once the receiver did); `sent` reports the bytes written so far.
    static func send(_ source: FileSource, through channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>,
                     sent: @escaping @Sendable (Int64) -> Void) async throws {
        try await channel.executeThenClose { inbound, outbound in
            var total: Int64 = 0
            try await source.read { chunk in
                try await outbound.write(chunk)
                total += Int64(chunk.readableBytes)
                sent(total)
            }
            outbound.finish()
            for try await _ in inbound {}
        }
    }

    /// Reads the file from `channel` into `sink` until the sender closes it; `received` reports progress.
    static func receive(from channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, into sink: FileSink,
                        received: @escaping @Sendable (Int64) -> Void) async throws {
        try await channel.executeThenClose { inbound, _ in
            for try await chunk in inbound {
                try await sink.write(chunk)
                received(sink.received)
                if sink.isComplete { break }
            }
        }
    }
}

/// The SOCKS5 bytestreams this client expects (an accepted offer announced them), by sender and sid: when the sender
/// offers its streamhosts, the first that works is used and its connection handed to the transfer.
final class SOCKS5Receivers: Sendable {
    private struct Key: Hashable {
        let peer: JID
        let sid: String
    }

    private struct Expected {
        let handoff: ChannelHandoff
        /// Whether to try the sender's own streamhost, and proxies.
        let direct: Bool
        let proxies: Bool
    }

    private let expected = Locked<[Key: Expected]>([:])

    /// Expects the bytestream `sid` from `peer`, to be reached at the sender's own streamhost (`direct`) or through a
    /// proxy (`proxies`); its connection comes out of the handoff.
    func expect(sid: String, from peer: JID, direct: Bool = true, proxies: Bool = true) -> ChannelHandoff {
        let handoff = ChannelHandoff()
        expected.withLock { $0[Key(peer: peer, sid: sid)] = Expected(handoff: handoff, direct: direct, proxies: proxies) }
        return handoff
    }

    /// Stops expecting `sid` from `peer` (the transfer gave up).
    func forget(sid: String, from peer: JID) {
        expected.withLock { $0.removeValue(forKey: Key(peer: peer, sid: sid)) }?.handoff.fail(FileTransferError.cancelledByPeer)
    }

    /// Handles a streamhost offer (an IQ set with a bytestreams `<query/>`); false when `stanza` is not one.
    func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        guard stanza.name == "iq", stanza.attribute("type") == "set", let iq = IQ(element: stanza),
              let query = stanza.child("query", namespace: SOCKS5Bytestream.namespace), let sid = query.attribute("sid"),
              query.child("activate", namespace: SOCKS5Bytestream.namespace) == nil,
              let from = iq.from, let me = client.jid else { return false }
        guard let expectation = expected.withLock({ $0.removeValue(forKey: Key(peer: from, sid: sid)) }) else {
            client.enqueue(iq.errorReply(StanzaError(.notAcceptable)))
            return true
        }
        let handoff = expectation.handoff
        // The sender's own streamhost has its JID; any other is a proxy.
        let hosts = query.children("streamhost", namespace: SOCKS5Bytestream.namespace).compactMap(SOCKS5Bytestream.Streamhost.init(element:))
            .filter { $0.jid == from ? expectation.direct : expectation.proxies }
        let destination = SOCKS5Connection.destination(sid: sid, requester: from, target: me)
        let (group, timeout) = (client.group, client.configuration.connectTimeout)
        Task {
            // At most four, a few seconds each: the transfer's idle limit must not run out while we try.
            for host in hosts.prefix(4) {
                guard let channel = try? await SOCKS5Connection.connect(host: host.host, port: host.port, destination: destination,
                                                                         group: group, timeout: min(timeout, .seconds(5))) else { continue }
                var used = Element("query", namespace: SOCKS5Bytestream.namespace, attributes: ["sid": sid])
                used.append(Element("streamhost-used", namespace: SOCKS5Bytestream.namespace, attributes: ["jid": host.jid.description]))
                // Handed over before the answer, which makes the sender start.
                guard handoff.offer(channel) else { return client.enqueue(iq.errorReply(StanzaError(.notAcceptable))) }
                client.enqueue(iq.result(payload: used).element)
                return
            }
            client.enqueue(iq.errorReply(StanzaError(.itemNotFound, text: "no streamhost could be reached")))
            handoff.fail(FileTransferError.transferFailed("no streamhost the sender offered could be reached"))
        }
        return true
    }
}
