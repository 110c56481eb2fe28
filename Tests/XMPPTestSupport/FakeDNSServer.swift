import NIOCore
import NIOPosix
import XMPPTransport

/// A name server on 127.0.0.1 (UDP, a free port) that answers SRV queries from a table and NXDOMAIN for any other
/// name: for tests of SRV lookups without the network. Stop it with ``stop()``.
public final class FakeDNSServer: Sendable {
    private let channel: any Channel

    /// The `address:port` to configure as a name server.
    public var address: String { "127.0.0.1:\(channel.localAddress?.port ?? 0)" }

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Starts answering with `records` (name → its SRV records; an empty list answers with no records).
    public static func start(records: [String: [DNSMessage.SRVRecord]]) async throws -> FakeDNSServer {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Responder(records: records)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return FakeDNSServer(channel: channel)
    }

    /// Stops answering.
    public func stop() async {
        try? await channel.close()
    }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let records: [String: [DNSMessage.SRVRecord]]

        init(records: [String: [DNSMessage.SRVRecord]]) {
            self.records = records
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let query = unwrapInboundIn(data)
            let bytes = Array(query.data.readableBytesView)
            guard bytes.count > 12, let (name, questionEnd) = Self.question(bytes) else { return }
            let found = records[name.lowercased()]
            var answer = Array(bytes[0..<2])
            answer += Self.uint16(found == nil ? 0x8183 : 0x8180)    // response, recursion available; NXDOMAIN when unknown
            answer += Self.uint16(1) + Self.uint16(UInt16(found?.count ?? 0)) + [0, 0, 0, 0]
            answer += bytes[12..<questionEnd]
            for record in found ?? [] {
                let target = DNSMessage.encodeName(record.target)
                answer += [0xC0, 0x0C] + Self.uint16(DNSMessage.srvType) + Self.uint16(DNSMessage.internetClass) + [0, 0, 0, 60]
                answer += Self.uint16(UInt16(6 + target.count)) + Self.uint16(record.priority) + Self.uint16(record.weight)
                answer += Self.uint16(record.port) + target
            }
            let reply = AddressedEnvelope(remoteAddress: query.remoteAddress, data: context.channel.allocator.buffer(bytes: answer))
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        }

        /// The queried name, and where the question (name, type, class) ends.
        static func question(_ bytes: [UInt8]) -> (String, Int)? {
            var labels: [String] = []
            var offset = 12
            while offset < bytes.count, bytes[offset] != 0 {
                let length = Int(bytes[offset])
                guard length < 64, offset + 1 + length < bytes.count else { return nil }
                labels.append(String(decoding: bytes[(offset + 1)...(offset + length)], as: UTF8.self))
                offset += 1 + length
            }
            guard offset + 5 <= bytes.count else { return nil }
            return (labels.joined(separator: "."), offset + 5)
        }

        static func uint16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    }
}
