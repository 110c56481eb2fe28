import NIOCore
import Testing
import XMPPCore

/// The "Using XMPPCore" sample of README.md, kept compiling and correct here.
@Suite struct ReadmeExampleTests {
    @Test func readmeSample() throws {
        var parser = XMLStreamParser()
        parser.append(ByteBuffer(string: "<stream:stream to='example.com' version='1.0' xmlns='jabber:client' "
            + "xmlns:stream='http://etherx.jabber.org/streams'><message to='juliet@example.com'><body>hi</body></message>"))
        var bodies: [String] = []
        while let event = try parser.nextEvent() {
            switch event {
            case .streamOpened(_, let contentNamespace): #expect(contentNamespace == "jabber:client")
            case .element(let element): bodies.append(Message(element: element)?.body ?? "")
            case .streamClosed: break
            }
        }
        #expect(bodies == ["hi"])

        let jid = try JID("Juliet@Example.com/balcony")
        #expect(jid.description == "juliet@example.com/balcony")
        let message = Message(type: .chat, to: jid, body: "Art thou not Romeo?")
        var buffer = ByteBuffer()
        message.element.write(to: &buffer, inheritedNamespace: XMLNamespace.client)
        #expect(String(buffer: buffer) == "<message type='chat' to='juliet@example.com/balcony'><body>Art thou not Romeo?</body></message>")

        let stored = SCRAMCredentials.derive(password: "secret", hash: .sha256)
        #expect(stored.storedKey.count == 32)
    }
}
