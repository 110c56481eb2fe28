import NIOCore

extension StreamHeader {
    /// Writes the header as XMPP over WebSocket frames it (RFC 7395 §3.3.2): an empty `<open/>` in the framing
    /// namespace with the header's attributes, instead of an opening `<stream:stream>` tag.
    public func writeFramed(to buffer: inout ByteBuffer) {
        buffer.writeStaticString("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'")
        writeAttributes(to: &buffer)
        buffer.writeStaticString("/>")
    }
}
