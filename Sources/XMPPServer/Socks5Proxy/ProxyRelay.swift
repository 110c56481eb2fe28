import NIOCore

/// Relays the bytes of an activated SOCKS5 bytestream to the other connection of the pair, reading only as fast as
/// the other side takes them (reading pauses while it is unwritable); when either closes, the other closes too after
/// what it had received is written.
final class ProxyRelay: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let partner: any Channel
    private let ended: @Sendable () -> Void

    init(partner: any Channel, ended: @escaping @Sendable () -> Void) {
        self.partner = partner
        self.ended = ended
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner.flush()
        if !partner.isWritable {
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
        context.fireChannelReadComplete()
    }

    /// This side drained: the partner may read again.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            let partner = self.partner
            partner.eventLoop.execute {
                partner.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
                partner.read()
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let partner = self.partner
        partner.eventLoop.execute { partner.writeAndFlush(ByteBuffer()).whenComplete { _ in partner.close(promise: nil) } }
        ended()
        context.fireChannelInactive()
    }
}
