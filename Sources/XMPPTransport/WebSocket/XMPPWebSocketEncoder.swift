import NIOCore
import NIOWebSocket
import XMPPCore

/// Writes ``XMPPOutbound`` values as the text frames of XMPP over WebSocket (RFC 7395): the header as `<open/>`,
/// every element on its own with its namespace declared, the end of the stream as `<close/>` followed by a
/// WebSocket close frame, and keepalives as pings (whitespace is not allowed between frames, §3.4).
public final class XMPPWebSocketEncoder: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = XMPPOutbound
    public typealias OutboundOut = WebSocketFrame

    private var isClosed = false

    /// Creates an encoder.
    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !isClosed else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 256)
        switch unwrapOutboundIn(data) {
        case .header(let header):
            header.writeFramed(to: &buffer)
        case .element(let element):
            element.write(to: &buffer, inheritedNamespace: "")
        case .serialized(let bytes):
            buffer = bytes
        case .keepalive:
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: buffer)), promise: promise)
            return
        case .close:
            isClosed = true
            buffer.writeStaticString(XMPPFraming.closeElement)
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: nil)
            var code = context.channel.allocator.buffer(capacity: 2)
            code.write(webSocketErrorCode: .normalClosure)
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: code)), promise: promise)
            return
        }
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: promise)
    }
}
