import NIOCore
import NIOPosix
import XMPPCore

/// A streamhost of our own for one transfer (XEP-0260 direct candidate): a SOCKS5 listener on the address this
/// client reaches its server from, taking the one connection that asks for the session's destination address. When
/// the peer can reach it, the bytes go straight between the two clients, without the proxy.
final class DirectStreamhost: Sendable {
    let host: String
    let port: Int
    private let listener: any Channel
    private let handoff: ChannelHandoff

    private init(listener: any Channel, host: String, port: Int, handoff: ChannelHandoff) {
        self.listener = listener
        self.host = host
        self.port = port
        self.handoff = handoff
    }

    /// Listens on `address` (an IP address of this machine) for connections asking for `destination`.
    static func open(on address: String, destination: String, group: any EventLoopGroup) async throws -> DirectStreamhost {
        let handoff = ChannelHandoff()
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 4)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let wrapped = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                    // Only the first connection that asks for the destination is used; any later one is closed.
                    let handshake = SOCKS5ServerHandshake(destination: destination) { handoff.offer(wrapped) }
                    try channel.pipeline.syncOperations.addHandler(handshake, position: .first)
                }
            }
            .bind(host: address, port: 0).get()
        guard let port = listener.localAddress?.port else {
            try? await listener.close()
            throw FileTransferError.transferFailed("no port for a direct streamhost")
        }
        return DirectStreamhost(listener: listener, host: address, port: port, handoff: handoff)
    }

    /// The connection the peer made (the first that asked for the right destination).
    func connection(timeout: Duration) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try await handoff.take(timeout: timeout)
    }

    /// Stops listening; a connection not taken is closed (the one taken stays with the transfer).
    func close() {
        handoff.fail(FileTransferError.transferFailed("the direct streamhost closed"))
        listener.close(promise: nil)
    }
}

/// The server side of the SOCKS5 greeting and CONNECT (no authentication, a domain-name destination): answers success
/// only for `destination`, then passes everything through; anything else is closed.
final class SOCKS5ServerHandshake: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let destination: [UInt8]
    private let connected: @Sendable () -> Void
    private var received = ByteBuffer()
    private var step = Step.greeting

    private enum Step { case greeting, request, done }

    init(destination: String, connected: @escaping @Sendable () -> Void) {
        self.destination = Array(destination.utf8)
        self.connected = connected
    }

    /// A connection that has not asked for the destination within 30 seconds goes (anyone may connect to the port).
    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timeout = context.eventLoop.scheduleTask(in: .seconds(30)) { channel.close(promise: nil) }
    }

    private var timeout: Scheduled<Void>?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard step != .done else { return context.fireChannelRead(data) }
        var chunk = unwrapInboundIn(data)
        received.writeBuffer(&chunk)
        guard received.readableBytes <= 600 else { return context.close(promise: nil) }
        if step == .greeting {
            guard received.readableBytes >= 2, let head = received.getBytes(at: received.readerIndex, length: 2) else { return }
            let length = 2 + Int(head[1])
            guard received.readableBytes >= length, let methods = received.readBytes(length: length) else { return }
            guard head[0] == 5, methods.dropFirst(2).contains(0) else { return context.close(promise: nil) }
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: [5, 0])), promise: nil)
            step = .request
        }
        guard step == .request, received.readableBytes >= 5, let head = received.getBytes(at: received.readerIndex, length: 5) else { return }
        let length = 5 + Int(head[4]) + 2
        guard received.readableBytes >= length, let request = received.readBytes(length: length) else { return }
        guard head[0] == 5, head[1] == 1, head[3] == 3, Array(request[5..<(5 + Int(head[4]))]) == destination else {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: [5, 2, 0, 1, 0, 0, 0, 0, 0, 0])), promise: nil)
            return context.close(promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: [5, 0, 0, 3, UInt8(destination.count)] + destination + [0, 0])),
                              promise: nil)
        step = .done
        timeout?.cancel()
        connected()
    }
}
