import NIOCore
import NIOEmbedded
import Testing
import XMPPCore
@testable import XMPPTransport

/// Records the events and errors that reach the end of the pipeline, and can restart the stream when it sees
/// a given element, as a session does after `<starttls/>`.
final class EventRecorder: ChannelInboundHandler {
    typealias InboundIn = XMLStreamEvent
    var events: [XMLStreamEvent] = []
    var errors: [any Error] = []
    var restartOn: String?
    let decoder: XMPPStreamDecoder

    init(decoder: XMPPStreamDecoder) { self.decoder = decoder }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let event = unwrapInboundIn(data)
        events.append(event)
        if case .element(let element) = event, element.name == restartOn { decoder.resetStream() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { errors.append(error) }
}

@Suite struct StreamCodecHandlerTests {
    let header = "<stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"

    func makeChannel() throws -> (EmbeddedChannel, EventRecorder) {
        let decoder = XMPPStreamDecoder()
        let recorder = EventRecorder(decoder: decoder)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([decoder, recorder, XMPPStreamEncoder()])
        return (channel, recorder)
    }

    @Test func bytesDrippedInGiveEvents() throws {
        let (channel, recorder) = try makeChannel()
        for byte in (header + "<presence/><message><body>hi</body></message>").utf8 {
            try channel.writeInbound(ByteBuffer(integer: byte))
        }
        #expect(recorder.events.count == 3)
        guard case .element(let message) = recorder.events.last else {
            Issue.record("no message")
            return
        }
        #expect(message.child("body")?.text == "hi")
    }

    @Test func restartDiscardsBytesBufferedBehindStartTLS() throws {
        let (channel, recorder) = try makeChannel()
        recorder.restartOn = "starttls"
        // An attacker pipelines a plaintext stanza behind <starttls/>; it must never be processed.
        try channel.writeInbound(ByteBuffer(string: header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><iq type='set'/>"))
        #expect(recorder.events.count == 2)
        try channel.writeInbound(ByteBuffer(string: header + "<presence/>"))
        #expect(recorder.events.count == 4, "the restarted stream starts with a new header")
        #expect(recorder.errors.isEmpty)
    }

    @Test func parseErrorsAreFiredOnceAndInputIsDroppedAfter() throws {
        let (channel, recorder) = try makeChannel()
        try channel.writeInbound(ByteBuffer(string: header + "<!-- no -->"))
        try channel.writeInbound(ByteBuffer(string: "<presence/>"))
        #expect(recorder.errors.count == 1)
        #expect((recorder.errors.first as? XMLStreamError)?.condition == .restrictedXML)
        #expect(recorder.events.count == 1)
    }

    @Test func encoderWritesHeaderElementsAndClose() throws {
        let (channel, _) = try makeChannel()
        try channel.writeOutbound(XMPPOutbound.header(StreamHeader(from: "example.com", id: "abc")))
        try channel.writeOutbound(XMPPOutbound.element(StreamFeatures([StreamFeatures.bindFeature]).element))
        try channel.writeOutbound(XMPPOutbound.element(Message(type: .chat, body: "hi").element))
        try channel.writeOutbound(XMPPOutbound.close)
        var written = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { written += String(buffer: buffer) }
        #expect(written == "<?xml version='1.0'?><stream:stream from='example.com' id='abc' version='1.0' xmlns='jabber:client' "
            + "xmlns:stream='http://etherx.jabber.org/streams'><stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
            + "</stream:features><message type='chat'><body>hi</body></message></stream:stream>")
    }
}
