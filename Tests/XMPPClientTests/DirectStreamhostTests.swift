import Foundation
import NIOCore
import NIOPosix
import Testing
import XMPPCore
import XMPPTestSupport
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

    /// A streamhost that accepts and never answers, and one that is not there: each fails in time, nothing hangs.
    @Test(.timeLimit(.minutes(1))) func aSilentOrMissingStreamhostFailsInTime() async throws {
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        defer { silent.close(promise: nil) }
        let port = try #require(silent.localAddress?.port)
        let started = ContinuousClock.now
        await #expect(throws: FileTransferError.self) {
            ChannelHandoff.discard(try await SOCKS5Connection.connect(host: "127.0.0.1", port: port, destination: "x",
                                                                     group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(1)))
        }
        // (Without its own deadline the handshake waits as long as the silent end keeps the connection: for ever.)
        #expect(ContinuousClock.now - started < .seconds(30))
        let closed = try LoopbackPort.free()
        await #expect(throws: FileTransferError.self) {
            ChannelHandoff.discard(try await SOCKS5Connection.connect(host: "127.0.0.1", port: closed, destination: "x",
                                                                     group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(1)))
        }
    }

    /// A received file never replaces a directory, and an offered name is cut down to a safe file name.
    @Test func receivedFilesStayFiles() throws {
        let directory = NSTemporaryDirectory() + "sink-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: "\(directory)/Photos/keep", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sink = try FileSink(destination: "\(directory)/Photos", expected: FileDescription(name: "Photos", size: 0))
        #expect(throws: FileTransferError.self) { try sink.finish() }
        #expect(FileManager.default.fileExists(atPath: "\(directory)/Photos/keep"), "the directory is untouched")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["Photos"], "no temporary file left")
        #expect(FileDescription(name: "../../etc/passwd", size: 1).safeName == "passwd")
        #expect(FileDescription(name: "a\u{1B}[31mred\u{202E}txt.exe", size: 1).safeName == "a[31mredtxt.exe")
        #expect(FileDescription(name: "..", size: 1).safeName == "file")
        #expect(FileDescription(name: String(repeating: "x", count: 500), size: 1).safeName.count == 120)
    }
}
