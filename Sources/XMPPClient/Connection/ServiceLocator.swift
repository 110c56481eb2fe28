import Foundation
import NIOCore
import NIOPosix
import XMPPCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A host and port to try, and whether TLS starts at once there.
struct ServiceEndpoint: Sendable, Hashable {
    var host: String
    var port: Int
    /// TLS from the start (XEP-0368; for a WebSocket, `wss://`).
    var directTLS: Bool
    /// For XMPP over WebSocket (RFC 7395): the request target (path and query) to upgrade.
    var webSocketTarget: String?
}

/// Finds where a domain's XMPP service is (RFC 6120 §3.2, XEP-0368): the SRV records of
/// `_xmpps-client._tcp` (direct TLS) and `_xmpp-client._tcp` (STARTTLS), merged in priority order, then
/// the domain itself on port 5222 when there are none.
struct ServiceLocator: Sendable {
    /// Name servers as `address` or `address:port`; empty means the system's: those of `/etc/resolv.conf`, or the
    /// system resolver on Apple platforms.
    var nameServers: [String]
    var group: any EventLoopGroup
    var timeout: TimeAmount = .seconds(3)

    func endpoints(for server: XMPPClient.Configuration.Server, domain: String) async throws -> [ServiceEndpoint] {
        switch server {
        case .host(let host, let port, let directTLS):
            return [ServiceEndpoint(host: host, port: port, directTLS: directTLS)]
        case .webSocket(let url):
            let secure = url.scheme?.lowercased() == "wss"
            guard secure || url.scheme?.lowercased() == "ws", let host = url.host else {
                throw XMPPClientError.connectionFailed(FailureCause(.localConfiguration, "not a ws:// or wss:// URL: \(url)"))
            }
            let path = url.path.isEmpty ? "/" : url.path
            let target = url.query.map { "\(path)?\($0)" } ?? path
            return [ServiceEndpoint(host: host, port: url.port ?? (secure ? 443 : 80), directTLS: secure, webSocketTarget: target)]
        case .automatic:
            let fallback = ServiceEndpoint(host: domain, port: 5222, directTLS: false)
            if domain.isIPLiteral || domain == "localhost" { return [fallback] }
            async let direct = lookup("_xmpps-client._tcp.\(domain)")
            async let startTLS = lookup("_xmpp-client._tcp.\(domain)")
            let records = (await direct).map { ($0, true) } + (await startTLS).map { ($0, false) }
            // A single record with target "." says the service is not offered there (RFC 2782).
            let usable = records.filter { !$0.0.target.isEmpty }
            guard !usable.isEmpty else { return [fallback] }
            return usable.sorted { left, right in
                left.0.priority != right.0.priority ? left.0.priority < right.0.priority : left.0.weight > right.0.weight
            }.map { ServiceEndpoint(host: $0.0.target, port: Int($0.0.port), directTLS: $0.1) }
        }
    }

    /// The SRV records of `name`, or none when no name server answers. On Apple platforms, without configured name
    /// servers, the system's resolver answers (dnssd), which knows the device's DNS settings.
    func lookup(_ name: String) async -> [DNSMessage.SRVRecord] {
        #if canImport(Network)
        if nameServers.isEmpty { return await SystemSRVResolver.records(of: name, timeout: timeout) }
        #endif
        for server in servers() {
            let id = UInt16.random(in: 0...UInt16.max)
            guard let answer = try? await exchange(DNSMessage.query(id: id, name: name), with: server),
                  let parsed = DNSMessage.parseAnswer(answer, id: id) else { continue }
            switch parsed {
            case .records(let records): return records
            case .noSuchName: return []
            case .failure: continue
            }
        }
        return []
    }

    private func servers() -> [SocketAddress] {
        let configured = nameServers.isEmpty ? Self.systemNameServers() : nameServers
        return configured.compactMap { entry -> SocketAddress? in
            if let address = try? SocketAddress(ipAddress: entry, port: 53) { return address }
            guard let colon = entry.lastIndex(of: ":"), let port = Int(entry[entry.index(after: colon)...]) else { return nil }
            let host = String(entry[..<colon].filter { $0 != "[" && $0 != "]" })
            return try? SocketAddress(ipAddress: host, port: port)
        }
    }

    /// The `nameserver` lines of `/etc/resolv.conf` (not read on Apple platforms, where the system's resolver is asked).
    static func systemNameServers() -> [String] {
        guard let file = fopen("/etc/resolv.conf", "r") else { return [] }
        defer { fclose(file) }
        var servers: [String] = []
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        while getline(&line, &capacity, file) > 0, let line {
            let fields = String(cString: line).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            if fields.count >= 2, fields[0] == "nameserver" { servers.append(String(fields[1])) }
        }
        free(line)
        return servers
    }

    /// Sends one UDP query and returns the first datagram that comes back from that server.
    private func exchange(_ query: [UInt8], with server: SocketAddress) async throws -> [UInt8] {
        // UDP needs NIOPosix event loops: the client's, or the process-wide ones when it runs on Network.framework.
        let posixGroup: any EventLoopGroup = DatagramBootstrap(validatingGroup: group) != nil ? group : MultiThreadedEventLoopGroup.singleton
        let answer = posixGroup.next().makePromise(of: [UInt8].self)
        let bindHost = server.protocol == .inet6 ? "::" : "0.0.0.0"
        let channel = try await DatagramBootstrap(group: posixGroup)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DNSReplyHandler(server: server, answer: answer))
                }
            }
            .bind(host: bindHost, port: 0).get()
        defer { channel.close(promise: nil) }
        let timeout = channel.eventLoop.scheduleTask(in: timeout) { answer.fail(ChannelError.connectTimeout(self.timeout)) }
        defer { timeout.cancel() }
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: channel.allocator.buffer(bytes: query)))
        return try await answer.futureResult.get()
    }
}

/// Takes the first datagram from the queried server.
private final class DNSReplyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let server: SocketAddress
    let answer: EventLoopPromise<[UInt8]>

    init(server: SocketAddress, answer: EventLoopPromise<[UInt8]>) {
        self.server = server
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == server else { return }
        answer.succeed(Array(envelope.data.readableBytesView))
    }

    func channelInactive(context: ChannelHandlerContext) {
        answer.fail(ChannelError.ioOnClosedChannel)
    }
}
