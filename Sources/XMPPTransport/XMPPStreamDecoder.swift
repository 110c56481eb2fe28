import NIOCore
import XMPPCore

/// Turns the bytes of an XMPP stream into ``XMLStreamEvent``s on the channel's event loop.
///
/// Place it after TLS (if any) in the pipeline; handlers after it receive `XMLStreamEvent` values. Parse
/// errors are fired as ``XMLStreamError`` through `errorCaught`, after which the decoder drops all input.
/// On a stream restart (after `<proceed/>` or SASL success) call ``resetStream()`` from the event loop, even
/// from inside the `channelRead` that delivered the element: bytes already buffered behind it are discarded,
/// which defeats STARTTLS command injection (RFC 6120 §5.3.3 and the notes in docs/ARCHITECTURE.md).
public final class XMPPStreamDecoder: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = XMLStreamEvent

    private var parser: XMLStreamParser
    private var failed = false
    private var generation = 0

    /// Creates a decoder enforcing `limits`.
    public init(limits: XMLParserLimits = .default) {
        self.parser = XMLStreamParser(limits: limits)
    }

    /// Expects a new stream header and forgets any buffered bytes.
    public func resetStream() {
        generation += 1
        parser.reset()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        parser.append(unwrapInboundIn(data))
        let startGeneration = generation
        do {
            while generation == startGeneration, let event = try parser.nextEvent() {
                context.fireChannelRead(wrapInboundOut(event))
            }
            parser.releaseConsumedInput()
        } catch {
            failed = true
            context.fireErrorCaught(error)
        }
    }
}

/// What a session writes on an XMPP stream.
public enum XMPPOutbound: Sendable {
    /// The opening tag of a stream.
    case header(StreamHeader)
    /// A top-level element (stanza or nonza).
    case element(Element)
    /// The closing tag of the stream.
    case close
    /// A single space between elements: a whitespace keepalive (RFC 6120 §4.6.1).
    case keepalive
    /// Bytes already serialized by the sender (a load generator's prebuilt stanzas), written as they are.
    case serialized(ByteBuffer)
}

/// Serializes ``XMPPOutbound`` values into bytes, once, straight into a buffer from the channel's allocator.
public final class XMPPStreamEncoder: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = XMPPOutbound
    public typealias OutboundOut = ByteBuffer

    /// The content namespace elements inherit (`jabber:client` on client streams).
    public let contentNamespace: String
    private var isClosed = false

    /// Creates an encoder for streams with this content namespace.
    public init(contentNamespace: String = "jabber:client") {
        self.contentNamespace = contentNamespace
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let outbound = unwrapOutboundIn(data)
        if isClosed {
            // Nothing may follow the closing tag; stanzas routed here from elsewhere while it went out are refused.
            promise?.fail(ChannelError.outputClosed)
            return
        }
        if case .serialized(let bytes) = outbound {
            context.write(wrapOutboundOut(bytes), promise: promise)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 256)
        switch outbound {
        case .header(let header): header.write(to: &buffer)
        case .element(let element): element.writeInStream(to: &buffer, contentNamespace: contentNamespace)
        case .close:
            buffer.writeStaticString(StreamHeader.closingTag)
            isClosed = true
        case .keepalive: buffer.writeInteger(UInt8(ascii: " "))
        case .serialized: break
        }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }
}
