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
    /// Set on the client's side: a client masks every frame it sends (RFC 6455 §5.3).
    private let masksFrames: Bool

    /// Creates an encoder; `masksFrames` on the client's side of the connection.
    public init(masksFrames: Bool = false) {
        self.masksFrames = masksFrames
    }

    private func frame(_ opcode: WebSocketOpcode, _ data: ByteBuffer) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: opcode, maskKey: masksFrames ? .random() : nil, data: data)
    }

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
            context.write(wrapOutboundOut(frame(.ping, buffer)), promise: promise)
            return
        case .close:
            isClosed = true
            buffer.writeStaticString(XMPPFraming.closeElement)
            context.write(wrapOutboundOut(frame(.text, buffer)), promise: nil)
            var code = context.channel.allocator.buffer(capacity: 2)
            code.write(webSocketErrorCode: .normalClosure)
            context.write(wrapOutboundOut(frame(.connectionClose, code)), promise: promise)
            return
        }
        context.write(wrapOutboundOut(frame(.text, buffer)), promise: promise)
    }
}
