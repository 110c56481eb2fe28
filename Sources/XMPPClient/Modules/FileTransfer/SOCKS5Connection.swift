import Crypto
import Foundation
import NIOCore
import NIOPosix
import XMPPCore

/// A SOCKS5 bytestream's connection (XEP-0065 §5.3.3, XEP-0260): TCP to a streamhost (a proxy, or a peer's
/// listener), the SOCKS5 greeting without authentication, and CONNECT to the domain name the protocol derives from the
/// session (`SHA-1(sid + requester + target)` in hex, port 0). What follows is the file's bytes.
enum SOCKS5Connection {
    /// The destination address for the session `sid` between `requester` and `target` (full JIDs).
    static func destination(sid: String, requester: JID, target: JID) -> String {
        Insecure.SHA1.hash(data: Data((sid + requester.description + target.description).utf8))
            .map { String(format: "%02x", $0) }.joined()
    }

    /// Connects to `host`:`port` and asks it for `destination`; the channel then carries the bytestream.
    /// - Throws: ``FileTransferError/transferFailed(_:)`` when the connection or the handshake fails or takes longer
    ///   than `timeout`.
    static func connect(host: String, port: Int, destination: String, group: any EventLoopGroup,
                        timeout: Duration) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let (channel, handshake): (NIOAsyncChannel<ByteBuffer, ByteBuffer>, EventLoopFuture<Void>)
        do {
            (channel, handshake) = try await ClientBootstrap(group: group)
                .connectTimeout(.nanoseconds(Int64(timeout.nanoseconds)))
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handshake = SOCKS5ClientHandshake(destination: destination, promise: channel.eventLoop.makePromise(),
                                                              timeout: .nanoseconds(Int64(timeout.nanoseconds)))
                        try channel.pipeline.syncOperations.addHandler(handshake)
                        // Half-closure: the sender's end of file reaches the proxy after the last byte, not instead of it.
                        let wrapped = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        return (wrapped, handshake.promise.futureResult)
                    }
                }
        } catch {
            throw FileTransferError.transferFailed("cannot connect to the streamhost \(host):\(port): \(error)")
        }
        do {
            // (The handshake fails by itself after `timeout`: a streamhost that never answers closes.)
            try await handshake.get()
            return channel
        } catch {
            try? await channel.executeThenClose { _, _ in }
            throw error
        }
    }
}

/// The client side of the SOCKS5 greeting (version 5, one method: no authentication) and, once the streamhost chose
/// that method, the CONNECT request for a domain name; once it has answered both, it passes everything through.
final class SOCKS5ClientHandshake: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let promise: EventLoopPromise<Void>
    private let destination: [UInt8]
    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    private var received = ByteBuffer()
    private var step = Step.greeting

    private enum Step { case greeting, reply, done }

    init(destination: String, promise: EventLoopPromise<Void>, timeout: TimeAmount) {
        self.destination = Array(destination.utf8)
        self.promise = promise
        self.timeout = timeout
    }

    /// The handshake has `timeout` from now: a streamhost that accepts and then says nothing is given up, on the event
    /// loop (awaiting the promise elsewhere could not be cancelled).
    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { [self] in
            fail("the streamhost did not answer in time", channel: channel)
        }
    }

    /// A connection that never became active (refused, timed out) ends here: the promise must not be left open.
    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        if step != .done {
            step = .done
            promise.fail(FileTransferError.transferFailed("the streamhost connection ended"))
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        // The greeting alone: the request goes once the method is chosen (some proxies, Prosody's, take nothing
        // pipelined).
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: [5, 1, 0])), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard step != .done else { return context.fireChannelRead(data) }
        var chunk = unwrapInboundIn(data)
        received.writeBuffer(&chunk)
        if step == .greeting, received.readableBytes >= 2 {
            guard received.readBytes(length: 2) == [5, 0] else { return fail("the streamhost wants authentication", context: context) }
            step = .reply
            var request = context.channel.allocator.buffer(capacity: 7 + destination.count)
            request.writeBytes([5, 1, 0, 3, UInt8(destination.count)] + destination + [0, 0])
            context.writeAndFlush(wrapOutboundOut(request), promise: nil)
        }
        // The reply: 4 bytes, the bound address (IPv4, IPv6, or a domain: its length and name), 2 port bytes.
        guard step == .reply, received.readableBytes >= 5, let head = received.getBytes(at: received.readerIndex, length: 5) else { return }
        guard head[0] == 5, head[1] == 0 else { return fail("the streamhost refused the connection (code \(head[1]))", context: context) }
        let length = 4 + (head[3] == 1 ? 4 : head[3] == 4 ? 16 : 1 + Int(head[4])) + 2
        guard received.readableBytes >= length else { return }
        received.moveReaderIndex(forwardBy: length)
        step = .done
        deadline?.cancel()
        promise.succeed()
        if received.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(received)) }
        received = ByteBuffer()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if step != .done { fail("the streamhost closed the connection", channel: context.channel) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if step != .done { fail("\(error)", channel: context.channel) }
        context.fireErrorCaught(error)
    }

    private func fail(_ why: String, context: ChannelHandlerContext) {
        fail(why, channel: context.channel)
    }

    private func fail(_ why: String, channel: any Channel) {
        guard step != .done else { return }
        step = .done
        deadline?.cancel()
        promise.fail(FileTransferError.transferFailed(why))
        channel.close(promise: nil)
    }
}
