import NIOCore

/// What the XML stream parser reports, in stream order.
public enum XMLStreamEvent: Sendable, Hashable {
    /// The stream's root element was opened (`<stream:stream ...>`). The element carries the header's
    /// attributes and no children; `contentNamespace` is the default namespace declared on it
    /// (`jabber:client` for a client stream), or the empty string when none was declared.
    case streamOpened(Element, contentNamespace: String)
    /// A complete top-level element, a stanza or a nonza, with its whole subtree.
    case element(Element)
    /// The stream's root element was closed (`</stream:stream>`).
    case streamClosed
}

/// An incremental parser for XMPP's restricted XML (RFC 6120 §11).
///
/// Feed it bytes in whatever chunks the network delivers with ``append(_:)``, then pull events with
/// ``nextEvent()`` until it returns `nil` (it needs more bytes). It reports the stream header, each complete
/// top-level element as a tree, and the stream close; chunk boundaries never change the events.
///
/// It resolves namespaces (prefixes, default namespaces, `xml:lang`), replaces the five predefined entities
/// and character references, validates UTF-8, and rejects what XMPP forbids — comments, processing
/// instructions, DTDs, undefined entities — as well as malformed XML, each with the matching stream error
/// condition in an ``XMLStreamError``. ``XMLParserLimits`` bound stanza size, depth, attribute count, and
/// name and text lengths.
///
/// ```swift
/// var parser = XMLStreamParser()
/// parser.append(buffer)
/// while let event = try parser.nextEvent() {
///     switch event { ... }
/// }
/// ```
///
/// After STARTTLS or SASL success the stream restarts: call ``reset()`` so a new header is expected.
public struct XMLStreamParser: Sendable {
    /// The limits this parser enforces.
    public let limits: XMLParserLimits
    private var input: ByteBuffer
    private var core: XMLParserCore

    /// Creates a parser that expects a stream header first.
    public init(limits: XMLParserLimits = .default) {
        self.limits = limits
        self.input = ByteBuffer()
        self.core = XMLParserCore(limits: limits)
    }

    /// Adds bytes received from the peer. The parser keeps only the bytes of an unfinished token.
    public mutating func append(_ bytes: ByteBuffer) {
        if input.readableBytes == 0 {
            input = bytes
        } else {
            if input.readerIndex > 16_384 { input.discardReadBytes() }
            input.writeImmutableBuffer(bytes)
        }
    }

    /// Adds bytes received from the peer.
    public mutating func append(contentsOf bytes: some Sequence<UInt8>) {
        if input.readerIndex > 16_384 { input.discardReadBytes() }
        input.writeBytes(bytes)
    }

    /// Lets go of received storage that is no longer needed, once the available events have been taken: all of
    /// it when everything was consumed, or all but a right-sized copy of an unfinished token. Without this an
    /// idle connection would pin the last read's buffer (32 KiB behind TLS), and its owner would have to copy
    /// it on the next read.
    public mutating func releaseConsumedInput() {
        let remaining = input.readableBytes
        if remaining == 0 {
            input = ByteBuffer()
        } else if input.capacity > 4096 && input.capacity > 4 * remaining {
            var compacted = ByteBuffer()
            compacted.reserveCapacity(remaining)
            compacted.writeImmutableBuffer(input)
            input = compacted
        }
    }

    /// The number of received bytes not yet consumed: the start of an unfinished token.
    public var bufferedByteCount: Int { input.readableBytes }

    /// Whether everything received so far has been consumed and nothing is open below the stream's root: the input
    /// ended exactly between two top-level elements. A framed transport (XMPP over WebSocket, RFC 7395) checks this
    /// after each frame, since a frame must hold whole elements.
    public var isBetweenTopLevelElements: Bool {
        core.phase == .inStream && core.depth == 1 && input.readableBytes == 0
    }

    /// Whether the stream's root element has been closed.
    public var isStreamClosed: Bool { core.phase == .closed }

    /// Returns the next complete event, or `nil` when more bytes are needed.
    /// - Throws: ``XMLStreamError`` when the input breaks XML, XMPP's restrictions or a limit; the parser then
    ///   stays failed and throws the same error again.
    public mutating func nextEvent() throws(XMLStreamError) -> XMLStreamEvent? {
        if let failure = core.failure { throw failure }
        // Take the buffer out of `self` for the duration (a swap, no reference counting), so the closure can
        // mutate `core` without overlapping an access to `input`.
        var bytes = ByteBuffer()
        swap(&bytes, &input)
        let step = bytes.withUnsafeReadableBytes { core.advance(over: $0) }
        swap(&bytes, &input)
        input.moveReaderIndex(forwardBy: step.consumed)
        if let failure = core.failure { throw failure }
        return step.event
    }

    /// Prepares for a restarted stream (after STARTTLS or SASL success): the next input must be a new header.
    /// Bytes already buffered are discarded, since a peer must not send anything before the restart.
    public mutating func reset() {
        input.clear()
        core = XMLParserCore(limits: limits)
    }
}
