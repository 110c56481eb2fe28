import NIOCore

/// The server side of the SOCKS5 handshake (RFC 1928) as XEP-0065 uses it: no authentication, `CONNECT` to a domain
/// name (the 40-hex-digit destination address) on port 0. Once answered, the connection waits at the proxy for the
/// initiator's `activate`; what arrives before that is refused (the stream is not active yet).
final class Socks5Handler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case greeting
        case request
        case waiting(address: String)
        case done
    }

    private let pairing: ProxyPairing
    private var state = State.greeting
    private var buffer = ByteBuffer()

    init(pairing: ProxyPairing) {
        self.pairing = pairing
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        buffer.writeBuffer(&chunk)
        // A handshake is a few dozen bytes: anything much larger is not one.
        guard buffer.readableBytes <= 512 else { return refuse(context: context) }
        while true {
            switch state {
            case .greeting:
                guard let greeting = Self.greeting(&buffer) else { return }
                guard greeting.version == 5, greeting.methods.contains(0) else {
                    context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: [5, 0xFF])), promise: nil)
                    return refuse(context: context)
                }
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: [5, 0])), promise: nil)
                state = .request
            case .request:
                guard let address = Self.connectRequest(&buffer) else { return }
                guard let address, address.utf8.count == 40, pairing.arrive(context.channel, address: address) else {
                    // General failure: not a destination address, two connections already wait for it, or the proxy is full.
                    context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: [5, 1, 0, 1, 0, 0, 0, 0, 0, 0])), promise: nil)
                    return refuse(context: context)
                }
                var reply = ByteBuffer(bytes: [5, 0, 0, 3, UInt8(address.utf8.count)])
                reply.writeString(address)
                reply.writeInteger(UInt16(0))
                context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
                state = .waiting(address: address)
            case .waiting, .done:
                // Nothing may come before activation.
                if buffer.readableBytes > 0 { refuse(context: context) }
                return
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .waiting(let address) = state { pairing.leave(context.channel, address: address) }
        state = .done
        context.fireChannelInactive()
    }

    private func refuse(context: ChannelHandlerContext) {
        if case .waiting(let address) = state { pairing.leave(context.channel, address: address) }
        state = .done
        context.close(promise: nil)
    }

    /// `VER NMETHODS METHODS…`, or nil until all of it has arrived.
    static func greeting(_ buffer: inout ByteBuffer) -> (version: UInt8, methods: [UInt8])? {
        guard buffer.readableBytes >= 2, let version = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let count = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self),
              buffer.readableBytes >= 2 + Int(count) else { return nil }
        buffer.moveReaderIndex(forwardBy: 2)
        return (version, buffer.readBytes(length: Int(count)) ?? [])
    }

    /// `VER CMD RSV ATYP DST.ADDR DST.PORT`: `.some(address)` for CONNECT to a domain name on port 0, `.some(nil)` for
    /// anything else, nil until all of it has arrived.
    static func connectRequest(_ buffer: inout ByteBuffer) -> String?? {
        guard buffer.readableBytes >= 5, let header = buffer.getBytes(at: buffer.readerIndex, length: 5) else { return nil }
        guard header[0] == 5, header[1] == 1, header[3] == 3 else {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .some(nil)
        }
        let length = Int(header[4])
        guard buffer.readableBytes >= 5 + length + 2 else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        let address = buffer.readString(length: length)
        let port = buffer.readInteger(as: UInt16.self)
        guard port == 0, let address, address.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return .some(nil) }
        return .some(address)
    }
}
