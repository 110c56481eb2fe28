import Foundation
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SRV lookups (RFC 2782) over UDP with the name servers given, or those of `/etc/resolv.conf`: one query per
/// server in turn until one answers.
public struct SRVLookup: Sendable {
    /// Name servers as `address` or `address:port`; empty means those of `/etc/resolv.conf`.
    public var nameServers: [String]
    /// Where the UDP channels run (NIOPosix event loops).
    public var group: any EventLoopGroup
    /// How long one server gets to answer.
    public var timeout: TimeAmount

    /// Creates a lookup.
    public init(nameServers: [String], group: any EventLoopGroup, timeout: TimeAmount = .seconds(3)) {
        self.nameServers = nameServers
        self.group = group
        self.timeout = timeout
    }

    /// The SRV records of `name`, or none when the name does not exist or no name server answers.
    public func records(of name: String) async -> [DNSMessage.SRVRecord] {
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

    /// `records` that offer the service (a lone "." target says it is not offered, RFC 2782), in the order to try
    /// them: by priority, then the heavier weight first.
    public static func ordered(_ records: [DNSMessage.SRVRecord]) -> [DNSMessage.SRVRecord] {
        records.filter { !$0.target.isEmpty }.sorted { left, right in
            left.priority != right.priority ? left.priority < right.priority : left.weight > right.weight
        }
    }

    /// The records of a service offered both with TLS from the start (XEP-0368: `_xmpps-client._tcp`,
    /// `_xmpps-server._tcp`) and with STARTTLS (`_xmpp-client._tcp`, `_xmpp-server._tcp`), merged in the order to try
    /// them (priority, then weight; "." targets left out), each with whether it is direct TLS.
    public static func merged(directTLS: [DNSMessage.SRVRecord], startTLS: [DNSMessage.SRVRecord])
        -> [(record: DNSMessage.SRVRecord, directTLS: Bool)] {
        let records = directTLS.map { ($0, true) } + startTLS.map { ($0, false) }
        return records.filter { !$0.0.target.isEmpty }.sorted { left, right in
            left.0.priority != right.0.priority ? left.0.priority < right.0.priority : left.0.weight > right.0.weight
        }.map { (record: $0.0, directTLS: $0.1) }
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

    /// The `nameserver` lines of `/etc/resolv.conf`.
    public static func systemNameServers() -> [String] {
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
        // UDP needs NIOPosix event loops: the caller's, or the process-wide ones when it runs on Network.framework.
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
        let timeout = self.timeout
        let timer = channel.eventLoop.scheduleTask(in: timeout) { answer.fail(ChannelError.connectTimeout(timeout)) }
        defer { timer.cancel() }
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
