import NIOCore
import Testing
@testable import XMPPCore

@Suite struct XMLStreamParserTests {
    @Test func streamHeaderStanzaAndClose() throws {
        let outcome = parseEverySplit(inStream("<message to='juliet@example.com' type='chat'><body>Wherefore art thou?</body></message></stream:stream>"))
        #expect(outcome.error == nil)
        #expect(outcome.events.count == 3)
        guard case .streamOpened(let header, let content) = outcome.events[0] else {
            Issue.record("first event is not the header")
            return
        }
        #expect(header.name == "stream")
        #expect(header.namespace == XMLNamespace.streams)
        #expect(header.attribute("to") == "example.com")
        #expect(header.attribute("version") == "1.0")
        #expect(content == "jabber:client")
        let message = try #require(outcome.onlyElement)
        #expect(message.name == "message")
        #expect(message.namespace == "jabber:client")
        #expect(message.attribute("type") == "chat")
        #expect(message.child("body")?.text == "Wherefore art thou?")
        #expect(message.child("body")?.namespace == "jabber:client")
        #expect(outcome.events[2] == .streamClosed)
    }

    @Test func namespacesPrefixesAndLanguage() throws {
        let outcome = parseEverySplit(inStream("""
            <iq type='get' id='1' xml:lang='de'><q:query xmlns:q='jabber:iq:roster' q:ver='x' ver='y'><q:item jid='a@b'/>\
            <other xmlns='urn:other'><deep/></other></q:query></iq>
            """))
        #expect(outcome.error == nil)
        let iq = try #require(outcome.onlyElement)
        #expect(iq.language == "de")
        let query = try #require(iq.child(namespace: "jabber:iq:roster"))
        #expect(query.name == "query")
        #expect(query.attribute("ver", namespace: "jabber:iq:roster") == "x")
        #expect(query.attribute("ver") == "y")
        #expect(query.child("item")?.namespace == "jabber:iq:roster")
        let other = try #require(query.child("other"))
        #expect(other.namespace == "urn:other")
        #expect(other.child("deep")?.namespace == "urn:other")
    }

    @Test func entitiesCharacterReferencesAndNormalization() throws {
        let outcome = parseEverySplit(inStream("""
            <message id='a&amp;b&#x20;c&#9;d\te&#10;'><body>&lt;tag&gt; &quot;q&quot; &apos;a&apos; &#169; &#x1F600; caf\u{E9}</body></message>
            """))
        #expect(outcome.error == nil)
        let message = try #require(outcome.onlyElement)
        #expect(message.attribute("id") == "a&b c\td e\n")
        #expect(message.child("body")?.text == "<tag> \"q\" 'a' \u{A9} \u{1F600} caf\u{E9}")
    }

    @Test func cdataMergesWithAdjacentText() throws {
        #expect(parseEverySplit(inStream("<a>]]&gt; ]&#93;> ]] ></a>")).error == nil)
        let outcome = parseEverySplit(inStream("<message><body>one <![CDATA[<two> & ]] three]]> four</body></message>"))
        #expect(outcome.error == nil)
        let body = try #require(outcome.onlyElement?.child("body"))
        #expect(body.children == [.text("one <two> & ]] three four")])
    }

    @Test func manyDistinctNamespacesResolveCorrectly() throws {
        // More namespaces than the interner remembers, each declared twice, plus well-known ones.
        let uris = (0..<40).map { "urn:example:\($0)" } + ["urn:xmpp:receipts", "jabber:x:data"]
        let children = (uris + uris).map { "<x xmlns='\($0)'/>" }.joined()
        let outcome = parseEverySplit(inStream("<message>\(children)</message>"))
        let message = try #require(outcome.onlyElement)
        #expect(message.elements.map(\.namespace) == uris + uris)
    }

    @Test func mixedContentKeepsOrder() throws {
        let outcome = parseEverySplit(inStream("<message><html>a<b>bold</b>c</html></message>"))
        let html = try #require(outcome.onlyElement?.child("html"))
        #expect(html.children.count == 3)
        #expect(html.children.first == .text("a"))
        #expect(html.children.last == .text("c"))
    }

    @Test func whitespaceKeepalivesBetweenStanzasAreIgnored() {
        let outcome = parseEverySplit(inStream(" \n\t<presence/> \r\n <presence/>   "))
        #expect(outcome.error == nil)
        #expect(outcome.events.count == 3)
    }

    @Test func byteOrderMarkAndNoDeclaration() {
        var bytes: [UInt8] = [0xEF, 0xBB, 0xBF]
        bytes += Array("<?xml version='1.0' encoding='UTF-8'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>".utf8)
        #expect(parseEverySplit(bytes).error == nil)
        let noDeclaration = parseEverySplit("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'><a/>")
        #expect(noDeclaration.error == nil)
        #expect(noDeclaration.events.count == 2)
    }

    @Test func selfClosingRootOpensAndCloses() {
        let outcome = parseEverySplit("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>")
        #expect(outcome.error == nil)
        #expect(outcome.events.count == 2)
        #expect(outcome.events.last == .streamClosed)
    }

    @Test func resetExpectsANewHeader() throws {
        var parser = XMLStreamParser()
        parser.append(ByteBuffer(string: inStream("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")))
        _ = try parser.nextEvent()
        #expect(try parser.nextEvent() != nil)
        parser.reset()
        parser.append(ByteBuffer(string: inStream("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>")))
        guard case .streamOpened = try parser.nextEvent() else {
            Issue.record("no header after reset")
            return
        }
        guard case .element(let auth) = try parser.nextEvent() else {
            Issue.record("no element after reset")
            return
        }
        #expect(auth.text == "AGEAYg==")
    }

    @Test func serializedElementsParseBack() throws {
        var message = Element("message", namespace: XMLNamespace.client, attributes: ["to": "a@b/c", "id": "<'&\">"])
        message.language = "en"
        message.append(Element("body", namespace: XMLNamespace.client, text: "x < y & z > w ' \" \r\n\t end"))
        var payload = Element("x", namespace: "urn:example", attributes: [:])
        payload.attributes.append(Attribute(name: "attr", namespace: "urn:attr", value: "v"))
        payload.append(Element("y", namespace: XMLNamespace.client, text: "back"))
        message.append(payload)
        var buffer = ByteBuffer(string: clientHeader)
        message.write(to: &buffer, inheritedNamespace: XMLNamespace.client)
        let outcome = parseEverySplit(Array(buffer.readableBytesView))
        #expect(outcome.error == nil)
        #expect(outcome.onlyElement == message)
    }

    @Test func serializerReplacesCharactersXMLCannotCarry() throws {
        let element = Element("body", namespace: XMLNamespace.client, text: "a\u{0}b\u{1B}c\u{FFFE}")
        var buffer = ByteBuffer(string: clientHeader)
        element.write(to: &buffer, inheritedNamespace: XMLNamespace.client)
        let outcome = parseEverySplit(Array(buffer.readableBytesView))
        #expect(outcome.onlyElement?.text == "a\u{FFFD}b\u{FFFD}c\u{FFFD}")
    }
}

@Suite struct XMLStreamParserRejectionTests {
    @Test(arguments: [
        ("<message><!-- c --></message>", StreamError.Condition.restrictedXML),
        ("<?php x ?>", .restrictedXML),
        ("<message><?pi x?></message>", .restrictedXML),
        ("<!DOCTYPE x>", .restrictedXML),
        ("<message><body>&nbsp;</body></message>", .restrictedXML),
        ("<message></body>", .notWellFormed),
        ("<message><body></message>", .notWellFormed),
        ("</stream:stream><presence/>", .notWellFormed),
        ("<message a='1' a='2'/>", .notWellFormed),
        ("<message x:a='1'/>", .notWellFormed),
        ("<x:message/>", .notWellFormed),
        ("<message a=1/>", .notWellFormed),
        ("<message a='<'/>", .notWellFormed),
        ("<message a='1'b='2'/>", .notWellFormed),
        ("<1message/>", .notWellFormed),
        ("<message><body>&#0;</body></message>", .notWellFormed),
        ("<message><body>&#xD800;</body></message>", .notWellFormed),
        ("<message><body>&amp</body></message><presence/>", .notWellFormed),
        ("<message><body>a\u{1}b</body></message>", .notWellFormed),
        ("<message><body>a]]>b</body></message>", .notWellFormed),
        ("<message><body>a]]]>b</body></message>", .notWellFormed),
        ("hello", .badFormat),
        ("<message xmlns:p=''/>", .notWellFormed),
        ("<message xmlns:xml='urn:not-xml'/>", .notWellFormed),
        ("<a:b:c xmlns:a='urn:a'/>", .notWellFormed),
        ("<q:8item xmlns:q='urn:q'/>", .notWellFormed),     // found by the fuzzer
        ("<a q:-x='1' xmlns:q='urn:q'/>", .notWellFormed),
        ("<a xmlns:1q='urn:q'/>", .notWellFormed),
    ])
    func rejectsWithCondition(_ body: String, _ condition: StreamError.Condition) {
        let outcome = parseEverySplit(inStream(body))
        #expect(outcome.error?.condition == condition, "\(body)")
    }

    @Test func rejectsNonUTF8EncodingDeclaration() {
        let outcome = parseEverySplit("<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream>")
        #expect(outcome.error?.condition == .unsupportedEncoding)
    }

    @Test func rejectsDeclarationAfterStart() {
        #expect(parseEverySplit(" <?xml version='1.0'?>").error?.condition == .restrictedXML)
    }

    @Test(arguments: [
        [0xC0, 0x80] as [UInt8],        // overlong NUL
        [0xED, 0xA0, 0x80],             // surrogate
        [0xEF, 0xBF, 0xBE],             // U+FFFE
        [0xF4, 0x90, 0x80, 0x80],       // beyond U+10FFFF
        [0xE2, 0x82],                   // truncated
        [0xFF],
    ])
    func rejectsInvalidUTF8InText(_ bad: [UInt8]) {
        let bytes = Array(inStream("<message><body>a").utf8) + bad + Array("b</body></message>".utf8)
        #expect(parseEverySplit(bytes).error?.condition == .notWellFormed)
    }

    @Test func rejectsInvalidUTF8InNamesAndAttributes() {
        let inName = Array(inStream("<mess").utf8) + [0xFF] + Array("age/>".utf8)
        #expect(parseEverySplit(inName).error?.condition == .notWellFormed)
        let inAttribute = Array(inStream("<message id='").utf8) + [0xC3] + Array("'/>".utf8)
        #expect(parseEverySplit(inAttribute).error?.condition == .notWellFormed)
    }

    /// Found by the fuzzer: invalid UTF-8 in text followed by a malformed tag.
    @Test func fuzzRegressionInvalidUTF8ThenMalformedTag() {
        let bytes: [UInt8] = Array(clientHeader.utf8) + [60, 112, 114, 101, 115, 101, 110, 99, 101, 62, 60, 115, 104, 111, 119, 62, 97, 119, 97, 121, 98, 98, 101, 62, 199, 150, 142, 223, 139, 134, 143, 143, 58, 112, 109, 101, 61, 63, 34, 99, 104, 97, 116, 34, 101, 61, 34, 103, 101, 116, 34, 32, 105, 100, 61, 34, 112, 34, 62, 60, 212, 105, 110, 103, 32, 120, 109, 108, 153, 140, 61, 34, 117, 114, 110, 112, 120, 112, 58, 112, 109, 101, 61, 63, 34, 99, 104, 97, 116, 34, 47, 105, 113, 62]
        #expect(parseEverySplit(bytes).error?.condition == .notWellFormed)
    }

    @Test func eventsBeforeAnErrorAreStillReported() {
        let outcome = parseEverySplit(inStream("<presence/><!--"))
        #expect(outcome.events.count == 2)
        #expect(outcome.error?.condition == .restrictedXML)
    }
}

@Suite struct XMLStreamParserLimitTests {
    // The client header has four attributes (two of them namespace declarations).
    let small = XMLParserLimits(maxStanzaBytes: 300, maxDepth: 4, maxAttributes: 4, maxNameBytes: 16, maxTextBytes: 100)

    @Test func stanzaSize() {
        let fits = "<message><body>" + String(repeating: "a", count: 90) + "</body></message>"
        #expect(parseEverySplit(inStream(fits), limits: small).error == nil)
        let tooBig = "<message>" + String(repeating: "<b>aaaa</b>", count: 30) + "</message>"
        #expect(parseEverySplit(inStream(tooBig), limits: small).error?.condition == .policyViolation)
        let hugeTag = "<message id='" + String(repeating: "a", count: 400)
        #expect(parseEverySplit(inStream(hugeTag), limits: small).error?.condition == .policyViolation)
    }

    @Test func depth() {
        #expect(parseEverySplit(inStream("<a><b><c/></b></a>"), limits: small).error == nil)
        #expect(parseEverySplit(inStream("<a><b><c><d/></c></b></a>"), limits: small).error?.condition == .policyViolation)
    }

    @Test func attributesIncludingDeclarations() {
        #expect(parseEverySplit(inStream("<a x='1' y='2' z='3' w='4'/>"), limits: small).error == nil)
        #expect(parseEverySplit(inStream("<a x='1' y='2' z='3' w='4' v='5'/>"), limits: small).error?.condition == .policyViolation)
        #expect(parseEverySplit(inStream("<a xmlns='u' x='1' y='2' z='3' w='4'/>"), limits: small).error?.condition == .policyViolation)
    }

    @Test func nameAndTextLength() {
        #expect(parseEverySplit(inStream("<" + String(repeating: "n", count: 17) + "/>"), limits: small).error?.condition == .policyViolation)
        let longText = "<a>" + String(repeating: "t", count: 101) + "</a>"
        #expect(parseEverySplit(inStream(longText), limits: small).error?.condition == .policyViolation)
        let longAttribute = "<a v='" + String(repeating: "t", count: 101) + "'/>"
        #expect(parseEverySplit(inStream(longAttribute), limits: small).error?.condition == .policyViolation)
    }

    @Test func aLongTokenFedByteByByteIsScannedOnce() throws {
        // 200 KB inside one tag, delivered a byte at a time: quadratic rescanning would take minutes.
        var parser = XMLStreamParser(limits: XMLParserLimits(maxStanzaBytes: 300_000, maxTextBytes: 250_000))
        parser.append(ByteBuffer(string: inStream("<message id='")))
        _ = try parser.nextEvent()
        for _ in 0..<200_000 {
            parser.append(ByteBuffer(integer: UInt8(ascii: ">")))
            #expect(try parser.nextEvent() == nil)
        }
        parser.append(ByteBuffer(string: "'/>"))
        let event = try parser.nextEvent()
        guard case .element(let message) = event else {
            Issue.record("no element")
            return
        }
        #expect(message.attribute("id")?.count == 200_000)
    }
}
