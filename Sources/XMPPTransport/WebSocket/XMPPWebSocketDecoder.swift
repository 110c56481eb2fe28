import NIOCore
import NIOWebSocket
import XMPPCore

/// Turns the WebSocket frames of an XMPP-over-WebSocket stream (RFC 7395) into the same ``XMLStreamEvent``s a TCP
/// stream gives, so one session handler serves both: `<open/>` becomes the stream header, `<close/>` the end of the
/// stream, every other element a stanza or nonza.
///
/// Place it after `NIOWebSocketFrameAggregator` (which joins fragments within a size limit), and on the server's side
/// after ``WebSocketMaskCheck`` (the aggregator drops the mask key of the frames it joins). Each text frame must hold
/// exactly one complete element (RFC 7395 §3.3.3); anything else — two elements, half of one, a binary frame — is
/// fired as an ``XMLStreamError`` through `errorCaught`, after which input is dropped, as ``XMPPStreamDecoder`` does.
/// It answers pings and the peer's WebSocket close itself.
public final class XMPPWebSocketDecoder: ChannelInboundHandler, RemovableChannelHandler, StreamRestarting {
    public typealias InboundIn = WebSocketFrame
    public typealias InboundOut = XMLStreamEvent
    public typealias OutboundOut = WebSocketFrame

    /// One parser for the whole connection, inside a stream root it never sees: frames are parsed as top-level
    /// elements of that root, with the parser's limits and restrictions, without a new parser per frame.
    private var parser: XMLStreamParser
    private var failed = false
    private var closeAnswered = false
    /// Set on the server side: frames from a client must be masked (RFC 6455 §5.1).
    private let requiresMaskedFrames: Bool

    /// Creates a decoder enforcing `limits` on every element; `requiresMaskedFrames` on the server's side of the
    /// connection (a client's frames are masked, a server's are not).
    public init(limits: XMLParserLimits = .default, requiresMaskedFrames: Bool = true) {
        self.requiresMaskedFrames = requiresMaskedFrames
        parser = XMLStreamParser(limits: limits)
        parser.append(contentsOf: "<stream:stream xmlns='\(XMLNamespace.client)' xmlns:stream='\(XMLNamespace.streams)'>".utf8)
        _ = try? parser.nextEvent()
    }

    /// A restarted stream begins with the client's next `<open/>`; nothing is buffered between frames, so there is
    /// nothing to drop here (the session drops what it had queued).
    public func resetStream() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            guard !failed else { return }
            do throws(XMLStreamError) {
                let event = try decode(frame.unmaskedData)
                context.fireChannelRead(wrapInboundOut(event))
            } catch {
                fail(error, context: context)
            }
        case .binary:
            fail(XMLStreamError(.badFormat, "XMPP over WebSocket uses text frames"), context: context)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: requiresMaskedFrames ? nil : .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            answerClose(context: context)
        default:
            break
        }
    }

    /// Parses one frame's payload into its single event.
    private func decode(_ payload: ByteBuffer) throws(XMLStreamError) -> XMLStreamEvent {
        parser.append(payload)
        guard case .element(let element)? = try parser.nextEvent() else {
            throw XMLStreamError(.notWellFormed, "a frame must hold one complete element")
        }
        guard try parser.nextEvent() == nil, parser.isBetweenTopLevelElements else {
            throw XMLStreamError(.notWellFormed, "a frame must hold exactly one element")
        }
        parser.releaseConsumedInput()
        if let header = XMPPFraming.header(from: element) { return header }
        if XMPPFraming.isClose(element) { return .streamClosed }
        if element.name == "stream", element.namespace == XMLNamespace.streams {
            throw XMLStreamError(.notWellFormed, "a framed stream opens with <open/>, not <stream:stream>")
        }
        return .element(element)
    }

    private func fail(_ error: XMLStreamError, context: ChannelHandlerContext) {
        failed = true
        context.fireErrorCaught(error)
    }

    /// The peer closed the WebSocket: answer with a close frame (RFC 6455 §5.5.1) and close the connection.
    private func answerClose(context: ChannelHandlerContext) {
        guard !closeAnswered else { return }
        closeAnswered = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: .normalClosure)
        let channel = context.channel
        let maskKey: WebSocketMaskingKey? = requiresMaskedFrames ? nil : .random()
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: maskKey, data: data)))
            .whenComplete { _ in channel.close(promise: nil) }
    }
}

/// On the server's side, before the frame aggregator: every frame from a client must be masked (RFC 6455 §5.1); an
/// unmasked one is fired as a `policy-violation` ``XMLStreamError`` and input is dropped.
public final class WebSocketMaskCheck: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = WebSocketFrame
    public typealias InboundOut = WebSocketFrame
    private var failed = false

    /// Creates the check.
    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        guard unwrapInboundIn(data).maskKey != nil else {
            failed = true
            return context.fireErrorCaught(XMLStreamError(.policyViolation, "client frames must be masked"))
        }
        context.fireChannelRead(data)
    }
}
