import NIOCore
import NIOPosix
import Testing
import XMPPCore
@testable import XMPPClient

/// A client's own SOCKS5 streamhost (direct transfers): it hands over only the connection that asks for the
/// session's destination, refuses others, and the SOCKS5 client side reaches it.
@Suite struct DirectStreamhostTests {
    @Test func onlyTheSessionsDestinationGetsThrough() async throws {
        let destination = SOCKS5Connection.destination(sid: "s1", requester: try JID("a@x/1"), target: try JID("b@x/2"))
        #expect(destination.count == 40 && destination.allSatisfy(\.isHexDigit))
        let host = try await DirectStreamhost.open(on: "127.0.0.1", destination: destination, group: MultiThreadedEventLoopGroup.singleton)
        defer { host.close() }
        // Another destination is refused.
        await #expect(throws: FileTransferError.self) {
            let wrong = try await SOCKS5Connection.connect(host: "127.0.0.1", port: host.port, destination: String(repeating: "0", count: 40),
                                                           group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(5))
            ChannelHandoff.discard(wrong)
        }
        // The right one connects, and what is written arrives at the streamhost's side.
        let client = try await SOCKS5Connection.connect(host: "127.0.0.1", port: host.port, destination: destination,
                                                        group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(5))
        let server = try await host.connection(timeout: .seconds(5))
        try await client.executeThenClose { _, outbound in
            try await outbound.write(ByteBuffer(string: "hello"))
            outbound.finish()
        }
        let received = try await server.executeThenClose { inbound, _ in
            var all = ByteBuffer()
            for try await var chunk in inbound { all.writeBuffer(&chunk) }
            return String(buffer: all)
        }
        #expect(received == "hello")
    }
}
